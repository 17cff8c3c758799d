package dev.saaskit.tenancy.audit;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.tenancy.RlsPolicy;
import dev.saaskit.tenancy.TenantColumnType;
import dev.saaskit.tenancy.TenantDataSource;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Rewrite rules on tables (review of 2026-12-06): a rule's actions run with the rights of the table's owner, like a
 * view without {@code security_invoker}, but the audit looked at views only. With an owner exempt from the policies
 * (here the owner of an unforced tenant table), one {@code INSERT} of the application copied every tenant's rows into
 * a table it can read, and the audit reported nothing beyond the unforced table's WARNING.
 */
@ExtendWith(PostgresExtension.class)
class RlsAuditRewriteRuleTest {
  TestDatabase db;

  @Test
  void aRuleWhoseOwnerIsNotHeldToThePoliciesIsAnErrorBecauseOneInsertCopiesEveryTenant() throws Exception {
    owner("CREATE TABLE notes (id bigserial PRIMARY KEY, tenant_id text NOT NULL, body text NOT NULL)");
    try (Connection c = db.ownerDataSource().getConnection()) {
      RlsPolicy.forTable("notes").columnType(TenantColumnType.TEXT).build().apply(c);
    }
    owner("ALTER TABLE notes NO FORCE ROW LEVEL SECURITY",
        "INSERT INTO notes (tenant_id, body) VALUES ('acme', 'acme secret'), ('globex', 'globex secret')",
        "CREATE TABLE pings (id bigint)",
        "CREATE TABLE copies (line text)",
        "CREATE RULE copy_notes AS ON INSERT TO pings DO ALSO"
            + " INSERT INTO copies SELECT tenant_id || ':' || body FROM notes");
    TenantDataSource tenantDs = TenantDataSource.wrap(db.appDataSource());

    // what it allows: tenant acme's insert into an innocent table hands it globex's rows
    assertThat(pingAsAcmeAndReadCopies(tenantDs)).as("the hole is real")
        .containsExactlyInAnyOrder("acme:acme secret", "globex:globex secret");

    AuditReport report = RlsAudit.defaults().run(db.appDataSource());
    assertThat(report.errors()).extracting(Finding::ruleId).containsExactly("rule-with-owner-rights");
    Finding finding = report.errors().get(0);
    assertThat(finding.object()).isEqualTo("public.pings");
    assertThat(finding.message()).contains("rewrite rule", "public.notes", "every tenant's rows",
        "can write to the table");
    assertThat(finding.fix()).hasValueSatisfying(fix -> assertThat(fix)
        .contains("DROP RULE <rule> ON \"public\".\"pings\";")
        .contains("ALTER TABLE \"public\".\"notes\" FORCE ROW LEVEL SECURITY;"));

    // the owner held to the policies: the rule copies the firing tenant's rows only, and stays a WARNING
    owner("ALTER TABLE notes FORCE ROW LEVEL SECURITY", "DELETE FROM copies");
    assertThat(pingAsAcmeAndReadCopies(tenantDs)).containsExactly("acme:acme secret");
    report = RlsAudit.defaults().run(db.appDataSource());
    assertThat(report.errors()).isEmpty();
    assertThat(report.warnings()).filteredOn(f -> f.ruleId().equals("rule-with-owner-rights"))
        .singleElement()
        .satisfies(f -> assertThat(f.message()).contains("Not an error because its owner is held"));

    // an application that cannot fire it: a WARNING too
    owner("ALTER TABLE notes NO FORCE ROW LEVEL SECURITY",
        "REVOKE INSERT, UPDATE, DELETE ON pings FROM " + q(db.appRole()));
    report = RlsAudit.defaults().run(db.appDataSource());
    assertThat(report.errors()).isEmpty();
    assertThat(report.warnings()).filteredOn(f -> f.ruleId().equals("rule-with-owner-rights"))
        .singleElement()
        .satisfies(f -> assertThat(f.message()).contains("cannot write to the table today"));

    // a security_invoker view with an INSTEAD rule: the option covers the view's query, not its rules
    owner("ALTER TABLE notes FORCE ROW LEVEL SECURITY", "DROP RULE copy_notes ON pings",
        "CREATE VIEW ping_view WITH (security_invoker = true) AS SELECT id FROM pings",
        "CREATE RULE copy_via_view AS ON INSERT TO ping_view DO INSTEAD"
            + " INSERT INTO copies SELECT tenant_id || ':' || body FROM notes",
        "GRANT SELECT, INSERT ON ping_view TO " + q(db.appRole()),
        "ALTER TABLE notes NO FORCE ROW LEVEL SECURITY", "DELETE FROM copies");
    List<String> copied = new ArrayList<>();
    TenantContext.run(TenantId.of("acme"), () -> {
      try (Connection c = tenantDs.getConnection(); Statement s = c.createStatement()) {
        s.executeUpdate("INSERT INTO ping_view VALUES (1)");
        try (ResultSet rs = s.executeQuery("SELECT line FROM copies")) {
          while (rs.next()) {
            copied.add(rs.getString(1));
          }
        }
      }
    });
    assertThat(copied).as("the hole is real").contains("globex:globex secret");
    report = RlsAudit.defaults().run(db.appDataSource());
    assertThat(report.errors()).singleElement().satisfies(f -> {
      assertThat(f.ruleId()).isEqualTo("rule-with-owner-rights");
      assertThat(f.object()).isEqualTo("public.ping_view");
      assertThat(f.message()).contains("View public.ping_view", "security_invoker covers only the view's query");
    });
    owner("DROP VIEW ping_view");

    // a rule that reaches no tenant data is no finding
    owner("CREATE RULE copy_notes AS ON INSERT TO pings DO ALSO"
        + " INSERT INTO copies SELECT tenant_id || ':' || body FROM notes");
    owner("DROP RULE copy_notes ON pings",
        "CREATE RULE log_pings AS ON INSERT TO pings DO ALSO INSERT INTO copies VALUES ('ping')",
        "ALTER TABLE notes FORCE ROW LEVEL SECURITY");
    assertThat(RlsAudit.defaults().run(db.appDataSource()).findings()).isEmpty();
  }

  List<String> pingAsAcmeAndReadCopies(DataSource tenantDs) throws Exception {
    List<String> lines = new ArrayList<>();
    TenantContext.run(TenantId.of("acme"), () -> {
      try (Connection c = tenantDs.getConnection(); Statement s = c.createStatement()) {
        s.executeUpdate("INSERT INTO pings VALUES (1)");
        try (ResultSet rs = s.executeQuery("SELECT line FROM copies")) {
          while (rs.next()) {
            lines.add(rs.getString(1));
          }
        }
      }
    });
    return lines;
  }

  void owner(String... sql) throws SQLException {
    try (Connection c = db.ownerDataSource().getConnection(); Statement s = c.createStatement()) {
      for (String each : sql) {
        s.execute(each);
      }
    }
  }

  static String q(String identifier) {
    return '"' + identifier.replace("\"", "\"\"") + '"';
  }
}
