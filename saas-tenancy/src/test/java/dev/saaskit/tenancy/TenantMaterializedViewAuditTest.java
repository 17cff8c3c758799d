package dev.saaskit.tenancy;

import static dev.saaskit.tenancy.TenantMaterializedViewTest.A;
import static dev.saaskit.tenancy.TenantMaterializedViewTest.B;
import static dev.saaskit.tenancy.TenantMaterializedViewTest.exec;
import static dev.saaskit.tenancy.TenantMaterializedViewTest.rows;
import static dev.saaskit.tenancy.TenantMaterializedViewTest.setTenant;
import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.tenancy.audit.AuditReport;
import dev.saaskit.tenancy.audit.Finding;
import dev.saaskit.tenancy.audit.RlsAudit;
import dev.saaskit.tenancy.audit.Severity;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import java.util.stream.Collectors;
import javax.sql.DataSource;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The RLS audit and {@link TenantMaterializedView}: the audit finds no error in the safe pattern, and reports a
 * plain materialized view readable by the application role, and a tenant-filtering view without a security
 * barrier, both of which really leak.
 */
@ExtendWith(PostgresExtension.class)
class TenantMaterializedViewAuditTest {
  static TestDatabase db;
  static DataSource analyticsDs;

  @BeforeAll
  static void init(TestDatabase database) throws SQLException {
    db = database;
    String analytics = TenantMaterializedViewTest.createSchema(db);
    analyticsDs = db.newPool(analytics, db.rolePassword(analytics), 2);
    try (Connection c = db.adminDataSource().getConnection()) {
      exec(c, "INSERT INTO orders (tenant_id, created_on, amount_cents) VALUES"
          + " ('" + A + "', '2024-01-01', 100), ('" + B + "', '2024-01-01', 7)");
    }
    try (Connection c = analyticsDs.getConnection()) {
      TenantMaterializedViewTest.statsView("order_stats", db).build().create(c);
    }
  }

  static AuditReport audit() {
    return RlsAudit.builder().appRole(db.appRole()).build().run(db.adminDataSource());
  }

  static List<Finding> about(AuditReport report, String object) {
    return report.findings().stream().filter(f -> f.object().contains(object)).collect(Collectors.toList());
  }

  @Test
  void theAuditPassesOnTheSafePattern() {
    AuditReport report = audit();
    assertThat(report.errors()).as(report.toText()).isEmpty();
    assertThat(about(report, "order_stats")).as(report.toText()).isEmpty();
  }

  @Test
  void theAuditCatchesTheUnsafeForms() throws Exception {
    try (Connection c = analyticsDs.getConnection()) {
      // a plain materialized view granted to the application role
      exec(c, "CREATE MATERIALIZED VIEW plain_totals AS SELECT tenant_id, sum(amount_cents) AS revenue FROM orders"
          + " GROUP BY tenant_id");
      // the tenant filter without security_barrier
      exec(c, "CREATE VIEW filtered_totals AS SELECT * FROM plain_totals"
          + " WHERE tenant_id = (select nullif(current_setting('app.tenant_id', true), '')::uuid)");
      exec(c, "GRANT SELECT ON plain_totals, filtered_totals TO " + db.appRole());
    }
    try {
      // the leak is real: tenant A reads tenant B's total
      try (Connection c = db.appDataSource().getConnection()) {
        c.setAutoCommit(false);
        setTenant(c, A);
        assertThat(rows(c, "SELECT revenue FROM plain_totals WHERE tenant_id = '" + B + "'")).containsExactly("7");
        c.rollback();
      }

      AuditReport report = audit();
      assertThat(about(report, "plain_totals")).as(report.toText())
          .anySatisfy(f -> {
            assertThat(f.ruleId()).isEqualTo("materialized-view-readable");
            assertThat(f.severity()).isEqualTo(Severity.ERROR);
          });
      assertThat(about(report, "filtered_totals")).as(report.toText())
          .anySatisfy(f -> assertThat(f.ruleId()).isEqualTo("view-without-security-invoker"));
      assertThat(report.hasErrors()).isTrue();
      assertThat(about(report, "order_stats")).as(report.toText()).isEmpty();
    } finally {
      try (Connection c = analyticsDs.getConnection()) {
        exec(c, "DROP MATERIALIZED VIEW plain_totals CASCADE");
      }
    }
  }
}
