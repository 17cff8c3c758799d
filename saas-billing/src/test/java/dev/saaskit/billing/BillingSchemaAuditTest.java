package dev.saaskit.billing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.tenancy.audit.AuditReport;
import dev.saaskit.tenancy.audit.Finding;
import dev.saaskit.tenancy.audit.RlsAudit;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * saas-billing's schema, set up as documented (migrated by the owner, granted to the application role), is clean
 * under saaskit's RLS audit, and the audit still sees a hole punched into it.
 */
@ExtendWith(PostgresExtension.class)
class BillingSchemaAuditTest {
  @BeforeAll
  static void setUp(TestDatabase db) throws SQLException {
    BillingTestSupport.migrate(db);
  }

  @Test
  void theBillingSchemaIsAuditClean(TestDatabase db) {
    AuditReport report = RlsAudit.builder().appRole(db.appRole()).build().run(db.ownerDataSource());
    assertThat(report.tenantTables()).contains("saaskit_billing.customers", "saaskit_billing.subscriptions",
        "saaskit_billing.subscription_items", "saaskit_billing.invoices", "saaskit_billing.usage_outbox");
    assertThat(report.findings()).as(report.toText()).extracting(Finding::object)
        .noneMatch(o -> o.contains("saaskit_billing"));
  }

  @Test
  void aGrantOfTruncateIsReported(TestDatabase db) throws SQLException {
    try (Connection c = db.ownerDataSource().getConnection(); Statement st = c.createStatement()) {
      c.setAutoCommit(false);
      st.execute("GRANT TRUNCATE ON saaskit_billing.invoices TO " + db.appRole());
      AuditReport report = RlsAudit.builder().appRole(db.appRole()).build().run(c);
      c.rollback();
      assertThat(report.errors()).extracting(Finding::object).anyMatch(o -> o.contains("saaskit_billing.invoices"));
    }
  }
}
