package dev.saaskit.jobs;

import static dev.saaskit.jobs.QueueFixtures.update;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.testing.Await;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * An empty tenant setting is no tenant (saas-tenancy's {@code TenantDataSource} sends {@code ''} when no tenant is
 * set): it sees and creates no job, the tables refuse an empty tenant id, and rows whose tenant id is not a valid
 * {@code TenantId} (written by hand, around the library) neither crash the operator's views nor stall a worker.
 */
@ExtendWith(PostgresExtension.class)
class EmptyTenantTest {
  private static TestDatabase db;
  private static String worker;
  private static HikariDataSource workerPool;

  @BeforeAll
  static void setUp(TestDatabase database) throws SQLException {
    db = database;
    worker = QueueFixtures.setUp(db);
    workerPool = db.newPool(worker, db.rolePassword(worker), 6);
  }

  @AfterAll
  static void tearDown() {
    workerPool.close();
  }

  @BeforeEach
  void empty() {
    update(db, "DELETE FROM saaskit_jobs.jobs");
    update(db, "DELETE FROM saaskit_jobs.recurring_jobs");
  }

  @Test
  void theAppRoleWithAnEmptyTenantSettingCannotCreateAJob() throws SQLException {
    try (Connection c = db.appDataSource().getConnection(); Statement st = c.createStatement()) {
      st.execute("SELECT set_config('app.tenant_id', '', false)");
      assertThatThrownBy(() -> st.execute("INSERT INTO saaskit_jobs.jobs (tenant_id, queue, type, payload)"
          + " VALUES ('', 'q', 't', '{}')")).isInstanceOf(SQLException.class);
      assertThatThrownBy(() -> st.execute("INSERT INTO saaskit_jobs.jobs (tenant_id, queue, type, payload)"
          + " VALUES (NULL, 'q', 't', '{}')")).isInstanceOf(SQLException.class);
      st.execute("RESET app.tenant_id");
    }
    assertThat(QueueFixtures.count(db, "true")).isZero();
  }

  @Test
  void theTablesRefuseAnEmptyTenantIdEvenFromTheWorkerRole() throws SQLException {
    try (Connection c = workerPool.getConnection(); Statement st = c.createStatement()) {
      assertThatThrownBy(() -> st.execute("INSERT INTO saaskit_jobs.jobs (tenant_id, queue, type, payload)"
          + " VALUES ('', 'q', 't', '{}')"))
          .isInstanceOf(SQLException.class).hasMessageContaining("jobs_tenant_id_not_empty");
      assertThatThrownBy(() -> st.execute("INSERT INTO saaskit_jobs.recurring_jobs"
          + " (name, cron, cron_syntax, zone, tenant_id, queue, type, payload)"
          + " VALUES ('n', '* * * * *', 'unix', 'UTC', '', 'q', 't', '{}')"))
          .isInstanceOf(SQLException.class).hasMessageContaining("recurring_jobs_tenant_id_not_empty");
      // a real tenant and no tenant (NULL) stay allowed
      st.execute("INSERT INTO saaskit_jobs.jobs (tenant_id, queue, type, payload) VALUES ('acme', 'q', 't', '{}'),"
          + " (NULL, 'q', 't', '{}')");
    }
  }

  /**
   * The policies themselves, apart from the check constraint: even a row with tenant id '' (dropped inside this
   * transaction, so it can be written) is invisible to the application role when the setting is '' too.
   */
  @Test
  void thePoliciesTreatAnEmptySettingAsNoTenant() throws SQLException {
    try (Connection c = db.adminDataSource().getConnection(); Statement st = c.createStatement()) {
      c.setAutoCommit(false);
      try {
        st.execute("ALTER TABLE saaskit_jobs.jobs DROP CONSTRAINT IF EXISTS jobs_tenant_id_not_empty");
        st.execute("ALTER TABLE saaskit_jobs.recurring_jobs DROP CONSTRAINT IF EXISTS"
            + " recurring_jobs_tenant_id_not_empty");
        st.execute("INSERT INTO saaskit_jobs.jobs (tenant_id, queue, type, payload) VALUES ('', 'q', 't', '{}')");
        st.execute("INSERT INTO saaskit_jobs.recurring_jobs (name, cron, cron_syntax, zone, tenant_id, queue, type,"
            + " payload) VALUES ('n', '* * * * *', 'unix', 'UTC', '', 'q', 't', '{}')");
        st.execute("GRANT SELECT ON saaskit_jobs.recurring_jobs TO " + db.appRole());
        st.execute("SET LOCAL ROLE " + db.appRole());
        st.execute("SELECT set_config('app.tenant_id', '', true)");
        assertThat(count(st, "SELECT count(*) FROM saaskit_jobs.jobs")).isZero();
        assertThat(count(st, "SELECT count(*) FROM saaskit_jobs.recurring_jobs")).isZero();
        assertThat(st.executeUpdate("UPDATE saaskit_jobs.jobs SET cancel_requested = true")).isZero();
      } finally {
        c.rollback();
      }
    }
  }

  @Test
  void operatorViewsShowARowWhoseTenantIdIsNotValid() {
    long bad = insert(" padded", "q", "t");
    long good = insert("acme", "q", "t");
    JobAdmin admin = JobAdmin.builder(workerPool).build();

    List<JobStatus> listed = admin.list(JobFilter.builder().build());
    assertThat(listed).extracting(s -> s.id().value()).containsExactly(good, bad);
    assertThat(listed.get(0).tenant()).hasToString("acme");
    assertThat(listed.get(0).invalidTenantId()).isNull();
    assertThat(listed.get(1).tenant()).isNull();
    assertThat(listed.get(1).invalidTenantId()).isEqualTo(" padded");
    assertThat(listed.get(1).isSystemJob()).isFalse();
    Optional<JobStatus> shown = admin.show(JobId.of(bad));
    assertThat(shown).hasValueSatisfying(s -> assertThat(s.invalidTenantId()).isEqualTo(" padded"));
    // a queue on the worker's pool (as for system jobs) sees every row
    assertThat(JobQueue.builder(workerPool).build().status(JobId.of(bad)))
        .hasValueSatisfying(s -> assertThat(s.invalidTenantId()).isEqualTo(" padded"));
  }

  @Test
  void aWorkerEndsAJobWhoseTenantIdIsNotValidAndRunsTheOthers() {
    long bad = insert(" padded", "bad-tenant", "t");
    long good = insert("acme", "bad-tenant", "t");
    Set<Long> ran = ConcurrentHashMap.newKeySet();
    try (JobWorker w = JobWorker.builder(workerPool).queue("bad-tenant", 2).pollInterval(Duration.ofMillis(50))
        .leaseDuration(Duration.ofSeconds(2))
        .handler(JobType.of("t", JsonNode.class), (payload, ctx) -> {
          ran.add(ctx.id().value());
          return null;
        }).build().start()) {
      Await.until("both jobs finished", Duration.ofSeconds(30), () -> QueueFixtures.count(db,
          "queue = 'bad-tenant' AND state IN ('completed', 'dead')") == 2);
    }
    assertThat(ran).containsExactly(good);
    assertThat(QueueFixtures.job(db, JobId.of(good)).get("state")).isEqualTo("completed");
    var row = QueueFixtures.job(db, JobId.of(bad));
    assertThat(row.get("state")).isEqualTo("dead");
    assertThat((String) row.get("last_error")).contains("' padded'", "not a valid tenant id");
  }

  private static long insert(String tenant, String queue, String type) {
    try (Connection c = db.adminDataSource().getConnection();
        PreparedStatement ps = c.prepareStatement("INSERT INTO saaskit_jobs.jobs (tenant_id, queue, type, payload)"
            + " VALUES (?, ?, ?, '{}') RETURNING id")) {
      ps.setString(1, tenant);
      ps.setString(2, queue);
      ps.setString(3, type);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getLong(1);
      }
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  private static long count(Statement st, String sql) throws SQLException {
    try (ResultSet rs = st.executeQuery(sql)) {
      rs.next();
      return rs.getLong(1);
    }
  }
}
