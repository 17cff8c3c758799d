package dev.saaskit.tenancy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.core.SaasException;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.core.TenantSetting;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.SQLWarning;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import javax.sql.DataSource;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * {@link TenantMaterializedView}: generated SQL and validation, then against real PostgreSQL: each tenant sees only
 * its own aggregates, the application role cannot reach the materialized view, leaky functions see nothing of other
 * tenants, the tenant read uses the unique index, refresh publishes new numbers, and {@code create} refuses unsafe
 * or wrong setups.
 */
@ExtendWith(PostgresExtension.class)
class TenantMaterializedViewTest {
  static final String A = "0f8fad5b-d9cb-469f-a165-70867728950e";
  static final String B = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
  static final String C = "16fd2706-8baf-433b-82eb-8c7fada847da";
  static final String D = "9a3e1d8a-52a5-4a8e-9b9c-0d7c3a1b2f11";
  static final String QUERY = "SELECT tenant_id, created_on AS day, count(*) AS orders, sum(amount_cents) AS revenue"
      + " FROM orders GROUP BY tenant_id, created_on";

  static TestDatabase db;
  static String analytics;
  static String reporting;
  static DataSource analyticsDs;
  static TenantMaterializedView stats;

  @BeforeAll
  static void init(TestDatabase database) throws SQLException {
    db = database;
    analytics = createSchema(db);
    analyticsDs = db.newPool(analytics, db.rolePassword(analytics), 2);
    // default privileges of the creating role for a third role: create() must take them back
    reporting = db.createRole("reporting", "");
    try (Connection c = analyticsDs.getConnection()) {
      exec(c, "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT ON TABLES TO " + reporting);
    }
    try (Connection c = db.adminDataSource().getConnection()) {
      exec(c, "INSERT INTO orders (tenant_id, created_on, amount_cents) VALUES"
          + " ('" + A + "', '2024-01-01', 100), ('" + A + "', '2024-01-01', 250), ('" + A + "', '2024-01-02', 40),"
          + " ('" + B + "', '2024-01-01', 7),"
          + " ('" + C + "', '2024-01-02', 1000), ('" + C + "', '2024-01-02', 1000), ('" + C + "', '2024-01-02', 1)");
    }
    stats = statsView("order_stats").build();
    createIn(analyticsDs, stats);
  }

  /**
   * The source table {@code orders} (uuid tenant column, RLS by {@link RlsPolicy}) created as the owner, and a
   * dedicated analytics role that reads every tenant's rows through a SELECT policy of its own and may create in
   * {@code public}. Returns the analytics role.
   */
  static String createSchema(TestDatabase db) throws SQLException {
    String analytics = db.createRole("analytics", "");
    try (Connection c = db.ownerDataSource().getConnection()) {
      exec(c, "CREATE TABLE orders (id bigserial PRIMARY KEY, tenant_id uuid NOT NULL, created_on date NOT NULL,"
          + " amount_cents bigint NOT NULL)");
      RlsPolicy.forTable("orders").columnType(TenantColumnType.UUID).build().apply(c);
      exec(c, "GRANT SELECT ON orders TO " + analytics);
      exec(c, "CREATE POLICY analytics_read ON orders FOR SELECT TO " + analytics + " USING (true)");
      exec(c, "GRANT CREATE ON SCHEMA public TO " + analytics);
    }
    return analytics;
  }

  static TenantMaterializedView.Builder statsView(String name) {
    return statsView(name, db);
  }

  /** The per-tenant, per-day order statistics over {@code orders}, read by the application role of {@code db}. */
  static TenantMaterializedView.Builder statsView(String name, TestDatabase db) {
    return TenantMaterializedView.builder(name).query(QUERY).columnType(TenantColumnType.UUID)
        .uniqueKey("tenant_id", "day").readers(db.appRole());
  }

  static void createIn(DataSource ds, TenantMaterializedView view) throws SQLException {
    try (Connection c = ds.getConnection()) {
      c.setAutoCommit(false);
      view.create(c);
      c.commit();
    }
  }

  /** Rows of {@code sql} as the application role through {@link TenantDataSource}, for {@code tenant} (or none). */
  static List<String> readAs(String tenant, String sql) throws Exception {
    DataSource tenantDs = TenantDataSource.wrap(db.appDataSource());
    if (tenant == null) {
      return rows(tenantDs, sql);
    }
    return TenantContext.call(TenantId.of(tenant), () -> rows(tenantDs, sql));
  }

  static List<String> rows(DataSource ds, String sql) throws SQLException {
    try (Connection c = ds.getConnection()) {
      return rows(c, sql);
    }
  }

  static List<String> rows(Connection c, String sql) throws SQLException {
    List<String> out = new ArrayList<>();
    try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
      int n = rs.getMetaData().getColumnCount();
      while (rs.next()) {
        StringBuilder row = new StringBuilder();
        for (int i = 1; i <= n; i++) {
          row.append(i == 1 ? "" : "|").append(rs.getString(i));
        }
        out.add(row.toString());
      }
    }
    return out;
  }

  static void exec(Connection c, String sql) throws SQLException {
    try (Statement s = c.createStatement()) {
      s.execute(sql);
    }
  }

  static void setTenant(Connection c, String tenant) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT set_config('app.tenant_id', ?, true)")) {
      ps.setString(1, tenant);
      ps.execute();
    }
  }

  static String sqlState(Throwable t) {
    for (Throwable e = t; e != null; e = e.getCause()) {
      if (e instanceof SQLException) {
        return ((SQLException) e).getSQLState();
      }
    }
    return null;
  }

  // ---------------------------------------------------------------- generated SQL and validation

  @Test
  void goldenSqlWithDefaults() {
    TenantMaterializedView view = TenantMaterializedView.builder("order_stats")
        .query("  SELECT tenant_id, created_on AS day, count(*) AS orders FROM orders GROUP BY 1, 2 ;\n")
        .columnType(TenantColumnType.UUID)
        .uniqueKey("tenant_id", "day")
        .readers("app")
        .build();

    assertThat(view.toSql()).isEqualTo(
        "CREATE MATERIALIZED VIEW \"order_stats_data\" AS\n"
            + "SELECT tenant_id, created_on AS day, count(*) AS orders FROM orders GROUP BY 1, 2\n"
            + "WITH DATA;\n"
            + "CREATE UNIQUE INDEX \"order_stats_data_tenant_id_day_idx\" ON \"order_stats_data\" (\"tenant_id\", \"day\");\n"
            + "REVOKE ALL ON \"order_stats_data\" FROM PUBLIC, \"app\";\n"
            + "CREATE VIEW \"order_stats\" WITH (security_barrier = true) AS SELECT * FROM \"order_stats_data\""
            + " WHERE \"tenant_id\" = (select nullif(current_setting('app.tenant_id', true), '')::uuid);\n"
            + "REVOKE ALL ON \"order_stats\" FROM PUBLIC, \"app\";\n"
            + "GRANT SELECT ON \"order_stats\" TO \"app\";");
    assertThat(view.statements()).hasSize(6);
    assertThat(view.viewName()).isEqualTo("order_stats");
    assertThat(view.materializedViewName()).isEqualTo("order_stats_data");
    assertThat(view.uniqueIndexName()).isEqualTo("order_stats_data_tenant_id_day_idx");
    assertThat(view.schema()).isEmpty();
    assertThat(view.refreshStatement()).isEqualTo("REFRESH MATERIALIZED VIEW CONCURRENTLY \"order_stats_data\"");
    assertThat(view.dropStatements()).containsExactly(
        "DROP VIEW IF EXISTS \"order_stats\"", "DROP MATERIALIZED VIEW IF EXISTS \"order_stats_data\"");
  }

  @Test
  void goldenSqlWithEveryOption() {
    TenantMaterializedView view = TenantMaterializedView.builder("reports", "Usage \"daily\"")
        .query("SELECT account_id, day, sum(units) AS units FROM usage GROUP BY account_id, day")
        .tenantColumn("account_id")
        .columnType(TenantColumnType.BIGINT)
        .uniqueKey("account_id", "day")
        .readers("app_ro", "app_rw", "app_ro")
        .tenantSetting(TenantSetting.of("myapp.account"))
        .materializedViewName("usage_daily_mv")
        .build();

    assertThat(view.statements()).containsExactly(
        "CREATE MATERIALIZED VIEW \"reports\".\"usage_daily_mv\" AS\n"
            + "SELECT account_id, day, sum(units) AS units FROM usage GROUP BY account_id, day\nWITH DATA",
        "CREATE UNIQUE INDEX \"usage_daily_mv_account_id_day_idx\" ON \"reports\".\"usage_daily_mv\""
            + " (\"account_id\", \"day\")",
        "REVOKE ALL ON \"reports\".\"usage_daily_mv\" FROM PUBLIC, \"app_ro\", \"app_rw\"",
        "CREATE VIEW \"reports\".\"Usage \"\"daily\"\"\" WITH (security_barrier = true) AS SELECT * FROM"
            + " \"reports\".\"usage_daily_mv\" WHERE \"account_id\" ="
            + " (select nullif(current_setting('myapp.account', true), '')::bigint)",
        "REVOKE ALL ON \"reports\".\"Usage \"\"daily\"\"\" FROM PUBLIC, \"app_ro\", \"app_rw\"",
        "GRANT SELECT ON \"reports\".\"Usage \"\"daily\"\"\" TO \"app_ro\", \"app_rw\"");
    assertThat(view.schema()).contains("reports");
    assertThat(view.toBuilder().build()).isEqualTo(view).hasSameHashCodeAs(view);
    assertThat(view.toBuilder().readers("other").build()).isNotEqualTo(view);
    assertThat(view.toString()).contains("\"reports\".\"usage_daily_mv\"", "bigint", "\"app_ro\"");
  }

  @Test
  void requiredSettingsAreNamed() {
    TenantMaterializedView.Builder complete = TenantMaterializedView.builder("s").query("SELECT 1")
        .columnType(TenantColumnType.TEXT).uniqueKey("tenant_id").readers("app");

    assertThatThrownBy(() -> TenantMaterializedView.builder("s").columnType(TenantColumnType.TEXT)
        .uniqueKey("tenant_id").readers("app").build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageStartingWith("query is required for the tenant materialized view \"s\"");
    assertThatThrownBy(() -> TenantMaterializedView.builder("s").query("SELECT 1").uniqueKey("tenant_id")
        .readers("app").build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageStartingWith("columnType is required for the tenant materialized view \"s\": call"
            + " columnType(TenantColumnType.UUID, BIGINT or TEXT)");
    assertThatThrownBy(() -> complete.uniqueKey().build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageStartingWith("uniqueKey is required for the tenant materialized view \"s\": name the output"
            + " columns that identify a row, tenant column first, e.g. uniqueKey(\"tenant_id\", \"day\")");
    assertThatThrownBy(() -> complete.uniqueKey("tenant_id").readers().build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageStartingWith("readers is required for the tenant materialized view \"s\"");
  }

  @Test
  void uniqueKeyMustStartWithTheTenantColumn() {
    TenantMaterializedView.Builder b = TenantMaterializedView.builder("s").query("SELECT 1")
        .columnType(TenantColumnType.TEXT).readers("app");

    assertThatThrownBy(() -> b.uniqueKey("day").build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("uniqueKey must start with the tenant column \"tenant_id\", so that its unique index also serves"
            + " the tenant filter, but does not include it: (\"day\")");
    assertThatThrownBy(() -> b.uniqueKey("day", "tenant_id").build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("uniqueKey must start with the tenant column \"tenant_id\", so that its unique index also serves"
            + " the tenant filter, but was (\"day\", \"tenant_id\")");
    // the check runs in build(), so the order of the setter calls does not matter
    assertThat(b.uniqueKey("org", "day").tenantColumn("org").build().uniqueIndexName()).isEqualTo("s_data_org_day_idx");
    assertThatThrownBy(() -> b.uniqueKey("tenant_id", "day", "tenant_id"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("uniqueKey lists \"tenant_id\" twice: [tenant_id, day, tenant_id]");
  }

  @Test
  void queryAndNamesAreValidated() {
    TenantMaterializedView.Builder b = TenantMaterializedView.builder("s");

    assertThatThrownBy(() -> b.query(" ; ")).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("query must not be empty");
    assertThatThrownBy(() -> b.query("SELECT 1; DROP TABLE orders")).isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("query must be a single statement but has ';' at index 8");
    assertThatThrownBy(() -> b.query("SELECT 1;;")).isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("query must be a single statement but has ';' at index 8");
    assertThatThrownBy(() -> b.readers("app", "Public")).isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("readers must name roles, not PUBLIC");
    assertThatThrownBy(() -> b.tenantSetting(TenantSetting.of("tenant"))).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("setting name must look like 'prefix.name'");
    assertThatThrownBy(() -> TenantMaterializedView.builder("")).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("view name must not be empty");

    String longName = "v".repeat(60);
    TenantMaterializedView.Builder longView = TenantMaterializedView.builder(longName).query("SELECT 1")
        .columnType(TenantColumnType.TEXT).uniqueKey("tenant_id").readers("app");
    assertThatThrownBy(longView::build).isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("is longer than 63 bytes: choose one with materializedViewName(...)");
    assertThat(longView.materializedViewName("short").build().materializedViewName()).isEqualTo("short");
    assertThatThrownBy(() -> longView.materializedViewName(longName).build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("materializedViewName must differ from the view name \"" + longName + "\"");
  }

  // ---------------------------------------------------------------- against PostgreSQL

  @Test
  void eachTenantSeesOnlyItsOwnAggregates() throws Exception {
    String sql = "SELECT tenant_id, day, orders, revenue FROM order_stats ORDER BY day";

    assertThat(readAs(A, sql)).containsExactly(A + "|2024-01-01|2|350", A + "|2024-01-02|1|40");
    assertThat(readAs(B, sql)).containsExactly(B + "|2024-01-01|1|7");
    assertThat(readAs(C, sql)).containsExactly(C + "|2024-01-02|3|2001");
    // whatever the reader asks for, another tenant's rows are not there
    assertThat(readAs(A, "SELECT count(*) FROM order_stats WHERE tenant_id <> '" + A + "'")).containsExactly("0");
    // no tenant, an empty tenant: no rows
    assertThat(readAs(null, "SELECT count(*) FROM order_stats")).containsExactly("0");
    try (Connection c = db.appDataSource().getConnection()) {
      c.setAutoCommit(false);
      setTenant(c, "");
      assertThat(rows(c, "SELECT count(*) FROM order_stats")).containsExactly("0");
      c.rollback();
    }
    // the creating role (and so the refresh) sees every tenant
    assertThat(rows(analyticsDs, "SELECT count(DISTINCT tenant_id) FROM order_stats_data")).containsExactly("3");
  }

  @Test
  void theApplicationRoleCannotReadOrRefreshTheMaterializedView() throws Exception {
    assertThatThrownBy(() -> readAs(A, "SELECT * FROM order_stats_data"))
        .isInstanceOf(SQLException.class)
        .satisfies(e -> assertThat(sqlState(e)).isEqualTo("42501"));
    assertThatThrownBy(() -> rows(db.appDataSource(), "REFRESH MATERIALIZED VIEW order_stats_data"))
        .satisfies(e -> assertThat(sqlState(e)).isEqualTo("42501"));
    assertThatThrownBy(() -> stats.refresh(db.appDataSource()))
        .isInstanceOf(SaasException.class)
        .hasMessageContaining("Only the owner of a materialized view may refresh it")
        .satisfies(e -> assertThat(sqlState(e)).isEqualTo("42501"));

    String all = "'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER'";
    String app = db.appRole();
    assertThat(rows(db.adminDataSource(), "SELECT"
        + " has_table_privilege('" + app + "', 'order_stats_data', " + all + "),"
        + " has_table_privilege('" + app + "', 'order_stats', 'SELECT'),"
        + " has_table_privilege('" + app + "', 'order_stats', 'INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER'),"
        // default privileges had granted the reporting role SELECT and INSERT on both: create() took them back
        + " has_table_privilege('" + reporting + "', 'order_stats_data', " + all + "),"
        + " has_table_privilege('" + reporting + "', 'order_stats', " + all + "),"
        + " (SELECT c.relacl::text FROM pg_class c WHERE c.relname = 'order_stats_data'),"
        + " pg_get_userbyid((SELECT c.relowner FROM pg_class c WHERE c.relname = 'order_stats')),"
        + " (SELECT c.reloptions::text FROM pg_class c WHERE c.relname = 'order_stats'),"
        + " (SELECT i.indisunique FROM pg_index i WHERE i.indexrelid = 'order_stats_data_tenant_id_day_idx'::regclass)"))
        .containsExactly("f|t|f|f|f|{" + analytics + "=arwdDxt" + maintainLetter() + "/" + analytics + "}|"
            + analytics + "|{security_barrier=true}|t");
  }

  /** PostgreSQL 17 added the MAINTAIN privilege, shown as 'm' in ACLs. */
  static String maintainLetter() throws SQLException {
    return rows(db.adminDataSource(), "SHOW server_version_num").get(0).compareTo("170000") >= 0 ? "m" : "";
  }

  @Test
  void aLeakyFunctionInTheReadersQuerySeesOnlyItsTenantsRows() throws Exception {
    // control: the same filter in a view without security_barrier lets the function see every tenant's rows
    try (Connection c = analyticsDs.getConnection()) {
      exec(c, "CREATE VIEW leaky_stats AS SELECT * FROM order_stats_data"
          + " WHERE tenant_id = (select nullif(current_setting('app.tenant_id', true), '')::uuid)");
      exec(c, "GRANT SELECT ON leaky_stats TO " + db.appRole());
    }
    assertThat(notices("order_stats")).isNotEmpty().allMatch(n -> n.startsWith("leak " + A));
    assertThat(notices("leaky_stats")).anyMatch(n -> n.startsWith("leak " + B)).anyMatch(n -> n.startsWith("leak " + C));
  }

  /** As the application role for tenant A: a cheap function in the WHERE clause that reports what it is shown. */
  static List<String> notices(String view) throws SQLException {
    try (Connection c = db.appDataSource().getConnection()) {
      c.setAutoCommit(false);
      try (Statement s = c.createStatement()) {
        setTenant(c, A);
        // the function takes the columns uncast (a cast would add to its cost and get it ordered after the filter);
        // the attacker owns its session: planner settings that make the leak likely are theirs to choose
        s.execute("SET LOCAL enable_indexscan = off; SET LOCAL enable_bitmapscan = off");
        s.execute("CREATE FUNCTION pg_temp.leak(t uuid, r numeric) RETURNS boolean LANGUAGE plpgsql"
            + " COST 0.0000001 AS $$ BEGIN RAISE NOTICE 'leak % %', t, r; RETURN true; END $$");
        List<String> seen = new ArrayList<>();
        try (ResultSet rs = s.executeQuery("SELECT * FROM " + view + " WHERE pg_temp.leak(tenant_id, revenue)")) {
          while (rs.next()) {
            assertThat(rs.getString("tenant_id")).isEqualTo(A);
          }
        }
        for (SQLWarning w = s.getWarnings(); w != null; w = w.getNextWarning()) {
          seen.add(w.getMessage());
        }
        return seen;
      } finally {
        c.rollback();
      }
    }
  }

  @Test
  void theTenantReadUsesTheUniqueIndexWithTheSettingReadOnce() throws Exception {
    try (Connection c = db.appDataSource().getConnection()) {
      c.setAutoCommit(false);
      setTenant(c, A);
      exec(c, "SET LOCAL enable_seqscan = off");
      String plan = String.join("\n", rows(c, "EXPLAIN SELECT day, revenue FROM order_stats"));
      c.rollback();
      assertThat(plan).contains("InitPlan", "order_stats_data_tenant_id_day_idx").containsPattern("Index (Only )?Scan");
      assertThat(plan).containsPattern("Index Cond: \\(\\w*\\.?tenant_id = ");
    }
  }

  @Test
  void refreshPublishesNewNumbers() throws Exception {
    String sql = "SELECT day, orders, revenue FROM order_stats ORDER BY day";
    try (Connection c = db.adminDataSource().getConnection()) {
      exec(c, "INSERT INTO orders (tenant_id, created_on, amount_cents) VALUES"
          + " ('" + D + "', '2024-02-01', 5), ('" + D + "', '2024-02-01', 6), ('" + D + "', '2024-02-03', 9)");
    }
    assertThat(readAs(D, sql)).isEmpty();

    stats.refresh(analyticsDs);
    assertThat(readAs(D, sql)).containsExactly("2024-02-01|2|11", "2024-02-03|1|9");
    assertThat(readAs(A, sql)).containsExactly("2024-01-01|2|350", "2024-01-02|1|40");

    try (Connection c = db.adminDataSource().getConnection()) {
      exec(c, "DELETE FROM orders WHERE tenant_id = '" + D + "' AND created_on = '2024-02-01'");
    }
    try (Connection c = analyticsDs.getConnection()) {
      stats.refresh(c); // a connection in auto-commit mode: commits on its own
    }
    assertThat(readAs(D, sql)).containsExactly("2024-02-03|1|9");
    try (Connection c = db.adminDataSource().getConnection()) {
      exec(c, "DELETE FROM orders WHERE tenant_id = '" + D + "'");
    }
    stats.refresh(analyticsDs);
    assertThat(readAs(D, sql)).isEmpty();
  }

  @Test
  void createAndDropRoundTrip() throws Exception {
    TenantMaterializedView view = statsView("stats_tmp").query("SELECT tenant_id, count(*) AS n FROM orders"
        + " GROUP BY tenant_id -- a trailing comment cannot swallow WITH DATA").uniqueKey("tenant_id").build();
    createIn(analyticsDs, view);
    assertThat(readAs(B, "SELECT n FROM stats_tmp")).containsExactly("1");

    try (Connection c = analyticsDs.getConnection()) {
      view.drop(c);
      view.drop(c); // IF EXISTS
    }
    assertThat(rows(db.adminDataSource(), "SELECT count(*) FROM pg_class WHERE relname LIKE 'stats_tmp%'"))
        .containsExactly("0");
  }

  @Test
  void createRefusesTheTableOwnerWhoseRowsAreFilteredByTheTenantPolicy() {
    TenantMaterializedView view = statsView("stats_by_owner").build();
    assertThatThrownBy(() -> createIn(db.ownerDataSource(), view))
        .isInstanceOf(SaasException.class)
        .hasMessageContaining("row-level security on \"public\".\"orders\" applies to the creating role")
        .hasMessageContaining("CREATE POLICY analytics_read ON <table> FOR SELECT TO <role> USING (true)");
  }

  @Test
  void createRefusesAReaderThatCouldReadTheMaterializedViewDirectly() {
    TenantMaterializedView view = statsView("stats_self").readers(db.appRole(), analytics).build();
    assertThatThrownBy(() -> createIn(analyticsDs, view))
        .isInstanceOf(SaasException.class)
        .hasMessageContaining("reader \"" + analytics + "\" is the creating role \"" + analytics + "\"");
  }

  /**
   * A member of {@code pg_read_all_data} (PostgreSQL 14+) has {@code SELECT} on every table and materialized view
   * without being the owner, a member of it or a superuser: create() passed such a reader, which then read every
   * tenant's aggregates from the materialized view directly (review of 2026-12-05).
   */
  @Test
  void createRefusesAReaderThatReadsAllDataByAPredefinedRole() throws Exception {
    String readsAll = db.createRole("reads_all", "");
    try (Connection c = db.adminDataSource().getConnection()) {
      exec(c, "GRANT pg_read_all_data TO " + readsAll);
    }
    TenantMaterializedView view = statsView("stats_read_all").readers(readsAll).build();
    assertThatThrownBy(() -> createIn(analyticsDs, view))
        .isInstanceOf(SaasException.class)
        .hasMessageContaining("reader \"" + readsAll + "\" could read the materialized view")
        .hasMessageContaining("pg_read_all_data");
    assertThat(rows(db.adminDataSource(), "SELECT count(*) FROM pg_class WHERE relname LIKE 'stats_read_all%'"))
        .as("nothing created").containsExactly("0");
  }

  @Test
  void createChecksTheQuerysColumns() {
    assertThatThrownBy(() -> createIn(analyticsDs, statsView("stats_text").columnType(TenantColumnType.TEXT).build()))
        .isInstanceOf(SaasException.class)
        .hasMessageContaining("the tenant column \"tenant_id\" of tenant materialized view \"stats_text\" is of type"
            + " uuid but columnType is text");
    assertThatThrownBy(() -> createIn(analyticsDs, statsView("stats_org").tenantColumn("org")
        .uniqueKey("org", "day").build()))
        .isInstanceOf(SaasException.class)
        .hasMessageContaining("has no output column named \"org\" (the tenant column); its columns are"
            + " [tenant_id, day, orders, revenue]");
    assertThatThrownBy(() -> createIn(analyticsDs, statsView("stats_key").uniqueKey("tenant_id", "created_on")
        .build()))
        .isInstanceOf(SaasException.class)
        .hasMessageContaining("uniqueKey column \"created_on\" of tenant materialized view \"stats_key\" is not an"
            + " output column");
    assertThatThrownBy(() -> createIn(analyticsDs, statsView("stats_dup").uniqueKey("tenant_id").build()))
        .isInstanceOf(SaasException.class)
        .hasMessageContaining("The uniqueKey \"tenant_id\" does not identify one row of the query's result")
        .satisfies(e -> assertThat(sqlState(e)).isEqualTo("23505"));
  }
}
