package dev.saaskit.tenancy.audit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.core.SaasException;
import dev.saaskit.core.TenantSetting;
import dev.saaskit.tenancy.RlsPolicy;
import dev.saaskit.tenancy.TenantColumnType;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.stream.Collectors;
import javax.sql.DataSource;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Every rule against real PostgreSQL: for each, objects that break it (reported with the right rule id, severity
 * and object) and a clean counterpart (not reported). One database for the class; each scenario lives in its own
 * schema and is audited alone, as the superuser with the application role named (as operators run it) unless a
 * test says otherwise.
 */
@ExtendWith(PostgresExtension.class)
class RlsAuditTest {
  static TestDatabase db;
  static String app;
  static String owner;
  static String worker;

  static final String UUID_PREDICATE =
      "tenant_id = (select nullif(current_setting('app.tenant_id', true), '')::uuid)";

  @BeforeAll
  static void setUp(TestDatabase database) throws SQLException {
    db = database;
    app = db.appRole();
    owner = db.ownerRole();
    worker = db.createRole("worker", "");

    // clean: what saaskit's own RlsPolicy sets up, for each column type, and a composite foreign key
    schema("clean");
    tenantTable("clean", "orders_uuid", TenantColumnType.UUID);
    tenantTable("clean", "orders_text", TenantColumnType.TEXT);
    tenantTable("clean", "orders_bigint", TenantColumnType.BIGINT);
    owner("CREATE TABLE clean.plans (id bigint PRIMARY KEY, name text)",
        "ALTER TABLE clean.orders_uuid ADD UNIQUE (tenant_id, id)",
        "CREATE TABLE clean.lines (tenant_id uuid NOT NULL, id bigint, order_id bigint,"
            + " FOREIGN KEY (tenant_id, order_id) REFERENCES clean.orders_uuid (tenant_id, id))");
    policy("clean", "lines", TenantColumnType.UUID);

    // worker: a job worker's open policy next to the tenant policy
    schema("worker");
    tenantTable("worker", "jobs", TenantColumnType.UUID);
    owner("CREATE POLICY worker_claims ON worker.jobs FOR ALL TO " + q(worker) + " USING (true)");

    // openpol: the same open policy for PUBLIC and for the application role
    schema("openpol");
    tenantTable("openpol", "for_public", TenantColumnType.UUID);
    tenantTable("openpol", "for_app", TenantColumnType.UUID);
    tenantTable("openpol", "capped", TenantColumnType.UUID);
    owner("CREATE POLICY open_read ON openpol.for_public FOR SELECT USING (true)",
        "CREATE POLICY open_app ON openpol.for_app FOR ALL TO " + q(app) + " USING (1 = 1) WITH CHECK (true)",
        "CREATE POLICY floor ON openpol.capped AS RESTRICTIVE FOR ALL USING (" + UUID_PREDICATE + ") WITH CHECK ("
            + UUID_PREDICATE + ")",
        "CREATE POLICY everything ON openpol.capped FOR ALL USING (true)");

    // scope: policies that depend on something, but not on the tenant
    schema("scope");
    tenantTable("scope", "unscoped", TenantColumnType.UUID, false);
    tenantTable("scope", "inverted", TenantColumnType.UUID, false);
    tenantTable("scope", "itself", TenantColumnType.UUID, false);
    tenantTable("scope", "members", TenantColumnType.UUID, false);
    tenantTable("scope", "in_list", TenantColumnType.UUID, false);
    tenantTable("scope", "any_array", TenantColumnType.UUID, false);
    tenantTable("scope", "correlated", TenantColumnType.UUID, false);
    tenantTable("scope", "insert_only", TenantColumnType.UUID, false);
    owner("CREATE POLICY p ON scope.unscoped USING (current_setting('app.tenant_id', true) IS NOT NULL)",
        "CREATE POLICY p ON scope.inverted USING ((select current_setting('app.tenant_id', true)) IS NULL OR "
            + UUID_PREDICATE + ") WITH CHECK (" + UUID_PREDICATE + ")",
        "CREATE POLICY p ON scope.itself USING (tenant_id = tenant_id) WITH CHECK (" + UUID_PREDICATE + ")",
        "CREATE POLICY p ON scope.members USING (" + UUID_PREDICATE + ")",
        "CREATE POLICY p ON scope.in_list USING (tenant_id IN (SELECT m.tenant_id FROM scope.members m"
            + " WHERE m.note = current_user))",
        "CREATE POLICY p ON scope.any_array USING (tenant_id = ANY ((SELECT string_to_array(current_setting("
            + "'app.tenant_ids', true), ','))::uuid[]))",
        "CREATE POLICY p ON scope.correlated USING (EXISTS (SELECT 1 FROM scope.members m"
            + " WHERE m.tenant_id = correlated.tenant_id AND m.note = current_user))",
        "CREATE POLICY reads ON scope.insert_only FOR SELECT USING (" + UUID_PREDICATE + ")",
        "CREATE POLICY writes ON scope.insert_only FOR INSERT TO PUBLIC");

    // slow: policies that are bound to the tenant but cast, unsafe or per row
    schema("slow");
    tenantTable("slow", "casts", TenantColumnType.UUID, false);
    tenantTable("slow", "per_row", TenantColumnType.TEXT, false);
    owner("CREATE POLICY p ON slow.casts USING (tenant_id::text = current_setting('app.tenant_id'))"
            + " WITH CHECK ((tenant_id)::text = current_setting('app.tenant_id'))",
        "CREATE POLICY p ON slow.per_row USING (tenant_id = current_setting('app.tenant_id', true))");

    // tables: RLS off, not forced, no policy, no index, nullable
    schema("tables");
    owner("CREATE TABLE tables.off (tenant_id uuid NOT NULL, note text)",
        "CREATE INDEX ON tables.off (tenant_id)",
        "CREATE POLICY inert ON tables.off USING (" + UUID_PREDICATE + ")",
        "CREATE TABLE tables.events (tenant_id uuid NOT NULL, at date NOT NULL) PARTITION BY RANGE (at)");
    policy("tables", "events", TenantColumnType.UUID);
    // a partition created after the policy was applied has no RLS of its own
    owner("CREATE TABLE tables.events_2024 PARTITION OF tables.events FOR VALUES FROM ('2024-01-01') TO"
        + " ('2025-01-01')");
    tenantTable("tables", "unforced", TenantColumnType.UUID);
    tenantTable("tables", "no_policy", TenantColumnType.UUID);
    tenantTable("tables", "restrictive_only", TenantColumnType.UUID);
    owner("ALTER TABLE tables.unforced NO FORCE ROW LEVEL SECURITY",
        "DROP POLICY tenant_isolation ON tables.no_policy",
        "DROP POLICY tenant_isolation ON tables.restrictive_only",
        "CREATE POLICY r ON tables.restrictive_only AS RESTRICTIVE USING (" + UUID_PREDICATE + ")",
        "CREATE TABLE tables.unindexed (tenant_id uuid NOT NULL, id bigint)",
        "CREATE TABLE tables.pk_indexed (tenant_id uuid NOT NULL, id bigint, PRIMARY KEY (tenant_id, id))",
        "CREATE TABLE tables.nullable (tenant_id uuid, id bigint)");
    policy("tables", "unindexed", TenantColumnType.UUID, false);
    policy("tables", "pk_indexed", TenantColumnType.UUID, false);
    policy("tables", "nullable", TenantColumnType.UUID);

    // owned: the application role owns tenant tables, directly and through a group; and TRUNCATE
    schema("owned");
    tenantTable("owned", "by_app", TenantColumnType.UUID);
    tenantTable("owned", "by_app_unforced", TenantColumnType.UUID);
    tenantTable("owned", "by_group", TenantColumnType.UUID);
    tenantTable("owned", "by_owner", TenantColumnType.UUID);
    tenantTable("owned", "truncatable", TenantColumnType.UUID);
    tenantTable("owned", "truncatable_public", TenantColumnType.UUID);
    String group = db.createRole("owners", "");
    String member = db.createRole("member", "");
    admin("ALTER TABLE owned.by_app OWNER TO " + q(app),
        "ALTER TABLE owned.by_app_unforced OWNER TO " + q(app),
        "ALTER TABLE owned.by_app_unforced NO FORCE ROW LEVEL SECURITY",
        "ALTER TABLE owned.by_group OWNER TO " + q(group),
        "GRANT " + q(group) + " TO " + q(member),
        "GRANT USAGE ON SCHEMA owned TO " + q(member),
        "GRANT TRUNCATE ON owned.truncatable TO " + q(app),
        "GRANT TRUNCATE ON owned.truncatable_public TO PUBLIC");

    // views: definer views, an invoker view, materialized views and the tenant-filtered view pattern
    schema("views");
    tenantTable("views", "orders", TenantColumnType.UUID);
    tenantTable("views", "loose", TenantColumnType.UUID);
    tenantTable("views", "shared", TenantColumnType.UUID);
    owner("ALTER TABLE views.loose NO FORCE ROW LEVEL SECURITY",
        "CREATE POLICY maintenance ON views.shared FOR SELECT TO " + q(owner) + " USING (true)",
        "CREATE VIEW views.v_shared AS SELECT * FROM views.shared",
        "CREATE TABLE views.plans (id bigint PRIMARY KEY, name text)",
        "CREATE VIEW views.v_owner AS SELECT * FROM views.orders",
        "CREATE VIEW views.v_loose AS SELECT * FROM views.loose",
        "CREATE VIEW views.v_nested AS SELECT tenant_id FROM views.v_loose",
        "CREATE VIEW views.v_invoker WITH (security_invoker = true) AS SELECT * FROM views.orders",
        "CREATE VIEW views.v_plans AS SELECT * FROM views.plans",
        "CREATE MATERIALIZED VIEW views.mv_readable AS SELECT tenant_id, count(*) AS n FROM views.orders GROUP BY 1",
        "CREATE MATERIALIZED VIEW views.mv_private AS SELECT tenant_id, count(*) AS n FROM views.orders GROUP BY 1",
        "REVOKE ALL ON views.mv_private FROM " + q(app),
        "CREATE VIEW views.v_tenant WITH (security_barrier = true) AS SELECT tenant_id, n FROM views.mv_private"
            + " WHERE tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid)",
        "CREATE VIEW views.v_barrier_unfiltered WITH (security_barrier = true) AS SELECT * FROM views.mv_private",
        "CREATE VIEW views.v_other_setting WITH (security_barrier = true) AS SELECT * FROM views.mv_private"
            + " WHERE tenant_id = (SELECT nullif(current_setting('app.other', true), '')::uuid)");
    admin("CREATE VIEW views.v_admin AS SELECT * FROM views.orders",
        "GRANT SELECT ON views.v_admin TO " + q(app),
        "CREATE VIEW views.v_admin_hidden AS SELECT * FROM views.orders");

    // funcs: SECURITY DEFINER functions
    schema("funcs");
    tenantTable("funcs", "orders", TenantColumnType.UUID);
    tenantTable("funcs", "loose", TenantColumnType.UUID);
    owner("ALTER TABLE funcs.loose NO FORCE ROW LEVEL SECURITY",
        "CREATE FUNCTION funcs.held() RETURNS bigint LANGUAGE sql SECURITY DEFINER"
            + " SET search_path = pg_catalog, funcs, pg_temp AS 'SELECT count(*) FROM funcs.orders'",
        "CREATE FUNCTION funcs.atomic(n integer) RETURNS bigint LANGUAGE sql SECURITY DEFINER"
            + " SET search_path = pg_catalog, funcs BEGIN ATOMIC SELECT count(*) + n FROM funcs.loose; END",
        "CREATE FUNCTION funcs.invoker() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM funcs.loose'");
    admin("CREATE FUNCTION funcs.leak() RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER AS"
            + " $$ BEGIN RETURN (SELECT count(*) FROM \"orders\"); END $$",
        "CREATE FUNCTION funcs.dynamic(q text) RETURNS void LANGUAGE plpgsql SECURITY DEFINER"
            + " SET search_path = pg_catalog AS $$ BEGIN EXECUTE q; END $$",
        "CREATE FUNCTION funcs.revoked() RETURNS bigint LANGUAGE sql SECURITY DEFINER"
            + " SET search_path = pg_catalog AS 'SELECT count(*) FROM funcs.orders'",
        "REVOKE EXECUTE ON FUNCTION funcs.revoked() FROM PUBLIC");

    // fks: foreign keys between tenant tables
    schema("fks");
    tenantTable("fks", "parents", TenantColumnType.UUID);
    owner("ALTER TABLE fks.parents ADD UNIQUE (id), ADD UNIQUE (tenant_id, id)",
        "CREATE TABLE fks.loose_children (tenant_id uuid NOT NULL, id bigint, parent_id bigint"
            + " REFERENCES fks.parents (id))",
        "CREATE TABLE fks.children (tenant_id uuid NOT NULL, id bigint, parent_id bigint,"
            + " FOREIGN KEY (tenant_id, parent_id) REFERENCES fks.parents (tenant_id, id))",
        "CREATE TABLE fks.plans (id bigint PRIMARY KEY)",
        "ALTER TABLE fks.parents ADD COLUMN plan_id bigint REFERENCES fks.plans (id)");
    policy("fks", "loose_children", TenantColumnType.UUID);
    policy("fks", "children", TenantColumnType.UUID);

    schema("notenant");
    owner("CREATE TABLE notenant.plans (id bigint PRIMARY KEY)");
  }

  // ------------------------------------------------------------------------------------------------- tests

  @Test
  void saaskitsOwnPoliciesProduceNoFinding() {
    AuditReport report = audit("clean");
    assertThat(report.findings()).isEmpty();
    assertThat(report.tenantTables()).containsExactly("clean.lines", "clean.orders_bigint", "clean.orders_text",
        "clean.orders_uuid");
    assertThat(report.appRole()).isEqualTo(app);
    assertThat(report.toText()).contains("No findings.");
  }

  @Test
  void runsAsTheApplicationRoleItselfWithTheSameResult() {
    AuditReport asApp = RlsAudit.builder().schemas("clean").build().run(db.appDataSource());
    assertThat(asApp.appRole()).isEqualTo(app);
    assertThat(asApp.findings()).isEmpty();
    for (String schema : List.of("openpol", "views", "funcs", "owned")) {
      AuditReport self = RlsAudit.builder().schemas(schema).build().run(db.appDataSource());
      assertThat(keys(self)).as(schema).isEqualTo(keys(audit(schema)));
    }
  }

  @Test
  void judgesAWorkerPolicyAsInfoButTheSamePolicyForPublicOrTheAppAsError() {
    AuditReport workerReport = audit("worker");
    assertThat(keys(workerReport)).containsExactlyInAnyOrder(
        "policy-always-true INFO policy worker_claims on worker.jobs",
        "policy-missing-with-check INFO policy worker_claims on worker.jobs");
    assertThat(workerReport.hasErrors()).isFalse();
    assertThat(workerReport.findings().get(0).message()).contains("It applies only to " + worker);

    AuditReport open = audit("openpol");
    assertThat(keys(open)).contains(
        "policy-always-true ERROR policy open_read on openpol.for_public",
        "policy-always-true ERROR policy open_app on openpol.for_app",
        "multiple-permissive-policies WARNING openpol.for_public",
        "multiple-permissive-policies WARNING openpol.for_app",
        // capped by a restrictive tenant policy: informational only
        "policy-always-true INFO policy everything on openpol.capped");
    assertThat(keys(open)).noneMatch(k -> k.contains("tenant_isolation"));
    Finding forApp = find(open, "policy-always-true", "policy open_app on openpol.for_app");
    assertThat(forApp.message()).contains("USING (1 = 1)").contains("WITH CHECK (true)")
        .contains("the application role " + app);
    String generated = RlsPolicy.forTable("openpol", "for_app").columnType(TenantColumnType.UUID).build()
        .usingExpression();
    assertThat(forApp.fix()).hasValueSatisfying(fix -> assertThat(fix).startsWith("ALTER POLICY \"open_app\" ON"
        + " \"openpol\".\"for_app\" USING (" + generated + ") WITH CHECK (" + generated + ");"));
    assertThat(find(open, "policy-always-true", "policy open_read on openpol.for_public").message())
        .contains("PUBLIC");
  }

  @Test
  void policyNotBoundToTheTenant() {
    AuditReport report = audit("scope");
    assertThat(keys(report)).contains(
        "policy-not-tenant-scoped ERROR policy p on scope.unscoped",
        "policy-missing-with-check WARNING policy p on scope.unscoped",
        "policy-not-tenant-scoped ERROR policy p on scope.inverted",
        "policy-not-tenant-scoped ERROR policy p on scope.itself",
        "policy-missing-with-check WARNING policy writes on scope.insert_only");
    // the membership, array and correlated forms are bound to the tenant; the array form takes its tenants from
    // a setting other than the tenant setting, which the application can SET (issue 19)
    assertThat(keys(report)).noneMatch(k -> k.contains("scope.members") || k.contains("scope.in_list")
        || k.contains("scope.correlated"));
    assertThat(keys(report)).filteredOn(k -> k.contains("scope.any_array"))
        .containsExactly("policy-trusts-client-value ERROR policy p on scope.any_array");
    assertThat(keys(report)).noneMatch(k -> k.startsWith("policy-not-tenant-scoped") && k.contains("insert_only"));
    Finding unscoped = find(report, "policy-not-tenant-scoped", "policy p on scope.unscoped");
    assertThat(unscoped.fix()).hasValueSatisfying(fix -> assertThat(fix).contains(" AND (")
        .contains("IS NOT NULL"));
    assertThat(find(report, "policy-missing-with-check", "policy writes on scope.insert_only").message())
        .contains("allows no INSERT");
  }

  @Test
  void castsSettingsWithoutMissingOkAndPerRowCalls() {
    AuditReport report = audit("slow");
    assertThat(keys(report)).containsExactlyInAnyOrder(
        "policy-casts-tenant-column WARNING policy p on slow.casts",
        "current-setting-without-missing-ok WARNING policy p on slow.casts",
        "policy-per-row-function WARNING policy p on slow.casts",
        "policy-per-row-function WARNING policy p on slow.per_row",
        // text column compared with the raw setting: a tenantless session ('') sees the rows of tenant ''
        "current-setting-without-nullif WARNING policy p on slow.per_row");
    Finding perRow = find(report, "policy-per-row-function", "policy p on slow.per_row");
    assertThat(perRow.message()).contains("current_setting()");
    assertThat(perRow.fix()).hasValueSatisfying(fix -> assertThat(fix).contains(
        "USING (\"tenant_id\" = (select nullif(current_setting('app.tenant_id', true), '')::text))"));
    // the generated policies cast nothing, read the setting with missing_ok in a sub-query: see the clean test
  }

  @Test
  void tableRules() {
    AuditReport report = audit("tables");
    assertThat(keys(report)).containsExactlyInAnyOrder(
        "rls-disabled ERROR tables.off",
        "rls-disabled ERROR tables.events_2024",
        "rls-not-forced WARNING tables.unforced",
        "no-policy WARNING tables.no_policy",
        "no-policy WARNING tables.restrictive_only",
        "no-tenant-index WARNING tables.unindexed",
        "tenant-column-nullable WARNING tables.nullable");
    Finding off = find(report, "rls-disabled", "tables.off");
    assertThat(off.message()).contains("Its policies (inert) exist but are inert until RLS is enabled");
    assertThat(off.fix()).hasValue("ALTER TABLE \"tables\".\"off\" ENABLE ROW LEVEL SECURITY;\n"
        + "ALTER TABLE \"tables\".\"off\" FORCE ROW LEVEL SECURITY;");
    Finding partition = find(report, "rls-disabled", "tables.events_2024");
    assertThat(partition.message()).contains("partition of tables.events");
    String createPolicy = last(RlsPolicy.forTable("tables", "events_2024").columnType(TenantColumnType.UUID)
        .build().statements()) + ";";
    assertThat(partition.fix()).hasValueSatisfying(fix -> assertThat(fix).endsWith(createPolicy));
    assertThat(find(report, "no-policy", "tables.no_policy").fix()).hasValue(last(RlsPolicy.forTable("tables",
        "no_policy").columnType(TenantColumnType.UUID).build().statements()) + ";");
    assertThat(find(report, "rls-not-forced", "tables.unforced").fix())
        .hasValue("ALTER TABLE \"tables\".\"unforced\" FORCE ROW LEVEL SECURITY;");
    assertThat(find(report, "no-tenant-index", "tables.unindexed").fix())
        .hasValue("CREATE INDEX ON \"tables\".\"unindexed\" (\"tenant_id\");");
    assertThat(find(report, "tenant-column-nullable", "tables.nullable").fix())
        .hasValue("ALTER TABLE \"tables\".\"nullable\" ALTER COLUMN \"tenant_id\" SET NOT NULL;");
  }

  @Test
  void applicationRoleOwnershipAndTruncate() {
    AuditReport report = audit("owned");
    assertThat(keys(report)).containsExactlyInAnyOrder(
        "app-role-owns-tenant-table ERROR owned.by_app",
        "app-role-owns-tenant-table ERROR owned.by_app_unforced",
        "rls-not-forced ERROR owned.by_app_unforced",
        "app-role-can-truncate ERROR owned.truncatable",
        "app-role-can-truncate ERROR owned.truncatable_public");
    assertThat(find(report, "app-role-can-truncate", "owned.truncatable_public").fix())
        .hasValue("REVOKE TRUNCATE ON \"owned\".\"truncatable_public\" FROM PUBLIC;");
    assertThat(find(report, "app-role-can-truncate", "owned.truncatable").fix())
        .hasValue("REVOKE TRUNCATE ON \"owned\".\"truncatable\" FROM " + q(app) + ";");

    String member = db.name() + "_member";
    AuditReport asMember = RlsAudit.builder().schemas("owned").appRole(member).build().run(db.adminDataSource());
    assertThat(keys(asMember)).contains("app-role-owns-tenant-table ERROR owned.by_group");
    assertThat(find(asMember, "app-role-owns-tenant-table", "owned.by_group").fix())
        .hasValue("REVOKE " + q(db.name() + "_owners") + " FROM " + q(member) + ";");
    assertThat(keys(asMember)).noneMatch(k -> k.contains("owned.by_owner"));
  }

  /**
   * Issue 18: saaskit's schemas ship what the audit should know about them as comments, so a team that fails
   * builds on warnings needs no baseline for them. Annotations accept warnings and infos, never errors.
   */
  @Test
  void commentsInTheDatabaseAcceptWarningsAndInfosButNeverErrors() throws SQLException {
    schema("annotated");
    owner("CREATE TABLE annotated.jobs (id bigint, tenant_id uuid)", "CREATE INDEX ON annotated.jobs (tenant_id)",
        "CREATE TABLE annotated.open (tenant_id uuid NOT NULL)");
    policy("annotated", "jobs", TenantColumnType.UUID);
    owner("CREATE POLICY worker_all ON annotated.jobs FOR ALL TO " + q(worker) + " USING (true) WITH CHECK (true)");
    AuditReport before = auditAs(app, "annotated");
    assertThat(keys(before)).contains("tenant-column-nullable WARNING annotated.jobs",
        "policy-always-true INFO policy worker_all on annotated.jobs", "rls-disabled ERROR annotated.open");

    owner("COMMENT ON TABLE annotated.jobs IS 'Jobs.\nsaaskit-audit: tenant-column-nullable -- NULL marks a system"
            + " job, which the tenant policy never matches\nsaaskit-audit: no-such-rule -- ignored\n"
            + "saaskit-audit: no-tenant-index'",
        "COMMENT ON POLICY worker_all ON annotated.jobs IS"
            + " 'saaskit-audit: policy-always-true -- the worker role claims jobs of every tenant'",
        "COMMENT ON TABLE annotated.open IS 'saaskit-audit: rls-disabled -- trying to hide an error'");
    AuditReport after = auditAs(app, "annotated");
    assertThat(keys(after)).doesNotContain("tenant-column-nullable WARNING annotated.jobs",
        "policy-always-true INFO policy worker_all on annotated.jobs").contains("rls-disabled ERROR annotated.open");
    assertThat(after.suppressed()).extracting(x -> x.finding().ruleId() + ": " + x.entry().reason())
        .containsExactlyInAnyOrder(
            "policy-always-true: annotated in the database: the worker role claims jobs of every tenant",
            "tenant-column-nullable: annotated in the database: NULL marks a system job, which the tenant policy"
                + " never matches");
    assertThat(after.unusedBaselineEntries()).isEmpty();
  }

  @Test
  void roleAttributesAndMemberships() {
    String superuser = db.createRole("su", "SUPERUSER");
    String bypass = db.createRole("bypass", "BYPASSRLS");
    String group = db.createRole("bypassgroup", "BYPASSRLS");
    String inGroup = db.createRole("ingroup", "");
    run(db.adminDataSource(), "GRANT " + q(group) + " TO " + q(inGroup));
    assertThat(keys(auditAs(superuser, "clean"))).contains("app-role-superuser ERROR role " + superuser);
    // issue 18: never advise demoting the superuser (it may be the operator's own role): a separate role instead
    assertThat(find(auditAs(superuser, "clean"), "app-role-superuser", "role " + superuser).fix()).get().asString()
        .contains("CREATE ROLE app LOGIN PASSWORD '...' NOSUPERUSER NOBYPASSRLS;").doesNotContain("ALTER ROLE");
    assertThat(keys(auditAs(bypass, "clean"))).containsExactly("app-role-bypassrls ERROR role " + bypass);
    AuditReport member = auditAs(inGroup, "clean");
    assertThat(keys(member)).containsExactly("app-role-member-of-privileged ERROR role " + inGroup);
    assertThat(member.findings().get(0).fix()).hasValue("REVOKE " + q(group) + " FROM " + q(inGroup) + ";");
    assertThat(keys(auditAs(app, "clean"))).isEmpty();
  }

  @Test
  void viewsAndMaterializedViews() {
    AuditReport report = audit("views");
    assertThat(keys(report)).containsExactlyInAnyOrder(
        // owned by a superuser and readable by the application
        "view-without-security-invoker ERROR views.v_admin",
        // owned by a superuser, but the application cannot select from it
        "view-without-security-invoker WARNING views.v_admin_hidden",
        // owned by the table owner, which is held to the policies of the forced table
        "view-without-security-invoker WARNING views.v_owner",
        // owned by the table owner of an unforced table: the owner bypasses its policies (also through a view)
        "view-without-security-invoker ERROR views.v_loose",
        "view-without-security-invoker ERROR views.v_nested",
        // a security_barrier view that does not filter by the tenant, or filters by another setting
        "view-without-security-invoker ERROR views.v_barrier_unfiltered",
        "view-without-security-invoker ERROR views.v_other_setting",
        // owned by a role that an open policy lets read every row
        "view-without-security-invoker ERROR views.v_shared",
        "policy-always-true INFO policy maintenance on views.shared",
        "materialized-view-readable ERROR views.mv_readable",
        "rls-not-forced WARNING views.loose");
    // not reported: views.v_invoker (security_invoker), views.v_tenant (the tenant-filtered pattern),
    // views.v_plans (no tenant data), views.mv_private (not readable by the application)
    assertThat(find(report, "view-without-security-invoker", "views.v_admin").fix())
        .hasValue("ALTER VIEW \"views\".\"v_admin\" SET (security_invoker = true);");
    Finding mv = find(report, "materialized-view-readable", "views.mv_readable");
    assertThat(mv.message()).contains("views.orders");
    assertThat(mv.fix()).hasValueSatisfying(fix -> assertThat(fix)
        .startsWith("REVOKE SELECT ON \"views\".\"mv_readable\" FROM PUBLIC, " + q(app) + ";")
        .contains("WITH (security_barrier = true)")
        .contains("\"tenant_id\" = (select nullif(current_setting('app.tenant_id', true), '')::uuid)"));
    // another setting name makes v_other_setting the safe one
    AuditReport other = RlsAudit.builder().schemas("views").appRole(app).tenantSetting(TenantSetting.of("app.other")).build()
        .run(db.adminDataSource());
    assertThat(keys(other)).contains("view-without-security-invoker ERROR views.v_tenant")
        .doesNotContain("view-without-security-invoker ERROR views.v_other_setting");
  }

  @Test
  void securityDefinerFunctions() {
    AuditReport report = audit("funcs");
    assertThat(keys(report)).containsExactlyInAnyOrder(
        "security-definer-function ERROR function funcs.leak()",
        "security-definer-search-path WARNING function funcs.leak()",
        "security-definer-function ERROR function funcs.atomic(integer)",
        "security-definer-function INFO function funcs.held()",
        "security-definer-function WARNING function funcs.dynamic(text)",
        "rls-not-forced WARNING funcs.loose");
    // funcs.revoked(): not executable by the application; funcs.invoker(): SECURITY INVOKER
    assertThat(find(report, "security-definer-function", "function funcs.atomic(integer)").message())
        .contains("funcs.loose");
    assertThat(find(report, "security-definer-function", "function funcs.leak()").fix())
        .hasValueSatisfying(fix -> assertThat(fix).startsWith("ALTER FUNCTION \"funcs\".\"leak\"() SECURITY"
            + " INVOKER;"));
    assertThat(find(report, "security-definer-search-path", "function funcs.leak()").fix())
        .hasValue("ALTER FUNCTION \"funcs\".\"leak\"() SET search_path = pg_catalog, \"funcs\", pg_temp;");
  }

  @Test
  void foreignKeysWithoutTheTenant() {
    AuditReport report = audit("fks");
    assertThat(keys(report)).containsExactly("foreign-key-without-tenant WARNING constraint"
            + " loose_children_parent_id_fkey on fks.loose_children",
        // issue 19: a table the tenant tables reference, which the application can write: shared data as a rule
        "tenant-data-without-tenant-column INFO fks.plans");
    assertThat(report.findings().get(0).fix()).hasValue(
        "ALTER TABLE \"fks\".\"parents\" ADD UNIQUE (\"tenant_id\", \"id\");\n"
            + "ALTER TABLE \"fks\".\"loose_children\" DROP CONSTRAINT \"loose_children_parent_id_fkey\", ADD CONSTRAINT"
            + " \"loose_children_parent_id_fkey\" FOREIGN KEY (\"tenant_id\", \"parent_id\") REFERENCES"
            + " \"fks\".\"parents\" (\"tenant_id\", \"id\");");
  }

  @Test
  void noTenantTablesAndOtherTenantColumns() {
    AuditReport report = audit("notenant");
    assertThat(keys(report)).containsExactly("no-tenant-tables WARNING database " + db.name());
    assertThat(report.tenantTables()).isEmpty();
    // with another tenant column name, the clean tables are not tenant tables
    AuditReport orgs = RlsAudit.builder().schemas("clean").appRole(app).tenantColumns("org_id").build()
        .run(db.adminDataSource());
    assertThat(keys(orgs)).containsExactly("no-tenant-tables WARNING database " + db.name());
    AuditReport both = RlsAudit.builder().schemas("clean", "notenant").appRole(app).tenantColumns("org_id",
        "tenant_id").build().run(db.adminDataSource());
    assertThat(both.findings()).isEmpty();
    assertThat(both.tenantTables()).hasSize(4);
  }

  @Test
  void baselineSuppressesAndReportsStaleEntries() {
    Baseline baseline = Baseline.parse("rls-disabled tables.off -- legacy table, migrated next sprint\n"
        + "no-policy * -- tables being set up\n"
        + "rls-disabled tables.gone -- was dropped\n");
    AuditReport report = RlsAudit.builder().schemas("tables").appRole(app).baseline(baseline).build()
        .run(db.adminDataSource());
    assertThat(keys(report)).contains("rls-disabled ERROR tables.events_2024")
        .doesNotContain("rls-disabled ERROR tables.off", "no-policy WARNING tables.no_policy",
            "no-policy WARNING tables.restrictive_only");
    assertThat(report.suppressed()).extracting(s -> s.finding().object())
        .containsExactly("tables.off", "tables.no_policy", "tables.restrictive_only");
    assertThat(report.suppressedBy()).extracting(Baseline.Entry::line).containsExactly(1, 2, 2);
    assertThat(report.unusedBaselineEntries()).extracting(Baseline.Entry::object).containsExactly("tables.gone");
    assertThat(report.toText()).contains("3 suppressed by baseline").contains("tables.gone");
  }

  @Test
  void readsOnlyAndLeavesTheTransactionAlone() throws SQLException {
    try (Connection c = db.ownerDataSource().getConnection()) {
      c.setAutoCommit(false);
      try (Statement s = c.createStatement()) {
        s.execute("CREATE TABLE clean.scratch (tenant_id uuid)");
      }
      AuditReport report = RlsAudit.builder().schemas("clean").appRole(app).build().run(c);
      assertThat(report.findings()).extracting(Finding::object).contains("clean.scratch");
      assertThat(c.getAutoCommit()).isFalse();
      assertThat(c.isClosed()).isFalse();
      c.rollback();
      try (Statement s = c.createStatement();
          ResultSet rs = s.executeQuery("SELECT to_regclass('clean.scratch') IS NULL")) {
        rs.next();
        assertThat(rs.getBoolean(1)).as("the audit did not commit").isTrue();
      }
      c.setAutoCommit(true);
    }
  }

  @Test
  void unknownApplicationRoleIsAnError() {
    assertThatThrownBy(() -> RlsAudit.builder().appRole("no_such_role_x").build().run(db.adminDataSource()))
        .isInstanceOf(SaasException.class)
        .hasMessageContaining("no_such_role_x")
        .hasMessageContaining("does not exist");
  }

  @Test
  void builderChecksValuesAndKeepsThemInToBuilder() {
    assertThatThrownBy(() -> RlsAudit.builder().tenantColumns()).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("tenantColumns");
    assertThatThrownBy(() -> RlsAudit.builder().tenantSetting(TenantSetting.of("tenant"))).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("prefix.name");
    assertThatThrownBy(() -> RlsAudit.builder().schemas("")).isInstanceOf(IllegalArgumentException.class);
    RlsAudit audit = RlsAudit.builder().schemas("clean").appRole(app).tenantColumns("org_id").build();
    assertThat(audit.toBuilder().build().toString()).isEqualTo(audit.toString()).contains("org_id").contains(app);
    assertThat(RlsAudit.defaults().toString()).contains("current_user").contains("tenant_id");
  }

  // ----------------------------------------------------------------------------------------------- helpers

  static AuditReport audit(String... schemas) {
    return auditAs(app, schemas);
  }

  static AuditReport auditAs(String role, String... schemas) {
    return RlsAudit.builder().schemas(schemas).appRole(role).build().run(db.adminDataSource());
  }

  /** "rule SEVERITY object" for each finding. */
  static List<String> keys(AuditReport report) {
    return report.findings().stream().map(f -> f.ruleId() + " " + f.severity() + " " + f.object())
        .collect(Collectors.toList());
  }

  static Finding find(AuditReport report, String rule, String object) {
    return report.findings().stream().filter(f -> f.ruleId().equals(rule) && f.object().equals(object)).findFirst()
        .orElseThrow(() -> new AssertionError("no " + rule + " finding for " + object + " in " + keys(report)));
  }

  static String last(List<String> statements) {
    return statements.get(statements.size() - 1);
  }

  static void schema(String name) throws SQLException {
    admin("CREATE SCHEMA " + name + " AUTHORIZATION " + q(owner),
        "GRANT USAGE ON SCHEMA " + name + " TO " + q(app),
        "ALTER DEFAULT PRIVILEGES FOR ROLE " + q(owner) + " IN SCHEMA " + name
            + " GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO " + q(app));
  }

  /** A table (id, tenant column, note) as the owner, with saaskit's generated policy. */
  static void tenantTable(String schema, String table, TenantColumnType type) throws SQLException {
    tenantTable(schema, table, type, true);
  }

  /** A table with index, RLS and (if {@code withPolicy}) saaskit's generated policy; without it, RLS alone. */
  static void tenantTable(String schema, String table, TenantColumnType type, boolean withPolicy)
      throws SQLException {
    owner("CREATE TABLE " + schema + "." + table + " (id bigint, tenant_id " + type.sqlType() + " NOT NULL,"
        + " note text)");
    if (withPolicy) {
      policy(schema, table, type);
    } else {
      owner("CREATE INDEX ON " + schema + "." + table + " (tenant_id)",
          "ALTER TABLE " + schema + "." + table + " ENABLE ROW LEVEL SECURITY",
          "ALTER TABLE " + schema + "." + table + " FORCE ROW LEVEL SECURITY");
    }
  }

  static void policy(String schema, String table, TenantColumnType type) throws SQLException {
    policy(schema, table, type, true);
  }

  static void policy(String schema, String table, TenantColumnType type, boolean index) throws SQLException {
    try (Connection c = db.ownerDataSource().getConnection()) {
      RlsPolicy.forTable(schema, table).columnType(type).index(index).build().apply(c);
    }
  }

  static void admin(String... sql) throws SQLException {
    run(db.adminDataSource(), sql);
  }

  static void owner(String... sql) throws SQLException {
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
