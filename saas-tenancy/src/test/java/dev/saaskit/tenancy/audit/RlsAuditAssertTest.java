package dev.saaskit.tenancy.audit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.tenancy.RlsPolicy;
import dev.saaskit.tenancy.TenantColumnType;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The JUnit one-liner on a database of its own, with the defaults a user gets: every schema, and the data source's
 * own role as the application role.
 */
@ExtendWith(PostgresExtension.class)
class RlsAuditAssertTest {
  TestDatabase db;

  @Test
  void passesOnACleanDatabaseAndListsEveryErrorWithItsFixOnABrokenOne() throws SQLException {
    owner("CREATE TABLE notes (id bigint, tenant_id uuid NOT NULL, body text)",
        "CREATE TABLE invoices (id bigint, tenant_id text NOT NULL, total numeric)",
        "CREATE TABLE plans (id bigint PRIMARY KEY, name text)");
    try (Connection c = db.ownerDataSource().getConnection()) {
      RlsPolicy.forTable("notes").columnType(TenantColumnType.UUID).build().apply(c);
      RlsPolicy.forTable("invoices").columnType(TenantColumnType.TEXT).build().apply(c);
    }
    // the one line, run as the application role
    assertThatCode(() -> RlsAudit.defaults().assertNoErrors(db.appDataSource())).doesNotThrowAnyException();
    assertThat(RlsAudit.defaults().run(db.appDataSource()).findings()).isEmpty();

    // warnings do not fail it
    owner("CREATE TABLE tags (tenant_id uuid, name text)",
        "ALTER TABLE tags ENABLE ROW LEVEL SECURITY", "ALTER TABLE tags FORCE ROW LEVEL SECURITY");
    assertThatCode(() -> RlsAudit.defaults().assertNoErrors(db.appDataSource())).doesNotThrowAnyException();

    // errors do, each listed with its fix
    owner("CREATE TABLE comments (tenant_id uuid NOT NULL, body text)", "CREATE INDEX ON comments (tenant_id)",
        "GRANT TRUNCATE ON notes TO " + q(db.appRole()));
    assertThatThrownBy(() -> RlsAudit.defaults().assertNoErrors(db.appDataSource()))
        .isInstanceOf(AssertionError.class)
        .hasMessageStartingWith("RLS audit of database " + db.name() + " for role " + db.appRole()
            + " found 2 errors in tenant isolation:")
        .hasMessageContaining("[rls-disabled] public.comments")
        .hasMessageContaining("ALTER TABLE \"public\".\"comments\" ENABLE ROW LEVEL SECURITY;")
        .hasMessageContaining("[app-role-can-truncate] public.notes")
        .hasMessageContaining("REVOKE TRUNCATE ON \"public\".\"notes\" FROM " + q(db.appRole()) + ";")
        .hasMessageNotContaining("tags");
    // the same as an operator: the superuser, naming the application role
    RlsAudit asOperator = RlsAudit.builder().appRole(db.appRole()).build();
    assertThatThrownBy(() -> asOperator.assertNoErrors(db.adminDataSource()))
        .hasMessageContaining("[rls-disabled] public.comments")
        .hasMessageContaining("[app-role-can-truncate] public.notes");

    // accepted with a reason in the baseline
    RlsAudit accepted = asOperator.toBuilder().baseline(Baseline.parse(
        "rls-disabled public.comments -- being migrated\napp-role-can-truncate * -- nightly reset job\n")).build();
    assertThatCode(() -> accepted.assertNoErrors(db.adminDataSource())).doesNotThrowAnyException();
    assertThatThrownBy(() -> asOperator.toBuilder().baseline(Baseline.parse(
        "rls-disabled public.comments -- being migrated\n")).build().assertNoErrors(db.adminDataSource()))
        .hasMessageContaining("found 1 error in tenant isolation")
        .hasMessageContaining("(1 suppressed by the baseline)");
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
