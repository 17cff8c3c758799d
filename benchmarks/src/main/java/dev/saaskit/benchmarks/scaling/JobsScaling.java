package dev.saaskit.benchmarks.scaling;

import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.jobs.JobRequest;
import dev.saaskit.jobs.JobsSchema;
import dev.saaskit.testing.TestDatabase;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The worker's claim round against the number of pending jobs and the number of tenants they belong to.
 *
 * <p>The schema is saas-jobs' own ({@link JobsSchema#migrate}), the claim runs as a worker role with its
 * role-scoped policy ({@link JobsSchema#grantWorker}), and the statement is the worker's own: the claim SQL and its
 * parameter binding are taken from {@code dev.saaskit.jobs.internal.WorkerSql} by reflection (they are not API),
 * with the values the worker binds: request 32 (the default claim batch), window 64 (the worker's {@code 2 x
 * batch}), all 32 started at once (an idle worker), the cursor moved after each claim as the worker moves it.
 *
 * <p>Pending jobs are bulk loaded (INSERT ... SELECT generate_series with the secondary indexes dropped and
 * rebuilt, then VACUUM ANALYZE), spread round robin over the tenants, all due. Each claim runs in a transaction that
 * is rolled back after its rows are read, so every claim meets the same queue (a committed claim would drain the
 * small points and leave dead index entries that only the next VACUUM clears). The time is the statement's round
 * trip with its rows read, as the worker's claim meter records it, minus the commit.
 */
final class JobsScaling {
  static final int REQUEST = 32;
  static final int WINDOW = Math.max(16, Math.min(512, 2 * REQUEST));
  static final String QUEUE = JobRequest.DEFAULT_QUEUE;
  static final String TYPE = "noop";

  private final TestDatabase database;
  private final HikariDataSource workerPool;
  private final String claimSql;
  private final Object claimStatement;
  private final Method bindTo;

  private JobsScaling(TestDatabase database) throws Exception {
    this.database = database;
    JobsSchema schema = JobsSchema.defaults();
    schema.migrate(database.ownerDataSource());
    String workerRole = database.createRole("scaling_worker", "");
    try (Connection c = database.ownerDataSource().getConnection()) {
      schema.grantWorker(c, workerRole);
    }
    workerPool = database.newPool(workerRole, database.rolePassword(workerRole), 1);
    Class<?> sqlClass = Class.forName("dev.saaskit.jobs.internal.WorkerSql");
    Constructor<?> constructor = sqlClass.getDeclaredConstructor(String.class);
    constructor.setAccessible(true);
    Object sql = constructor.newInstance(JobsSchema.DEFAULT_SCHEMA);
    Field claim = sqlClass.getDeclaredField("claim");
    claim.setAccessible(true);
    claimStatement = claim.get(sql);
    Method sqlText = claimStatement.getClass().getDeclaredMethod("sql");
    sqlText.setAccessible(true);
    claimSql = (String) sqlText.invoke(claimStatement);
    bindTo = claimStatement.getClass().getDeclaredMethod("bindTo", PreparedStatement.class, Map.class);
    bindTo.setAccessible(true);
  }

  static void run(Path dataDir, Path imageDir, List<Integer> pendingSizes, int pendingTenants,
      List<Integer> tenantCounts, int tenantAxisPending, int warmup, int claims, boolean explain) throws Exception {
    try (TestDatabase database = TestDatabase.create()) {
      System.out.println("PostgreSQL: " + database.server().description());
      JobsScaling bench = new JobsScaling(database);
      bench.explain = explain;
      try {
        List<String> columns = List.of("", "claim p50 ms", "claim p99 ms", "claim mean ms", "jobs per claim",
            "load s");
        Series byPending = new Series("jobs-pending",
            "saas-jobs: claim round vs pending jobs (" + Series.count(pendingTenants) + " tenants)",
            "pending jobs", rename(columns, "pending jobs"));
        for (int n : pendingSizes) {
          bench.point(byPending, n, n, pendingTenants, warmup, claims);
        }
        byPending.write(dataDir, imageDir, "ms per claim (32 jobs)", true, 1, 2);
        Series byTenants = new Series("jobs-tenants",
            "saas-jobs: claim round vs tenants (" + Series.count(tenantAxisPending) + " pending jobs)",
            "tenants with pending jobs", rename(columns, "tenants"));
        for (int t : tenantCounts) {
          bench.point(byTenants, t, tenantAxisPending, t, warmup, claims);
        }
        byTenants.write(dataDir, imageDir, "ms per claim (32 jobs)", true, 1, 2);
      } finally {
        bench.workerPool.close();
      }
    }
  }

  private static List<String> rename(List<String> columns, String x) {
    return Stream.concat(Stream.of(x), columns.stream().skip(1)).toList();
  }

  /** Whether to print the plan of one more claim at each point (EXPLAIN ANALYZE, BUFFERS; rolled back too). */
  private boolean explain;

  private void point(Series series, long x, int pending, int tenants, int warmup, int claims) throws Exception {
    long loadStarted = System.nanoTime();
    load(pending, tenants);
    double loadSeconds = (System.nanoTime() - loadStarted) / 1e9;
    Latencies times = new Latencies();
    long jobs = 0;
    String cursor = "";
    try (Connection c = workerPool.getConnection()) {
      c.setAutoCommit(false);
      try (PreparedStatement st = c.prepareStatement(claimSql)) {
        for (int i = 0; i < warmup + claims; i++) {
          bind(c, st, cursor);
          long started = System.nanoTime();
          int got = 0;
          long bestOrd = Long.MIN_VALUE;
          String after = cursor;
          try (ResultSet rs = st.executeQuery()) {
            while (rs.next()) {
              if (rs.getBoolean(1)) {
                got++;
                long ord = rs.getLong(12);
                if (ord > bestOrd) {
                  bestOrd = ord;
                  String tenant = rs.getString(3);
                  after = tenant == null ? "" : tenant;
                }
              }
            }
          }
          long elapsed = System.nanoTime() - started;
          c.rollback();
          int expected = Math.min(REQUEST, pending);
          if (got != expected) {
            throw new IllegalStateException("claim " + i + " at " + pending + " pending jobs over " + tenants
                + " tenants returned " + got + " jobs, wanted " + expected);
          }
          cursor = after;
          if (i >= warmup) {
            times.add(elapsed);
            jobs += got;
          }
        }
      }
      if (explain) {
        try (PreparedStatement st = c.prepareStatement("EXPLAIN (ANALYZE, BUFFERS) " + claimSql)) {
          bind(c, st, cursor);
          StringBuilder plan = new StringBuilder();
          try (ResultSet rs = st.executeQuery()) {
            while (rs.next()) {
              plan.append(rs.getString(1)).append('\n');
            }
          }
          c.rollback();
          System.out.println("claim plan at " + Series.count(pending) + " pending jobs, " + Series.count(tenants)
              + " tenants:\n" + plan);
        }
      }
    }
    series.add(new double[] {x, times.quantileMillis(0.5), times.quantileMillis(0.99), times.meanMillis(),
        (double) jobs / claims, loadSeconds},
        Series.count(x), Series.fixed(times.quantileMillis(0.5), 2), Series.fixed(times.quantileMillis(0.99), 2),
        Series.fixed(times.meanMillis(), 2), Series.fixed((double) jobs / claims, 0), Series.fixed(loadSeconds, 0));
  }

  /** Binds the worker's values for a claim of an idle worker whose walk starts after {@code cursor}. */
  private void bind(Connection c, PreparedStatement st, String cursor) throws Exception {
    Map<String, Object> values = new HashMap<>();
    values.put("queue", QUEUE);
    values.put("cursor", cursor);
    values.put("before", cursor.isEmpty() ? null : cursor);
    values.put("window", WINDOW);
    values.put("request", REQUEST);
    values.put("start", REQUEST);
    values.put("clock_now", OffsetDateTime.now(ZoneOffset.UTC));
    values.put("types", c.createArrayOf("text", new String[] {TYPE}));
    values.put("leases", c.createArrayOf("int8", new Long[] {30_000L}));
    values.put("worker", "scaling");
    values.put("cap", 0);
    bindTo.invoke(claimStatement, st, values);
  }

  /** Replaces the job table's rows by {@code pending} due jobs spread round robin over {@code tenants} tenants. */
  private void load(int pending, int tenants) throws SQLException {
    String table = JobsSchema.DEFAULT_SCHEMA + ".jobs";
    try (Connection admin = database.adminDataSource().getConnection()) {
      try (Statement st = admin.createStatement()) {
        st.execute("TRUNCATE " + table);
      }
      // the shape enqueue writes: JSON payload, default priority, run_at in the past (all due), in id order
      DbLoad.withIndexesRebuilt(admin, table, "INSERT INTO " + table
          + " (tenant_id, queue, type, payload, run_at, created_at)"
          + " SELECT 'tenant-' || lpad((g % " + tenants + ")::text, 6, '0'), '" + QUEUE + "', '" + TYPE + "',"
          + " to_jsonb(g), now() - interval '1 hour' - (" + pending + " - g) * interval '1 microsecond', now()"
          + " FROM generate_series(0, " + (pending - 1) + ") AS g");
      long rows = DbLoad.scalar(admin, "SELECT count(*) FROM " + table + " WHERE state = 'pending'");
      if (rows != pending) {
        throw new IllegalStateException("loaded " + rows + " pending jobs, wanted " + pending);
      }
    }
  }
}
