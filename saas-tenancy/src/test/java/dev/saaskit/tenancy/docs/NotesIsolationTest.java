package dev.saaskit.tenancy.docs;

import dev.saaskit.core.TenantId;
import dev.saaskit.tenancy.RlsPolicy;
import dev.saaskit.tenancy.TenantColumnType;
import dev.saaskit.tenancy.TenantDataSource;
import dev.saaskit.testing.IsolationAssertions;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import javax.sql.DataSource;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

// The isolation test of docs/testing.md and docs/tenancy.md, as written there.
// snippet: isolation-test
@ExtendWith(PostgresExtension.class)
class NotesIsolationTest {
  static final TenantId A = TenantId.of("a"), B = TenantId.of("b");

  @BeforeAll
  static void migrate(TestDatabase db) throws SQLException {
    try (Connection c = db.ownerDataSource().getConnection(); Statement st = c.createStatement()) {
      st.execute("create table notes(id bigserial primary key, tenant_id text not null, body text)");
      RlsPolicy.forTable("notes").columnType(TenantColumnType.TEXT).build().apply(c);
    }
  }

  @Test
  void tenantsAreIsolated(TestDatabase db) throws SQLException {
    // Seed both tenants as the superuser, past RLS: an assertion on an empty table would prove nothing.
    try (Connection c = db.adminDataSource().getConnection(); Statement st = c.createStatement()) {
      st.execute("insert into notes(tenant_id, body) values ('a', 'hello'), ('b', 'hi')");
    }
    DataSource tenantDs = TenantDataSource.wrap(db.appDataSource());
    IsolationAssertions.assertTenantIsolated(tenantDs, "notes", "tenant_id", A, B);
    IsolationAssertions.assertCannotInsertAs(tenantDs, A, "insert into notes(tenant_id, body) values (?, 'x')", B);
    IsolationAssertions.assertNoRowsWithoutTenant(tenantDs, "notes");
  }
}
// end snippet
