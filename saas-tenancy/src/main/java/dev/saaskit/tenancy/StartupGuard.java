package dev.saaskit.tenancy;

import dev.saaskit.core.SaasException;
import dev.saaskit.tenancy.internal.PolicyNames;
import dev.saaskit.tenancy.internal.Sql;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Checks at start-up that PostgreSQL will hold the application to its Row-Level Security policies, and refuses to
 * go on otherwise. Run it once, with the pool the application uses for tenant work, before serving requests:
 *
 * <pre>{@code
 * HikariDataSource pool = new HikariDataSource(config);   // logs in as the application role
 * StartupGuard.defaults().verify(pool);                    // throws UnsafeDatabaseSetupException if unsafe
 * DataSource db = TenantDataSource.wrap(pool);
 * }</pre>
 *
 * <p>It borrows one connection and, in two catalog queries, checks that the connection's role
 * ({@code current_user}):
 * <ul>
 *   <li>is not a superuser and has no {@code BYPASSRLS}: either one turns every policy off;</li>
 *   <li>is not a member of a superuser or {@code BYPASSRLS} role, which it could {@code SET ROLE} to; nor, when
 *       the pool logs in as another role and switches with {@code SET ROLE}, is the login role such a role (a
 *       {@code RESET ROLE} would bring it back);</li>
 *   <li>does not own (directly, or through membership in the owning role) any table with a tenant column whose
 *       RLS is not forced: owners are exempt from their tables' policies unless RLS is forced;</li>
 * </ul>
 * and that every table with a tenant column, whoever owns it, has RLS enabled. Tables (and partitions) count as
 * tenant tables when they have a column named like one of the {@linkplain Builder#tenantColumns tenant columns}
 * ({@code tenant_id} by default), in the {@linkplain Builder#schemas chosen schemas} (by default every schema but
 * {@code pg_*} and {@code information_schema}).
 *
 * <p>{@link #verify(DataSource)} throws an {@link UnsafeDatabaseSetupException} listing every problem with the
 * SQL that fixes it; {@link #problems(DataSource)} returns the same list without throwing (for health checks and
 * the audit). A tenant table owned by the application role with RLS forced is safe from its policies but not from
 * the owner itself (an owner may {@code ALTER TABLE ... NO FORCE ROW LEVEL SECURITY}); that is logged as a
 * warning, not failed.
 *
 * <p>Pass the plain pool, not a {@link TenantDataSource} in strict mode, which would refuse to connect without a
 * tenant. Instances are immutable and thread-safe.
 */
public final class StartupGuard {
  private static final Logger LOG = LoggerFactory.getLogger(StartupGuard.class);
  private static final StartupGuard DEFAULTS = new Builder().build();

  private static final String ROLE_QUERY =
      "select r.rolname::text, r.rolsuper, r.rolbypassrls,"
          + " s.rolname::text, s.rolsuper, s.rolbypassrls,"
          + " array(select a.rolname::text from pg_roles a where a.oid <> r.oid and a.rolsuper"
          + "   and pg_has_role(r.oid, a.oid, 'MEMBER') order by 1),"
          + " array(select a.rolname::text from pg_roles a where a.oid <> r.oid and a.rolbypassrls"
          + "   and not a.rolsuper and pg_has_role(r.oid, a.oid, 'MEMBER') order by 1)"
          + " from pg_roles r, pg_roles s where r.rolname = current_user and s.rolname = session_user";

  private static final String TABLE_QUERY =
      "select n.nspname::text, c.relname::text, pg_get_userbyid(c.relowner)::text,"
          + " c.relrowsecurity, c.relforcerowsecurity, c.relowner = r.oid, pg_has_role(r.oid, c.relowner, 'MEMBER')"
          + " from pg_class c"
          + " join pg_namespace n on n.oid = c.relnamespace"
          + " join pg_roles r on r.rolname = current_user"
          + " where c.relkind in ('r', 'p')"
          + " and exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attnum > 0"
          + "   and not a.attisdropped and a.attname::text = any (?::text[]))"
          + " and %s"
          + " order by 1, 2";

  private final List<String> tenantColumns;
  private final List<String> schemas; // empty: all non-system schemas

  private StartupGuard(Builder b) {
    this.tenantColumns = List.copyOf(b.tenantColumns);
    this.schemas = List.copyOf(b.schemas);
  }

  /** The guard with the defaults: tenant column {@code tenant_id}, every non-system schema. */
  public static StartupGuard defaults() {
    return DEFAULTS;
  }

  /** A builder to change the tenant column names or the schemas checked. */
  public static Builder builder() {
    return new Builder();
  }

  /** A builder holding this guard's settings, to derive a variant. */
  public Builder toBuilder() {
    Builder b = new Builder();
    b.tenantColumns.clear();
    b.tenantColumns.addAll(tenantColumns);
    b.schemas.addAll(schemas);
    return b;
  }

  /**
   * Checks the database as the role of {@code appDataSource}'s connections and returns normally when it is safe.
   *
   * @throws UnsafeDatabaseSetupException listing every problem and how to fix it
   * @throws SaasException if the catalog cannot be read (no connection, for example)
   */
  public void verify(DataSource appDataSource) {
    Findings findings = inspect(appDataSource);
    if (findings.problems.isEmpty()) {
      LOG.debug("start-up guard: role {} is held to row-level security on {} tenant table(s)",
          findings.role, findings.tenantTables);
      return;
    }
    StringBuilder message = new StringBuilder("Unsafe database setup for tenant isolation: the application role ")
        .append(Sql.quoteIdent(findings.role)).append(" would not be held to row-level security (")
        .append(findings.problems.size()).append(findings.problems.size() == 1 ? " problem" : " problems")
        .append("). Fix each, then start again:");
    for (int i = 0; i < findings.problems.size(); i++) {
      message.append("\n\n").append(i + 1).append(". ").append(findings.problems.get(i));
    }
    for (String warning : findings.warnings) {
      message.append("\n\nAlso: ").append(warning);
    }
    throw new UnsafeDatabaseSetupException(message.toString(), findings.problems);
  }

  /**
   * The problems {@link #verify(DataSource)} would report, each a description followed by its fix; empty when the
   * setup is safe.
   *
   * @throws SaasException if the catalog cannot be read (no connection, for example)
   */
  public List<String> problems(DataSource appDataSource) {
    return inspect(appDataSource).problems;
  }

  @Override
  public String toString() {
    return "StartupGuard[tenantColumns=" + tenantColumns + ", schemas="
        + (schemas.isEmpty() ? "all non-system" : schemas) + "]";
  }

  private Findings inspect(DataSource dataSource) {
    Objects.requireNonNull(dataSource, "appDataSource");
    Findings f = new Findings();
    try (Connection connection = dataSource.getConnection()) {
      checkRole(connection, f);
      checkTables(connection, f);
    } catch (SQLException e) {
      throw new SaasException("the start-up guard could not read the PostgreSQL catalog (" + e.getMessage()
          + "); check that the data source connects as the application role", e);
    }
    for (String warning : f.warnings) {
      LOG.warn("start-up guard: {}", warning);
    }
    return f;
  }

  private static void checkRole(Connection connection, Findings f) throws SQLException {
    try (PreparedStatement ps = connection.prepareStatement(ROLE_QUERY); ResultSet rs = ps.executeQuery()) {
      if (!rs.next()) {
        throw new SQLException("current_user is not in pg_roles");
      }
      f.role = rs.getString(1);
      f.superuser = rs.getBoolean(2);
      boolean bypass = rs.getBoolean(3);
      String sessionRole = rs.getString(4);
      boolean sessionSuper = rs.getBoolean(5);
      boolean sessionBypass = rs.getBoolean(6);
      List<String> superRoles = strings(rs.getArray(7));
      List<String> bypassRoles = strings(rs.getArray(8));
      String role = Sql.quoteIdent(f.role);
      if (f.superuser) {
        f.problems.add("Role " + role + " is a superuser: row-level security never applies to superusers, so every"
            + " tenant would see every row.\n   Fix: connect the application as a role that is not a superuser"
            + " (and does not own the tables), or run as a superuser: ALTER ROLE " + role + " NOSUPERUSER;");
      }
      if (bypass) {
        f.problems.add("Role " + role + " has BYPASSRLS: row-level security does not apply to it, so every tenant"
            + " would see every row.\n   Fix (as a superuser): ALTER ROLE " + role + " NOBYPASSRLS;");
      }
      if (!f.superuser) {
        for (String other : superRoles) {
          f.problems.add("Role " + role + " is a member of the superuser role " + Sql.quoteIdent(other)
              + ": it can SET ROLE " + Sql.quoteIdent(other) + " and bypass every policy.\n   Fix (as a superuser):"
              + " REVOKE " + Sql.quoteIdent(other) + " FROM " + role + ";");
        }
        for (String other : bypassRoles) {
          f.problems.add("Role " + role + " is a member of the BYPASSRLS role " + Sql.quoteIdent(other)
              + ": it can SET ROLE " + Sql.quoteIdent(other) + " and bypass every policy.\n   Fix (as a superuser):"
              + " REVOKE " + Sql.quoteIdent(other) + " FROM " + role + ";");
        }
      }
      if (!sessionRole.equals(f.role) && (sessionSuper || sessionBypass)) {
        f.problems.add("The connections log in as " + Sql.quoteIdent(sessionRole) + (sessionSuper
            ? ", a superuser," : ", which has BYPASSRLS,") + " and switch to " + role + " with SET ROLE: a RESET ROLE"
            + " brings the login role back and bypasses every policy.\n   Fix: make the pool log in as " + role
            + " itself (its user name), not switch to it.");
      }
    }
  }

  private void checkTables(Connection connection, Findings f) throws SQLException {
    String schemaFilter = schemas.isEmpty()
        ? "left(n.nspname, 3) <> 'pg_' and n.nspname <> 'information_schema'"
        : "n.nspname::text = any (?::text[])";
    try (PreparedStatement ps = connection.prepareStatement(String.format(TABLE_QUERY, schemaFilter))) {
      ps.setArray(1, connection.createArrayOf("text", tenantColumns.toArray()));
      if (!schemas.isEmpty()) {
        ps.setArray(2, connection.createArrayOf("text", schemas.toArray()));
      }
      String role = Sql.quoteIdent(f.role);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          f.tenantTables++;
          String table = Sql.quoteIdent(rs.getString(1)) + "." + Sql.quoteIdent(rs.getString(2));
          String owner = rs.getString(3);
          boolean enabled = rs.getBoolean(4);
          boolean forced = rs.getBoolean(5);
          boolean ownedDirectly = rs.getBoolean(6);
          // a superuser is a member of every role; its own problem says all there is to say
          boolean actsAsOwner = !f.superuser && rs.getBoolean(7);
          String ownership = ownedDirectly
              ? "owned by the application role " + role
              : "owned by " + Sql.quoteIdent(owner) + ", a role that " + role + " is a member of";
          String handOver = ownedDirectly
              ? "ALTER TABLE " + table + " OWNER TO <migration role>; (a role the application does not log in as)"
              : "REVOKE " + Sql.quoteIdent(owner) + " FROM " + role + ";";
          if (!enabled) {
            f.problems.add("Table " + table + " has a tenant column but row-level security is not enabled, so every"
                + " tenant sees every row of it.\n   Fix (as its owner " + Sql.quoteIdent(owner) + "): ALTER TABLE "
                + table + " ENABLE ROW LEVEL SECURITY; ALTER TABLE " + table + " FORCE ROW LEVEL SECURITY;"
                + " and create the tenant policy (RlsPolicy generates all three)"
                + (actsAsOwner ? "; also, it is " + ownership + ", so hand it over: " + handOver : "."));
          } else if (actsAsOwner && !forced) {
            f.problems.add("Table " + table + " is " + ownership + ", and its row-level security is not forced:"
                + " table owners are exempt from their policies, so the application sees every tenant's rows.\n"
                + "   Fix: ALTER TABLE " + table + " FORCE ROW LEVEL SECURITY; and better, so the application cannot"
                + " turn it off again: " + handOver);
          } else if (actsAsOwner) {
            f.warnings.add("table " + table + " is " + ownership + "; row-level security is forced, so its policies"
                + " apply, but an owner can still ALTER TABLE ... NO FORCE ROW LEVEL SECURITY or drop the policy."
                + " Prefer: " + handOver);
          }
        }
      }
    }
    if (f.tenantTables == 0) {
      f.warnings.add("no table with a column named " + tenantColumns + " found in "
          + (schemas.isEmpty() ? "any non-system schema" : "schemas " + schemas)
          + "; check the guard's tenantColumns and schemas, and that migrations ran first");
    }
  }

  private static List<String> strings(Array array) throws SQLException {
    if (array == null) {
      return List.of();
    }
    Object[] values = (Object[]) array.getArray();
    List<String> out = new ArrayList<>(values.length);
    for (Object v : values) {
      out.add(String.valueOf(v));
    }
    array.free();
    return out;
  }

  private static final class Findings {
    String role = "?";
    boolean superuser;
    int tenantTables;
    final List<String> problems = new ArrayList<>();
    final List<String> warnings = new ArrayList<>();
  }

  /** Settings of a {@link StartupGuard}. Setters check their values at once and name a bad one. */
  public static final class Builder {
    private final Set<String> tenantColumns = new LinkedHashSet<>(List.of(RlsPolicy.DEFAULT_TENANT_COLUMN));
    private final Set<String> schemas = new LinkedHashSet<>();

    private Builder() {}

    /**
     * The names of the columns that mark a tenant table, replacing the default {@code tenant_id}; a table with any
     * one of them is checked.
     *
     * @throws IllegalArgumentException if none is given or a name is invalid
     */
    public Builder tenantColumns(String... columns) {
      Set<String> checked = PolicyNames.requireNames("tenantColumns", "tenant column name", columns, true);
      tenantColumns.clear();
      tenantColumns.addAll(checked);
      return this;
    }

    /**
     * The schemas to check, replacing earlier calls; with none (the default) every schema except {@code pg_*} and
     * {@code information_schema}.
     *
     * @throws IllegalArgumentException if a name is invalid
     */
    public Builder schemas(String... schemaNames) {
      Set<String> checked = PolicyNames.requireNames("schemas", "schema name", schemaNames, false);
      schemas.clear();
      schemas.addAll(checked);
      return this;
    }

    /** The guard. */
    public StartupGuard build() {
      return new StartupGuard(this);
    }
  }
}
