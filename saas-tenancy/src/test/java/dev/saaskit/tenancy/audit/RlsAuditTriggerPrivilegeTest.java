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
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;

/**
 * The {@code TRIGGER} privilege on a tenant table (review of 2026-12-05): {@code GRANT ALL ON ALL TABLES} gives it,
 * and the audit reported {@code TRUNCATE} from that grant but not {@code TRIGGER}, with which the application role
 * attaches a function of its own (a temporary one will do) to the table and reads every other tenant's writes.
 */
@ExtendWith(PostgresExtension.class)
class RlsAuditTriggerPrivilegeTest {
  TestDatabase db;

  @Test
  void theTriggerPrivilegeOnATenantTableIsAnErrorBecauseItReadsOtherTenantsWrites() throws Exception {
    owner("CREATE TABLE notes (id bigserial PRIMARY KEY, tenant_id text NOT NULL, body text NOT NULL)");
    try (Connection c = db.ownerDataSource().getConnection()) {
      RlsPolicy.forTable("notes").columnType(TenantColumnType.TEXT).build().apply(c);
    }
    assertThat(RlsAudit.defaults().run(db.appDataSource()).findings()).isEmpty();
    owner("GRANT TRIGGER ON notes TO " + q(db.appRole()));

    // what it allows: one connection of the application role (an injection in tenant acme's request, say) plants a
    // trigger with a temporary function and listens; tenant globex's insert is delivered to it
    List<String> stolen = new ArrayList<>();
    try (Connection spy = db.appDataSource().getConnection(); Statement s = spy.createStatement()) {
      s.execute("CREATE FUNCTION pg_temp.steal() RETURNS trigger LANGUAGE plpgsql AS"
          + " $$ BEGIN PERFORM pg_notify('loot', NEW.tenant_id || ':' || NEW.body); RETURN NEW; END $$");
      s.execute("CREATE TRIGGER steal AFTER INSERT ON notes FOR EACH ROW EXECUTE FUNCTION pg_temp.steal()");
      s.execute("LISTEN loot");
      TenantDataSource tenantDs = TenantDataSource.wrap(db.appDataSource());
      TenantContext.run(TenantId.of("globex"), () -> {
        try (Connection c = tenantDs.getConnection(); Statement insert = c.createStatement()) {
          insert.executeUpdate("INSERT INTO notes(body) VALUES ('globex secret')");
        }
      });
      PGNotification[] got = spy.unwrap(PGConnection.class).getNotifications(10_000);
      for (PGNotification n : got == null ? new PGNotification[0] : got) {
        stolen.add(n.getParameter());
      }
    }
    assertThat(stolen).as("the hole is real").containsExactly("globex:globex secret");

    AuditReport report = RlsAudit.defaults().run(db.appDataSource());
    assertThat(report.errors()).extracting(Finding::ruleId).containsExactly("app-role-can-trigger");
    Finding finding = report.errors().get(0);
    assertThat(finding.object()).isEqualTo("public.notes");
    assertThat(finding.message()).contains("can create triggers on public.notes");
    assertThat(finding.fix()).hasValue("REVOKE TRIGGER ON \"public\".\"notes\" FROM " + q(db.appRole()) + ";");

    // granted to PUBLIC, the fix names PUBLIC
    owner("REVOKE TRIGGER ON notes FROM " + q(db.appRole()), "GRANT TRIGGER ON notes TO PUBLIC");
    assertThat(RlsAudit.builder().appRole(db.appRole()).build().run(db.adminDataSource()).errors())
        .singleElement()
        .satisfies(f -> assertThat(f.fix()).isEqualTo(Optional.of("REVOKE TRIGGER ON \"public\".\"notes\" FROM PUBLIC;")));
    owner("REVOKE TRIGGER ON notes FROM PUBLIC");
    assertThat(RlsAudit.defaults().run(db.appDataSource()).findings()).isEmpty();
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
