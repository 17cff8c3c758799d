package dev.saaskit.tenancy.audit;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.tenancy.RlsPolicy;
import dev.saaskit.tenancy.TenantColumnType;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import javax.sql.DataSource;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Issue 19: what the audit judges beyond tables that carry the tenant column. Tenant data in tables without one
 * (reached by a foreign key path, or named in includeTables), foreign tables, functions that policies call with a
 * mutable search_path, and policies that take the tenant from something the application role can change; the
 * reasons given for the lower severities of views and SECURITY DEFINER functions whose owner is held to the
 * policies; and the InitPlan that makes saaskit's policy form evaluate the tenant setting once per statement.
 * Each scenario lives in its own schema and is audited alone, as the superuser naming the application role.
 */
@ExtendWith(PostgresExtension.class)
class RlsAuditBeyondTenantTablesTest {
  static final String A = "00000000-0000-0000-0000-00000000000a";
  static final String B = "00000000-0000-0000-0000-00000000000b";
  static final String UUID_PREDICATE =
      "tenant_id = (select nullif(current_setting('app.tenant_id', true), '')::uuid)";

  static TestDatabase db;
  static String app;
  static String owner;
  static String worker;

  @BeforeAll
  static void setUp(TestDatabase database) throws SQLException {
    db = database;
    app = db.appRole();
    owner = db.ownerRole();
    worker = db.createRole("worker", "");

    // shop: a tenant table, its children without a tenant column, the tables it references
    schema("shop");
    owner("CREATE TABLE shop.tenants (id uuid PRIMARY KEY, name text)",
        "CREATE TABLE shop.plans (id bigint PRIMARY KEY, name text)",
        "CREATE TABLE shop.addresses (id bigint PRIMARY KEY, street text)",
        "CREATE TABLE shop.orders (id bigint PRIMARY KEY, tenant_id uuid NOT NULL REFERENCES shop.tenants (id),"
            + " plan_id bigint REFERENCES shop.plans (id), address_id bigint REFERENCES shop.addresses (id))",
        "REVOKE INSERT, UPDATE, DELETE ON shop.plans FROM " + q(app));
    policy("shop", "orders");
    owner("CREATE TABLE shop.order_items (id bigint PRIMARY KEY, order_id bigint NOT NULL"
            + " REFERENCES shop.orders (id), qty integer)",
        "CREATE TABLE shop.item_notes (id bigint, item_id bigint REFERENCES shop.order_items (id), body text)",
        "CREATE TABLE shop.lines_tied (id bigint PRIMARY KEY, order_id bigint NOT NULL REFERENCES shop.orders (id))",
        "ALTER TABLE shop.lines_tied ENABLE ROW LEVEL SECURITY",
        "ALTER TABLE shop.lines_tied FORCE ROW LEVEL SECURITY",
        "CREATE POLICY through_order ON shop.lines_tied USING (EXISTS (SELECT 1 FROM shop.orders o"
            + " WHERE o.id = lines_tied.order_id))",
        "CREATE TABLE shop.lines_in (id bigint, order_id bigint NOT NULL REFERENCES shop.orders (id))",
        "ALTER TABLE shop.lines_in ENABLE ROW LEVEL SECURITY",
        "CREATE POLICY in_orders ON shop.lines_in USING (order_id IN (SELECT id FROM shop.orders))",
        "CREATE TABLE shop.tied_notes (id bigint, line_id bigint REFERENCES shop.lines_tied (id))",
        "ALTER TABLE shop.tied_notes ENABLE ROW LEVEL SECURITY",
        "CREATE POLICY through_line ON shop.tied_notes USING (EXISTS (SELECT 1 FROM shop.lines_tied l"
            + " WHERE l.id = tied_notes.line_id))",
        "CREATE TABLE shop.lines_open (id bigint, order_id bigint NOT NULL REFERENCES shop.orders (id))",
        "ALTER TABLE shop.lines_open ENABLE ROW LEVEL SECURITY",
        "CREATE POLICY open_lines ON shop.lines_open USING (true)",
        "CREATE TABLE shop.lines_uncorrelated (id bigint, order_id bigint NOT NULL REFERENCES shop.orders (id))",
        "ALTER TABLE shop.lines_uncorrelated ENABLE ROW LEVEL SECURITY",
        "CREATE POLICY any_order ON shop.lines_uncorrelated USING (EXISTS (SELECT 1 FROM shop.orders))",
        "CREATE TABLE shop.lines_hidden (id bigint, order_id bigint REFERENCES shop.orders (id))",
        "REVOKE ALL ON shop.lines_hidden FROM " + q(app),
        "CREATE TABLE shop.inbox (id bigint, payload text)");
    admin("INSERT INTO shop.tenants VALUES ('" + A + "', 'a'), ('" + B + "', 'b')",
        "INSERT INTO shop.orders (id, tenant_id) VALUES (1, '" + A + "'), (2, '" + B + "')",
        "INSERT INTO shop.order_items VALUES (10, 1, 1), (20, 2, 1)",
        "INSERT INTO shop.lines_tied VALUES (10, 1), (20, 2)");

    // ft: foreign tables (a wrapper without a handler is enough for the catalog)
    schema("ft");
    tenantTable("ft", "local");
    admin("CREATE FOREIGN DATA WRAPPER audit_fdw",
        "CREATE SERVER audit_srv FOREIGN DATA WRAPPER audit_fdw",
        "CREATE FOREIGN TABLE ft.remote_orders (tenant_id uuid, total numeric) SERVER audit_srv",
        "GRANT SELECT ON ft.remote_orders TO " + q(app),
        "CREATE FOREIGN TABLE ft.rates (currency text, rate numeric) SERVER audit_srv",
        "GRANT SELECT ON ft.rates TO " + q(app),
        "CREATE FOREIGN TABLE ft.private (tenant_id uuid) SERVER audit_srv");

    // fn: functions that policies call
    schema("fn");
    String body = " RETURNS uuid LANGUAGE sql STABLE";
    String select = " AS $$ SELECT nullif(current_setting('app.tenant_id', true), '')::uuid $$";
    owner("CREATE FUNCTION fn.current_tenant()" + body + select,
        "CREATE FUNCTION fn.pinned_tenant()" + body + " SET search_path = pg_catalog, pg_temp" + select,
        "CREATE FUNCTION fn.definer_tenant()" + body + " SECURITY DEFINER" + select,
        "CREATE FUNCTION fn.worker_tenant()" + body + select);
    for (String t : List.of("mutable", "pinned", "definer", "for_worker")) {
      tenantTable("fn", t, false);
    }
    owner("CREATE POLICY p ON fn.mutable USING (tenant_id = (SELECT fn.current_tenant()))",
        "CREATE POLICY p ON fn.pinned USING (tenant_id = (SELECT fn.pinned_tenant()))",
        "CREATE POLICY p ON fn.definer USING (tenant_id = (SELECT fn.definer_tenant()))",
        "CREATE POLICY p ON fn.for_worker USING (" + UUID_PREDICATE + ")",
        "CREATE POLICY w ON fn.for_worker TO " + q(worker) + " USING (tenant_id = (SELECT fn.worker_tenant()))");

    // shadow: a policy function that reads a table by its bare name
    schema("shadow");
    tenantTable("shadow", "docs", false);
    owner("CREATE TABLE shadow.sessions (tenant uuid)",
        "REVOKE INSERT, UPDATE, DELETE ON shadow.sessions FROM " + q(app),
        "SET search_path = shadow",
        "CREATE FUNCTION shadow.session_tenant() RETURNS uuid LANGUAGE sql STABLE AS 'SELECT tenant FROM sessions'",
        "RESET search_path",
        "CREATE POLICY p ON shadow.docs USING (tenant_id = (SELECT shadow.session_tenant()))");
    admin("INSERT INTO shadow.sessions VALUES ('" + A + "')",
        "INSERT INTO shadow.docs (id, tenant_id) VALUES (1, '" + A + "'), (2, '" + B + "')");

    // trust: policies that take the tenant from something the client can change
    schema("trust");
    for (String t : List.of("docs", "notes", "memos", "for_worker")) {
      tenantTable("trust", t, false);
    }
    tenantTable("trust", "standard");
    owner("CREATE TABLE trust.user_orgs (user_name text, org uuid)",
        "CREATE TABLE trust.user_orgs_ro (user_name text, org uuid)",
        "REVOKE INSERT, UPDATE, DELETE ON trust.user_orgs_ro FROM " + q(app),
        "CREATE POLICY p ON trust.docs USING (tenant_id = (SELECT nullif(current_setting('app.org', true), '')::uuid))",
        "CREATE POLICY p ON trust.notes USING (tenant_id IN (SELECT m.org FROM trust.user_orgs m"
            + " WHERE m.user_name = current_user))",
        "CREATE POLICY p ON trust.memos USING (tenant_id IN (SELECT m.org FROM trust.user_orgs_ro m"
            + " WHERE m.user_name = current_user))",
        "CREATE POLICY p ON trust.for_worker USING (" + UUID_PREDICATE + ")",
        "CREATE POLICY w ON trust.for_worker TO " + q(worker) + " USING (tenant_id ="
            + " (SELECT nullif(current_setting('app.org', true), '')::uuid))");
    admin("INSERT INTO trust.notes (id, tenant_id) VALUES (1, '" + A + "'), (2, '" + B + "')");

    // held: a view and a SECURITY DEFINER function whose owner is held to the policies today
    schema("held");
    tenantTable("held", "orders");
    owner("CREATE VIEW held.v_orders AS SELECT * FROM held.orders",
        "CREATE FUNCTION held.order_count() RETURNS bigint LANGUAGE sql SECURITY DEFINER"
            + " SET search_path = pg_catalog, held, pg_temp AS 'SELECT count(*) FROM held.orders'");

    // plans: the policy form saaskit writes, and the form that calls the setting per row
    schema("plans");
    tenantTable("plans", "wrapped");
    tenantTable("plans", "per_row", false);
    owner("CREATE POLICY p ON plans.per_row USING (tenant_id = nullif(current_setting('app.tenant_id', true),"
        + " '')::uuid)");
    admin("INSERT INTO plans.wrapped (id, tenant_id) SELECT g, CASE WHEN g % 2 = 0 THEN '" + A + "'::uuid ELSE '"
            + B + "'::uuid END FROM generate_series(1, 400) g",
        "INSERT INTO plans.per_row (id, tenant_id) SELECT id, tenant_id FROM plans.wrapped",
        "ANALYZE plans.wrapped", "ANALYZE plans.per_row");
  }

  // ------------------------------------------------------------------------------------------------- tests

  /** The issue's own case: order_items(order_id references orders), no RLS, readable by the app: an error. */
  @Test
  void tenantDataInATableWithoutATenantColumnIsAnError() throws SQLException {
    AuditReport report = audit("shop");
    assertThat(keys(report)).containsExactlyInAnyOrder(
        "tenant-data-without-tenant-column ERROR shop.order_items",
        // a child of a child
        "tenant-data-without-tenant-column ERROR shop.item_notes",
        // RLS on, but a policy that admits every row, or any row as soon as the tenant has one order
        "tenant-data-without-tenant-column ERROR shop.lines_open",
        "tenant-data-without-tenant-column ERROR shop.lines_uncorrelated",
        // referenced by a tenant table, written by the application: reported, but as INFO (shared data as a rule)
        "tenant-data-without-tenant-column INFO shop.addresses");
    // not reported: lines_tied, lines_in and tied_notes (tied to an isolated parent), lines_hidden (the
    // application cannot reach it), plans (read-only for the application), tenants (referenced through the
    // tenant column: the directory of tenants), inbox (no path to a tenant table)
    Finding items = find(report, "tenant-data-without-tenant-column", "shop.order_items");
    assertThat(items.message()).contains("references shop.orders (order_id), a tenant table")
        .contains("row-level security is disabled").contains("Recommended: a tenant column with a composite"
            + " foreign key");
    assertThat(items.fix()).hasValueSatisfying(fix -> assertThat(fix)
        .contains("ALTER TABLE \"shop\".\"order_items\" ADD COLUMN \"tenant_id\" uuid;")
        .contains("FOREIGN KEY (\"tenant_id\", \"order_id\") REFERENCES \"shop\".\"orders\" (\"tenant_id\", \"id\")")
        .contains("CREATE POLICY \"tenant_through_parent\" ON \"shop\".\"order_items\" USING (EXISTS (SELECT 1"
            + " FROM \"shop\".\"orders\" p WHERE p.\"id\" = \"order_items\".\"order_id\"))"));
    assertThat(find(report, "tenant-data-without-tenant-column", "shop.item_notes").message())
        .contains("references shop.order_items (item_id), which leads to the tenant table shop.orders");
    assertThat(find(report, "tenant-data-without-tenant-column", "shop.addresses").fix()).hasValueSatisfying(fix ->
        assertThat(fix).contains("REVOKE INSERT, UPDATE, DELETE ON \"shop\".\"addresses\"")
            .contains("COMMENT ON TABLE \"shop\".\"addresses\" IS 'saaskit-audit: tenant-data-without-tenant-column"));
    assertThat(find(report, "tenant-data-without-tenant-column", "shop.lines_open").message())
        .contains("its policy open_lines (USING (true)) does not tie each row");

    // the hole is real: in tenant A the application reads tenant B's order lines, and not through lines_tied
    try (Connection c = db.appDataSource().getConnection(); Statement s = c.createStatement()) {
      s.execute("SELECT set_config('app.tenant_id', '" + A + "', false)");
      assertThat(count(s, "SELECT count(*) FROM shop.order_items")).isEqualTo(2);
      assertThat(count(s, "SELECT count(*) FROM shop.lines_tied")).isEqualTo(1);
      s.execute("RESET app.tenant_id");
    }

    // shared on purpose: the comment the fix suggests accepts the INFO (an annotation never accepts an ERROR)
    try (Connection c = db.ownerDataSource().getConnection(); Statement s = c.createStatement()) {
      c.setAutoCommit(false);
      s.execute("COMMENT ON TABLE shop.addresses IS 'saaskit-audit: tenant-data-without-tenant-column -- shared'");
      s.execute("COMMENT ON TABLE shop.order_items IS 'saaskit-audit: tenant-data-without-tenant-column -- no'");
      AuditReport annotated = RlsAudit.builder().schemas("shop").appRole(app).build().run(c);
      c.rollback();
      assertThat(keys(annotated)).doesNotContain("tenant-data-without-tenant-column INFO shop.addresses")
          .contains("tenant-data-without-tenant-column ERROR shop.order_items");
    }

    // a table without a path is judged only when named
    AuditReport included = RlsAudit.builder().schemas("shop").appRole(app).includeTables("shop.inbox").build()
        .run(db.adminDataSource());
    assertThat(keys(included)).contains("tenant-data-without-tenant-column ERROR shop.inbox");
    assertThat(find(included, "tenant-data-without-tenant-column", "shop.inbox").message())
        .contains("named in includeTables");
  }

  /** The recommended fix, run as written, leaves the child isolated and the audit silent about it. */
  @Test
  void theRecommendedFixIsolatesTheChild() throws SQLException {
    schema("shopfix");
    owner("CREATE TABLE shopfix.orders (id bigint PRIMARY KEY, tenant_id uuid NOT NULL)");
    policy("shopfix", "orders");
    owner("CREATE TABLE shopfix.order_items (id bigint PRIMARY KEY, order_id bigint NOT NULL"
        + " REFERENCES shopfix.orders (id))");
    admin("INSERT INTO shopfix.orders VALUES (1, '" + A + "'), (2, '" + B + "')",
        "INSERT INTO shopfix.order_items VALUES (10, 1), (20, 2)");
    Finding before = find(audit("shopfix"), "tenant-data-without-tenant-column", "shopfix.order_items");
    String fix = before.fix().orElseThrow();
    String recommended = fix.substring(0, fix.indexOf("-- or, with no schema change"));
    admin(recommended);
    assertThat(keys(audit("shopfix"))).isEmpty();
    try (Connection c = db.appDataSource().getConnection(); Statement s = c.createStatement()) {
      s.execute("SELECT set_config('app.tenant_id', '" + A + "', false)");
      assertThat(count(s, "SELECT count(*) FROM shopfix.order_items")).isEqualTo(1);
      s.execute("RESET app.tenant_id");
    }
  }

  @Test
  void foreignTablesTheApplicationCanReadAreReported() {
    AuditReport report = audit("ft");
    assertThat(keys(report)).containsExactlyInAnyOrder(
        "foreign-table-readable ERROR ft.remote_orders",
        "foreign-table-readable WARNING ft.rates");
    // ft.private: the application has no privilege on it
    assertThat(find(report, "foreign-table-readable", "ft.remote_orders").message())
        .contains("row-level security cannot be enabled on a foreign table");
    assertThat(find(report, "foreign-table-readable", "ft.remote_orders").fix()).hasValueSatisfying(fix ->
        assertThat(fix).startsWith("REVOKE ALL ON \"ft\".\"remote_orders\" FROM PUBLIC, " + q(app) + ";")
            .contains("\"tenant_id\" = (select nullif(current_setting('app.tenant_id', true), '')::uuid)"));
  }

  @Test
  void functionsPoliciesCallNeedAFixedSearchPath() {
    AuditReport report = audit("fn");
    assertThat(keys(report)).containsExactlyInAnyOrder(
        "policy-function-search-path ERROR function fn.current_tenant()",
        "policy-function-search-path ERROR function fn.definer_tenant()",
        "policy-function-search-path WARNING function fn.worker_tenant()");
    // fn.pinned_tenant() has SET search_path; fn.definer_tenant() gets no security-definer-search-path finding of
    // its own (this rule says more)
    Finding mutable = find(report, "policy-function-search-path", "function fn.current_tenant()");
    assertThat(mutable.message()).contains("called by policy p on fn.mutable")
        .contains("the application role " + app + " can shadow");
    assertThat(mutable.fix()).hasValueSatisfying(fix -> assertThat(fix)
        .startsWith("ALTER FUNCTION \"fn\".\"current_tenant\"() SET search_path = pg_catalog, \"fn\", pg_temp;"));
    assertThat(find(report, "policy-function-search-path", "function fn.worker_tenant()").message())
        .contains("Only roles other than the application role are concerned");
  }

  /**
   * The reason behind policy-function-search-path: the application role shadows the table the policy's function
   * reads with a temporary table and picks its tenant; the finding's fix pins the search_path and ends it.
   */
  @Test
  void aPolicyFunctionWithAMutableSearchPathCanBeShadowedUntilFixed() throws SQLException {
    Finding finding = find(audit("shadow"), "policy-function-search-path", "function shadow.session_tenant()");
    assertThat(finding.severity()).isEqualTo(Severity.ERROR);
    assertThat(tenantSeenAfterShadowing()).isEqualTo(B);
    admin(finding.fix().orElseThrow());
    assertThat(keys(audit("shadow"))).isEmpty();
    assertThat(tenantSeenAfterShadowing()).isEqualTo(A);
  }

  /** As the application, with the schema on its search_path: a temporary "sessions" saying tenant B. */
  static String tenantSeenAfterShadowing() throws SQLException {
    try (Connection c = db.appDataSource().getConnection(); Statement s = c.createStatement()) {
      c.setAutoCommit(false);
      s.execute("SET LOCAL search_path = shadow");
      s.execute("CREATE TEMP TABLE sessions (tenant uuid) ON COMMIT DROP");
      s.execute("INSERT INTO sessions VALUES ('" + B + "')");
      try (ResultSet rs = s.executeQuery("SELECT string_agg(tenant_id::text, ',') FROM shadow.docs")) {
        rs.next();
        String seen = rs.getString(1);
        c.rollback();
        return seen;
      }
    }
  }

  @Test
  void policiesThatTakeTheTenantFromWhatTheClientCanChange() throws SQLException {
    AuditReport report = audit("trust");
    assertThat(keys(report)).containsExactlyInAnyOrder(
        "policy-trusts-client-value ERROR policy p on trust.docs",
        "policy-trusts-client-value ERROR policy p on trust.notes",
        "policy-trusts-client-value INFO policy w on trust.for_worker");
    // trust.memos: its lookup table is read-only for the application; trust.standard: saaskit's own policy
    assertThat(find(report, "policy-trusts-client-value", "policy p on trust.docs").message())
        .contains("the setting app.org").contains("not the tenant setting app.tenant_id");
    assertThat(find(report, "policy-trusts-client-value", "policy p on trust.notes").message())
        .contains("the column trust.user_orgs.org").contains("UPDATE that column and INSERT rows");

    // the hole is real: the application makes itself a member of tenant B and reads B's note
    try (Connection c = db.appDataSource().getConnection(); Statement s = c.createStatement()) {
      c.setAutoCommit(false);
      assertThat(count(s, "SELECT count(*) FROM trust.notes")).isZero();
      s.execute("INSERT INTO trust.user_orgs VALUES (current_user, '" + B + "')");
      assertThat(count(s, "SELECT count(*) FROM trust.notes")).isEqualTo(1);
      c.rollback();
    }
  }

  /** Issue 19, point 5: the lower severities say why they are lower, and what would turn them into leaks. */
  @Test
  void viewsAndDefinerFunctionsWhoseOwnerIsHeldSayWhyTheyAreNotErrors() {
    AuditReport report = audit("held");
    assertThat(keys(report)).containsExactlyInAnyOrder(
        "view-without-security-invoker WARNING held.v_orders",
        "security-definer-function INFO function held.order_count()");
    for (Finding f : report.findings()) {
      assertThat(f.message()).as(f.ruleId()).contains("Not an error because")
          .contains("NO FORCE ROW LEVEL SECURITY").contains("permissive policy for the owner's role")
          .contains("stays reported");
    }
  }

  /**
   * Why splinter's auth_rls_initplan-style text match is a false alarm on saaskit's policy form: PostgreSQL plans
   * the scalar sub-query as an InitPlan, run once per statement (loops=1), and the scan compares with its result;
   * the unwrapped call is evaluated in the scan's filter, once per row.
   */
  @Test
  void saaskitsPolicyFormReadsTheSettingOncePerStatement() throws SQLException {
    assertThat(keys(audit("plans"))).containsExactly("policy-per-row-function WARNING policy p on plans.per_row");
    try (Connection c = db.appDataSource().getConnection(); Statement s = c.createStatement()) {
      s.execute("SET enable_indexscan = off");
      s.execute("SET enable_bitmapscan = off");
      s.execute("SELECT set_config('app.tenant_id', '" + A + "', false)");
      List<String> wrapped = explain(s, "SELECT count(*) FROM plans.wrapped");
      int init = indexOf(wrapped, "InitPlan");
      assertThat(init).as(String.join("\n", wrapped)).isNotNegative();
      assertThat(wrapped.get(init + 1)).as(String.join("\n", wrapped)).contains("Result").contains("loops=1");
      assertThat(line(wrapped, "Filter:")).doesNotContain("current_setting");
      assertThat(line(wrapped, "Seq Scan")).contains("rows=200");

      List<String> perRow = explain(s, "SELECT count(*) FROM plans.per_row");
      assertThat(indexOf(perRow, "InitPlan")).as(String.join("\n", perRow)).isNegative();
      assertThat(line(perRow, "Filter:")).contains("current_setting");
      s.execute("RESET app.tenant_id");
      s.execute("RESET enable_indexscan");
      s.execute("RESET enable_bitmapscan");
    }
  }

  // ----------------------------------------------------------------------------------------------- helpers

  static List<String> explain(Statement s, String query) throws SQLException {
    List<String> lines = new ArrayList<>();
    try (ResultSet rs = s.executeQuery("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + query)) {
      while (rs.next()) {
        lines.add(rs.getString(1));
      }
    }
    return lines;
  }

  static int indexOf(List<String> lines, String text) {
    for (int i = 0; i < lines.size(); i++) {
      if (lines.get(i).contains(text)) {
        return i;
      }
    }
    return -1;
  }

  static String line(List<String> lines, String text) {
    int i = indexOf(lines, text);
    assertThat(i).as("a line with %s in\n%s", text, String.join("\n", lines)).isNotNegative();
    return lines.get(i);
  }

  static long count(Statement s, String sql) throws SQLException {
    try (ResultSet rs = s.executeQuery(sql)) {
      rs.next();
      return rs.getLong(1);
    }
  }

  static AuditReport audit(String... schemas) {
    return RlsAudit.builder().schemas(schemas).appRole(app).build().run(db.adminDataSource());
  }

  static List<String> keys(AuditReport report) {
    return report.findings().stream().map(f -> f.ruleId() + " " + f.severity() + " " + f.object())
        .collect(Collectors.toList());
  }

  static Finding find(AuditReport report, String rule, String object) {
    return report.findings().stream().filter(f -> f.ruleId().equals(rule) && f.object().equals(object)).findFirst()
        .orElseThrow(() -> new AssertionError("no " + rule + " finding for " + object + " in " + keys(report)));
  }

  static void schema(String name) throws SQLException {
    admin("CREATE SCHEMA " + name + " AUTHORIZATION " + q(owner),
        "GRANT USAGE ON SCHEMA " + name + " TO " + q(app),
        "ALTER DEFAULT PRIVILEGES FOR ROLE " + q(owner) + " IN SCHEMA " + name
            + " GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO " + q(app));
  }

  static void tenantTable(String schema, String table) throws SQLException {
    tenantTable(schema, table, true);
  }

  /** A table (id, tenant_id, note) with index, RLS forced and, if {@code withPolicy}, saaskit's policy. */
  static void tenantTable(String schema, String table, boolean withPolicy) throws SQLException {
    owner("CREATE TABLE " + schema + "." + table + " (id bigint, tenant_id uuid NOT NULL, note text)");
    if (withPolicy) {
      policy(schema, table);
    } else {
      owner("CREATE INDEX ON " + schema + "." + table + " (tenant_id)",
          "ALTER TABLE " + schema + "." + table + " ENABLE ROW LEVEL SECURITY",
          "ALTER TABLE " + schema + "." + table + " FORCE ROW LEVEL SECURITY");
    }
  }

  static void policy(String schema, String table) throws SQLException {
    try (Connection c = db.ownerDataSource().getConnection()) {
      RlsPolicy.forTable(schema, table).columnType(TenantColumnType.UUID).build().apply(c);
    }
  }

  static void admin(String... sql) {
    run(db.adminDataSource(), sql);
  }

  static void owner(String... sql) {
    run(db.ownerDataSource(), sql);
  }

  static void run(DataSource ds, String... sql) {
    try (Connection c = ds.getConnection(); Statement s = c.createStatement()) {
      for (String each : sql) {
        s.execute(each);
      }
    } catch (SQLException e) {
      throw new IllegalStateException(e.getMessage(), e);
    }
  }

  static String q(String identifier) {
    return '"' + identifier.replace("\"", "\"\"") + '"';
  }
}
