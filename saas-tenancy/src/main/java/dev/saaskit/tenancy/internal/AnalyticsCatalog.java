package dev.saaskit.tenancy.internal;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * Catalog queries behind {@code TenantMaterializedView.create} and {@code refresh}: the output columns of a
 * relation, the source tables whose policies would hide rows from the creating role (or, at refresh, the owner), reader roles that could act as the owner, and privileges
 * left on new objects by default privileges. Relations are passed as their quoted, possibly qualified, names. Not
 * API.
 */
public final class AnalyticsCatalog {
  private static final String COLUMNS =
      "select a.attname::text, format_type(a.atttypid, null) from pg_attribute a"
          + " where a.attrelid = ?::regclass and a.attnum > 0 and not a.attisdropped order by a.attnum";

  // Tables the materialized view's query reads directly (through its rewrite rule) on which row security applies
  // to the current role, and where no permissive SELECT policy names a role of the current user specifically
  // (policies TO PUBLIC do not count: those are the tenant policies, which hide every row without a tenant).
  private static final String FILTERED_SOURCES =
      "select distinct n.nspname::text, c.relname::text from pg_rewrite r"
          + " join pg_depend d on d.classid = 'pg_rewrite'::regclass and d.objid = r.oid"
          + "   and d.refclassid = 'pg_class'::regclass"
          + " join pg_class c on c.oid = d.refobjid"
          + " join pg_namespace n on n.oid = c.relnamespace"
          + " where r.ev_class = ?::regclass and c.oid <> r.ev_class and c.relkind in ('r', 'p')"
          + " and row_security_active(c.oid)"
          + " and not exists (select 1 from pg_policy p where p.polrelid = c.oid and p.polpermissive"
          + "   and p.polcmd in ('r', '*') and not (0::oid = any (p.polroles))"
          + "   and exists (select 1 from unnest(p.polroles) pr where pg_has_role(current_user, pr, 'USAGE')))"
          + " order by 1, 2";

  // The same judgement made for the materialized view's owner rather than current_user, as PostgreSQL's
  // check_enable_rls makes it when REFRESH runs the query as the owner: row security applies unless the owner is a
  // superuser or has BYPASSRLS itself (neither is inherited), or owns the table (through membership too) and it is
  // not forced. One row per source table it would filter, with the owner's name; catalog tables only.
  private static final String OWNER_FILTERED_SOURCES =
      "select distinct o.rolname::text, n.nspname::text, c.relname::text from pg_class m"
          + " join pg_roles o on o.oid = m.relowner"
          + " join pg_rewrite r on r.ev_class = m.oid"
          + " join pg_depend d on d.classid = 'pg_rewrite'::regclass and d.objid = r.oid"
          + "   and d.refclassid = 'pg_class'::regclass"
          + " join pg_class c on c.oid = d.refobjid"
          + " join pg_namespace n on n.oid = c.relnamespace"
          + " where m.oid = ?::regclass and c.oid <> m.oid and c.relkind in ('r', 'p')"
          + " and c.relrowsecurity and not o.rolsuper and not o.rolbypassrls"
          + " and (c.relforcerowsecurity or not pg_has_role(o.oid, c.relowner, 'USAGE'))"
          + " and not exists (select 1 from pg_policy p where p.polrelid = c.oid and p.polpermissive"
          + "   and p.polcmd in ('r', '*') and not (0::oid = any (p.polroles))"
          + "   and exists (select 1 from unnest(p.polroles) pr where pg_has_role(o.oid, pr, 'USAGE')))"
          + " order by 2, 3";

  private static final String READER_IS_OWNER =
      "select pg_has_role(?, current_user, 'MEMBER'), current_user::text";

  // Predefined roles that read every table and materialized view (pg_read_all_data, PostgreSQL 14+) the reader is
  // a member of: it could read the materialized view directly without being its owner or a superuser.
  private static final String READER_READS_ALL =
      "select coalesce(string_agg(r.rolname::text, ', ' order by r.rolname), '') from pg_roles r"
          + " where r.rolname in ('pg_read_all_data') and pg_has_role(?, r.oid, 'MEMBER')";

  private static final String READER_CAN_SELECT = "select has_table_privilege(?, ?::regclass, 'SELECT')";

  // Grantees (0 = PUBLIC) other than the owner holding any privilege on a relation, with the privileges held.
  private static final String GRANTEES =
      "select case when a.grantee = 0 then 'PUBLIC' else pg_get_userbyid(a.grantee)::text end,"
          + " a.grantee = 0, string_agg(a.privilege_type, ',' order by a.privilege_type)"
          + " from pg_class c, aclexplode(c.relacl) a"
          + " where c.oid = ?::regclass and a.grantee <> c.relowner group by a.grantee order by 1";

  private AnalyticsCatalog() {}

  /** A privilege some role holds on a relation: the role (or {@code PUBLIC}) and the privilege names. */
  public static final class Grant {
    /** The role name, or {@code PUBLIC}. */
    public final String grantee;
    /** Whether the grantee is the {@code PUBLIC} pseudo-role. */
    public final boolean isPublic;
    /** Privilege names such as {@code SELECT}. */
    public final List<String> privileges;

    Grant(String grantee, boolean isPublic, List<String> privileges) {
      this.grantee = grantee;
      this.isPublic = isPublic;
      this.privileges = List.copyOf(privileges);
    }

    /** The grantee as it appears in a GRANT or REVOKE statement. */
    public String sqlGrantee() {
      return isPublic ? "PUBLIC" : Sql.quoteIdent(grantee);
    }
  }

  /** The output columns of {@code relation} in order, name to type as {@code format_type} prints it. */
  public static Map<String, String> columns(Connection c, String relation) throws SQLException {
    Map<String, String> out = new LinkedHashMap<>();
    try (PreparedStatement ps = c.prepareStatement(COLUMNS)) {
      ps.setString(1, relation);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.put(rs.getString(1), rs.getString(2));
        }
      }
    }
    return out;
  }

  /**
   * Source tables of the materialized view {@code matview} whose row-level security would hide rows from the
   * current role (qualified and quoted), empty when the role reads every row.
   */
  public static List<String> filteredSources(Connection c, String matview) throws SQLException {
    List<String> out = new ArrayList<>();
    try (PreparedStatement ps = c.prepareStatement(FILTERED_SOURCES)) {
      ps.setString(1, matview);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.add(Sql.quoteIdent(rs.getString(1)) + "." + Sql.quoteIdent(rs.getString(2)));
        }
      }
    }
    return out;
  }

  /** Source tables whose row-level security would hide rows from a materialized view's owner, and that owner. */
  public static final class OwnerFilter {
    /** The owner of the materialized view, empty when no source table filters it. */
    public final String owner;
    /** The filtering source tables, qualified and quoted. */
    public final List<String> tables;

    OwnerFilter(String owner, List<String> tables) {
      this.owner = owner;
      this.tables = List.copyOf(tables);
    }
  }

  /**
   * Source tables of the materialized view {@code matview} whose row-level security would hide rows from its owner,
   * the role whose rights {@code REFRESH} runs the query with (whoever calls it): one catalog query.
   */
  public static OwnerFilter ownerFilteredSources(Connection c, String matview) throws SQLException {
    String owner = "";
    List<String> tables = new ArrayList<>();
    try (PreparedStatement ps = c.prepareStatement(OWNER_FILTERED_SOURCES)) {
      ps.setString(1, matview);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          owner = rs.getString(1);
          tables.add(Sql.quoteIdent(rs.getString(2)) + "." + Sql.quoteIdent(rs.getString(3)));
        }
      }
    }
    return new OwnerFilter(owner, tables);
  }

  /**
   * Whether {@code reader} is the current role, a member of it, or a superuser: then it could read the
   * materialized view directly. Returns the current role's name when so, {@code null} otherwise.
   */
  public static @Nullable String readerActingAsOwner(Connection c, String reader) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(READER_IS_OWNER)) {
      ps.setString(1, reader);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getBoolean(1) ? rs.getString(2) : null;
      }
    }
  }

  /**
   * The predefined roles that read all data (such as {@code pg_read_all_data}) that {@code reader} is a member of,
   * joined with commas; empty when none.
   */
  public static String readerReadsAllData(Connection c, String reader) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(READER_READS_ALL)) {
      ps.setString(1, reader);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getString(1);
      }
    }
  }

  /** Whether {@code reader} may select from {@code relation}, by any grant, membership or predefined role. */
  public static boolean readerCanSelect(Connection c, String reader, String relation) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(READER_CAN_SELECT)) {
      ps.setString(1, reader);
      ps.setString(2, relation);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getBoolean(1);
      }
    }
  }

  /** The privileges held on {@code relation} by roles other than its owner. */
  public static List<Grant> grants(Connection c, String relation) throws SQLException {
    List<Grant> out = new ArrayList<>();
    try (PreparedStatement ps = c.prepareStatement(GRANTEES)) {
      ps.setString(1, relation);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.add(new Grant(rs.getString(1), rs.getBoolean(2), List.of(rs.getString(3).split(","))));
        }
      }
    }
    return out;
  }

  /** Executes one statement. */
  public static void execute(Connection c, String sql) throws SQLException {
    try (Statement s = c.createStatement()) {
      s.execute(sql);
    }
  }
}
