package dev.saaskit.tenancy.audit.internal;

import dev.saaskit.tenancy.audit.RuleDescription;
import dev.saaskit.tenancy.audit.Severity;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** The catalog of audit rules: ids, default severities, titles and help. Not API. */
public final class Rules {
  public static final String RLS_DISABLED = "rls-disabled";
  public static final String RLS_NOT_FORCED = "rls-not-forced";
  public static final String NO_POLICY = "no-policy";
  public static final String POLICY_MISSING_WITH_CHECK = "policy-missing-with-check";
  public static final String POLICY_ALWAYS_TRUE = "policy-always-true";
  public static final String POLICY_NOT_TENANT_SCOPED = "policy-not-tenant-scoped";
  public static final String POLICY_CASTS_TENANT_COLUMN = "policy-casts-tenant-column";
  public static final String CURRENT_SETTING_WITHOUT_MISSING_OK = "current-setting-without-missing-ok";
  public static final String CURRENT_SETTING_WITHOUT_NULLIF = "current-setting-without-nullif";
  public static final String POLICY_PER_ROW_FUNCTION = "policy-per-row-function";
  public static final String MULTIPLE_PERMISSIVE_POLICIES = "multiple-permissive-policies";
  public static final String NO_TENANT_INDEX = "no-tenant-index";
  public static final String TENANT_COLUMN_NULLABLE = "tenant-column-nullable";
  public static final String APP_ROLE_SUPERUSER = "app-role-superuser";
  public static final String APP_ROLE_BYPASSRLS = "app-role-bypassrls";
  public static final String APP_ROLE_MEMBER_OF_PRIVILEGED = "app-role-member-of-privileged";
  public static final String APP_ROLE_PRIVILEGED_LOGIN = "app-role-privileged-login";
  public static final String APP_ROLE_OWNS_TENANT_TABLE = "app-role-owns-tenant-table";
  public static final String APP_ROLE_CAN_TRUNCATE = "app-role-can-truncate";
  public static final String APP_ROLE_CAN_TRIGGER = "app-role-can-trigger";
  public static final String VIEW_WITHOUT_SECURITY_INVOKER = "view-without-security-invoker";
  public static final String MATERIALIZED_VIEW_READABLE = "materialized-view-readable";
  public static final String RULE_WITH_OWNER_RIGHTS = "rule-with-owner-rights";
  public static final String SECURITY_DEFINER_FUNCTION = "security-definer-function";
  public static final String SECURITY_DEFINER_SEARCH_PATH = "security-definer-search-path";
  public static final String FOREIGN_KEY_WITHOUT_TENANT = "foreign-key-without-tenant";
  public static final String TENANT_DATA_WITHOUT_TENANT_COLUMN = "tenant-data-without-tenant-column";
  public static final String FOREIGN_TABLE_READABLE = "foreign-table-readable";
  public static final String POLICY_FUNCTION_SEARCH_PATH = "policy-function-search-path";
  public static final String POLICY_TRUSTS_CLIENT_VALUE = "policy-trusts-client-value";
  public static final String NO_TENANT_TABLES = "no-tenant-tables";
  /** Not a database rule: a baseline entry that matched no finding (reported in the output only). */
  public static final String UNUSED_BASELINE_ENTRY = "unused-baseline-entry";

  private static final List<RuleDescription> ALL = List.of(
      rule(RLS_DISABLED, Severity.ERROR, "Tenant table without row-level security",
          "A table with a tenant column has row-level security disabled, so every role that can read it sees every"
              + " tenant's rows; policies on it, if any, are inert. A partition needs RLS of its own: queried by"
              + " name, it does not apply its parent's policies. Fix: ALTER TABLE ... ENABLE ROW LEVEL SECURITY and"
              + " FORCE ROW LEVEL SECURITY, and create the tenant policy (RlsPolicy generates all of it)."),
      rule(RLS_NOT_FORCED, Severity.WARNING, "Row-level security not forced",
          "RLS is enabled but not forced, so the table's owner is exempt from its policies: migrations, jobs,"
              + " views and SECURITY DEFINER functions running as the owner see every tenant. ERROR when the"
              + " application role owns the table (directly or through membership). Fix: ALTER TABLE ... FORCE ROW"
              + " LEVEL SECURITY."),
      rule(NO_POLICY, Severity.WARNING, "Row-level security without a permissive policy",
          "RLS is enabled but no permissive policy exists (none at all, or only RESTRICTIVE ones), so PostgreSQL"
              + " denies every row: the application sees and writes nothing. Safe, but surely not intended. Fix:"
              + " create the tenant policy."),
      rule(POLICY_MISSING_WITH_CHECK, Severity.WARNING, "Write policy without WITH CHECK",
          "A policy for INSERT without WITH CHECK admits no new row at all (PostgreSQL has nothing to check it"
              + " against). A policy for ALL or UPDATE without WITH CHECK checks new rows against its USING"
              + " expression, which is fine when USING binds the tenant; it is reported when USING does not, since"
              + " rows can then be written into any tenant. INFO when the policy applies only to roles other than"
              + " the application role. Fix: ALTER POLICY ... WITH CHECK (<tenant predicate>)."),
      rule(POLICY_ALWAYS_TRUE, Severity.ERROR, "Policy admits every row",
          "A permissive policy's USING or WITH CHECK is constant (true, 1 = 1, or an OR with such a branch), so"
              + " it admits every tenant's rows; permissive policies are OR'ed, so it opens the table whatever the"
              + " other policies say. ERROR when it applies to PUBLIC or to the application role (directly or"
              + " through a role it is a member of) and no RESTRICTIVE tenant policy caps it; INFO when it applies"
              + " only to other roles, such as a job worker that works across tenants. Fix: bind it to the tenant,"
              + " or scope it TO the dedicated role."),
      rule(POLICY_NOT_TENANT_SCOPED, Severity.ERROR, "Policy not bound to the tenant",
          "A permissive policy's USING or WITH CHECK depends on something, but not on every branch on the tenant"
              + " column equal to one value (tenant_id = (SELECT ...), tenant_id = ANY (...), tenant_id IN (SELECT"
              + " ...) or a correlated EXISTS on tenant_id): for example current_setting(...) IS NOT NULL, an"
              + " 'IS NULL OR' fallback, or a comparison of the column with itself. Severity as for"
              + " policy-always-true. Fix: AND the tenant predicate into it, or add a RESTRICTIVE tenant policy."),
      rule(POLICY_CASTS_TENANT_COLUMN, Severity.WARNING, "Policy casts the tenant column",
          "The policy casts the tenant column (tenant_id::text = ...), so no index on tenant_id can serve it and"
              + " every query scans the whole table. Fix: compare the column uncast and cast the setting to the"
              + " column's type instead."),
      rule(CURRENT_SETTING_WITHOUT_MISSING_OK, Severity.WARNING, "current_setting without missing_ok",
          "The policy calls current_setting('...') with one argument, which raises an error when the setting was"
              + " never set in the session, but returns the old value or '' on a pooled connection that once had"
              + " it: behaviour depends on the connection's history. Fix: current_setting('...', true) with"
              + " nullif(..., ''), so that no tenant means no rows."),
      rule(CURRENT_SETTING_WITHOUT_NULLIF, Severity.WARNING, "Tenant compared with a setting that may be empty",
          "The policy compares a text tenant column with current_setting('<tenant setting>', ...) without"
              + " nullif(..., ''). The setting reads '' (not NULL) in a session without a tenant that once had one:"
              + " after a transaction-local set_config ends, after RESET, or when set to ''. '' = '' is true, so"
              + " such a session reads and writes the rows whose tenant is '' (written by any other tenantless"
              + " session) instead of none: not fail-closed. Other tenants' rows stay hidden, hence a WARNING."
              + " Fix: nullif(current_setting('...', true), ''), so that no tenant means no rows (the RlsPolicy"
              + " predicate)."),
      rule(POLICY_PER_ROW_FUNCTION, Severity.WARNING, "Policy calls a function per row",
          "The policy calls a non-immutable function such as current_setting() outside a sub-query, so PostgreSQL"
              + " may evaluate it once per row instead of once per statement. Fix: wrap the call in a scalar"
              + " sub-query, (SELECT current_setting(...)), which runs once (an InitPlan)."),
      rule(MULTIPLE_PERMISSIVE_POLICIES, Severity.WARNING, "Several permissive policies for one command",
          "More than one permissive policy applies to the application role for the same command on a tenant"
              + " table. They are OR'ed: each one can only widen what the others allow, and all are evaluated."
              + " Fix: merge them into one policy, or make the additional conditions RESTRICTIVE."),
      rule(NO_TENANT_INDEX, Severity.WARNING, "No index leads with the tenant column",
          "No valid index on the tenant table starts with the tenant column, so every policy check scans the"
              + " whole table. Fix: CREATE INDEX ... (tenant_id), or put tenant_id first in an existing key."),
      rule(TENANT_COLUMN_NULLABLE, Severity.WARNING, "Tenant column is nullable",
          "The tenant column allows NULL: a row without a tenant belongs to nobody, is invisible to every tenant"
              + " and is easy to create by mistake. Fix: ALTER TABLE ... ALTER COLUMN tenant_id SET NOT NULL."),
      rule(APP_ROLE_SUPERUSER, Severity.ERROR, "Application role is a superuser",
          "Row-level security never applies to superusers: every tenant would see every row. Fix: create a"
              + " separate application role (LOGIN NOSUPERUSER NOBYPASSRLS, owning nothing), grant it what the"
              + " application needs, and make the pool log in as it. Do not strip SUPERUSER from the role you"
              + " administer the server with: that can lock you out."),
      rule(APP_ROLE_BYPASSRLS, Severity.ERROR, "Application role has BYPASSRLS",
          "Row-level security does not apply to a BYPASSRLS role. Fix: ALTER ROLE ... NOBYPASSRLS."),
      rule(APP_ROLE_MEMBER_OF_PRIVILEGED, Severity.ERROR, "Application role can become a privileged role",
          "The application role is a member of a superuser or BYPASSRLS role, so it can SET ROLE to it and bypass"
              + " every policy; or, on PostgreSQL 15 and older, it has CREATEROLE, which lets it grant itself any"
              + " role that is not a superuser (BYPASSRLS roles and the tables' owners included). Fix: REVOKE that"
              + " role FROM the application role, or ALTER ROLE ... NOCREATEROLE."),
      rule(APP_ROLE_PRIVILEGED_LOGIN, Severity.ERROR, "Application switches role after a privileged login",
          "The connections log in as a superuser or BYPASSRLS role and switch to the application role with SET"
              + " ROLE or SET SESSION AUTHORIZATION (a pool's connection options or init SQL, say): a RESET ROLE"
              + " (RESET SESSION AUTHORIZATION) brings the login role back and bypasses every policy. Judged only"
              + " when the audit judges its own connection's role. Fix: make the pool log in as the application"
              + " role itself."),
      rule(APP_ROLE_OWNS_TENANT_TABLE, Severity.ERROR, "Application role owns a tenant table",
          "The application role owns the table, directly or through membership in the owning role. An owner is"
              + " exempt from unforced policies and can always disable RLS, drop policies or the table. Fix: hand"
              + " the table to a migration role (ALTER TABLE ... OWNER TO ...) or REVOKE the owning role."),
      rule(APP_ROLE_CAN_TRUNCATE, Severity.ERROR, "Application role can TRUNCATE a tenant table",
          "TRUNCATE ignores row-level security: the application role can empty the table for every tenant. Fix:"
              + " REVOKE TRUNCATE ON ... FROM the role (or PUBLIC) that grants it. (REFERENCES is worth revoking"
              + " too; TRIGGER has a rule of its own.)"),
      rule(APP_ROLE_CAN_TRIGGER, Severity.ERROR, "Application role can create triggers on a tenant table",
          "With the TRIGGER privilege the application role can attach a trigger to the table, with a function of"
              + " its own (a temporary one will do), that then runs inside every other tenant's writes and sees"
              + " their rows (NEW and OLD), for instance sending them to a LISTENing connection with pg_notify, or"
              + " changing them. Fix: REVOKE TRIGGER ON ... FROM the role (or PUBLIC) that grants it; triggers"
              + " belong in migrations run by the tables' owner."),
      rule(VIEW_WITHOUT_SECURITY_INVOKER, Severity.ERROR, "View reads tenant data with its owner's rights",
          "A view over tenant data without security_invoker = true (PostgreSQL 15+) reads the tables as the view's"
              + " owner, not as the querying role, so the policies are checked for the owner. ERROR when the"
              + " application role can select from it and the owner is not held to the policies (superuser,"
              + " BYPASSRLS, owner of an unforced table, or a materialized view underneath); WARNING otherwise."
              + " Not reported for the tenant-filtered view pattern: security_barrier = true and WHERE tenant_id ="
              + " (SELECT ... current_setting('<setting>', true) ...) on every relation with tenant data the view"
              + " reads (joined or in a sub-query). The WARNING is kept (visible in CI) because a"
              + " later NO FORCE on a table the owner owns, or a permissive policy for the owner's role, turns the"
              + " view into a leak without touching it. Fix: ALTER VIEW ... SET (security_invoker = true)."),
      rule(RULE_WITH_OWNER_RIGHTS, Severity.ERROR, "Rewrite rule reads tenant data with its owner's rights",
          "A rewrite rule on a table or view (CREATE RULE ... ON INSERT, UPDATE or DELETE ... DO ALSO or INSTEAD ...)"
              + " runs its actions with the rights of the relation's owner, not of the role whose statement fired it"
              + " (on a security_invoker view too: that option covers only the view's own query), so the policies of"
              + " the tenant tables the actions read or write are checked for that owner. ERROR when the application"
              + " role can write to the relation and the owner is not held to those policies (superuser, BYPASSRLS,"
              + " owner of an unforced table, or a materialized view underneath): one INSERT, UPDATE or DELETE of the"
              + " application copies or changes every tenant's rows; WARNING otherwise (a later NO FORCE on a table"
              + " the owner owns turns it into a leak). Fix: replace the rule with a trigger whose function is"
              + " SECURITY INVOKER (DROP RULE ... ON ...), or hold the owner to the policies (ALTER TABLE ... FORCE"
              + " ROW LEVEL SECURITY on the tables the rule reads)."),
      rule(MATERIALIZED_VIEW_READABLE, Severity.ERROR, "Materialized view with tenant data is readable",
          "A materialized view over tenant tables (or with a tenant column) has no row-level security: if the"
              + " application role can select from it, every tenant's rows are readable. Fix: REVOKE SELECT from"
              + " the application role and PUBLIC and expose it through a tenant-filtered security_barrier view."),
      rule(SECURITY_DEFINER_FUNCTION, Severity.ERROR, "SECURITY DEFINER function reads around the policies",
          "A SECURITY DEFINER function runs as its owner. ERROR when the application role can execute it, it reads"
              + " a tenant table (by its recorded dependencies or, heuristically, by the table's name in its body)"
              + " and its owner is not held to that table's policies; WARNING when the tables it reads are unknown"
              + " but its owner is a superuser or BYPASSRLS; INFO when its owner is held to the policies (still"
              + " reported: a later NO FORCE or a permissive policy for the owner's role makes it a leak). Fix:"
              + " ALTER FUNCTION ... SECURITY INVOKER, or REVOKE EXECUTE and filter by the tenant inside it."),
      rule(SECURITY_DEFINER_SEARCH_PATH, Severity.WARNING, "SECURITY DEFINER function without a fixed search_path",
          "A SECURITY DEFINER function without SET search_path resolves names through the caller's search_path,"
              + " so a caller can shadow a table or function (in pg_temp, say) and run code with the owner's"
              + " rights. (A function a policy calls is reported by policy-function-search-path instead.) Fix:"
              + " ALTER FUNCTION ... SET search_path = pg_catalog, <schema>, pg_temp."),
      rule(FOREIGN_KEY_WITHOUT_TENANT, Severity.WARNING, "Foreign key between tenant tables without the tenant",
          "A foreign key between two tenant tables does not include the tenant column, so a row can reference"
              + " another tenant's row, and the key check (which ignores row-level security) tells whether an id"
              + " exists in another tenant. Fix: a composite key, UNIQUE (tenant_id, id) on the referenced table and"
              + " FOREIGN KEY (tenant_id, ..._id) REFERENCES it (tenant_id, id)."),
      rule(TENANT_DATA_WITHOUT_TENANT_COLUMN, Severity.ERROR, "Tenant data in a table without a tenant column",
          "A table without a tenant column holds tenant data when a foreign key path leads from it to a tenant"
              + " table (order_items.order_id references orders, maybe through other such tables), or when it is"
              + " named in includeTables. ERROR when the application role can read or write it and it has no"
              + " row-level security, or a permissive policy that does not tie each row to an isolated parent"
              + " (EXISTS or IN over a tenant table with RLS, joined on the row's key): every tenant reads every"
              + " other tenant's rows through it. INFO for a table that tenant tables reference (not through the"
              + " tenant column), without RLS, that the application role can write: usually shared data (users,"
              + " plans). Fix, recommended: a tenant column with a composite foreign key (tenant_id, parent_id)"
              + " and the tenant policy, which an index serves and the key keeps consistent; or a policy through"
              + " the parent, EXISTS (SELECT 1 FROM parent p WHERE p.id = child.parent_id), which needs no schema"
              + " change but runs a sub-query per row."),
      rule(FOREIGN_TABLE_READABLE, Severity.ERROR, "Foreign table reachable by the application role",
          "Row-level security cannot be enabled on a foreign table, so the application role reads (or writes)"
              + " every row of one it has privileges on. ERROR when it has a tenant column, WARNING otherwise"
              + " (fine for data shared by every tenant). Fix: REVOKE the privileges and expose it through a"
              + " tenant-filtered security_barrier view, or copy the rows into a table with RLS."),
      rule(POLICY_FUNCTION_SEARCH_PATH, Severity.ERROR, "Policy calls a function without a fixed search_path",
          "A policy calls a function (SECURITY DEFINER or not) that has no SET search_path: the names in its body"
              + " are resolved with the querying session's search_path, so that session can shadow a table with a"
              + " temporary one (pg_temp is searched first for tables) or a function with one in a schema it puts"
              + " first, and the policy decides on what the impostor returns. ERROR when the policy applies to the"
              + " application role, WARNING otherwise. Functions in pg_catalog or owned by an extension are not"
              + " judged; other functions that are neither SECURITY DEFINER nor called by a policy are outside the"
              + " audit (they cannot widen what RLS admits). Fix: ALTER FUNCTION ... SET search_path = pg_catalog,"
              + " <schema>, pg_temp."),
      rule(POLICY_TRUSTS_CLIENT_VALUE, Severity.ERROR, "Policy takes the tenant from a value the client can set",
          "A tenant policy compares the tenant column with something the application role can change other than"
              + " the tenant setting: another setting (custom settings can be SET by any role, and nothing clears"
              + " one between requests on a pooled connection), or a column of a table without row-level security"
              + " that the role can UPDATE or INSERT into (tenant_id IN (SELECT tenant_id FROM user_tenants"
              + " ...)). The application can then choose its tenant. INFO when the policy applies only to other"
              + " roles. Fix: compare with the tenant setting, or keep the lookup table under RLS with a WITH CHECK"
              + " that binds the tenant, or read-only for the application role."),
      rule(NO_TENANT_TABLES, Severity.WARNING, "No tenant table found",
          "No table in the audited schemas has a column named like a tenant column, so nothing was checked for"
              + " tenant isolation. Check the tenant column names and schemas given to the audit, and that the"
              + " migrations ran first."),
      rule(UNUSED_BASELINE_ENTRY, Severity.INFO, "Baseline entry matches nothing",
          "A baseline entry matched no finding: the problem was fixed or the object renamed. Delete the line so"
              + " that the baseline stays a list of live exceptions."));

  private Rules() {}

  /** Every rule, in catalog order. */
  public static List<RuleDescription> all() {
    return ALL;
  }

  /** The rule with this id. */
  public static Optional<RuleDescription> find(String id) {
    for (RuleDescription r : ALL) {
      if (r.id().equals(id)) {
        return Optional.of(r);
      }
    }
    return Optional.empty();
  }

  /** The ids of the rules that judge the database (all but {@link #UNUSED_BASELINE_ENTRY}). */
  public static List<String> auditIds() {
    List<String> ids = new ArrayList<>();
    for (RuleDescription r : ALL) {
      if (!r.id().equals(UNUSED_BASELINE_ENTRY)) {
        ids.add(r.id());
      }
    }
    return ids;
  }

  private static RuleDescription rule(String id, Severity severity, String title, String help) {
    return new RuleDescription(id, severity, title, help);
  }
}
