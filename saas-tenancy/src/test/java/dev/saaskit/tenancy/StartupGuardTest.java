package dev.saaskit.tenancy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.core.SaasException;
import dev.saaskit.tenancy.audit.Baseline;
import dev.saaskit.tenancy.audit.Finding;
import dev.saaskit.tenancy.audit.RlsAudit;
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
  void failsForASuperuserAndAdvisesASeparateRoleRatherThanDemotingIt() {
    // BYPASSRLS too, like the bootstrap superuser "postgres": still one problem, with no ALTER ROLE advice
    String role = db.createRole("super", "SUPERUSER BYPASSRLS");
    try (HikariDataSource pool = poolFor(role)) {
      assertThat(guard().problems(pool)).singleElement().asString()
          .startsWith("[app-role-superuser] The application role " + role + " is a superuser")
          .contains("CREATE ROLE app LOGIN PASSWORD '...' NOSUPERUSER NOBYPASSRLS;")
          .contains("keep SUPERUSER on the role you administer the server with")
          .doesNotContain("ALTER ROLE");
      assertThatThrownBy(() -> guard().verify(pool))
          .isInstanceOf(UnsafeDatabaseSetupException.class)
          .isInstanceOf(SaasException.class)
          .hasMessageStartingWith("Unsafe database setup for tenant isolation: the application role " + q(role)
              + " would not be held to row-level security (1 problem). Fix each, then start again:\n\n1. "
              + "[app-role-superuser] ");
    }
  }

  @Test
  void failsForABypassRlsRole() {
    String role = db.createRole("bypass", "BYPASSRLS");
    try (HikariDataSource pool = poolFor(role)) {
      assertThat(guard().problems(pool)).singleElement().asString()
          .startsWith("[app-role-bypassrls] The application role " + role + " has BYPASSRLS")
          .endsWith("Fix: ALTER ROLE " + q(role) + " NOBYPASSRLS;");
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
      assertThat(guard().problems(pool)).singleElement().asString()
          .startsWith("[app-role-member-of-privileged] The application role " + member + " is a member of "
              + superGroup + " (superuser), " + bypassGroup + " (BYPASSRLS)")
          .contains("REVOKE " + q(superGroup) + " FROM " + q(member) + ";")
          .contains("REVOKE " + q(bypassGroup) + " FROM " + q(member) + ";");
      admin("REVOKE " + q(superGroup) + " FROM " + q(member), "REVOKE " + q(bypassGroup) + " FROM " + q(member));
      assertThat(guard().problems(pool)).isEmpty();
    }
  }

  /**
   * Before PostgreSQL 16, CREATEROLE lets a role GRANT itself any role that is not a superuser: a BYPASSRLS role or
   * the tables' owner is then one GRANT and one SET ROLE away. The guard passed such a role (review of 2026-12-05);
   * from PostgreSQL 16 on, CREATEROLE grants only roles it holds ADMIN on, which the membership check sees.
   */
  @Test
  void failsForACreateRoleApplicationRoleBeforePostgres16() throws SQLException {
    createSchema();
    createSafeTable("orders");
    String bypass = db.createRole("cr_bypass", "BYPASSRLS");
    String creator = db.createRole("creator", "CREATEROLE");
    admin("GRANT USAGE ON SCHEMA " + SCHEMA + " TO " + q(creator),
        "GRANT SELECT ON " + SCHEMA + ".orders TO " + q(creator) + ", " + q(bypass));
    int version;
    try (Connection c = db.adminDataSource().getConnection(); Statement s = c.createStatement();
        java.sql.ResultSet rs = s.executeQuery("SHOW server_version_num")) {
      rs.next();
      version = Integer.parseInt(rs.getString(1));
    }
    try (HikariDataSource pool = poolFor(creator)) {
      boolean escalates;
      try (Connection c = pool.getConnection(); Statement s = c.createStatement()) {
        try {
          s.execute("GRANT " + q(bypass) + " TO " + q(creator));
          s.execute("SET ROLE " + q(bypass));
          escalates = true;
        } catch (SQLException refused) {
          escalates = false;
        }
        s.execute("RESET ROLE");
      }
      admin("REVOKE " + q(bypass) + " FROM " + q(creator));
      assertThat(escalates).as("CREATEROLE reaches a BYPASSRLS role on server %s", version)
          .isEqualTo(version < 160000);
      if (escalates) {
        assertThat(guard().problems(pool)).singleElement().asString()
            .startsWith("[app-role-member-of-privileged] The application role " + creator + " has CREATEROLE")
            .endsWith("ALTER ROLE " + q(creator) + " NOCREATEROLE;");
      } else {
        assertThat(guard().problems(pool)).isEmpty();
      }
    }

    // the same through a role the application role can SET ROLE to
    String ops = db.createRole("cr_ops", "CREATEROLE");
    String member = db.createRole("cr_member", "");
    admin("GRANT " + q(ops) + " TO " + q(member), "GRANT USAGE ON SCHEMA " + SCHEMA + " TO " + q(member));
    try (HikariDataSource pool = poolFor(member)) {
      boolean escalates;
      try (Connection c = pool.getConnection(); Statement s = c.createStatement()) {
        try {
          s.execute("SET ROLE " + q(ops));
          s.execute("GRANT " + q(bypass) + " TO " + q(member));
          s.execute("RESET ROLE");
          s.execute("SET ROLE " + q(bypass));
          escalates = true;
        } catch (SQLException refused) {
          escalates = false;
        }
        s.execute("RESET ROLE");
      }
      admin("REVOKE " + q(bypass) + " FROM " + q(member));
      assertThat(escalates).isEqualTo(version < 160000);
      if (escalates) {
        assertThat(guard().problems(pool)).singleElement().asString()
            .startsWith("[app-role-member-of-privileged] The application role " + member + " can SET ROLE to "
                + ops + " (CREATEROLE)")
            .endsWith("REVOKE " + q(ops) + " FROM " + q(member) + ";");
      } else {
        assertThat(guard().problems(pool)).isEmpty();
      }
    }
  }

  @Test
  void failsWhenTheApplicationOwnsATenantTableEvenWithRlsForcedUnlessABaselineAcceptsIt() throws SQLException {
    String appOwner = db.createRole("app_owner", "");
    createSchema();
    admin("CREATE TABLE " + SCHEMA + ".orders (tenant_id uuid NOT NULL, note text)",
        "CREATE INDEX ON " + SCHEMA + ".orders (tenant_id)",
        "ALTER TABLE " + SCHEMA + ".orders OWNER TO " + q(appOwner),
        "ALTER TABLE " + SCHEMA + ".orders ENABLE ROW LEVEL SECURITY");
    try (HikariDataSource pool = poolFor(appOwner)) {
      assertThat(guard().problems(pool)).extracting(StartupGuardTest::ruleOf)
          .containsExactlyInAnyOrder("rls-not-forced", "app-role-owns-tenant-table");
      assertThatThrownBy(() -> guard().verify(pool))
          .isInstanceOf(UnsafeDatabaseSetupException.class)
          .hasMessageContaining("ALTER TABLE \"guarded\".\"orders\" FORCE ROW LEVEL SECURITY;")
          .hasMessageContaining("ALTER TABLE \"guarded\".\"orders\" OWNER TO <migration role>;")
          // the documented opt-out is named where the refusal is read
          .hasMessageContaining("StartupGuard.builder().baseline(Baseline.parse(\"app-role-owns-tenant-table * --");

      admin("ALTER TABLE " + SCHEMA + ".orders FORCE ROW LEVEL SECURITY");
      // forced: the policies hold the owner, but an owner can turn RLS off or drop the policies: still refused
      assertThat(guard().problems(pool)).extracting(StartupGuardTest::ruleOf)
          .containsExactly("app-role-owns-tenant-table");
      // ... unless accepted on purpose, with a reason
      StartupGuard accepting = guard().toBuilder()
          .baseline(Baseline.parse("app-role-owns-tenant-table * -- single-role prototype, RLS forced")).build();
      assertThatCode(() -> accepting.verify(pool)).doesNotThrowAnyException();
    }
  }

  @Test
  void failsWhenTheApplicationIsAMemberOfTheOwnerRole() throws SQLException {
    String member = db.createRole("owner_member", "");
    createSchema();
    owner("CREATE TABLE " + SCHEMA + ".orders (tenant_id uuid NOT NULL, note text)",
        "ALTER TABLE " + SCHEMA + ".orders ENABLE ROW LEVEL SECURITY");
    admin("GRANT " + q(db.ownerRole()) + " TO " + q(member));
    try (HikariDataSource pool = poolFor(member)) {
      List<String> problems = guard().problems(pool);
      assertThat(problems).extracting(StartupGuardTest::ruleOf)
          .containsExactlyInAnyOrder("rls-not-forced", "app-role-owns-tenant-table");
      assertThat(problems).filteredOn(p -> ruleOf(p).equals("app-role-owns-tenant-table")).singleElement().asString()
          .contains("is a member of " + db.ownerRole() + ", which owns guarded.orders")
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

    assertThat(guard().problems(db.appDataSource())).singleElement().asString()
        .startsWith("[rls-disabled] Table guarded.Line Items has a tenant column (tenant_id) but row-level security"
            + " is disabled")
        .contains("ALTER TABLE \"guarded\".\"Line Items\" ENABLE ROW LEVEL SECURITY;");
    assertThatThrownBy(() -> StartupGuard.defaults().verify(db.appDataSource()))
        .isInstanceOf(UnsafeDatabaseSetupException.class)
        .hasMessageContaining("\"guarded\".\"Line Items\" ENABLE ROW LEVEL SECURITY;");

    try (Connection c = db.ownerDataSource().getConnection()) {
      RlsPolicy.forTable(SCHEMA, "Line Items").columnType(TenantColumnType.UUID).build().apply(c);
    }
    assertThat(guard().problems(db.appDataSource())).isEmpty();
  }

  @Test
  void aTableWithATenantColumnThatHoldsNoTenantDataCanBeIgnored() throws SQLException {
    createSchema();
    createSafeTable("orders");
    owner("CREATE TABLE " + SCHEMA + ".tenant_directory (tenant_id uuid PRIMARY KEY, shard text)");
    owner("GRANT SELECT ON " + SCHEMA + ".tenant_directory TO " + q(db.appRole()));
    assertThat(guard().problems(db.appDataSource())).extracting(StartupGuardTest::ruleOf)
        .containsExactly("rls-disabled");
    StartupGuard ignoring = guard().toBuilder().ignoreTables(SCHEMA + ".tenant_directory").build();
    assertThat(ignoring.problems(db.appDataSource())).isEmpty();
    assertThat(ignoring.toString()).contains("ignoreTables=[guarded.tenant_directory]");
    // the audit takes the same option and agrees
    assertThat(RlsAudit.builder().schemas(SCHEMA).ignoreTables(SCHEMA + ".tenant_directory").build()
        .run(db.appDataSource()).errors()).isEmpty();
    assertThatThrownBy(() -> StartupGuard.builder().ignoreTables("tenant_directory"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("ignoreTables takes tables as schema.table but got 'tenant_directory'");
  }

  @Test
  void partitionsAreCheckedToo() throws SQLException {
    createSchema();
    owner("CREATE TABLE " + SCHEMA + ".events (tenant_id uuid NOT NULL, day int NOT NULL) PARTITION BY RANGE (day)",
        "CREATE TABLE " + SCHEMA + ".events_1 PARTITION OF " + SCHEMA + ".events FOR VALUES FROM (0) TO (10)");
    // RLS on the parent only: querying the partition directly bypasses the parent's policy
    owner("ALTER TABLE " + SCHEMA + ".events ENABLE ROW LEVEL SECURITY",
        "ALTER TABLE " + SCHEMA + ".events FORCE ROW LEVEL SECURITY");
    assertThat(guard().problems(db.appDataSource())).singleElement().asString()
        .startsWith("[rls-disabled] Table guarded.events_1 has a tenant column");
  }

  @Test
  void tenantColumnsAndSchemasAreConfigurable() throws SQLException {
    createSchema();
    owner("CREATE TABLE " + SCHEMA + ".docs (org_id bigint NOT NULL, body text)");

    assertThat(guard().problems(db.appDataSource())).isEmpty();
    StartupGuard byOrg = guard().toBuilder().tenantColumns("org_id", "tenant_id").build();
    assertThat(byOrg.problems(db.appDataSource())).singleElement().asString()
        .startsWith("[rls-disabled] Table guarded.docs has a tenant column");
    assertThat(byOrg.toBuilder().schemas("public").build().problems(db.appDataSource())).isEmpty();
    assertThat(byOrg.toString()).startsWith("StartupGuard[tenantColumns=[org_id, tenant_id], schemas=[guarded]");
  }

  @Test
  void failsWhenThePoolLogsInAsASuperuserAndSwitchesRole() {
    String loginRole = db.createRole("login_super", "SUPERUSER");
    PGSimpleDataSource ds = new PGSimpleDataSource();
    ds.setURL(db.jdbcUrl());
    ds.setUser(loginRole);
    ds.setPassword(db.rolePassword(loginRole));
    ds.setOptions("-c role=" + db.appRole());

    assertThat(guard().problems(ds)).singleElement().asString()
        .startsWith("[app-role-privileged-login] The connections log in as " + loginRole + ", a superuser, and switch"
            + " to " + db.appRole() + " with SET ROLE: a RESET ROLE brings the login role back")
        .contains("make the pool log in as " + q(db.appRole()) + " itself");
  }

  /**
   * {@code SET SESSION AUTHORIZATION} (a pool's connection-init SQL, say) changes {@code session_user} as well, so the
   * guard, which compared {@code session_user} with {@code current_user}, took the superuser login for the
   * application role and passed it; {@code RESET SESSION AUTHORIZATION} brings the superuser back (review of
   * 2026-12-05).
   */
  @Test
  void failsWhenThePoolLogsInAsASuperuserAndSwitchesSessionAuthorization() {
    String loginRole = db.createRole("login_super_sa", "SUPERUSER");
    HikariConfig config = new HikariConfig();
    config.setJdbcUrl(db.jdbcUrl());
    config.setUsername(loginRole);
    config.setPassword(db.rolePassword(loginRole));
    config.setMaximumPoolSize(1);
    config.setConnectionInitSql("SET SESSION AUTHORIZATION " + q(db.appRole()));
    try (HikariDataSource pool = new HikariDataSource(config)) {
      assertThat(guard().problems(pool)).singleElement().asString()
          .startsWith("[app-role-privileged-login] The connections log in as " + loginRole + ", a superuser, and"
              + " switch to " + db.appRole() + " with SET SESSION AUTHORIZATION: a RESET SESSION AUTHORIZATION"
              + " brings the login role back")
          .contains("make the pool log in as " + q(db.appRole()) + " itself");
      assertThatThrownBy(() -> guard().verify(pool)).isInstanceOf(UnsafeDatabaseSetupException.class);
    }
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
          .hasMessageContaining("\n\n1. [app-role-bypassrls] ")
          .hasMessageContaining("\n\n2. [rls-disabled] Table guarded.a")
          .hasMessageContaining("\n\n3. [rls-disabled] Table guarded.b");
    }
  }

  /**
   * Issue 18: the guard and the audit judge the same role alike. For each unsafe setup, the guard's problems are
   * exactly the audit's ERROR findings of the guard's rules, and a setup the guard passes has none of them.
   */
  @Test
  void theGuardAndTheAuditAgreeOnEverySetup() throws SQLException {
    String appOwner = db.createRole("agree_owner", "");
    String bypass = db.createRole("agree_bypass", "BYPASSRLS");
    createSchema();
    createSafeTable("safe");
    admin("CREATE TABLE " + SCHEMA + ".owned (tenant_id uuid NOT NULL)",
        "ALTER TABLE " + SCHEMA + ".owned OWNER TO " + q(appOwner),
        "ALTER TABLE " + SCHEMA + ".owned ENABLE ROW LEVEL SECURITY", "ALTER TABLE " + SCHEMA + ".owned FORCE ROW LEVEL SECURITY");
    owner("CREATE TABLE " + SCHEMA + ".open (tenant_id uuid NOT NULL)");
    for (String role : List.of(db.appRole(), appOwner, bypass)) {
      DataSource ds = role.equals(db.appRole()) ? db.appDataSource() : poolFor(role);
      try {
        List<String> guardRules = guard().problems(ds).stream().map(StartupGuardTest::ruleOf).sorted().toList();
        List<String> auditRules = RlsAudit.builder().schemas(SCHEMA).build().run(ds).errors().stream()
            .map(Finding::ruleId).filter(StartupGuard.RULES::contains).sorted().toList();
        assertThat(guardRules).as(role).isNotEmpty().isEqualTo(auditRules);
      } finally {
        if (ds != db.appDataSource()) {
          ((HikariDataSource) ds).close();
        }
      }
    }
    owner("DROP TABLE " + SCHEMA + ".open");
    assertThat(guard().problems(db.appDataSource())).isEmpty();
    assertThat(RlsAudit.builder().schemas(SCHEMA).build().run(db.appDataSource()).errors().stream()
        .map(Finding::ruleId).filter(StartupGuard.RULES::contains)).isEmpty();
  }

  static String ruleOf(String problem) {
    return problem.substring(1, problem.indexOf(']'));
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
