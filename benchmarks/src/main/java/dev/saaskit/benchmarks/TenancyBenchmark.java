package dev.saaskit.benchmarks;

import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.tenancy.RlsPolicy;
import dev.saaskit.tenancy.TenantColumnType;
import dev.saaskit.tenancy.TenantDataSource;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Group;
import org.openjdk.jmh.annotations.GroupThreads;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Tenant isolation by Row-Level Security through {@link TenantDataSource} against the same queries filtered by an
 * explicit {@code WHERE tenant_id = ?} on a table without RLS: same database, same data, same pool size, same run.
 *
 * <p>Three paths, each on its own HikariCP pool logged in as the application role:
 * <ul>
 *   <li>{@code rls_*}: table {@code orders_rls} (RLS enabled and forced by {@link RlsPolicy}), statements carry no
 *       tenant filter; {@link TenantDataSource} pipelines {@code set_config('app.tenant_id', ?, true)} into the
 *       statement's round trip;</li>
 *   <li>{@code explicit_*}: table {@code orders_plain} (no RLS, same index on {@code tenant_id}), statements add
 *       {@code AND tenant_id = ?} or name the tenant column in the insert; the raw pool;</li>
 *   <li>{@code pipelined_pointSelect}: table {@code orders_rls} on the raw pool, {@code set_config} and the select
 *       sent by hand as one prepared multi-statement, which is what {@link TenantDataSource} sends, without the
 *       wrapper: it splits the RLS path's cost into the second statement and the wrapper's client-side work;</li>
 *   <li>{@code naive_*}: table {@code orders_rls} on the raw pool, every unit of work an explicit transaction that
 *       first runs {@code select set_config('app.tenant_id', ?, true)} as a statement of its own (one more round
 *       trip, what most write-ups of RLS with a pool show); for context.</li>
 * </ul>
 *
 * <p>Workloads: {@code pointSelect} (autocommit select of one row by primary key), {@code insert} (autocommit
 * insert of one row) and {@code mixedTransaction} (an explicit transaction of four point selects and one insert,
 * the headline mixed workload). Every operation picks a random tenant and random ids of that tenant, and checks that
 * the row came back, so no path can win by seeing nothing.
 *
 * <p>The {@code pair_*} groups run the RLS path and the explicit path at the same time (half the threads each), so
 * that both meet the same machine: their ratio holds up on a shared host where separate runs drift.
 *
 * <p>Run: {@code java -jar benchmarks/target/benchmarks.jar TenancyBenchmark}; set {@code SAAS_TEST_POSTGRES_URL}
 * to run against a PostgreSQL server instead of the embedded one. Figures and their reading: docs/benchmarks.md.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@Warmup(iterations = 8, time = 5)
@Measurement(iterations = 5, time = 4)
@Threads(TenancyBenchmark.THREADS)
public class TenancyBenchmark {
  /** Client threads; also the size of each pool, so no thread ever waits for a connection. */
  static final int THREADS = 4;
  static final int POOL_SIZE = THREADS;
  static final int TENANTS = 100;
  static final int ROWS_PER_TENANT = 2_000;
  static final int SELECTS_PER_TRANSACTION = 4;

  static final String RLS_TABLE = "orders_rls";
  static final String PLAIN_TABLE = "orders_plain";

  static final String RLS_SELECT = "SELECT id, customer, amount_cents FROM orders_rls WHERE id = ?";
  static final String RLS_INSERT = "INSERT INTO orders_rls(customer, amount_cents) VALUES (?, ?)";
  static final String EXPLICIT_SELECT =
      "SELECT id, customer, amount_cents FROM orders_plain WHERE id = ? AND tenant_id = ?";
  static final String EXPLICIT_INSERT =
      "INSERT INTO orders_plain(tenant_id, customer, amount_cents) VALUES (?, ?, ?)";
  static final String NAIVE_SET_TENANT = "select set_config('app.tenant_id', ?, true)";
  static final String PIPELINED_SELECT = "SELECT set_config('app.tenant_id', ?, true);\n" + RLS_SELECT;

  private TestDatabase database;
  private HikariDataSource rlsPool;
  private HikariDataSource explicitPool;
  private HikariDataSource naivePool;
  private DataSource rls;

  /** Tenant i is {@code tenants[i]}; its rows have ids {@code firstId[i] .. firstId[i] + ROWS_PER_TENANT - 1}. */
  TenantId[] tenants;
  String[] tenantValues;
  long[] firstId;

  @Setup(Level.Trial)
  public void setUp() throws Exception {
    database = TestDatabase.create();
    try {
      Fixture.load(database);
      tenants = new TenantId[TENANTS];
      tenantValues = new String[TENANTS];
      firstId = Fixture.firstIds(database);
      for (int t = 0; t < TENANTS; t++) {
        tenantValues[t] = Fixture.tenant(t);
        tenants[t] = TenantId.of(tenantValues[t]);
      }
      rlsPool = database.newPool(database.appRole(), database.appPassword(), POOL_SIZE);
      explicitPool = database.newPool(database.appRole(), database.appPassword(), POOL_SIZE);
      naivePool = database.newPool(database.appRole(), database.appPassword(), POOL_SIZE);
      rls = TenantDataSource.wrap(rlsPool);
      selfCheck();
      System.out.println("PostgreSQL: " + database.server().description());
    } catch (Exception | Error e) {
      tearDown();
      throw e;
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    for (AutoCloseable c : new AutoCloseable[] {rlsPool, explicitPool, naivePool, database}) {
      if (c != null) {
        try {
          c.close();
        } catch (Exception e) {
          System.err.println("closing " + c + " failed: " + e);
        }
      }
    }
  }

  /** Per-thread randomness: a tenant per operation and ids of that tenant. */
  @State(Scope.Thread)
  public static class Pick {
    private final SplittableRandom random = new SplittableRandom();
    int tenant;

    /** Chooses the tenant of the next operation. */
    int nextTenant() {
      tenant = random.nextInt(TENANTS);
      return tenant;
    }

    /** A random existing id of the current tenant. */
    long id(TenancyBenchmark b) {
      return b.firstId[tenant] + random.nextInt(ROWS_PER_TENANT);
    }

    long amount() {
      return random.nextLong(1, 1_000_000);
    }
  }

  // ---------------------------------------------------------------- pointSelect

  @Benchmark
  public long rls_pointSelect(Pick pick) throws Exception {
    int t = pick.nextTenant();
    return TenantContext.call(tenants[t], () -> {
      try (Connection c = rls.getConnection()) {
        return rlsSelect(c, pick.id(this));
      }
    });
  }

  @Benchmark
  public long explicit_pointSelect(Pick pick) throws SQLException {
    int t = pick.nextTenant();
    try (Connection c = explicitPool.getConnection()) {
      return explicitSelect(c, pick.id(this), tenantValues[t]);
    }
  }

  @Benchmark
  public long naive_pointSelect(Pick pick) throws SQLException {
    int t = pick.nextTenant();
    try (Connection c = naivePool.getConnection()) {
      c.setAutoCommit(false);
      naiveSetTenant(c, tenantValues[t]);
      long amount = rlsSelect(c, pick.id(this));
      c.commit();
      return amount;
    }
  }

  /**
   * What {@code rls_pointSelect} sends, written by hand on the raw pool: {@code set_config} and the select as one
   * prepared multi-statement (one round trip, two statements). Against {@code explicit_pointSelect} it prices the
   * second statement; against {@code rls_pointSelect}, the wrapper's own client-side work.
   */
  @Benchmark
  public long pipelined_pointSelect(Pick pick) throws SQLException {
    int t = pick.nextTenant();
    long id = pick.id(this);
    try (Connection c = naivePool.getConnection(); PreparedStatement ps = c.prepareStatement(PIPELINED_SELECT)) {
      ps.setString(1, tenantValues[t]);
      ps.setLong(2, id);
      ps.execute();
      ps.getMoreResults();
      try (ResultSet rs = ps.getResultSet()) {
        return readRow(rs, id);
      }
    }
  }

  // ---------------------------------------------------------------- insert

  @Benchmark
  public int rls_insert(Pick pick) throws Exception {
    int t = pick.nextTenant();
    return TenantContext.call(tenants[t], () -> {
      try (Connection c = rls.getConnection()) {
        return rlsInsert(c, pick.amount());
      }
    });
  }

  @Benchmark
  public int explicit_insert(Pick pick) throws SQLException {
    int t = pick.nextTenant();
    try (Connection c = explicitPool.getConnection()) {
      return explicitInsert(c, tenantValues[t], pick.amount());
    }
  }

  @Benchmark
  public int naive_insert(Pick pick) throws SQLException {
    int t = pick.nextTenant();
    try (Connection c = naivePool.getConnection()) {
      c.setAutoCommit(false);
      naiveSetTenant(c, tenantValues[t]);
      int n = rlsInsert(c, pick.amount());
      c.commit();
      return n;
    }
  }

  // ---------------------------------------------------------------- mixedTransaction

  @Benchmark
  public long rls_mixedTransaction(Pick pick) throws Exception {
    int t = pick.nextTenant();
    return TenantContext.call(tenants[t], () -> {
      try (Connection c = rls.getConnection()) {
        c.setAutoCommit(false);
        long sum = 0;
        for (int i = 0; i < SELECTS_PER_TRANSACTION; i++) {
          sum += rlsSelect(c, pick.id(this));
        }
        sum += rlsInsert(c, pick.amount());
        c.commit();
        return sum;
      }
    });
  }

  @Benchmark
  public long explicit_mixedTransaction(Pick pick) throws SQLException {
    int t = pick.nextTenant();
    String tenant = tenantValues[t];
    try (Connection c = explicitPool.getConnection()) {
      c.setAutoCommit(false);
      long sum = 0;
      for (int i = 0; i < SELECTS_PER_TRANSACTION; i++) {
        sum += explicitSelect(c, pick.id(this), tenant);
      }
      sum += explicitInsert(c, tenant, pick.amount());
      c.commit();
      return sum;
    }
  }

  @Benchmark
  public long naive_mixedTransaction(Pick pick) throws SQLException {
    int t = pick.nextTenant();
    try (Connection c = naivePool.getConnection()) {
      c.setAutoCommit(false);
      naiveSetTenant(c, tenantValues[t]);
      long sum = 0;
      for (int i = 0; i < SELECTS_PER_TRANSACTION; i++) {
        sum += rlsSelect(c, pick.id(this));
      }
      sum += rlsInsert(c, pick.amount());
      c.commit();
      return sum;
    }
  }

  // ---------------------------------------------------------------- head to head
  // The same operations, with the RLS path and the explicit path running at the same time in one JMH group (half
  // the threads each), so both meet the same machine: on a shared or noisy box their ratio stays meaningful even
  // when the separate runs above drift with the load.

  @Benchmark
  @Group("pair_pointSelect")
  @GroupThreads(THREADS / 2)
  public long pair_pointSelect_rls(Pick pick) throws Exception {
    return rls_pointSelect(pick);
  }

  @Benchmark
  @Group("pair_pointSelect")
  @GroupThreads(THREADS / 2)
  public long pair_pointSelect_explicit(Pick pick) throws SQLException {
    return explicit_pointSelect(pick);
  }

  @Benchmark
  @Group("pair_insert")
  @GroupThreads(THREADS / 2)
  public int pair_insert_rls(Pick pick) throws Exception {
    return rls_insert(pick);
  }

  @Benchmark
  @Group("pair_insert")
  @GroupThreads(THREADS / 2)
  public int pair_insert_explicit(Pick pick) throws SQLException {
    return explicit_insert(pick);
  }

  @Benchmark
  @Group("pair_mixedTransaction")
  @GroupThreads(THREADS / 2)
  public long pair_mixedTransaction_rls(Pick pick) throws Exception {
    return rls_mixedTransaction(pick);
  }

  @Benchmark
  @Group("pair_mixedTransaction")
  @GroupThreads(THREADS / 2)
  public long pair_mixedTransaction_explicit(Pick pick) throws SQLException {
    return explicit_mixedTransaction(pick);
  }

  // ---------------------------------------------------------------- the statements

  static long rlsSelect(Connection c, long id) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(RLS_SELECT)) {
      ps.setLong(1, id);
      return readRow(ps, id);
    }
  }

  static long explicitSelect(Connection c, long id, String tenant) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(EXPLICIT_SELECT)) {
      ps.setLong(1, id);
      ps.setString(2, tenant);
      return readRow(ps, id);
    }
  }

  static int rlsInsert(Connection c, long amount) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(RLS_INSERT)) {
      ps.setString(1, "customer-new");
      ps.setLong(2, amount);
      return ps.executeUpdate();
    }
  }

  static int explicitInsert(Connection c, String tenant, long amount) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(EXPLICIT_INSERT)) {
      ps.setString(1, tenant);
      ps.setString(2, "customer-new");
      ps.setLong(3, amount);
      return ps.executeUpdate();
    }
  }

  static void naiveSetTenant(Connection c, String tenant) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(NAIVE_SET_TENANT)) {
      ps.setString(1, tenant);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
      }
    }
  }

  private static long readRow(PreparedStatement ps, long id) throws SQLException {
    try (ResultSet rs = ps.executeQuery()) {
      return readRow(rs, id);
    }
  }

  private static long readRow(ResultSet rs, long id) throws SQLException {
    if (!rs.next()) {
      throw new IllegalStateException("row " + id + " not found: the tenant did not reach the query");
    }
    long found = rs.getLong(1);
    String customer = rs.getString(2);
    long amount = rs.getLong(3);
    return found + amount + customer.length();
  }

  // ---------------------------------------------------------------- setup checks

  /** Fails the trial unless every path sees its tenant's rows and nothing of another tenant. */
  private void selfCheck() throws Exception {
    long otherTenantsRow = firstId[1];
    TenantContext.call(tenants[0], () -> {
      try (Connection c = rls.getConnection()) {
        rlsSelect(c, firstId[0]);
        if (countRows(c, "SELECT count(*) FROM orders_rls") != ROWS_PER_TENANT) {
          throw new IllegalStateException("RLS path sees rows of other tenants");
        }
        try (PreparedStatement ps = c.prepareStatement(RLS_SELECT)) {
          ps.setLong(1, otherTenantsRow);
          try (ResultSet rs = ps.executeQuery()) {
            if (rs.next()) {
              throw new IllegalStateException("RLS path reads a row of another tenant");
            }
          }
        }
      }
      return null;
    });
    try (Connection c = naivePool.getConnection()) {
      if (countRows(c, "SELECT count(*) FROM orders_rls") != 0) {
        throw new IllegalStateException("without a tenant the RLS table must look empty");
      }
      if (countRows(c, "SELECT count(*) FROM orders_plain") != (long) TENANTS * ROWS_PER_TENANT) {
        throw new IllegalStateException("orders_plain does not hold the loaded rows");
      }
    }
    try (Connection c = explicitPool.getConnection()) {
      explicitSelect(c, firstId[0], tenantValues[0]);
    }
  }

  private static long countRows(Connection c, String sql) throws SQLException {
    try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
      rs.next();
      return rs.getLong(1);
    }
  }

  /** The schema and data, shared with {@link TenancyExplain}. */
  static final class Fixture {
    private Fixture() {}

    static String tenant(int index) {
      return String.format("tenant-%03d", index);
    }

    /**
     * Creates both tables as the owner and loads the same rows into both, tenant by tenant so that each tenant's
     * ids are contiguous; then applies the RLS policy to {@code orders_rls} (after loading, as FORCE RLS would hold
     * the owner to it) and analyzes both tables.
     */
    static void load(TestDatabase database) throws SQLException {
      String app = quoteIdent(database.appRole());
      try (Connection c = database.ownerDataSource().getConnection(); Statement st = c.createStatement()) {
        for (String table : new String[] {PLAIN_TABLE, RLS_TABLE}) {
          st.execute("CREATE TABLE " + table + " (id bigserial PRIMARY KEY, tenant_id text NOT NULL, "
              + "customer text, amount_cents bigint, created_at timestamptz DEFAULT now())");
        }
        st.execute("CREATE INDEX orders_plain_tenant_id_idx ON orders_plain (tenant_id)");
        st.execute("INSERT INTO orders_plain (tenant_id, customer, amount_cents) "
            + "SELECT format('tenant-%s', lpad(t::text, 3, '0')), 'customer-' || g, (t * 7919 + g * 104729) % 1000000 "
            + "FROM generate_series(0, " + (TENANTS - 1) + ") AS t, generate_series(1, " + ROWS_PER_TENANT + ") AS g "
            + "ORDER BY t, g");
        // the same rows, ids included, then the sequence moved past them
        st.execute("INSERT INTO orders_rls (id, tenant_id, customer, amount_cents, created_at) "
            + "SELECT id, tenant_id, customer, amount_cents, created_at FROM orders_plain ORDER BY id");
        st.execute("SELECT setval(pg_get_serial_sequence('orders_rls', 'id'), (SELECT max(id) FROM orders_rls))");
        RlsPolicy.forTable(RLS_TABLE).columnType(TenantColumnType.TEXT).build().apply(c);
        st.execute("GRANT SELECT, INSERT ON orders_plain, orders_rls TO " + app);
        st.execute("GRANT USAGE ON SEQUENCE orders_plain_id_seq, orders_rls_id_seq TO " + app);
        st.execute("VACUUM ANALYZE orders_plain");
        st.execute("VACUUM ANALYZE orders_rls");
      }
    }

    /** The first id of each tenant, checking that every tenant's ids are contiguous. */
    static long[] firstIds(TestDatabase database) throws SQLException {
      long[] first = new long[TENANTS];
      try (Connection c = database.ownerDataSource().getConnection(); Statement st = c.createStatement();
          ResultSet rs = st.executeQuery("SELECT tenant_id, min(id), max(id), count(*) FROM orders_plain "
              + "GROUP BY tenant_id ORDER BY tenant_id")) {
        int t = 0;
        while (rs.next()) {
          if (!rs.getString(1).equals(tenant(t))) {
            throw new IllegalStateException("unexpected tenant " + rs.getString(1) + ", wanted " + tenant(t));
          }
          long min = rs.getLong(2);
          if (rs.getLong(3) - min + 1 != ROWS_PER_TENANT || rs.getLong(4) != ROWS_PER_TENANT) {
            throw new IllegalStateException("ids of " + tenant(t) + " are not contiguous");
          }
          first[t++] = min;
        }
        if (t != TENANTS) {
          throw new IllegalStateException("loaded " + t + " tenants, wanted " + TENANTS);
        }
      }
      return first;
    }

    static String quoteIdent(String name) {
      return '"' + name.replace("\"", "\"\"") + '"';
    }
  }
}
