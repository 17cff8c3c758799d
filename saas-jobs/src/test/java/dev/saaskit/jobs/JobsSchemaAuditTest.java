package dev.saaskit.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.tenancy.audit.AuditReport;
import dev.saaskit.tenancy.audit.Finding;
import dev.saaskit.tenancy.audit.RlsAudit;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A jobs schema migrated and granted as documented (app role, worker role) gives saaskit's RLS audit nothing to
 * report: the nullable tenant columns and the worker policies carry {@code saaskit-audit:} annotations, which the
 * audit honours (and lists as suppressed).
 */
@ExtendWith(PostgresExtension.class)
class JobsSchemaAuditTest {
  private static String worker;

  @BeforeAll
  static void setUp(TestDatabase db) throws SQLException {
    worker = QueueFixtures.setUp(db);
  }

  @Test
  void theJobTablesGiveTheAuditNoFinding(TestDatabase db) {
    AuditReport report = RlsAudit.builder().appRole(db.appRole()).build().run(db.ownerDataSource());
    assertThat(report.tenantTables()).contains("saaskit_jobs.jobs", "saaskit_jobs.recurring_jobs");
    List<Finding> aboutJobs = report.findings().stream().filter(f -> f.object().contains("saaskit_jobs.")).toList();
    assertThat(aboutJobs).as(report.toText()).isEmpty();
    // what the annotations accepted: the nullable tenant columns and the worker role's policies
    List<String> accepted = report.suppressed().stream()
        .map(s -> s.finding().ruleId() + " " + s.finding().object()).toList();
    assertThat(accepted).as(report.toText())
        .anyMatch(s -> s.startsWith("tenant-column-nullable") && s.contains("saaskit_jobs.jobs"))
        .anyMatch(s -> s.startsWith("tenant-column-nullable") && s.contains("saaskit_jobs.recurring_jobs"))
        .anyMatch(s -> s.startsWith("policy-always-true") && s.contains("jobs_worker_" + worker));
  }

  @Test
  void anUnannotatedAlwaysTruePolicyIsStillReported(TestDatabase db) throws SQLException {
    try (Connection c = db.ownerDataSource().getConnection()) {
      c.setAutoCommit(false);
      try (var st = c.createStatement()) {
        st.execute("CREATE POLICY probe_open ON saaskit_jobs.jobs TO \"" + worker + "\" USING (true)");
      }
      AuditReport report = RlsAudit.builder().appRole(db.appRole()).build().run(c);
      c.rollback();
      assertThat(report.findings()).extracting(Finding::object).anyMatch(o -> o.contains("probe_open"));
    }
  }
}
