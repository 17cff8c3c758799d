package dev.saaskit.tenancy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.core.SaasException;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The generated DDL against real PostgreSQL: isolation, defaults, WITH CHECK, fail-closed, plans, catalog. */
@ExtendWith(PostgresExtension.class)
class RlsPolicyDatabaseTest {
  static TestDatabase db;

  @BeforeAll
  static void init(TestDatabase database) {
    db = database;
  }

  /** Two tenant values of each type, as the application would put them in the setting. */
  static String tenantA(TenantColumnType type) {
    switch (type) {
      case UUID: return "0f8fad5b-d9cb-469f-a165-70867728950e";
      case BIGINT: return "42";
      default: return "acme";
    }
  }

  static String tenantB(TenantColumnType type) {
    switch (type) {
      case UUID: return UUID.nameUUIDFromBytes(new byte[] {2}).toString();
      case BIGINT: return "9007199254740993";
      default: return "globex";
    }
  }

  /** Creates {@code name} (tenant column, note) as the owner and applies the policy in the owner's transaction. */
  static RlsPolicy createTenantTable(String name, TenantColumnType type) throws SQLException {
    RlsPolicy policy = RlsPolicy.forTable(name).columnType(type).indexColumns("note").build();
    try (Connection c = db.ownerDataSource().getConnection()) {
      c.setAutoCommit(false);
      try (Statement s = c.createStatement()) {
        s.execute("DROP TABLE IF EXISTS " + name);
        s.execute("CREATE TABLE " + name + " (tenant_id " + type.sqlType() + " NOT NULL, note text NOT NULL)");
      }
      policy.apply(c);
      c.commit();
    }
    return policy;
  }

  interface SqlWork<T> {
    T run(Connection c) throws SQLException;
  }

  /** Runs {@code work} as the application role in one transaction with the tenant setting set to {@code tenant}. */
  static <T> T asTenant(String tenant, SqlWork<T> work) throws SQLException {
    try (Connection c = db.appDataSource().getConnection()) {
      c.setAutoCommit(false);
      try {
        if (tenant != null) {
          try (PreparedStatement ps = c.prepareStatement("SELECT set_config('app.tenant_id', ?, true)")) {
            ps.setString(1, tenant);
            ps.execute();
          }
        }
        T result = work.run(c);
        c.commit();
        return result;
      } finally {
        if (!c.getAutoCommit()) {
          c.rollback();
        }
        c.setAutoCommit(true);
      }
    }
  }

  static List<String> queryAs(String tenant, String sql) throws SQLException {
    return asTenant(tenant, c -> strings(c, sql));
  }

  static int updateAs(String tenant, String sql, String... params) throws SQLException {
    Integer count = asTenant(tenant, c -> update(c, sql, params));
    return count;
  }

  static List<String> strings(Connection c, String sql) throws SQLException {
    List<String> out = new ArrayList<>();
    try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
      while (rs.next()) {
        out.add(rs.getString(1));
      }
    }
    return out;
  }

  static int update(Connection c, String sql, String... params) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      for (int i = 0; i < params.length; i++) {
        ps.setString(i + 1, params[i]);
      }
      return ps.executeUpdate();
    }
  }

  static void exec(Connection c, String sql, String... params) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      for (int i = 0; i < params.length; i++) {
        ps.setString(i + 1, params[i]);
      }
      ps.execute();
    }
  }

  static String table(TenantColumnType type) {
    return "orders_" + type.name().toLowerCase(Locale.ROOT);
  }

  @ParameterizedTest
  @EnumSource(TenantColumnType.class)
  void eachTenantSeesAndWritesOnlyItsOwnRows(TenantColumnType type) throws SQLException {
    String t = table(type);
    createTenantTable(t, type);
    String a = tenantA(type);
    String b = tenantB(type);

    // inserts need not name the tenant: the column default reads the setting
    updateAs(a, "INSERT INTO " + t + "(note) VALUES ('a1'), ('a2')");
    updateAs(b, "INSERT INTO " + t + "(note) VALUES ('b1')");

    assertThat(queryAs(a, "SELECT note FROM " + t + " ORDER BY note")).containsExactly("a1", "a2");
    assertThat(queryAs(b, "SELECT note FROM " + t + " ORDER BY note")).containsExactly("b1");
    assertThat(queryAs(a, "SELECT DISTINCT tenant_id::text FROM " + t)).containsExactly(a);
    assertThat(queryAs(b, "SELECT DISTINCT tenant_id::text FROM " + t)).containsExactly(b);
    // naming the own tenant explicitly is fine
    updateAs(a, "INSERT INTO " + t + "(tenant_id, note) VALUES (?::" + type.sqlType() + ", 'a3')", a);
    // updates and deletes reach only the tenant's rows
    assertThat(updateAs(b, "UPDATE " + t + " SET note = note || '!'")).isEqualTo(1);
    assertThat(updateAs(b, "DELETE FROM " + t + " WHERE note LIKE 'a%'")).isZero();
    assertThat(queryAs(a, "SELECT note FROM " + t + " ORDER BY note"))
        .containsExactly("a1", "a2", "a3");

    // the owner, being held to the policy by FORCE, sees nothing without a tenant either
    try (Connection c = db.ownerDataSource().getConnection()) {
      assertThat(strings(c, "SELECT note FROM " + t)).isEmpty();
    }
  }

  @ParameterizedTest
  @EnumSource(TenantColumnType.class)
  void writingForAnotherTenantFails(TenantColumnType type) throws SQLException {
    String t = table(type) + "_check";
    createTenantTable(t, type);
    String a = tenantA(type);
    String b = tenantB(type);
    updateAs(a, "INSERT INTO " + t + "(note) VALUES ('a1')");

    assertThatThrownBy(() ->
        updateAs(a, "INSERT INTO " + t + "(tenant_id, note) VALUES (?::" + type.sqlType() + ", 'x')", b))
        .isInstanceOf(SQLException.class)
        .hasMessageContaining("new row violates row-level security policy");
    assertThatThrownBy(() ->
        updateAs(a, "UPDATE " + t + " SET tenant_id = ?::" + type.sqlType() + " WHERE note = 'a1'", b))
        .isInstanceOf(SQLException.class)
        .hasMessageContaining("new row violates row-level security policy");

    assertThat(queryAs(b, "SELECT note FROM " + t)).isEmpty();
    assertThat(queryAs(a, "SELECT note FROM " + t)).containsExactly("a1");
  }

  @ParameterizedTest
  @EnumSource(TenantColumnType.class)
  void noTenantMeansNoRowsAndNoWrites(TenantColumnType type) throws SQLException {
    String t = table(type) + "_closed";
    createTenantTable(t, type);
    updateAs(tenantA(type), "INSERT INTO " + t + "(note) VALUES ('a1')");

    // a fresh session in which the setting was never defined: current_setting(..., true) is NULL
    try (Connection c = DriverManager.getConnection(db.jdbcUrl(), db.appRole(), db.appPassword())) {
      assertThat(strings(c, "SELECT current_setting('app.tenant_id', true) IS NULL")).containsExactly("t");
      assertThat(strings(c, "SELECT note FROM " + t)).isEmpty();
      assertThatThrownBy(() -> update(c, "INSERT INTO " + t + "(note) VALUES ('x')"))
          .isInstanceOf(SQLException.class);
      assertThat(update(c, "UPDATE " + t + " SET note = 'y'")).isZero();
      assertThat(update(c, "DELETE FROM " + t)).isZero();
    }
    // the empty string (what a session reports after a transaction-local value ended) also matches nothing
    assertThat(queryAs("", "SELECT note FROM " + t)).isEmpty();
    assertThatThrownBy(() -> updateAs("", "INSERT INTO " + t + "(note) VALUES ('x')"))
        .isInstanceOf(SQLException.class);
    // after a transaction-local value, the same session is back to no rows
    try (Connection c = DriverManager.getConnection(db.jdbcUrl(), db.appRole(), db.appPassword())) {
      c.setAutoCommit(false);
      exec(c, "SELECT set_config('app.tenant_id', ?, true)", tenantA(type));
      assertThat(strings(c, "SELECT note FROM " + t)).containsExactly("a1");
      c.commit();
      c.setAutoCommit(true);
      assertThat(strings(c, "SELECT current_setting('app.tenant_id', true)")).containsExactly("");
      assertThat(strings(c, "SELECT note FROM " + t)).isEmpty();
    }
    assertThat(queryAs(tenantA(type), "SELECT note FROM " + t)).containsExactly("a1");
  }

  @Test
  void nullableTenantColumnIsStillClosedByWithCheck() throws SQLException {
    try (Connection c = db.ownerDataSource().getConnection(); Statement s = c.createStatement()) {
      s.execute("CREATE TABLE loose (tenant_id text, note text)");
      RlsPolicy.forTable("loose").columnType(TenantColumnType.TEXT).build().apply(c);
    }
    assertThatThrownBy(() -> updateAs("", "INSERT INTO loose(note) VALUES ('x')"))
        .isInstanceOf(SQLException.class)
        .hasMessageContaining("new row violates row-level security policy");
    assertThatThrownBy(() -> updateAs("acme", "INSERT INTO loose VALUES (NULL, 'x')"))
        .isInstanceOf(SQLException.class)
        .hasMessageContaining("new row violates row-level security policy");
  }

  @Test
  void malformedTenantFailsClosed() throws SQLException {
    createTenantTable("orders_malformed", TenantColumnType.UUID);
    assertThatThrownBy(() -> queryAs("not-a-uuid", "SELECT note FROM orders_malformed"))
        .isInstanceOf(SQLException.class)
        .hasMessageContaining("invalid input syntax for type uuid");
  }

  @ParameterizedTest
  @EnumSource(TenantColumnType.class)
  void planUsesTheTenantIndexAndReadsTheSettingOnce(TenantColumnType type) throws SQLException {
    String t = table(type) + "_plan";
    RlsPolicy policy = createTenantTable(t, type);
    String index = policy.indexName().orElseThrow();
    String a = tenantA(type);
    updateAs(a, "INSERT INTO " + t + "(note) SELECT 'n' || g FROM generate_series(1, 200) g");
    updateAs(tenantB(type), "INSERT INTO " + t + "(note) SELECT 'n' || g FROM generate_series(1, 200) g");
    try (Connection c = db.ownerDataSource().getConnection(); Statement s = c.createStatement()) {
      s.execute("ANALYZE " + t);
    }

    List<String> policyPlan = asTenant(a, c -> {
      exec(c, "SET LOCAL enable_seqscan = off");
      return strings(c, "EXPLAIN (VERBOSE) SELECT * FROM " + t);
    });
    String text = String.join("\n", policyPlan);
    assertThat(text).contains(index).contains("InitPlan");
    // the setting is computed by the InitPlan (its Output line), never as a per-row filter or index condition
    assertThat(policyPlan).filteredOn(line -> line.contains("current_setting")).isNotEmpty()
        .allMatch(line -> line.trim().startsWith("Output:"), "only InitPlan output computes the setting");
    assertThat(policyPlan).filteredOn(line -> line.contains("Filter:") || line.contains("Cond:"))
        .noneMatch(line -> line.contains("current_setting"));

    List<String> explicitPlan = asTenant(a, c -> {
      exec(c, "SET LOCAL enable_seqscan = off");
      return strings(c, "EXPLAIN SELECT * FROM " + t + " WHERE tenant_id = '" + a + "' AND note = 'n7'");
    });
    assertThat(String.join("\n", explicitPlan)).contains(index);
    assertThat(queryAs(a, "SELECT note FROM " + t + " WHERE note = 'n7'")).containsExactly("n7");
  }

  @ParameterizedTest
  @EnumSource(TenantColumnType.class)
  void catalogShowsRlsEnabledForcedAndThePolicy(TenantColumnType type) throws SQLException {
    String t = table(type) + "_catalog";
    RlsPolicy policy = createTenantTable(t, type);
    try (Connection c = db.ownerDataSource().getConnection()) {
      assertThat(strings(c, "SELECT relrowsecurity::text || ',' || relforcerowsecurity::text FROM pg_class"
          + " WHERE oid = '" + t + "'::regclass")).containsExactly("true,true");
      assertThat(strings(c, "SELECT polname || ',' || polpermissive::text || ',' || polcmd::text"
          + " || ',' || array_to_string(polroles, ':') FROM pg_policy WHERE polrelid = '" + t + "'::regclass"))
          .containsExactly("tenant_isolation,true,*,0"); // role oid 0 is PUBLIC
      assertThat(strings(c, "SELECT pg_get_expr(polqual, polrelid) = pg_get_expr(polwithcheck, polrelid)"
          + " FROM pg_policy WHERE polrelid = '" + t + "'::regclass")).containsExactly("t");
      assertThat(strings(c, "SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef WHERE adrelid = '" + t
          + "'::regclass")).singleElement().asString().contains("current_setting('app.tenant_id'");
      assertThat(strings(c, "SELECT indexdef FROM pg_indexes WHERE indexname = '" + policy.indexName().orElseThrow()
          + "'")).singleElement().asString().endsWith("USING btree (tenant_id, note)");
    }
  }

  @Test
  void applyIsRepeatableAndRunsInTheCallersTransaction() throws SQLException {
    try (Connection c = db.ownerDataSource().getConnection(); Statement s = c.createStatement()) {
      s.execute("CREATE TABLE repeat_me (tenant_id bigint NOT NULL, note text)");
    }
    RlsPolicy policy = RlsPolicy.forTable("public", "repeat_me").columnType(TenantColumnType.BIGINT).build();
    try (Connection c = db.ownerDataSource().getConnection()) {
      c.setAutoCommit(false);
      policy.apply(c);
      c.rollback(); // nothing stays: apply did not commit
      c.setAutoCommit(true);
      assertThat(strings(c, "SELECT relrowsecurity::text FROM pg_class WHERE oid = 'repeat_me'::regclass"))
          .containsExactly("false");
      policy.apply(c);
      policy.apply(c);
      policy.toBuilder().policyName("tenant_isolation").build().apply(c);
      assertThat(strings(c, "SELECT count(*) FROM pg_policy WHERE polrelid = 'repeat_me'::regclass"))
          .containsExactly("1");
      assertThat(strings(c, "SELECT count(*) FROM pg_index WHERE indrelid = 'repeat_me'::regclass"))
          .containsExactly("1");
    }
  }

  @Test
  void policyForNamedRolesLeavesOthersWithNothing() throws SQLException {
    try (Connection c = db.ownerDataSource().getConnection(); Statement s = c.createStatement()) {
      s.execute("CREATE TABLE app_only (tenant_id text NOT NULL, note text)");
      RlsPolicy.forTable("app_only").columnType(TenantColumnType.TEXT).roles(db.appRole()).build().apply(c);
    }
    updateAs("acme", "INSERT INTO app_only(note) VALUES ('a')");
    assertThat(queryAs("acme", "SELECT note FROM app_only")).containsExactly("a");
    try (Connection c = db.ownerDataSource().getConnection()) {
      c.setAutoCommit(false);
      exec(c, "SELECT set_config('app.tenant_id', 'acme', true)");
      assertThat(strings(c, "SELECT note FROM app_only")).isEmpty(); // the owner is not among the roles
      c.rollback();
    }
  }

  @Test
  void applyOnAPartitionedTableCoversEveryExistingPartitionQueriedByName() throws SQLException {
    try (Connection c = db.ownerDataSource().getConnection(); Statement s = c.createStatement()) {
      s.execute("CREATE TABLE events (tenant_id text NOT NULL, region text NOT NULL, day int NOT NULL)"
          + " PARTITION BY LIST (region)");
      s.execute("CREATE TABLE events_eu PARTITION OF events FOR VALUES IN ('eu') PARTITION BY RANGE (day)");
      s.execute("CREATE TABLE events_eu_1 PARTITION OF events_eu FOR VALUES FROM (0) TO (100)");
      s.execute("CREATE TABLE events_us PARTITION OF events FOR VALUES IN ('us')");
      RlsPolicy.forTable("events").columnType(TenantColumnType.TEXT).build().apply(c);
      RlsPolicy.forTable("events").columnType(TenantColumnType.TEXT).build().apply(c); // idempotent
      s.execute("GRANT SELECT, INSERT ON events, events_eu, events_eu_1, events_us TO " + db.appRole());
    }
    updateAs("a", "INSERT INTO events(region, day) VALUES ('eu', 1), ('us', 2)");
    updateAs("b", "INSERT INTO events(region, day) VALUES ('eu', 3)");
    for (String partition : List.of("events_eu", "events_eu_1", "events_us")) {
      assertThat(queryAs("b", "SELECT tenant_id FROM " + partition)).as(partition).allMatch("b"::equals);
      assertThat(queryAs(null, "SELECT tenant_id FROM " + partition)).as(partition).isEmpty();
    }
    assertThat(queryAs("a", "SELECT region FROM events_us")).containsExactly("us");
    try (Connection c = db.adminDataSource().getConnection()) {
      assertThat(strings(c, "SELECT c.relname || ':' || c.relrowsecurity || ':' || c.relforcerowsecurity || ':'"
          + " || (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = 'tenant_isolation')"
          + " FROM pg_class c WHERE c.relname LIKE 'events%' AND c.relkind IN ('r', 'p') ORDER BY 1"))
          .containsExactly("events:true:true:1", "events_eu:true:true:1", "events_eu_1:true:true:1",
              "events_us:true:true:1");
    }
    assertThat(StartupGuard.builder().schemas("public").build().problems(db.appDataSource())).isEmpty();
  }

  @Test
  void applyFailureNamesTheStatement() throws SQLException {
    RlsPolicy policy = RlsPolicy.forTable("no_such_table").columnType(TenantColumnType.UUID).build();
    try (Connection c = db.ownerDataSource().getConnection()) {
      assertThatThrownBy(() -> policy.apply(c))
          .isInstanceOf(SaasException.class)
          .hasMessageStartingWith("applying the tenant policy to \"no_such_table\" failed at: ALTER TABLE"
              + " \"no_such_table\" ALTER COLUMN \"tenant_id\" SET DEFAULT")
          .hasMessageContaining("does not exist")
          .hasCauseInstanceOf(SQLException.class);
    }
  }
}
