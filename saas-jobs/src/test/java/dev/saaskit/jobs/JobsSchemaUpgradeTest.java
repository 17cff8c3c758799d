package dev.saaskit.jobs;

import static dev.saaskit.jobs.QueueFixtures.rows;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.core.SaasException;
import dev.saaskit.core.TenantId;
import dev.saaskit.core.internal.SqlNames;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HexFormat;
import dev.saaskit.core.MigrationResult;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A database migrated by an earlier version (schema at V2) that already holds rows, among them a job and a
 * recurring definition with tenant id {@code ''} written through the application role with no tenant set (the old
 * policies let that happen), is upgraded by {@link JobsSchema#migrate}.
 */
@ExtendWith(PostgresExtension.class)
class JobsSchemaUpgradeTest {
  private static final String[] V2_SCRIPTS = {"V1__jobs.sql", "V2__recurring.sql"};

  @Test
  void anExistingSchemaIsUpgradedAndItsEmptyTenantRowsCannotSquatAnyMore(TestDatabase db) throws Exception {
    migrateToV2(db);
    String worker = db.createRole("jobs_worker", "");
    try (Connection c = db.ownerDataSource().getConnection()) {
      JobsSchema.defaults().grantApp(c, db.appRole());
      JobsSchema.defaults().grantWorker(c, worker);
    }
    // what the old policy admitted: the app role with no tenant ('' as TenantDataSource sends it) writes a row of
    // tenant '' holding the unique key a system job will use
    long squatter;
    try (Connection c = db.appDataSource().getConnection(); Statement st = c.createStatement()) {
      st.execute("SELECT set_config('app.tenant_id', '', false)");
      try (ResultSet rs = st.executeQuery("INSERT INTO saaskit_jobs.jobs (tenant_id, queue, type, payload, unique_key)"
          + " VALUES ('', 'default', 'cleanup', '{}', 'nightly') RETURNING id")) {
        rs.next();
        squatter = rs.getLong(1);
      }
      st.execute("RESET app.tenant_id");
    }
    long tenantJob = insertAsAdmin(db, "INSERT INTO saaskit_jobs.jobs (tenant_id, queue, type, payload, unique_key)"
        + " VALUES ('acme', 'default', 'cleanup', '{}', 'nightly') RETURNING id");
    long runningJob = insertAsAdmin(db, "INSERT INTO saaskit_jobs.jobs (tenant_id, queue, type, payload, state,"
        + " attempts, lease_epoch, lease_expires_at, worker_id, started_at) VALUES ('acme', 'default', 'cleanup',"
        + " '{}', 'running', 1, 1, now() + interval '1 minute', 'old-worker', now()) RETURNING id");
    insertAsAdmin(db, "INSERT INTO saaskit_jobs.recurring_jobs (name, cron, cron_syntax, zone, tenant_id, queue,"
        + " type, payload) VALUES ('bad', '* * * * *', 'unix', 'UTC', '', 'default', 'cleanup', '{}'),"
        + " ('good', '* * * * *', 'unix', 'UTC', 'acme', 'default', 'cleanup', '{}') RETURNING 0");

    MigrationResult result = JobsSchema.defaults().migrate(db.ownerDataSource());
    assertThat(result.applied()).containsExactly("V3__empty_tenant_ids.sql", "V4__start_marks.sql",
        "V5__audit_annotations.sql", "V6__claim_tokens.sql");
    assertThat(result.version()).isEqualTo(JobsSchema.defaults().latestVersion()).isEqualTo(6);
    assertThat(JobsSchema.defaults().migrate(db.ownerDataSource()).changed()).isFalse();

    // the rows of tenant '' are gone (nobody could see or run them), every other row is as it was
    assertThat(ids(db, "SELECT id FROM saaskit_jobs.jobs ORDER BY id")).containsExactly(tenantJob, runningJob);
    assertThat(rows(db.adminDataSource(), "SELECT name FROM saaskit_jobs.recurring_jobs"))
        .containsExactly(Map.of("name", "good"));
    // a job an earlier version claimed counted its attempt at the claim: it counts as started (no unstarted_epoch)
    assertThat(rows(db.adminDataSource(), "SELECT state, attempts, worker_id, unstarted_epoch IS NULL AS started"
        + " FROM saaskit_jobs.jobs WHERE id = ?", runningJob)).containsExactly(
            Map.of("state", "running", "attempts", 1, "worker_id", "old-worker", "started", true));
    assertThat(rows(db.adminDataSource(), "SELECT conname, convalidated FROM pg_constraint"
        + " WHERE conname LIKE '%tenant_id_not_empty' ORDER BY conname")).containsExactly(
            Map.of("conname", "jobs_tenant_id_not_empty", "convalidated", true),
            Map.of("conname", "recurring_jobs_tenant_id_not_empty", "convalidated", true));

    // the system job's unique key is its own again, and a tenant's key stays the tenant's
    try (HikariDataSource workerPool = db.newPool(worker, db.rolePassword(worker), 2)) {
      JobQueue system = JobQueue.builder(workerPool).build();
      JobId nightly = system.enqueue(JobRequest.builder("cleanup", 1).noTenant().uniqueKey("nightly").build());
      assertThat(nightly.value()).isNotIn(squatter, tenantJob);
      assertThat(system.enqueue(JobRequest.builder("cleanup", 2).noTenant().uniqueKey("nightly").build()))
          .isEqualTo(nightly);
      assertThat(system.status(nightly).orElseThrow().tenant()).isNull();
    }
    JobQueue app = JobQueue.builder(db.appDataSource()).build();
    assertThat(QueueFixtures.as(TenantId.of("acme"), () -> app.enqueue(
        JobRequest.builder("cleanup", 3).uniqueKey("nightly").build()))).isEqualTo(JobId.of(tenantJob));
  }

  @Test
  void aWorkerOnASchemaNotMigratedToTheLatestVersionIsRefusedAtStartWithWhatToDo(TestDatabase db) throws Exception {
    // a schema of its own at version 5, as an earlier release left it: a worker of this release writes claim_token
    // (version 6) in every claim, so it would fail every claim; it is refused at start instead
    JobsSchema old = JobsSchema.builder().name("jobs_v5").build();
    try (Connection c = db.ownerDataSource().getConnection(); Statement st = c.createStatement()) {
      for (String script : List.of("V1__jobs.sql", "V2__recurring.sql", "V3__empty_tenant_ids.sql",
          "V4__start_marks.sql", "V5__audit_annotations.sql")) {
        st.execute(read("db/saaskit/jobs/" + script).replace("${schema}", "jobs_v5")
            .replace("${tenant_setting}", "app.tenant_id"));
      }
    }
    String worker = db.createRole("jobs_v5_worker", "");
    try (Connection c = db.ownerDataSource().getConnection()) {
      old.grantWorker(c, worker);
    }
    try (HikariDataSource pool = db.newPool(worker, db.rolePassword(worker), 2)) {
      JobWorker w = JobWorker.builder(pool).schema(old).listen(false)
          .handler(JobType.of("noop", String.class), (payload, ctx) -> null).build();
      assertThatThrownBy(w::start).isInstanceOf(SaasException.class).hasMessageContaining("claim_token")
          .hasMessageContaining("JobsSchema.migrate");
      w.close();
    }
  }

  /** Applies V1 and V2 as the migrator of the version that shipped them did (same text, history and checksums). */
  private static void migrateToV2(TestDatabase db) throws Exception {
    String schema = SqlNames.quoteIdent("saaskit_jobs");
    try (Connection c = db.ownerDataSource().getConnection(); Statement st = c.createStatement()) {
      c.setAutoCommit(false);
      st.execute("CREATE SCHEMA IF NOT EXISTS " + schema);
      st.execute("CREATE TABLE " + schema + ".saaskit_schema_history (version integer PRIMARY KEY,"
          + " description text NOT NULL, script text NOT NULL, checksum text NOT NULL,"
          + " installed_by text NOT NULL DEFAULT current_user, installed_at timestamptz NOT NULL DEFAULT now(),"
          + " execution_ms bigint NOT NULL)");
      for (String script : V2_SCRIPTS) {
        String sql = read("db/saaskit/jobs/" + script).replace("${schema}", schema)
            .replace("${tenant_setting}", "app.tenant_id");
        st.execute(sql);
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + schema + ".saaskit_schema_history"
            + " (version, description, script, checksum, execution_ms) VALUES (?, ?, ?, ?, 0)")) {
          ps.setInt(1, Integer.parseInt(script.substring(1, script.indexOf("__"))));
          ps.setString(2, script.substring(script.indexOf("__") + 2, script.length() - 4).replace('_', ' '));
          ps.setString(3, script);
          ps.setString(4, HexFormat.of().formatHex(
              MessageDigest.getInstance("SHA-256").digest(sql.getBytes(StandardCharsets.UTF_8))));
          ps.executeUpdate();
        }
      }
      c.commit();
    }
  }

  private static String read(String resource) throws IOException {
    try (InputStream in = JobsSchema.class.getClassLoader().getResourceAsStream(resource)) {
      assertThat(in).as(resource).isNotNull();
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  private static long insertAsAdmin(TestDatabase db, String sql) throws SQLException {
    try (Connection c = db.adminDataSource().getConnection(); Statement st = c.createStatement();
        ResultSet rs = st.executeQuery(sql)) {
      rs.next();
      return rs.getLong(1);
    }
  }

  private static List<Long> ids(TestDatabase db, String sql) {
    return rows(db.adminDataSource(), sql).stream().map(r -> ((Number) r.get("id")).longValue()).toList();
  }
}
