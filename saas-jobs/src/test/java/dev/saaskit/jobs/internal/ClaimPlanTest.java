package dev.saaskit.jobs.internal;

import static java.util.stream.Collectors.counting;
import static java.util.stream.Collectors.groupingBy;
import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.jobs.JobsSchema;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The claim query on 100,000 pending jobs (and 100,000 finished ones): it must walk the claim index (one probe per tenant) and never scan the
 * pending rows. Prints the plan and the latency recorded in docs/jobs-workers.md.
 */
@ExtendWith(PostgresExtension.class)
class ClaimPlanTest {
  private static final JobsSchema SCHEMA = JobsSchema.defaults();
  private static final WorkerSql SQL = new WorkerSql(SCHEMA.name());
  private static HikariDataSource workerPool;

  @BeforeAll
  static void setUp(TestDatabase db) throws SQLException {
    SCHEMA.migrate(db.ownerDataSource());
    String worker = db.createRole("worker", "");
    try (Connection c = db.ownerDataSource().getConnection()) {
      SCHEMA.grantWorker(c, worker);
    }
    try (Connection c = db.adminDataSource().getConnection(); Statement st = c.createStatement()) {
      // one tenant with half the backlog, a thousand small tenants, a few system jobs
      st.execute("INSERT INTO saaskit_jobs.jobs (tenant_id, queue, type, payload)"
          + " SELECT 'big', 'default', 'work', '{}' FROM generate_series(1, 50000)");
      st.execute("INSERT INTO saaskit_jobs.jobs (tenant_id, queue, type, payload)"
          + " SELECT 't' || lpad((g % 1000)::text, 4, '0'), 'default', 'work', '{}'"
          + " FROM generate_series(1, 49990) AS g");
      st.execute("INSERT INTO saaskit_jobs.jobs (tenant_id, queue, type, payload)"
          + " SELECT NULL, 'default', 'work', '{}' FROM generate_series(1, 2000)");
      // and a history of finished jobs, as retention keeps them for status polling
      st.execute("INSERT INTO saaskit_jobs.jobs (tenant_id, queue, type, payload, state, finished_at)"
          + " SELECT 't' || lpad((g % 1000)::text, 4, '0'), 'default', 'work', '{}', 'completed', now()"
          + " FROM generate_series(1, 100000) AS g");
      st.execute("VACUUM ANALYZE saaskit_jobs.jobs");
    }
    workerPool = db.newPool(worker, db.rolePassword(worker), 2);
  }

  private static Map<String, Object> parameters(Connection c, String queue, String cursor, int request)
      throws SQLException {
    Map<String, Object> values = new HashMap<>();
    values.put("queue", queue);
    values.put("before", cursor.isEmpty() ? null : cursor);
    values.put("cursor", cursor);
    values.put("window", 64);
    values.put("request", request);
    values.put("start", 0);
    values.put("clock_now", Instant.now().atOffset(ZoneOffset.UTC));
    values.put("types", c.createArrayOf("text", new String[] {"work"}));
    values.put("leases", c.createArrayOf("int8", new Long[] {30_000L}));
    values.put("worker", "plan-test");
    values.put("token", 1L);
    values.put("cap", 4);
    return values;
  }

  private static List<String> explain(Connection c, WorkerStatement statement, String cursor) throws SQLException {
    return explain(c, statement, "default", cursor, 32);
  }

  private static List<String> explain(Connection c, WorkerStatement statement, String queue, String cursor,
      int request) throws SQLException {
    List<String> plan = new ArrayList<>();
    try (PreparedStatement st = c.prepareStatement("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement.sql())) {
      statement.bindTo(st, parameters(c, queue, cursor, request));
      try (ResultSet rs = st.executeQuery()) {
        while (rs.next()) {
          plan.add(rs.getString(1));
        }
      }
    }
    return plan;
  }

  @Test
  void claimWalksTheIndexAndNeverScansThePendingRows() throws SQLException {
    for (WorkerStatement statement : List.of(SQL.claim, SQL.claimCapped)) {
      try (Connection c = workerPool.getConnection()) {
        c.setAutoCommit(false);
        List<String> plan = explain(c, statement, "");
        c.rollback();
        String text = String.join("\n", plan);
        System.out.println((statement == SQL.claim ? "claim" : "capped claim") + " plan, 100,000 pending:\n" + text);
        assertThat(text).doesNotContain("Seq Scan on jobs").doesNotContain("jobs_tenant_idx")
            .contains("Index Only Scan using jobs_claim_idx").contains("Index Scan using jobs_claim_idx");
        // no sort of a tenant's (or the system's) pending jobs: the index gives their order
        assertThat(text).doesNotContainPattern("Sort Key: j(_\\d+)?\\.priority");
        // the worker's policy admits every row: no per-row policy filter is left in the plan
        assertThat(text).doesNotContain("current_setting");
        assertThat(text).containsPattern("Update on jobs .*rows=32 ");
      }
    }
  }

  @Test
  void claimTakesOneJobPerTenantInTurnAndIsFast() throws SQLException {
    List<Long> micros = new ArrayList<>();
    Set<String> tenants = new TreeSet<>();
    try (Connection c = workerPool.getConnection()) {
      c.setAutoCommit(false);
      for (int i = 0; i < 30; i++) {
        long started = System.nanoTime();
        List<String> claimedTenants = claim(c, SQL.claim, "", 32);
        micros.add((System.nanoTime() - started) / 1000);
        c.rollback();
        if (i == 0) {
          tenants.addAll(claimedTenants);
          assertThat(claimedTenants).hasSize(32);
        }
      }
    }
    // 64 tenants in the window, 32 jobs wanted: 32 different tenants, in walk order from the start
    assertThat(tenants).hasSize(32).contains("big", "t0000");
    micros.sort(null);
    System.out.printf("claim of 32 from 100,000 pending (1,001 tenants): median %d us, p90 %d us, max %d us%n",
        micros.get(15), micros.get(27), micros.get(29));
  }

  /**
   * A drained backlog leaves the entries of its claimed jobs in the claim index until VACUUM. The walk's probe has
   * to step over them to find the tenant's first pending job; the tenant's own scan must not do it again, and a
   * large claim must not join its picked rows to themselves (a nested loop over two CTEs, quadratic in the claim).
   */
  @Test
  void aLargeClaimAfterADrainReadsTheDeadEntriesOnceAndJoinsLinearly(TestDatabase db) throws SQLException {
    insertPending(db, "'drained'", "churn", 30_000);
    try (Connection c = workerPool.getConnection()) {
      c.setAutoCommit(true);
      // claimed and committed, no VACUUM since: 20,000 dead entries at the head of the tenant's claim range
      for (int i = 0; i < 20; i++) {
        assertThat(claim(c, SQL.claim, "churn", "", 1000)).hasSize(1000);
      }
      c.setAutoCommit(false);
      List<String> plan = explain(c, SQL.claim, "churn", "", 500);
      c.rollback();
      String text = String.join("\n", plan);
      System.out.println("claim of 500 after 20,000 claimed jobs, no VACUUM:\n" + text);
      int probe = buffersOf(plan, "Index Only Scan using jobs_claim_idx", "(tenant_id > ''::text))");
      int tenantScan = buffersOf(plan, "Index Scan using jobs_claim_idx", "tenant_id = t");
      // the probe pays for the dead entries (tens of leaf pages), the tenant's scan starts past them: it reads
      // about the pages its 500 rows fill
      assertThat(probe).isGreaterThan(40);
      assertThat(tenantScan).isLessThan(probe / 2);
      assertThat(text).containsPattern("Index Cond: .*ROW\\(priority, run_at, id\\) >= ROW\\(t(_\\d+)?\\.priority")
          .containsPattern("Update on jobs .*rows=500 ");
      // the claimed rows meet no join filter that compares every locked row with every picked one
      assertThat(text).doesNotContain("Rows Removed by Join Filter");
    }
  }

  /**
   * Two workers claim at the same moment from the same window: the second must take the next jobs of each tenant,
   * not come back empty because it chose the same heads as the first and found them locked. Chosen from the
   * snapshot and locked afterwards, every claim but one came back empty while a busy worker claimed back to back.
   */
  @Test
  void aClaimRunningBesideAnotherTakesTheJobsNextInLine(TestDatabase db) throws SQLException {
    insertPending(db, "'c' || lpad((g % 20)::text, 2, '0')", "contended", 2_000);
    try (Connection first = workerPool.getConnection(); Connection second = workerPool.getConnection()) {
      first.setAutoCommit(false);
      second.setAutoCommit(true);
      Map<Long, String> firstJobs = claimIds(first, SQL.claim, "contended", "", 32);
      Map<Long, String> secondJobs = claimIds(second, SQL.claim, "contended", "", 32);
      first.rollback();
      assertThat(firstJobs).hasSize(32);
      assertThat(secondJobs).hasSize(32);
      assertThat(secondJobs.keySet()).doesNotContainAnyElementsOf(firstJobs.keySet());
      // still one round robin: 32 jobs over 20 tenants, none with more than two
      assertThat(new TreeSet<>(secondJobs.values())).hasSize(20);
      assertThat(secondJobs.values().stream().collect(groupingBy(t -> t, counting())).values())
          .allSatisfy(n -> assertThat(n).isLessThanOrEqualTo(2));
    }
  }

  /** The shared-buffer hits of the first plan node named {@code node} whose index condition contains {@code cond}. */
  private static int buffersOf(List<String> plan, String node, String cond) {
    Pattern buffers = Pattern.compile("Buffers: shared hit=(\\d+)");
    for (int i = 0; i < plan.size(); i++) {
      if (!plan.get(i).contains(node)) {
        continue;
      }
      boolean matches = false;
      // a node's own details (conditions, buffers) follow it until its first child or the next node
      for (int j = i + 1; j < plan.size() && !plan.get(j).contains("->"); j++) {
        matches |= plan.get(j).contains("Index Cond:") && plan.get(j).contains(cond);
        Matcher m = buffers.matcher(plan.get(j));
        if (matches && m.find()) {
          return Integer.parseInt(m.group(1));
        }
      }
    }
    throw new AssertionError("no node " + node + " with index condition " + cond + " in the plan");
  }

  private static List<String> claim(Connection c, WorkerStatement statement, String cursor, int request)
      throws SQLException {
    return claim(c, statement, "default", cursor, request);
  }

  private static List<String> claim(Connection c, WorkerStatement statement, String queue, String cursor,
      int request) throws SQLException {
    return new ArrayList<>(claimIds(c, statement, queue, cursor, request).values());
  }

  /** The claimed jobs' ids and tenants, in the order the claim returned them. */
  private static Map<Long, String> claimIds(Connection c, WorkerStatement statement, String queue, String cursor,
      int request) throws SQLException {
    Map<Long, String> jobs = new LinkedHashMap<>();
    try (PreparedStatement st = c.prepareStatement(statement.sql())) {
      statement.bindTo(st, parameters(c, queue, cursor, request));
      try (ResultSet rs = st.executeQuery()) {
        while (rs.next()) {
          if (rs.getBoolean(1)) {
            jobs.put(rs.getLong(2), rs.getString(3));
          }
        }
      }
    }
    return jobs;
  }

  /** {@code count} pending jobs of type "work" in {@code queue}; {@code tenant} is SQL over g = 1..count. */
  private static void insertPending(TestDatabase db, String tenant, String queue, int count) throws SQLException {
    try (Connection c = db.adminDataSource().getConnection(); Statement st = c.createStatement()) {
      st.execute("INSERT INTO saaskit_jobs.jobs (tenant_id, queue, type, payload) SELECT " + tenant + ", '" + queue
          + "', 'work', '{}' FROM generate_series(1, " + count + ") AS g");
      st.execute("ANALYZE saaskit_jobs.jobs");
    }
  }
}
