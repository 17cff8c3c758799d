package dev.saaskit.auth.memberships;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.auth.Actor;
import dev.saaskit.auth.AuthSchema;
import dev.saaskit.auth.Invitations;
import dev.saaskit.auth.Memberships;
import dev.saaskit.core.TenantId;
import dev.saaskit.tenancy.audit.AuditReport;
import dev.saaskit.tenancy.audit.Finding;
import dev.saaskit.tenancy.audit.RlsAudit;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Schema V1 as the application role meets it: RLS on every tenant table, the log append-only (no privilege, and a
 * trigger even for the owner), the route table out of reach, and the RLS audit clean.
 */
@ExtendWith(PostgresExtension.class)
class MembershipsSchemaTest {
  private static final TenantId ACME = TenantId.of("acme");
  private static final TenantId GLOBEX = TenantId.of("globex");

  @BeforeAll
  static void setUp(TestDatabase db) throws SQLException {
    AuthDb.migrate(db);
    Memberships memberships = Memberships.builder(db.appDataSource()).build();
    memberships.add(ACME, "https://idp", "alice", "owner", Actor.system());
    memberships.add(GLOBEX, "https://idp", "bob", "owner", Actor.system());
    Invitations.builder(db.appDataSource()).build().create(ACME, Actor.system(), null, "member");
  }

  @Test
  void theRlsAuditFindsNoErrorOrWarningInTheAuthSchema(TestDatabase db) {
    AuditReport report = RlsAudit.builder().schemas(AuthSchema.DEFAULT_SCHEMA).build().run(db.appDataSource());
    List<Finding> bad = new java.util.ArrayList<>(report.errors());
    bad.addAll(report.warnings());
    assertThat(bad).as(report.toText()).isEmpty();
    assertThat(report.tenantTables()).contains("saaskit_auth.memberships", "saaskit_auth.invitations",
        "saaskit_auth.permission_changes");
    // the SECURITY DEFINER lookup reads only the route table (no tenant column): nothing to report about it
    assertThat(report.findings()).noneMatch(f -> f.object().contains("invitation_by_token_hash")
        && f.severity() != dev.saaskit.tenancy.audit.Severity.INFO);
  }

  @Test
  void withoutATenantTheAppRoleSeesNoTenantRows(TestDatabase db) throws SQLException {
    assertThat(AuthDb.count(db.appDataSource(), "SELECT count(*) FROM saaskit_auth.memberships")).isZero();
    assertThat(AuthDb.count(db.appDataSource(), "SELECT count(*) FROM saaskit_auth.invitations")).isZero();
    assertThat(AuthDb.count(db.appDataSource(), "SELECT count(*) FROM saaskit_auth.permission_changes")).isZero();
    assertThat(AuthDb.count(db, "SELECT count(*) FROM saaskit_auth.memberships")).isEqualTo(2);
  }

  @Test
  void inOneTenantTheAppRoleSeesOnlyThatTenantAndCannotWriteAnother(TestDatabase db) throws SQLException {
    try (Connection c = db.appDataSource().getConnection()) {
      c.setAutoCommit(false);
      setTenant(c, ACME);
      assertThat(count(c, "SELECT count(*) FROM saaskit_auth.memberships")).isEqualTo(1);
      assertThat(count(c, "SELECT count(*) FROM saaskit_auth.permission_changes WHERE tenant_id = 'globex'"))
          .isZero();
      assertThatThrownBy(() -> execute(c, "INSERT INTO saaskit_auth.permission_changes (tenant_id, change, user_id,"
          + " after_version, changed_at) SELECT 'globex', 'ADD', id, 1, now() FROM saaskit_auth.users LIMIT 1"))
          .isInstanceOf(SQLException.class).hasMessageContaining("row-level security");
      c.rollback();
    }
  }

  @Test
  void theAppRoleCannotUpdateDeleteOrTruncateThePermissionLog(TestDatabase db) throws SQLException {
    for (String sql : List.of("UPDATE saaskit_auth.permission_changes SET after_role = 'owner'",
        "DELETE FROM saaskit_auth.permission_changes", "TRUNCATE saaskit_auth.permission_changes")) {
      try (Connection c = db.appDataSource().getConnection()) {
        c.setAutoCommit(false);
        setTenant(c, ACME);
        assertThatThrownBy(() -> execute(c, sql)).as(sql).isInstanceOf(SQLException.class)
            .hasMessageContaining("permission denied");
        c.rollback();
      }
    }
    assertThat(AuthDb.count(db, "SELECT count(*) FROM saaskit_auth.permission_changes")).isEqualTo(2);
  }

  @Test
  void evenTheOwnerCannotRewriteThePermissionLog(TestDatabase db) throws SQLException {
    for (String sql : List.of("UPDATE saaskit_auth.permission_changes SET after_role = 'owner'",
        "DELETE FROM saaskit_auth.permission_changes", "TRUNCATE saaskit_auth.permission_changes")) {
      try (Connection c = db.adminDataSource().getConnection()) {
        assertThatThrownBy(() -> execute(c, sql)).as(sql).isInstanceOf(SQLException.class)
            .hasMessageContaining("append-only");
      }
    }
    assertThat(AuthDb.count(db, "SELECT count(*) FROM saaskit_auth.permission_changes")).isEqualTo(2);
  }

  @Test
  void theAppRoleCannotDeleteMembershipsNorTouchTheInvitationRoutes(TestDatabase db) throws SQLException {
    for (String sql : List.of("DELETE FROM saaskit_auth.memberships", "SELECT * FROM saaskit_auth.invitation_routes",
        "DELETE FROM saaskit_auth.invitation_routes", "TRUNCATE saaskit_auth.memberships",
        "SELECT saaskit_auth.invitation_route()")) {
      try (Connection c = db.appDataSource().getConnection()) {
        c.setAutoCommit(false);
        setTenant(c, ACME);
        assertThatThrownBy(() -> execute(c, sql)).as(sql).isInstanceOf(SQLException.class)
            .hasMessageContaining("permission denied");
        c.rollback();
      }
    }
    assertThat(AuthDb.count(db, "SELECT count(*) FROM saaskit_auth.invitation_routes")).isEqualTo(1);
  }

  @Test
  void theLookupFunctionAnswersOnlyForAnExactHash(TestDatabase db) throws SQLException {
    assertThat(AuthDb.count(db.appDataSource(),
        "SELECT count(*) FROM saaskit_auth.invitation_by_token_hash(sha256('x'::bytea), now())")).isZero();
    assertThat(AuthDb.count(db.appDataSource(),
        "SELECT count(*) FROM saaskit_auth.invitation_by_token_hash(NULL, now())")).isZero();
  }

  private static void setTenant(Connection c, TenantId tenant) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT set_config('app.tenant_id', ?, true)")) {
      ps.setString(1, tenant.value());
      ps.execute();
    }
  }

  private static void execute(Connection c, String sql) throws SQLException {
    try (Statement st = c.createStatement()) {
      st.execute(sql);
    }
  }

  private static long count(Connection c, String sql) throws SQLException {
    try (Statement st = c.createStatement(); java.sql.ResultSet rs = st.executeQuery(sql)) {
      rs.next();
      return rs.getLong(1);
    }
  }

}
