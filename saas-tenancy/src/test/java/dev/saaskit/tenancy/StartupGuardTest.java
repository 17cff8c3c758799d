package dev.saaskit.tenancy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.core.SaasException;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.postgresql.ds.PGSimpleDataSource;

/** The start-up guard against real roles and tables: each unsafe setup is reported with its fix. */
@ExtendWith(PostgresExtension.class)
class StartupGuardTest {
  static TestDatabase db;

  /** Each test works in this schema (owned by the owner role) and drops it afterwards. */
  static final String SCHEMA = "guarded";

  @BeforeAll
  static void init(TestDatabase database) {
    db = database;
  }

  @AfterEach
  void dropSchema() throws SQLException {
    admin("DROP SCHEMA IF EXISTS " + SCHEMA + " CASCADE");
  }

  static void admin(String... sql) throws SQLException {
    run(db.adminDataSource(), sql);
  }

  static void owner(String... sql) throws SQLException {
    run(db.ownerDataSource(), sql);
  }

  static void run(DataSource ds, String... sql) throws SQLException {
    try (Connection c = ds.getConnection(); Statement s = c.createStatement()) {
      for (String each : sql) {
        s.execute(each);
      }
    }
  }

  static void createSchema() throws SQLException {
    admin("CREATE SCHEMA " + SCHEMA + " AUTHORIZATION " + q(db.ownerRole()),
        "GRANT USAGE ON SCHEMA " + SCHEMA + " TO " + q(db.appRole()));
  }

  /** A tenant table with the generated policy: what a correct setup looks like. */
  static void createSafeTable(String table) throws SQLException {
    owner("CREATE TABLE " + SCHEMA + "." + table + " (tenant_id uuid NOT NULL, note text)");
    try (Connection c = db.ownerDataSource().getConnection()) {
      RlsPolicy.forTable(SCHEMA, table).columnType(TenantColumnType.UUID).build().apply(c);
    }
  }

  static StartupGuard guard() {
    return StartupGuard.builder().schemas(SCHEMA).build();
  }

  static String q(String identifier) {
    return '"' + identifier.replace("\"", "\"\"") + '"';
  }

  HikariDataSource poolFor(String role) {
    return db.newPool(role, db.rolePassword(role), 1);
  }

  @Test
  void passesForTheApplicationRoleOnACorrectSetup() throws SQLException {
    createSchema();
    createSafeTable("orders");
    createSafeTable("invoices");

    assertThat(guard().problems(db.appDataSource())).isEmpty();
    assertThatCode(() -> guard().verify(db.appDataSource())).doesNotThrowAnyException();
    // the defaults look at every non-system schema of the database (each test cleans up after itself)
    assertThatCode(() -> StartupGuard.defaults().verify(db.appDataSource())).doesNotThrowAnyException();
    // tables without a tenant column are not tenant tables
    owner("CREATE TABLE " + SCHEMA + ".plans (id bigint, name text)");
    assertThat(guard().problems(db.appDataSource())).isEmpty();
  }

  @Test
  void failsForASuperuser() {
    String role = db.createRole("super", "SUPERUSER");
    try (HikariDataSource pool = poolFor(role)) {
      assertThat(guard().problems(pool)).containsExactly(
          "Role " + q(role) + " is a superuser: row-level security never applies to superusers, so every tenant"
              + " would see every row.\n   Fix: connect the application as a role that is not a superuser (and does"
              + " not own the tables), or run as a superuser: ALTER ROLE " + q(role) + " NOSUPERUSER;");
      assertThatThrownBy(() -> guard().verify(pool))
          .isInstanceOf(UnsafeDatabaseSetupException.class)
          .isInstanceOf(SaasException.class)
          .hasMessageStartingWith("Unsafe database setup for tenant isolation: the application role " + q(role)
              + " would not be held to row-level security (1 problem). Fix each, then start again:\n\n1. Role ")
          .hasMessageContaining("ALTER ROLE " + q(role) + " NOSUPERUSER;");
    }
  }

  @Test
  void failsForABypassRlsRole() {
    String role = db.createRole("bypass", "BYPASSRLS");
    try (HikariDataSource pool = poolFor(role)) {
      assertThat(guard().problems(pool)).containsExactly(
          "Role " + q(role) + " has BYPASSRLS: row-level security does not apply to it, so every tenant would see"
              + " every row.\n   Fix (as a superuser): ALTER ROLE " + q(role) + " NOBYPASSRLS;");
      UnsafeDatabaseSetupException e = (UnsafeDatabaseSetupException) org.assertj.core.api.Assertions
          .catchThrowable(() -> guard().verify(pool));
      assertThat(e.problems()).isEqualTo(guard().problems(pool));
      assertThat(e.getMessage()).contains("ALTER ROLE " + q(role) + " NOBYPASSRLS;");
    }
  }

  @Test
  void failsForAMemberOfASuperuserOrBypassRlsRole() throws SQLException {
    String superGroup = db.createRole("super_group", "SUPERUSER");
    String bypassGroup = db.createRole("bypass_group", "BYPASSRLS");
    String member = db.createRole("member", "");
    admin("GRANT " + q(superGroup) + " TO " + q(member), "GRANT " + q(bypassGroup) + " TO " + q(member));
    try (HikariDataSource pool = poolFor(member)) {
      assertThat(guard().problems(pool)).containsExactly(
          "Role " + q(member) + " is a member of the superuser role " + q(superGroup) + ": it can SET ROLE "
              + q(superGroup) + " and bypass every policy.\n   Fix (as a superuser): REVOKE " + q(superGroup)
              + " FROM " + q(member) + ";",
          "Role " + q(member) + " is a member of the BYPASSRLS role " + q(bypassGroup) + ": it can SET ROLE "
              + q(bypassGroup) + " and bypass every policy.\n   Fix (as a superuser): REVOKE " + q(bypassGroup)
              + " FROM " + q(member) + ";");
      admin("REVOKE " + q(superGroup) + " FROM " + q(member), "REVOKE " + q(bypassGroup) + " FROM " + q(member));
      assertThat(guard().problems(pool)).isEmpty();
    }
  }

  @Test
  void failsWhenTheApplicationOwnsATenantTableWithoutForce() throws SQLException {
    String appOwner = db.createRole("app_owner", "");
    createSchema();
    admin("CREATE TABLE " + SCHEMA + ".orders (tenant_id uuid NOT NULL, note text)",
        "ALTER TABLE " + SCHEMA + ".orders OWNER TO " + q(appOwner),
        "ALTER TABLE " + SCHEMA + ".orders ENABLE ROW LEVEL SECURITY");
    try (HikariDataSource pool = poolFor(appOwner)) {
      assertThat(guard().problems(pool)).containsExactly(
          "Table \"guarded\".\"orders\" is owned by the application role " + q(appOwner) + ", and its row-level"
              + " security is not forced: table owners are exempt from their policies, so the application sees every"
              + " tenant's rows.\n   Fix: ALTER TABLE \"guarded\".\"orders\" FORCE ROW LEVEL SECURITY; and better,"
              + " so the application cannot turn it off again: ALTER TABLE \"guarded\".\"orders\" OWNER TO"
              + " <migration role>; (a role the application does not log in as)");
      assertThatThrownBy(() -> guard().verify(pool))
          .isInstanceOf(UnsafeDatabaseSetupException.class)
          .hasMessageContaining("ALTER TABLE \"guarded\".\"orders\" FORCE ROW LEVEL SECURITY;");

      admin("ALTER TABLE " + SCHEMA + ".orders FORCE ROW LEVEL SECURITY");
      // forced: the policies hold the owner too; owning it is only a warning
      assertThat(guard().problems(pool)).isEmpty();
      assertThatCode(() -> guard().verify(pool)).doesNotThrowAnyException();
    }
  }

  @Test
  void failsWhenTheApplicationIsAMemberOfTheOwnerRoleWithoutForce() throws SQLException {
    String member = db.createRole("owner_member", "");
    createSchema();
    owner("CREATE TABLE " + SCHEMA + ".orders (tenant_id uuid NOT NULL, note text)",
        "ALTER TABLE " + SCHEMA + ".orders ENABLE ROW LEVEL SECURITY");
    admin("GRANT " + q(db.ownerRole()) + " TO " + q(member));
    try (HikariDataSource pool = poolFor(member)) {
      assertThat(guard().problems(pool)).singleElement().asString()
          .startsWith("Table \"guarded\".\"orders\" is owned by " + q(db.ownerRole()) + ", a role that " + q(member)
              + " is a member of, and its row-level security is not forced")
          .endsWith("REVOKE " + q(db.ownerRole()) + " FROM " + q(member) + ";");
    } finally {
      admin("REVOKE " + q(db.ownerRole()) + " FROM " + q(member));
    }
  }

  @Test
  void failsForATenantTableWithoutRowLevelSecurity() throws SQLException {
    createSchema();
    createSafeTable("orders");
    owner("CREATE TABLE " + SCHEMA + ".\"Line Items\" (tenant_id uuid NOT NULL, qty int)");

    assertThat(guard().problems(db.appDataSource())).containsExactly(
        "Table \"guarded\".\"Line Items\" has a tenant column but row-level security is not enabled, so every tenant"
            + " sees every row of it.\n   Fix (as its owner " + q(db.ownerRole()) + "): ALTER TABLE"
            + " \"guarded\".\"Line Items\" ENABLE ROW LEVEL SECURITY; ALTER TABLE \"guarded\".\"Line Items\" FORCE"
            + " ROW LEVEL SECURITY; and create the tenant policy (RlsPolicy generates all three).");
    assertThatThrownBy(() -> StartupGuard.defaults().verify(db.appDataSource()))
        .isInstanceOf(UnsafeDatabaseSetupException.class)
        .hasMessageContaining("\"guarded\".\"Line Items\" ENABLE ROW LEVEL SECURITY;");

    try (Connection c = db.ownerDataSource().getConnection()) {
      RlsPolicy.forTable(SCHEMA, "Line Items").columnType(TenantColumnType.UUID).build().apply(c);
    }
    assertThat(guard().problems(db.appDataSource())).isEmpty();
  }

  @Test
  void partitionsAreCheckedToo() throws SQLException {
    createSchema();
    owner("CREATE TABLE " + SCHEMA + ".events (tenant_id uuid NOT NULL, day int NOT NULL) PARTITION BY RANGE (day)",
        "CREATE TABLE " + SCHEMA + ".events_1 PARTITION OF " + SCHEMA + ".events FOR VALUES FROM (0) TO (10)");
    try (Connection c = db.ownerDataSource().getConnection()) {
      RlsPolicy.forTable(SCHEMA, "events").columnType(TenantColumnType.UUID).index(false).build().apply(c);
    }
    // querying the partition directly bypasses the parent's policy
    assertThat(guard().problems(db.appDataSource())).singleElement().asString()
        .startsWith("Table \"guarded\".\"events_1\" has a tenant column but row-level security is not enabled");
  }

  @Test
  void tenantColumnsAndSchemasAreConfigurable() throws SQLException {
    createSchema();
    owner("CREATE TABLE " + SCHEMA + ".docs (org_id bigint NOT NULL, body text)");

    assertThat(guard().problems(db.appDataSource())).isEmpty();
    StartupGuard byOrg = guard().toBuilder().tenantColumns("org_id", "tenant_id").build();
    assertThat(byOrg.problems(db.appDataSource())).singleElement().asString()
        .startsWith("Table \"guarded\".\"docs\" has a tenant column");
    assertThat(byOrg.toBuilder().schemas("public").build().problems(db.appDataSource())).isEmpty();
    assertThat(byOrg.toString()).isEqualTo("StartupGuard[tenantColumns=[org_id, tenant_id], schemas=[guarded]]");
  }

  @Test
  void failsWhenThePoolLogsInAsASuperuserAndSwitchesRole() {
    String loginRole = db.createRole("login_super", "SUPERUSER");
    PGSimpleDataSource ds = new PGSimpleDataSource();
    ds.setURL(db.jdbcUrl());
    ds.setUser(loginRole);
    ds.setPassword(db.rolePassword(loginRole));
    ds.setOptions("-c role=" + db.appRole());

    assertThat(guard().problems(ds)).containsExactly(
        "The connections log in as " + q(loginRole) + ", a superuser, and switch to " + q(db.appRole())
            + " with SET ROLE: a RESET ROLE brings the login role back and bypasses every policy.\n   Fix: make the"
            + " pool log in as " + q(db.appRole()) + " itself (its user name), not switch to it.");
  }

  @Test
  void reportsEveryProblemAtOnce() throws SQLException {
    String role = db.createRole("everything_wrong", "BYPASSRLS");
    createSchema();
    owner("CREATE TABLE " + SCHEMA + ".a (tenant_id text)", "CREATE TABLE " + SCHEMA + ".b (tenant_id text)");
    try (HikariDataSource pool = poolFor(role)) {
      List<String> problems = guard().problems(pool);
      assertThat(problems).hasSize(3);
      assertThatThrownBy(() -> guard().verify(pool))
          .hasMessageContaining("(3 problems)")
          .hasMessageContaining("\n\n1. Role ")
          .hasMessageContaining("\n\n2. Table \"guarded\".\"a\"")
          .hasMessageContaining("\n\n3. Table \"guarded\".\"b\"");
    }
  }

  @Test
  void unreachableDatabaseIsReportedAsSuch() {
    PGSimpleDataSource ds = new PGSimpleDataSource();
    ds.setURL(db.jdbcUrl().replace(db.name(), db.name() + "_missing")); // no such database
    ds.setUser(db.appRole());
    ds.setPassword(db.appPassword());
    assertThatThrownBy(() -> guard().verify(ds))
        .isInstanceOf(SaasException.class)
        .isNotInstanceOf(UnsafeDatabaseSetupException.class)
        .hasMessageStartingWith("the start-up guard could not read the PostgreSQL catalog")
        .hasCauseInstanceOf(SQLException.class);
  }

  @Test
  void builderRejectsBadNames() {
    assertThatThrownBy(() -> StartupGuard.builder().tenantColumns())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("tenantColumns needs at least one tenant column name");
    assertThatThrownBy(() -> StartupGuard.builder().tenantColumns("tenant_id", ""))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("tenant column name must not be empty");
    assertThatThrownBy(() -> StartupGuard.builder().schemas("x".repeat(64)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("schema name must be at most 63 bytes");
  }
}
