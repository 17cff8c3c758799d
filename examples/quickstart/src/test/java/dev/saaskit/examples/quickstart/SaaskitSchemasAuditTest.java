package dev.saaskit.examples.quickstart;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.cache.postgres.CacheSchema;
import dev.saaskit.jobs.JobsSchema;
import dev.saaskit.tenancy.RlsPolicy;
import dev.saaskit.tenancy.TenantColumnType;
import dev.saaskit.tenancy.audit.AuditReport;
import dev.saaskit.tenancy.audit.Finding;
import dev.saaskit.tenancy.audit.RlsAudit;
import dev.saaskit.tenancy.audit.Severity;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The schemas saaskit modules ship pass saaskit's own RLS audit when set up as documented (the app role fenced by
 * the tenant policy, the jobs worker role with a policy scoped to it, the cache's invalidation log and its
 * SECURITY DEFINER trigger function on a tenant table), and the audit still catches a policy that opens the
 * tables to everyone.
 */
@ExtendWith(PostgresExtension.class)
class SaaskitSchemasAuditTest {
  private static String worker;

  @BeforeAll
  static void setUp(TestDatabase db) throws SQLException {
    worker = db.createRole("jobs_worker", "");
    try (Connection c = db.ownerDataSource().getConnection(); Statement st = c.createStatement()) {
      st.execute("CREATE TABLE notes (id bigserial PRIMARY KEY, tenant_id text NOT NULL, body text)");
      RlsPolicy.forTable("notes").columnType(TenantColumnType.TEXT).build().apply(c);
    }
    JobsSchema jobs = JobsSchema.defaults();
    jobs.migrate(db.ownerDataSource());
    try (Connection c = db.ownerDataSource().getConnection()) {
      jobs.grantApp(c, db.appRole());
      jobs.grantWorker(c, worker);
    }
    CacheSchema cache = CacheSchema.defaults();
    cache.migrate(db.ownerDataSource());
    try (Connection c = db.ownerDataSource().getConnection()) {
      cache.grantApp(c, db.appRole());
      cache.attachTrigger(c, "notes", "notes:{tenant_id}");
    }
  }

  @Test
  void documentedSetupHasNoErrors(TestDatabase db) {
    AuditReport report = RlsAudit.builder().appRole(db.appRole()).build().run(db.ownerDataSource());
    assertThat(report.errors()).as(report.toText()).isEmpty();
    assertThat(report.tenantTables()).contains("saaskit_jobs.jobs", "saaskit_jobs.recurring_jobs", "public.notes");
    // the worker's own policy is no hole: its saaskit-audit annotation accepts the always-true finding
    assertThat(report.suppressed()).extracting(s -> s.finding().object())
        .anyMatch(o -> o.contains("jobs_worker_" + worker));
    // saaskit's own schemas are audit-clean: no finding at all, not even a warning or an info
    assertThat(report.findings()).extracting(Finding::object).noneMatch(o -> o.contains("saaskit_"));
  }

  @Test
  void aPolicyOpenToEveryoneIsAnError(TestDatabase db) throws SQLException {
    try (Connection c = db.ownerDataSource().getConnection(); Statement st = c.createStatement()) {
      c.setAutoCommit(false);
      st.execute("CREATE POLICY open_to_all ON saaskit_jobs.jobs USING (true)");
      AuditReport report = RlsAudit.builder().appRole(db.appRole()).build().run(c);
      c.rollback();
      assertThat(report.errors()).extracting(Finding::object).anyMatch(o -> o.contains("open_to_all"));
      assertThat(report.errors()).allMatch(f -> f.severity() == Severity.ERROR);
    }
  }
}
