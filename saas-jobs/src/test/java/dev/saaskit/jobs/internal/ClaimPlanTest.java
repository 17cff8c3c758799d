package dev.saaskit.jobs.internal;

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
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
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
  private static final WorkerSql SQL = new WorkerSql(SCHEMA.schema());
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

  private static Map<String, Object> parameters(Connection c, String cursor, int request) throws SQLException {
    Map<String, Object> values = new HashMap<>();
    values.put("queue", "default");
    values.put("cursor", cursor);
    values.put("window", 64);
    values.put("request", request);
    values.put("clock_now", Instant.now().atOffset(ZoneOffset.UTC));
    values.put("types", c.createArrayOf("text", new String[] {"work"}));
    values.put("leases", c.createArrayOf("int8", new Long[] {30_000L}));
    values.put("worker", "plan-test");
    values.put("cap", 4);
    return values;
  }

  private static List<String> explain(Connection c, WorkerStatement statement, String cursor) throws SQLException {
    List<String> plan = new ArrayList<>();
    try (PreparedStatement st = c.prepareStatement("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement.sql())) {
      Object[] bound = statement.bind(parameters(c, cursor, 32));
      for (int i = 0; i < bound.length; i++) {
        st.setObject(i + 1, bound[i]);
      }
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

  private static List<String> claim(Connection c, WorkerStatement statement, String cursor, int request)
      throws SQLException {
    List<String> tenants = new ArrayList<>();
    try (PreparedStatement st = c.prepareStatement(statement.sql())) {
      Object[] bound = statement.bind(parameters(c, cursor, request));
      for (int i = 0; i < bound.length; i++) {
        st.setObject(i + 1, bound[i]);
      }
      try (ResultSet rs = st.executeQuery()) {
        while (rs.next()) {
          if (rs.getBoolean(1)) {
            tenants.add(rs.getString(3));
          }
        }
      }
    }
    return tenants;
  }
}
