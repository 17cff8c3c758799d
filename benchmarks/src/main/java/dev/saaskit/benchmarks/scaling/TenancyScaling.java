package dev.saaskit.benchmarks.scaling;

import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.tenancy.RlsPolicy;
import dev.saaskit.tenancy.TenantColumnType;
import dev.saaskit.tenancy.TenantDataSource;
import dev.saaskit.testing.TestDatabase;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.SplittableRandom;
import javax.sql.DataSource;

/**
 * The RLS overhead against the table's size: a point select by primary key and a tenant's latest 20 rows, through
 * {@link TenantDataSource} (RLS on, no tenant filter in the SQL) and with an explicit {@code WHERE tenant_id = ?} as
 * a role with BYPASSRLS, on the same table, so both paths read the same pages and indexes.
 *
 * <p>The table grows by appending rows between points (ids in order, tenants round robin over {@value #TENANTS}, so
 * a tenant's rows are spread over the whole table as in a shared table), with its primary key and the policy's
 * index {@code (tenant_id, id)} in place, then VACUUM ANALYZE. Each point: a warm-up, then alternating blocks of
 * the two paths (the order flips every round) on one thread, each operation timed; the row (or rows) must come back.
 */
final class TenancyScaling {
  static final int TENANTS = 100;
  static final String RLS_SELECT = "SELECT id, customer, amount_cents FROM orders WHERE id = ?";
  static final String EXPLICIT_SELECT = "SELECT id, customer, amount_cents FROM orders WHERE id = ? AND tenant_id = ?";
  static final String RLS_TOP = "SELECT id, customer, amount_cents FROM orders ORDER BY id DESC LIMIT 20";
  static final String EXPLICIT_TOP =
      "SELECT id, customer, amount_cents FROM orders WHERE tenant_id = ? ORDER BY id DESC LIMIT 20";

  private final TestDatabase database;
  private final HikariDataSource rlsPool;
  private final HikariDataSource explicitPool;
  private final DataSource rls;
  private final String[] tenantValues = new String[TENANTS];
  private final TenantId[] tenants = new TenantId[TENANTS];
  private final SplittableRandom random = new SplittableRandom(17);
  private long rows;
  private boolean firstPoint = true;

  private TenancyScaling(TestDatabase database) throws SQLException {
    this.database = database;
    for (int t = 0; t < TENANTS; t++) {
      tenantValues[t] = tenant(t);
      tenants[t] = TenantId.of(tenantValues[t]);
    }
    String explicitRole = database.createRole("scaling_explicit", "BYPASSRLS");
    try (Connection c = database.ownerDataSource().getConnection(); Statement st = c.createStatement()) {
      st.execute("CREATE TABLE orders (id bigint PRIMARY KEY, tenant_id text NOT NULL, customer text,"
          + " amount_cents bigint, created_at timestamptz NOT NULL DEFAULT now())");
      RlsPolicy.forTable("orders").columnType(TenantColumnType.TEXT).indexColumns("id").build().apply(c);
      st.execute("GRANT SELECT ON orders TO " + quote(database.appRole()) + ", " + quote(explicitRole));
    }
    rlsPool = database.newPool(database.appRole(), database.appPassword(), 1);
    explicitPool = database.newPool(explicitRole, database.rolePassword(explicitRole), 1);
    rls = TenantDataSource.wrap(rlsPool);
  }

  static String tenant(long index) {
    return String.format("tenant-%03d", index);
  }

  private static String quote(String role) {
    return '"' + role.replace("\"", "\"\"") + '"';
  }

  static void run(Path dataDir, Path imageDir, List<Long> sizes, int rounds, int block) throws Exception {
    try (TestDatabase database = TestDatabase.create()) {
      System.out.println("PostgreSQL: " + database.server().description());
      TenancyScaling bench = new TenancyScaling(database);
      try {
        Series series = new Series("tenancy-rows", "saas-tenancy: RLS vs explicit WHERE, by table rows ("
            + TENANTS + " tenants)", "rows in the table", List.of("rows", "point RLS p50 ms", "point explicit p50 ms",
            "point RLS p99 ms", "point explicit p99 ms", "point ratio (p50 explicit/RLS)", "top-20 RLS p50 ms",
            "top-20 explicit p50 ms", "top-20 RLS p99 ms", "top-20 explicit p99 ms", "top-20 ratio (p50)", "grow s"));
        for (long n : sizes) {
          bench.point(series, n, rounds, block);
        }
        series.write(dataDir, imageDir, "ms per query (p50)", true, 1, 2, 6, 7);
        try (Connection admin = database.adminDataSource().getConnection()) {
          System.out.println("plans at " + Series.count(bench.rows) + " rows:");
          System.out.println(DbLoad.text(admin, "EXPLAIN " + EXPLICIT_TOP.replace("?", "'tenant-007'")));
        }
        TenantContext.run(TenantId.of(tenant(7)), () -> {
          try (Connection c = bench.rls.getConnection()) {
            System.out.println(DbLoad.text(c, "EXPLAIN " + RLS_TOP));
            System.out.println(DbLoad.text(c, "EXPLAIN " + RLS_SELECT.replace("?", "42")));
          } catch (SQLException e) {
            throw new IllegalStateException(e);
          }
        });
      } finally {
        bench.rlsPool.close();
        bench.explicitPool.close();
      }
    }
  }

  private void point(Series series, long n, int rounds, int block) throws Exception {
    long started = System.nanoTime();
    grow(n);
    double growSeconds = (System.nanoTime() - started) / 1e9;
    Latencies pointRls = new Latencies();
    Latencies pointExplicit = new Latencies();
    Latencies topRls = new Latencies();
    Latencies topExplicit = new Latencies();
    // warm-up: the pools' prepared statements and the upper index levels into the buffer cache, and at the first
    // point the JIT too (ten times longer: the RLS path runs more Java, the proxies of TenantDataSource, so a short
    // first warm-up left it interpreted and charged that to RLS)
    int warmup = firstPoint ? 10 * block : block;
    firstPoint = false;
    runBlock(true, false, warmup, null);
    runBlock(false, false, warmup, null);
    runBlock(true, true, warmup, null);
    runBlock(false, true, warmup, null);
    for (int r = 0; r < rounds; r++) {
      boolean rlsFirst = r % 2 == 0;
      runBlock(rlsFirst, false, block, rlsFirst ? pointRls : pointExplicit);
      runBlock(!rlsFirst, false, block, rlsFirst ? pointExplicit : pointRls);
      runBlock(rlsFirst, true, block, rlsFirst ? topRls : topExplicit);
      runBlock(!rlsFirst, true, block, rlsFirst ? topExplicit : topRls);
    }
    // medians, not means: on this shared host a few operations per block wait tens of milliseconds for a core, and
    // those outliers, not the paths, decided the means
    double pointRatio = pointExplicit.quantileMillis(0.5) / pointRls.quantileMillis(0.5);
    double topRatio = topExplicit.quantileMillis(0.5) / topRls.quantileMillis(0.5);
    series.add(new double[] {n, pointRls.quantileMillis(0.5), pointExplicit.quantileMillis(0.5),
        pointRls.quantileMillis(0.99), pointExplicit.quantileMillis(0.99), pointRatio, topRls.quantileMillis(0.5),
        topExplicit.quantileMillis(0.5), topRls.quantileMillis(0.99), topExplicit.quantileMillis(0.99), topRatio,
        growSeconds},
        Series.count(n), ms(pointRls.quantileMillis(0.5)), ms(pointExplicit.quantileMillis(0.5)),
        ms(pointRls.quantileMillis(0.99)), ms(pointExplicit.quantileMillis(0.99)), Series.fixed(pointRatio, 2),
        ms(topRls.quantileMillis(0.5)), ms(topExplicit.quantileMillis(0.5)), ms(topRls.quantileMillis(0.99)),
        ms(topExplicit.quantileMillis(0.99)), Series.fixed(topRatio, 2), Series.fixed(growSeconds, 0));
  }

  private static String ms(double v) {
    return Series.fixed(v, 3);
  }

  private void runBlock(boolean viaRls, boolean top, int count, Latencies into) throws Exception {
    for (int i = 0; i < count; i++) {
      int t;
      long id;
      if (top) {
        t = random.nextInt(TENANTS);
        id = 0;
      } else {
        id = 1 + random.nextLong(rows);
        t = (int) (id % TENANTS);
      }
      long started = System.nanoTime();
      int found = viaRls ? rlsOperation(t, id, top) : explicitOperation(t, id, top);
      long elapsed = System.nanoTime() - started;
      int expected = top ? (int) Math.min(20, rows / TENANTS) : 1;
      if (found != expected) {
        throw new IllegalStateException((viaRls ? "RLS" : "explicit") + (top ? " top-20" : " point select")
            + " of " + tenantValues[t] + " returned " + found + " rows, wanted " + expected);
      }
      if (into != null) {
        into.add(elapsed);
      }
    }
  }

  private int rlsOperation(int t, long id, boolean top) throws Exception {
    return TenantContext.call(tenants[t], () -> {
      try (Connection c = rls.getConnection();
          PreparedStatement ps = c.prepareStatement(top ? RLS_TOP : RLS_SELECT)) {
        if (!top) {
          ps.setLong(1, id);
        }
        return read(ps, t);
      }
    });
  }

  private int explicitOperation(int t, long id, boolean top) throws SQLException {
    try (Connection c = explicitPool.getConnection();
        PreparedStatement ps = c.prepareStatement(top ? EXPLICIT_TOP : EXPLICIT_SELECT)) {
      if (top) {
        ps.setString(1, tenantValues[t]);
      } else {
        ps.setLong(1, id);
        ps.setString(2, tenantValues[t]);
      }
      return read(ps, t);
    }
  }

  /** Counts the rows, failing on a row of another tenant (ids of tenant t are those with id % TENANTS == t). */
  private static int read(PreparedStatement ps, int t) throws SQLException {
    int found = 0;
    try (ResultSet rs = ps.executeQuery()) {
      while (rs.next()) {
        long id = rs.getLong(1);
        if (id % TENANTS != t || rs.getString(2) == null) {
          throw new IllegalStateException("row " + id + " is not of " + tenant(t));
        }
        found++;
      }
    }
    return found;
  }

  /** Appends rows up to {@code n} (as the superuser, past RLS), then VACUUM ANALYZE. */
  private void grow(long n) throws SQLException {
    if (n <= rows) {
      throw new IllegalArgumentException("sizes must grow: " + n + " after " + rows);
    }
    try (Connection admin = database.adminDataSource().getConnection(); Statement st = admin.createStatement()) {
      // in slices, so a 100M point does not hold one huge transaction
      long step = 5_000_000;
      for (long from = rows + 1; from <= n; from += step) {
        long to = Math.min(n, from + step - 1);
        st.execute("INSERT INTO orders (id, tenant_id, customer, amount_cents, created_at)"
            + " SELECT g, 'tenant-' || lpad((g % " + TENANTS + ")::text, 3, '0'), 'customer-' || (g % 100000),"
            + " (g * 104729) % 1000000, timestamptz '2026-01-01' + g * interval '1 second'"
            + " FROM generate_series(" + from + "::bigint, " + to + "::bigint) AS g");
      }
      st.execute("VACUUM ANALYZE orders");
      rows = DbLoad.scalar(admin, "SELECT count(*) FROM orders");
      if (rows != n) {
        throw new IllegalStateException("the table holds " + rows + " rows, wanted " + n);
      }
    }
  }
}
