package dev.saaskit.tenancy.audit.internal;

import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * What the audit knows about one database, read in a fixed handful of catalog queries (the role, the roles that
 * own things, relations, policies, SECURITY DEFINER functions, foreign keys, and the names of the functions and
 * operators that policy and view expressions use), never one query per table. Read-only. Not API.
 */
public final class Catalog {
  /**
   * The role whose access is judged. {@code createRoleRoles}: the roles with {@code CREATEROLE} it is or can
   * become (itself included), each of which, before PostgreSQL 16, may grant it any role that is not a superuser.
   */
  public record AppRole(long oid, String name, boolean superuser, boolean bypassRls, List<String> superuserRoles,
      List<String> bypassRlsRoles, @Nullable LoginRole login, List<String> createRoleRoles) {}

  /**
   * The role the judged connection logged in as, when the audit judges its own connection's role and that role was
   * reached from another one: with SET ROLE, or ({@code sessionAuthorization}) with SET SESSION AUTHORIZATION,
   * which changes {@code session_user} too.
   */
  public record LoginRole(String name, boolean superuser, boolean bypassRls, boolean sessionAuthorization) {}

  /** A comment carrying audit annotations, with the object (as findings name it) it is on. */
  public record Annotation(String object, String comment) {}

  /** A role that owns a relation or a SECURITY DEFINER function in scope. */
  public record Role(long oid, String name, boolean superuser, boolean bypassRls, Set<Long> memberOf) {
    /** Whether this role is {@code other} or a member of it (superusers are members of every role). */
    public boolean actsAs(long other) {
      return oid == other || superuser || memberOf.contains(other);
    }
  }

  /**
   * A table, partitioned table, view, materialized view or foreign table in scope, with its tenant columns (if
   * any).
   */
  public record Relation(long oid, String schema, String name, char kind, long ownerOid, String owner,
      boolean rlsEnabled, boolean rlsForced, boolean partition, @Nullable String parent, List<String> options,
      List<TenantColumn> tenantColumns, List<Integer> leadingIndexColumns, List<Long> dependsOn,
      @Nullable String viewQuery, boolean appSchemaUsage, boolean appCanSelect, boolean appCanTruncate,
      boolean appOwns, boolean appActsAsOwner, List<String> truncateGrantees, boolean appCanWrite,
      boolean appCanTrigger, List<String> triggerGrantees, List<Long> ruleDependsOn) {
    /** {@code schema.name}. */
    public String qualifiedName() {
      return schema + "." + name;
    }

    /** A table or partitioned table. */
    public boolean isTable() {
      return kind == 'r' || kind == 'p';
    }

    /** Whether the application role can reach it (schema {@code USAGE}) and read or write any of its columns. */
    public boolean appReachable() {
      return appSchemaUsage && (appCanSelect || appCanWrite);
    }

    /** Whether {@code reloptions} holds {@code option=true} (or {@code on}, {@code 1}, ...). */
    public boolean option(String option) {
      for (String o : options) {
        int eq = o.indexOf('=');
        if (eq > 0 && o.substring(0, eq).equalsIgnoreCase(option)) {
          String v = o.substring(eq + 1).toLowerCase(Locale.ROOT);
          return v.equals("true") || v.equals("on") || v.equals("1") || v.equals("yes") || v.equals("t");
        }
      }
      return false;
    }
  }

  /** A column of a relation named like one of the configured tenant columns. */
  public record TenantColumn(String name, int attnum, boolean notNull, String type) {}

  /** A row of {@code pg_policy}. */
  public record Policy(long tableOid, String name, char command, boolean permissive, List<String> roles,
      List<Long> roleOids, boolean appliesToApp, @Nullable String usingTree, @Nullable String checkTree,
      @Nullable String usingText, @Nullable String checkText) {
    /** Whether the policy applies to {@code role}: it names PUBLIC (OID 0), the role, or a role it is a member of. */
    public boolean appliesTo(Role role) {
      for (long r : roleOids) {
        if (r == 0 || role.actsAs(r)) {
          return true;
        }
      }
      return false;
    }
  }

  /** A SECURITY DEFINER function or procedure in scope. */
  public record Function(long oid, String schema, String name, String arguments, char kind, long ownerOid,
      String owner, String language, String source, List<String> config, boolean appCanExecute,
      List<Long> dependsOn) {
    /** {@code function schema.name(args)} or {@code procedure ...}. */
    public String object() {
      return (kind == 'p' ? "procedure " : "function ") + schema + "." + name + "(" + arguments + ")";
    }
  }

  /** A foreign key constraint from a table in scope. */
  public record ForeignKey(String name, long tableOid, long referencedOid, List<Integer> columns,
      List<Integer> referencedColumns, List<String> columnNames, List<String> referencedColumnNames) {}

  /**
   * A function's schema, name and volatility ({@code i}, {@code s} or {@code v}), with what the search_path rules
   * need: its argument types, language, SECURITY DEFINER flag, {@code SET} options and whether an extension owns it.
   */
  public record FunctionName(String schema, String name, char volatility, String arguments, String language,
      boolean securityDefiner, List<String> config, boolean extensionMember) {
    /** Whether a {@code SET search_path} option pins its search_path. */
    public boolean searchPathFixed() {
      for (String c : config) {
        if (c.toLowerCase(Locale.ROOT).startsWith("search_path=")) {
          return true;
        }
      }
      return false;
    }
  }

  /** A column that decides a policy's tenant, with what the application role may do to it. */
  public record ColumnAccess(long relid, int attnum, String relation, String column, boolean rlsEnabled,
      boolean appCanUpdate, boolean appCanInsert) {}

  /** A setting a policy reads, and whether the application role may change it ({@code SET}). */
  public record SettingAccess(String name, boolean appCanSet) {}

  private static final String SCOPE_ALL =
      "select n.oid, n.nspname from pg_namespace n where left(n.nspname, 3) <> 'pg_'"
          + " and n.nspname <> 'information_schema'";
  private static final String SCOPE_LISTED =
      "select n.oid, n.nspname from pg_namespace n where n.nspname::text = any (?::text[])";

  private static final String APP_ROLE_QUERY =
      "select r.oid::bigint, r.rolname::text, r.rolsuper, r.rolbypassrls,"
          + " array(select a.rolname::text from pg_roles a where a.oid <> r.oid and a.rolsuper"
          + "   and pg_has_role(r.oid, a.oid, 'MEMBER') order by 1),"
          + " array(select a.rolname::text from pg_roles a where a.oid <> r.oid and a.rolbypassrls"
          + "   and not a.rolsuper and pg_has_role(r.oid, a.oid, 'MEMBER') order by 1),"
          + " current_database()::text, current_setting('server_version_num')::int,"
          + " s.rolname::text, s.rolsuper, s.rolbypassrls,"
          + " array(select a.rolname::text from pg_roles a where a.rolcreaterole and not a.rolsuper"
          + "   and pg_has_role(r.oid, a.oid, 'MEMBER') order by 1),"
          + " session_user::text"
          // The role the backend logged in as: SET SESSION AUTHORIZATION changes session_user as well, and RESET
          // SESSION AUTHORIZATION brings the login role back; pg_stat_activity keeps the login role.
          + " from pg_roles r left join pg_roles s on s.oid = coalesce("
          + "   (select a.usesysid from pg_stat_activity a where a.pid = pg_backend_pid()),"
          + "   (select u.oid from pg_roles u where u.rolname = session_user))"
          + " where r.rolname = coalesce(?::text, current_user::text)";

  private static final String OWNER_QUERY =
      "with scope as (%s)"
          + " select r.oid::bigint, r.rolname::text, r.rolsuper, r.rolbypassrls,"
          + " array(select m.oid::bigint from pg_roles m where m.oid <> r.oid and pg_has_role(r.oid, m.oid, 'MEMBER'))"
          + " from pg_roles r where r.oid in ("
          + "   select c.relowner from pg_class c join scope s on s.oid = c.relnamespace"
          + "   where c.relkind in ('r', 'p', 'v', 'm', 'f')"
          + "   union select p.proowner from pg_proc p join scope s on s.oid = p.pronamespace where p.prosecdef)";

  private static final String RELATION_QUERY =
      "with app as (select ?::oid as oid), scope as (%s)"
          + " select c.oid::bigint, s.nspname::text, c.relname::text, c.relkind::text, c.relowner::bigint,"
          + " pg_get_userbyid(c.relowner)::text, c.relrowsecurity, c.relforcerowsecurity, c.relispartition,"
          + " (select pn.nspname::text || '.' || p.relname::text from pg_inherits i"
          + "   join pg_class p on p.oid = i.inhparent"
          + "   join pg_namespace pn on pn.oid = p.relnamespace where i.inhrelid = c.oid and c.relispartition limit 1),"
          + " coalesce(c.reloptions, '{}'::text[]),"
          + " coalesce(tc.names, '{}'), coalesce(tc.nums, '{}'), coalesce(tc.notnull, '{}'), coalesce(tc.types, '{}'),"
          + " array(select i.indkey[0]::int from pg_index i where i.indrelid = c.oid and i.indisvalid"
          + "   and i.indnkeyatts > 0),"
          + " array(select distinct d.refobjid::bigint from pg_rewrite w join pg_depend d"
          + "   on d.classid = 'pg_rewrite'::regclass and d.objid = w.oid"
          + "   where w.ev_class = c.oid and d.refclassid = 'pg_class'::regclass and d.refobjid <> c.oid),"
          // the stored query only of barrier views, where the tenant-filtered view pattern is looked for
          + " case when c.relkind = 'v' and array_to_string(c.reloptions, ',') ilike '%%security_barrier%%' then"
          + "   (select w.ev_action::text from pg_rewrite w where w.ev_class = c.oid and w.rulename = '_RETURN') end,"
          + " has_schema_privilege(app.oid, c.relnamespace, 'USAGE'),"
          + " has_any_column_privilege(app.oid, c.oid, 'SELECT'),"
          + " c.relkind in ('r', 'p') and has_table_privilege(app.oid, c.oid, 'TRUNCATE'),"
          + " c.relowner = app.oid, pg_has_role(app.oid, c.relowner, 'MEMBER'),"
          + " array(select distinct case when a.grantee = 0 then 'PUBLIC' else pg_get_userbyid(a.grantee)::text end"
          + "   from aclexplode(c.relacl) a where a.privilege_type = 'TRUNCATE'"
          + "   and (a.grantee = 0 or pg_has_role(app.oid, a.grantee, 'MEMBER'))),"
          + " has_any_column_privilege(app.oid, c.oid, 'INSERT') or has_any_column_privilege(app.oid, c.oid, 'UPDATE')"
          + "   or has_table_privilege(app.oid, c.oid, 'DELETE'),"
          + " c.relkind in ('r', 'p') and has_table_privilege(app.oid, c.oid, 'TRIGGER'),"
          + " array(select distinct case when a.grantee = 0 then 'PUBLIC' else pg_get_userbyid(a.grantee)::text end"
          + "   from aclexplode(c.relacl) a where a.privilege_type = 'TRIGGER'"
          + "   and (a.grantee = 0 or pg_has_role(app.oid, a.grantee, 'MEMBER'))),"
          // what the relation's rewrite rules other than a view's own query name: their actions run as its owner
          + " array(select distinct d.refobjid::bigint from pg_rewrite w join pg_depend d"
          + "   on d.classid = 'pg_rewrite'::regclass and d.objid = w.oid"
          + "   where w.ev_class = c.oid and w.rulename <> '_RETURN' and d.refclassid = 'pg_class'::regclass"
          + "   and d.refobjid <> c.oid)"
          + " from pg_class c join scope s on s.oid = c.relnamespace cross join app"
          + " left join lateral (select array_agg(a.attname::text order by a.attnum) as names,"
          + "   array_agg(a.attnum::int order by a.attnum) as nums,"
          + "   array_agg(a.attnotnull order by a.attnum) as notnull,"
          + "   array_agg(format_type(a.atttypid, a.atttypmod) order by a.attnum) as types"
          + "   from pg_attribute a where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped"
          + "   and a.attname::text = any (?::text[])) tc on true"
          + " where c.relkind in ('r', 'p', 'v', 'm', 'f')"
          + " and not exists (select 1 from pg_depend e where e.classid = 'pg_class'::regclass and e.objid = c.oid"
          + "   and e.deptype = 'e')"
          + " order by 2, 3";

  private static final String POLICY_QUERY =
      "with app as (select ?::oid as oid), scope as (%s)"
          + " select p.polrelid::bigint, p.polname::text, p.polcmd::text, p.polpermissive,"
          + " array(select case when x.r = 0 then 'PUBLIC' else pg_get_userbyid(x.r)::text end"
          + "   from unnest(p.polroles) with ordinality as x(r, i) order by x.i),"
          + " array(select x.r::bigint from unnest(p.polroles) with ordinality as x(r, i) order by x.i),"
          + " ('0'::oid = any (p.polroles) or exists (select 1 from unnest(p.polroles) as x(r)"
          + "   where x.r <> 0 and pg_has_role(app.oid, x.r, 'MEMBER'))),"
          + " p.polqual::text, p.polwithcheck::text, pg_get_expr(p.polqual, p.polrelid),"
          + " pg_get_expr(p.polwithcheck, p.polrelid)"
          + " from pg_policy p join pg_class c on c.oid = p.polrelid join scope s on s.oid = c.relnamespace"
          + " cross join app"
          + " order by s.nspname, c.relname, p.polname";

  private static final String FUNCTION_QUERY =
      "with app as (select ?::oid as oid), scope as (%s)"
          + " select p.oid::bigint, s.nspname::text, p.proname::text, oidvectortypes(p.proargtypes),"
          + " p.prokind::text, p.proowner::bigint, pg_get_userbyid(p.proowner)::text, l.lanname::text,"
          + " coalesce(p.prosrc, ''), coalesce(p.proconfig, '{}'::text[]),"
          + " has_function_privilege(app.oid, p.oid, 'EXECUTE'),"
          + " array(select distinct d.refobjid::bigint from pg_depend d where d.classid = 'pg_proc'::regclass"
          + "   and d.objid = p.oid and d.refclassid = 'pg_class'::regclass)"
          + " from pg_proc p join scope s on s.oid = p.pronamespace join pg_language l on l.oid = p.prolang"
          + " cross join app"
          + " where p.prosecdef and not exists (select 1 from pg_depend e where e.classid = 'pg_proc'::regclass"
          + "   and e.objid = p.oid and e.deptype = 'e')"
          + " order by 2, 3, 4";

  /** Comments on relations and policies in scope that carry audit annotations. */
  private static final String ANNOTATION_QUERY =
      "with scope as (%s)"
          + " select n.nspname::text, c.relname::text, null::text, d.description from pg_description d"
          + " join pg_class c on d.classoid = 'pg_class'::regclass and d.objoid = c.oid and d.objsubid = 0"
          + " join scope n on n.oid = c.relnamespace where d.description like '%%saaskit-audit:%%'"
          + " union all"
          + " select n.nspname::text, c.relname::text, p.polname::text, d.description from pg_description d"
          + " join pg_policy p on d.classoid = 'pg_policy'::regclass and d.objoid = p.oid"
          + " join pg_class c on c.oid = p.polrelid"
          + " join scope n on n.oid = c.relnamespace where d.description like '%%saaskit-audit:%%'"
          + " order by 1, 2, 3";

  private static final String FOREIGN_KEY_QUERY =
      "with scope as (%s)"
          + " select k.conname::text, k.conrelid::bigint, k.confrelid::bigint, k.conkey::int[], k.confkey::int[],"
          + " array(select a.attname::text from unnest(k.conkey) with ordinality as x(n, i)"
          + "   join pg_attribute a on a.attrelid = k.conrelid and a.attnum = x.n order by x.i),"
          + " array(select a.attname::text from unnest(k.confkey) with ordinality as x(n, i)"
          + "   join pg_attribute a on a.attrelid = k.confrelid and a.attnum = x.n order by x.i)"
          + " from pg_constraint k join pg_class c on c.oid = k.conrelid join scope s on s.oid = c.relnamespace"
          + " where k.contype = 'f' order by s.nspname, c.relname, k.conname";

  private static final String NAME_QUERY =
      "select 'f', p.oid::bigint, n.nspname::text, p.proname::text, p.provolatile::text,"
          + " oidvectortypes(p.proargtypes), l.lanname::text, p.prosecdef, coalesce(p.proconfig, '{}'::text[]),"
          + " exists (select 1 from pg_depend e where e.classid = 'pg_proc'::regclass and e.objid = p.oid"
          + "   and e.deptype = 'e')"
          + " from pg_proc p join pg_namespace n on n.oid = p.pronamespace join pg_language l on l.oid = p.prolang"
          + " where p.oid::bigint = any (?::bigint[])"
          + " union all select 'o', o.oid::bigint, n.nspname::text, o.oprname::text, 'i', '', '', false,"
          + " '{}'::text[], false from pg_operator o"
          + " join pg_namespace n on n.oid = o.oprnamespace where o.oid::bigint = any (?::bigint[])";

  /** Per (relation, column) pair: names, RLS, and whether the role may UPDATE the column or INSERT rows. */
  private static final String COLUMN_ACCESS_QUERY =
      "select x.relid::bigint, x.attnum::int, n.nspname::text || '.' || c.relname::text, a.attname::text,"
          + " c.relrowsecurity, has_column_privilege(?::oid, c.oid, x.attnum::smallint, 'UPDATE'),"
          + " has_table_privilege(?::oid, c.oid, 'INSERT')"
          + " from unnest(?::bigint[], ?::int[]) as x(relid, attnum) join pg_class c on c.oid = x.relid::oid"
          + " join pg_namespace n on n.oid = c.relnamespace"
          + " join pg_attribute a on a.attrelid = c.oid and a.attnum = x.attnum and not a.attisdropped";

  /**
   * Per setting name: whether any role may SET it. A setting PostgreSQL does not know (a custom {@code a.b}
   * placeholder) can be set by anyone; a known one when its context is {@code user}.
   */
  private static final String SETTING_QUERY =
      "select x.name, coalesce((select s.context = 'user' from pg_settings s where s.name = x.name), true)"
          + " from unnest(?::text[]) as x(name)";

  /** The role judged. */
  public final AppRole app;
  /** {@code current_database()}. */
  public final String database;
  /** {@code server_version_num}, e.g. 170002. */
  public final int serverVersion;
  /** Roles that own relations or SECURITY DEFINER functions in scope, by OID. */
  public final Map<Long, Role> roles = new HashMap<>();
  /** Tables, views and materialized views in scope, by OID, in schema and name order. */
  public final Map<Long, Relation> relations = new LinkedHashMap<>();
  /** Policies on relations in scope. */
  public final List<Policy> policies = new ArrayList<>();
  /** SECURITY DEFINER functions and procedures in scope. */
  public final List<Function> functions = new ArrayList<>();
  /** Foreign keys from tables in scope. */
  public final List<ForeignKey> foreignKeys = new ArrayList<>();
  /** Audit annotations found in comments: the finding object they are about, and the comment. */
  public final List<Annotation> annotations = new ArrayList<>();
  /** Names of functions used in expressions, by OID (after {@link #resolveNames}). */
  public final Map<Long, FunctionName> functionNames = new HashMap<>();
  /** Names of operators used in expressions, by OID (after {@link #resolveNames}). */
  public final Map<Long, String> operatorNames = new HashMap<>();

  private Catalog(AppRole app, String database, int serverVersion) {
    this.app = app;
    this.database = database;
    this.serverVersion = serverVersion;
  }

  /**
   * Reads the catalog.
   *
   * @param appRole the role to judge, or null for {@code current_user}
   * @param schemas the schemas in scope; empty for every schema but {@code pg_*} and {@code information_schema}
   * @throws IllegalStateException if {@code appRole} does not exist
   */
  public static Catalog read(Connection c, @Nullable String appRole, List<String> schemas,
      List<String> tenantColumns) throws SQLException {
    Catalog cat;
    try (PreparedStatement ps = c.prepareStatement(APP_ROLE_QUERY)) {
      if (appRole == null) {
        ps.setNull(1, Types.VARCHAR);
      } else {
        ps.setString(1, appRole);
      }
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) {
          throw new IllegalStateException("the application role \"" + appRole + "\" does not exist in this"
              + " PostgreSQL cluster; name the role your application logs in as with RlsAudit.builder().appRole(...)");
        }
        String loginName = rs.getString(9);
        LoginRole login = appRole == null && loginName != null && !loginName.equals(rs.getString(2))
            ? new LoginRole(loginName, rs.getBoolean(10), rs.getBoolean(11), !loginName.equals(rs.getString(13)))
            : null;
        AppRole app = new AppRole(rs.getLong(1), rs.getString(2), rs.getBoolean(3), rs.getBoolean(4),
            strings(rs.getArray(5)), strings(rs.getArray(6)), login, strings(rs.getArray(12)));
        cat = new Catalog(app, rs.getString(7), rs.getInt(8));
      }
    }
    String scope = schemas.isEmpty() ? SCOPE_ALL : SCOPE_LISTED;
    Array schemaArray = schemas.isEmpty() ? null : c.createArrayOf("text", schemas.toArray());

    try (PreparedStatement ps = c.prepareStatement(String.format(OWNER_QUERY, scope))) {
      if (schemaArray != null) {
        ps.setArray(1, schemaArray);
      }
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          Role r = new Role(rs.getLong(1), rs.getString(2), rs.getBoolean(3), rs.getBoolean(4),
              Set.copyOf(longs(rs.getArray(5))));
          cat.roles.put(r.oid(), r);
        }
      }
    }

    try (PreparedStatement ps = c.prepareStatement(String.format(RELATION_QUERY, scope))) {
      int i = 1;
      ps.setLong(i++, cat.app.oid());
      if (schemaArray != null) {
        ps.setArray(i++, schemaArray);
      }
      ps.setArray(i, c.createArrayOf("text", tenantColumns.toArray()));
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          List<String> names = strings(rs.getArray(12));
          List<Integer> nums = ints(rs.getArray(13));
          List<Boolean> notNull = booleans(rs.getArray(14));
          List<String> types = strings(rs.getArray(15));
          List<TenantColumn> columns = new ArrayList<>(names.size());
          for (int k = 0; k < names.size(); k++) {
            columns.add(new TenantColumn(names.get(k), nums.get(k), notNull.get(k), types.get(k)));
          }
          Relation r = new Relation(rs.getLong(1), rs.getString(2), rs.getString(3), rs.getString(4).charAt(0),
              rs.getLong(5), rs.getString(6), rs.getBoolean(7), rs.getBoolean(8), rs.getBoolean(9),
              rs.getString(10), strings(rs.getArray(11)), List.copyOf(columns), ints(rs.getArray(16)),
              longs(rs.getArray(17)), rs.getString(18), rs.getBoolean(19), rs.getBoolean(20), rs.getBoolean(21),
              rs.getBoolean(22), rs.getBoolean(23), strings(rs.getArray(24)), rs.getBoolean(25),
              rs.getBoolean(26), strings(rs.getArray(27)), longs(rs.getArray(28)));
          cat.relations.put(r.oid(), r);
        }
      }
    }

    try (PreparedStatement ps = c.prepareStatement(String.format(POLICY_QUERY, scope))) {
      ps.setLong(1, cat.app.oid());
      if (schemaArray != null) {
        ps.setArray(2, schemaArray);
      }
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          cat.policies.add(new Policy(rs.getLong(1), rs.getString(2), rs.getString(3).charAt(0), rs.getBoolean(4),
              strings(rs.getArray(5)), longs(rs.getArray(6)), rs.getBoolean(7), rs.getString(8), rs.getString(9),
              rs.getString(10), rs.getString(11)));
        }
      }
    }

    try (PreparedStatement ps = c.prepareStatement(String.format(FUNCTION_QUERY, scope))) {
      ps.setLong(1, cat.app.oid());
      if (schemaArray != null) {
        ps.setArray(2, schemaArray);
      }
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          cat.functions.add(new Function(rs.getLong(1), rs.getString(2), rs.getString(3), rs.getString(4),
              rs.getString(5).charAt(0), rs.getLong(6), rs.getString(7), rs.getString(8), rs.getString(9),
              strings(rs.getArray(10)), rs.getBoolean(11), longs(rs.getArray(12))));
        }
      }
    }

    try (PreparedStatement ps = c.prepareStatement(String.format(ANNOTATION_QUERY, scope))) {
      if (schemaArray != null) {
        ps.setArray(1, schemaArray);
      }
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          String table = rs.getString(1) + "." + rs.getString(2);
          String policy = rs.getString(3);
          cat.annotations.add(new Annotation(policy == null ? table : "policy " + policy + " on " + table,
              rs.getString(4)));
        }
      }
    }

    try (PreparedStatement ps = c.prepareStatement(String.format(FOREIGN_KEY_QUERY, scope))) {
      if (schemaArray != null) {
        ps.setArray(1, schemaArray);
      }
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          cat.foreignKeys.add(new ForeignKey(rs.getString(1), rs.getLong(2), rs.getLong(3), ints(rs.getArray(4)),
              ints(rs.getArray(5)), strings(rs.getArray(6)), strings(rs.getArray(7))));
        }
      }
    }
    return cat;
  }

  /** Looks up the names of the functions and operators used in expressions, in one query. */
  public void resolveNames(Connection c, Collection<Long> functionOids, Collection<Long> operatorOids)
      throws SQLException {
    if (functionOids.isEmpty() && operatorOids.isEmpty()) {
      return;
    }
    try (PreparedStatement ps = c.prepareStatement(NAME_QUERY)) {
      ps.setArray(1, c.createArrayOf("bigint", functionOids.toArray()));
      ps.setArray(2, c.createArrayOf("bigint", operatorOids.toArray()));
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          if (rs.getString(1).equals("f")) {
            String v = rs.getString(5);
            functionNames.put(rs.getLong(2), new FunctionName(rs.getString(3), rs.getString(4),
                v == null || v.isEmpty() ? 'v' : v.charAt(0), rs.getString(6), rs.getString(7), rs.getBoolean(8),
                strings(rs.getArray(9)), rs.getBoolean(10)));
          } else {
            operatorNames.put(rs.getLong(2), rs.getString(4));
          }
        }
      }
    }
  }

  /** What the application role may do to these columns ({@code [relid, attnum]} pairs), in one query. */
  public List<ColumnAccess> columnAccess(Connection c, Collection<long[]> columns) throws SQLException {
    List<ColumnAccess> out = new ArrayList<>();
    if (columns.isEmpty()) {
      return out;
    }
    Long[] relids = new Long[columns.size()];
    Integer[] attnums = new Integer[columns.size()];
    int i = 0;
    for (long[] col : columns) {
      relids[i] = col[0];
      attnums[i++] = (int) col[1];
    }
    try (PreparedStatement ps = c.prepareStatement(COLUMN_ACCESS_QUERY)) {
      ps.setLong(1, app.oid());
      ps.setLong(2, app.oid());
      ps.setArray(3, c.createArrayOf("bigint", relids));
      ps.setArray(4, c.createArrayOf("integer", attnums));
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.add(new ColumnAccess(rs.getLong(1), rs.getInt(2), rs.getString(3), rs.getString(4), rs.getBoolean(5),
              rs.getBoolean(6), rs.getBoolean(7)));
        }
      }
    }
    return out;
  }

  /** Whether the application role may change each of these settings, in one query. */
  public Map<String, SettingAccess> settingAccess(Connection c, Collection<String> names) throws SQLException {
    Map<String, SettingAccess> out = new HashMap<>();
    if (names.isEmpty()) {
      return out;
    }
    try (PreparedStatement ps = c.prepareStatement(SETTING_QUERY)) {
      ps.setArray(1, c.createArrayOf("text", names.toArray()));
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.put(rs.getString(1), new SettingAccess(rs.getString(1), rs.getBoolean(2)));
        }
      }
    }
    return out;
  }

  private static List<String> strings(@Nullable Array array) throws SQLException {
    List<String> out = new ArrayList<>();
    if (array != null) {
      for (Object o : (Object[]) array.getArray()) {
        out.add(String.valueOf(o));
      }
      array.free();
    }
    return List.copyOf(out);
  }

  private static List<Integer> ints(@Nullable Array array) throws SQLException {
    List<Integer> out = new ArrayList<>();
    if (array != null) {
      for (Object o : (Object[]) array.getArray()) {
        out.add(((Number) o).intValue());
      }
      array.free();
    }
    return List.copyOf(out);
  }

  private static List<Long> longs(@Nullable Array array) throws SQLException {
    List<Long> out = new ArrayList<>();
    if (array != null) {
      for (Object o : (Object[]) array.getArray()) {
        out.add(((Number) o).longValue());
      }
      array.free();
    }
    return List.copyOf(out);
  }

  private static List<Boolean> booleans(@Nullable Array array) throws SQLException {
    List<Boolean> out = new ArrayList<>();
    if (array != null) {
      for (Object o : (Object[]) array.getArray()) {
        out.add((Boolean) o);
      }
      array.free();
    }
    return List.copyOf(out);
  }
}
