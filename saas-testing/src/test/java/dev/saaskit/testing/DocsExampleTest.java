package dev.saaskit.testing;

import dev.saaskit.core.TenantId;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import javax.sql.DataSource;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The example of docs/testing.md, kept compiling and passing; keep the two in step. */
@ExtendWith(PostgresExtension.class)
class DocsExampleTest {
  static final TenantId A = TenantId.of("a"), B = TenantId.of("b");

  @BeforeAll
  static void migrate(TestDatabase db) throws SQLException {
    try (Connection c = db.ownerDataSource().getConnection(); Statement st = c.createStatement()) {
      st.execute("create table notes(tenant_id text not null default current_setting('app.tenant_id', true),"
          + " body text)");
      st.execute("alter table notes enable row level security");
      st.execute("alter table notes force row level security");
      st.execute("create policy tenant_isolation on notes"
          + " using (tenant_id = current_setting('app.tenant_id', true))"
          + " with check (tenant_id = current_setting('app.tenant_id', true))");
    }
  }

  @Test
  void tenantsAreIsolated(TestDatabase db) throws SQLException {
    // Seed both tenants as the superuser, past RLS: an assertion on an empty table would prove nothing.
    try (Connection c = db.adminDataSource().getConnection(); Statement st = c.createStatement()) {
      st.execute("insert into notes values ('a', 'hello'), ('b', 'hi')");
    }
    DataSource tenantDs = tenantAware(db.appDataSource()); // e.g. saas-tenancy's TenantDataSource
    IsolationAssertions.assertTenantIsolated(tenantDs, "notes", "tenant_id", A, B);
    IsolationAssertions.assertCannotInsertAs(tenantDs, A, "insert into notes(tenant_id, body) values (?, 'x')", B);
    IsolationAssertions.assertNoRowsWithoutTenant(tenantDs, "notes");
  }

  private static DataSource tenantAware(DataSource ds) {
    return new TenantSettingDataSource(ds);
  }
}
