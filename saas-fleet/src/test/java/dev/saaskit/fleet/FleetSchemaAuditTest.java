package dev.saaskit.fleet;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.tenancy.audit.AuditReport;
import dev.saaskit.tenancy.audit.Finding;
import dev.saaskit.tenancy.audit.RlsAudit;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The fleet's control schema in a database that saaskit's RLS audit also judges: its {@code tenants} and {@code
 * moves} tables carry a tenant column but hold a directory, not tenant data, so the audit reports them (RLS is
 * off: only the fleet and operators read them) until they are named in {@code ignoreTables}, as docs/fleet.md says.
 */
@ExtendWith(PostgresExtension.class)
class FleetSchemaAuditTest {
  static final String S = FleetSchema.DEFAULT_SCHEMA;

  @Test
  void theControlSchemaIsCleanOnceItsDirectoryTablesAreIgnored(TestDatabase db) {
    FleetSchema.defaults().migrate(db.ownerDataSource());
    AuditReport plain = RlsAudit.builder().appRole(db.appRole()).build().run(db.ownerDataSource());
    assertThat(plain.errors()).extracting(Finding::object).containsExactlyInAnyOrder(S + ".tenants", S + ".moves");

    AuditReport ignoring = RlsAudit.builder().appRole(db.appRole()).ignoreTables(S + ".tenants", S + ".moves")
        .build().run(db.ownerDataSource());
    assertThat(ignoring.findings()).as(ignoring.toText()).extracting(Finding::object)
        .noneMatch(o -> o.contains(S));
  }
}
