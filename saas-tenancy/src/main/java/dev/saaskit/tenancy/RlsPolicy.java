package dev.saaskit.tenancy;

import dev.saaskit.core.SaasException;
import dev.saaskit.core.TenantSetting;
import dev.saaskit.tenancy.internal.PolicyNames;
import dev.saaskit.tenancy.internal.Sql;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * The DDL that makes one table tenant-isolated with PostgreSQL Row-Level Security, generated from a few facts
 * about the table. Build one, then print it as a migration ({@link #toSql()}) or run it ({@link #apply}).
 *
 * <pre>{@code
 * RlsPolicy policy = RlsPolicy.forTable("orders")            // or forTable("billing", "orders")
 *     .columnType(TenantColumnType.UUID)                       // required: the type of the tenant column
 *     .indexColumns("created_at")                              // optional trailing index columns
 *     .build();
 * }</pre>
 *
 * <p>For that policy {@link #toSql()} gives (with the defaults: column {@code tenant_id}, setting
 * {@code app.tenant_id}, policy {@code tenant_isolation}, roles {@code PUBLIC}):
 *
 * <pre>
 * ALTER TABLE "orders" ALTER COLUMN "tenant_id" SET DEFAULT nullif(current_setting('app.tenant_id', true), '')::uuid;
 * CREATE INDEX IF NOT EXISTS "orders_tenant_id_created_at_idx" ON "orders" ("tenant_id", "created_at");
 * ALTER TABLE "orders" ENABLE ROW LEVEL SECURITY;
 * ALTER TABLE "orders" FORCE ROW LEVEL SECURITY;
 * DROP POLICY IF EXISTS "tenant_isolation" ON "orders";
 * CREATE POLICY "tenant_isolation" ON "orders" AS PERMISSIVE FOR ALL TO PUBLIC
 *     USING ("tenant_id" = (select nullif(current_setting('app.tenant_id', true), '')::uuid))
 *     WITH CHECK ("tenant_id" = (select nullif(current_setting('app.tenant_id', true), '')::uuid));
 * </pre>
 *
 * (the last statement is one line in the output). Paste that into a plain SQL migration, or apply it from a Flyway
 * Java migration; saaskit needs no Flyway dependency for this:
 *
 * <pre>{@code
 * public class V7__Isolate_orders extends BaseJavaMigration {
 *   public void migrate(Context context) {
 *     RlsPolicy.forTable("orders").columnType(TenantColumnType.UUID).build().apply(context.getConnection());
 *   }
 * }
 * }</pre>
 *
 * <h2>What the statements do</h2>
 * <ul>
 *   <li>The column default reads the tenant setting, so inserts need not name the tenant (it replaces any
 *       default the column had).</li>
 *   <li>A btree index leads with the tenant column (skip it with {@link Builder#index(boolean) index(false)} when one
 *       exists already). Its name is {@code <table>_<columns>_idx}, shortened with a hash to stay within 63 bytes.
 *       </li>
 *   <li>RLS is enabled and forced, so the table owner is held to the policy too.</li>
 *   <li>The policy compares the column, uncast so the index serves it, with the setting read once per statement
 *       (the scalar subquery becomes an InitPlan). With the setting unset ({@code missing_ok}) or empty, the
 *       comparison is with NULL: reads see no row and writes fail. {@code WITH CHECK} stops writing or moving a row
 *       into another tenant. Re-running the statements replaces the policy (DROP then CREATE).</li>
 * </ul>
 *
 * <p>A partitioned table's policy does not cover its partitions when they are queried by name, so
 * {@link #apply(Connection)} also covers every existing partition; {@link #toSql()} covers the named table only, and
 * a partition created later needs the policy applied again ({@link StartupGuard} and the audit report a partition
 * without RLS).
 *
 * <p>Identifiers are validated (non-empty, at most 63 bytes of UTF-8) and always double-quoted, so they are used
 * exactly as given: {@code "Orders"} and {@code "orders"} are different tables, and names with spaces, quotes or
 * non-ASCII letters work. Instances are immutable and thread-safe.
 */
public final class RlsPolicy {
  /** The tenant column unless {@link Builder#tenantColumn(String)} says otherwise. */
  public static final String DEFAULT_TENANT_COLUMN = "tenant_id";

  /** The policy name unless {@link Builder#policyName(String)} says otherwise. */
  public static final String DEFAULT_POLICY_NAME = "tenant_isolation";

  private final @Nullable String schema; // null: unqualified, resolved through search_path
  private final String table;
  private final String tenantColumn;
  private final TenantColumnType columnType;
  private final String setting;
  private final String policyName;
  private final List<String> roles; // empty: PUBLIC
  private final boolean index;
  private final List<String> indexColumns;
  private final List<String> statements;

  private RlsPolicy(Builder b, TenantColumnType columnType) {
    this.schema = b.schema;
    this.table = b.table;
    this.tenantColumn = b.tenantColumn;
    this.columnType = columnType;
    this.setting = b.setting;
    this.policyName = b.policyName;
    this.roles = List.copyOf(b.roles);
    this.index = b.index;
    this.indexColumns = List.copyOf(b.indexColumns);
    this.statements = List.copyOf(generate());
  }

  /**
   * Starts a policy for {@code table}, named without a schema (PostgreSQL resolves it through the
   * {@code search_path} when the statements run).
   *
   * @throws IllegalArgumentException if the name is empty or longer than 63 bytes in UTF-8
   */
  public static Builder forTable(String table) {
    return new Builder(null, table);
  }

  /**
   * Starts a policy for {@code schema.table}.
   *
   * @throws IllegalArgumentException if a name is empty or longer than 63 bytes in UTF-8
   */
  public static Builder forTable(String schema, String table) {
    return new Builder(schema, table);
  }

  /**
   * The statements, in the order they must run, each without a trailing semicolon: set the column default,
   * create the index (unless disabled), enable RLS, force RLS, drop the policy if it exists, create the policy.
   */
  public List<String> statements() {
    return statements;
  }

  /** The statements as a migration script: joined with {@code ";\n"}, ending with {@code ";"}. */
  public String toSql() {
    return String.join(";\n", statements) + ";";
  }

  /**
   * The policy's predicate, used both as {@code USING} and {@code WITH CHECK}, for example
   * {@code "tenant_id" = (select nullif(current_setting('app.tenant_id', true), '')::uuid)}.
   */
  public String usingExpression() {
    return Sql.quoteIdent(tenantColumn) + " = (select " + settingExpression() + ")";
  }

  /** The name of the index the statements create, or empty if the index is {@linkplain Builder#index disabled}. */
  public Optional<String> indexName() {
    return index ? Optional.of(PolicyNames.indexName(table, indexColumnsWithTenant())) : Optional.empty();
  }

  /**
   * Runs {@link #statements()} in order on {@code connection}, as the caller's transaction stands: it neither
   * commits, nor rolls back, nor changes auto-commit or closes the connection. Turn auto-commit off (Flyway does)
   * to apply all statements or none. The connection's role must own the table.
   *
   * <p>On a partitioned table it also enables and forces row-level security and creates the policy on every
   * existing partition (at every level): PostgreSQL applies a parent's policies only to queries that name the
   * parent, so a partition queried by name would otherwise show every tenant's rows. The column default and the
   * index reach the partitions through the parent. A partition created later needs the same: apply the policy again
   * (it is idempotent), or apply {@code RlsPolicy.forTable(partition)}; the start-up guard and the audit report a
   * partition without RLS.
   *
   * @throws SaasException if a statement fails; the message names the statement and PostgreSQL's reason, the
   *     cause is the driver's {@link SQLException}
   */
  public void apply(Connection connection) {
    Objects.requireNonNull(connection, "connection");
    try (Statement statement = connection.createStatement()) {
      execute(statement, statements);
      for (String partition : partitions(connection)) {
        execute(statement, rowSecurityStatements(partition));
      }
    } catch (SQLException e) {
      throw new SaasException("could not create a statement to apply the tenant policy to " + qualifiedTable()
          + ": " + e.getMessage(), e);
    }
  }

  private void execute(Statement statement, List<String> sqls) {
    for (String sql : sqls) {
      try {
        statement.execute(sql);
      } catch (SQLException e) {
        throw new SaasException("applying the tenant policy to " + qualifiedTable() + " failed at: " + sql
            + "\nPostgreSQL said: " + e.getMessage()
            + "\nCheck that the table and column exist, that the column type is " + columnType.sqlType()
            + " and that the connection's role owns the table.", e);
      }
    }
  }

  /** The table's partitions at every level, quoted and schema-qualified; empty for a table that is not partitioned. */
  private List<String> partitions(Connection connection) {
    String sql = "select format('%I.%I', n.nspname, c.relname) from pg_partition_tree(?::regclass) t"
        + " join pg_class c on c.oid = t.relid join pg_namespace n on n.oid = c.relnamespace"
        + " where t.level > 0 order by t.level, 1";
    List<String> out = new ArrayList<>();
    try (PreparedStatement ps = connection.prepareStatement(sql)) {
      ps.setString(1, qualifiedTable());
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.add(rs.getString(1));
        }
      }
    } catch (SQLException e) {
      throw new SaasException("applying the tenant policy to " + qualifiedTable() + " failed while listing its"
          + " partitions: " + e.getMessage() + "\nCheck that the table exists.", e);
    }
    return out;
  }

  /** A builder holding this policy's settings, to derive a variant. */
  public Builder toBuilder() {
    Builder b = new Builder(schema, table);
    b.tenantColumn = tenantColumn;
    b.columnType = columnType;
    b.setting = setting;
    b.policyName = policyName;
    b.roles.addAll(roles);
    b.index = index;
    b.indexColumns.addAll(indexColumns);
    return b;
  }

  @Override
  public boolean equals(@Nullable Object other) {
    return other instanceof RlsPolicy && ((RlsPolicy) other).statements.equals(statements);
  }

  @Override
  public int hashCode() {
    return statements.hashCode();
  }

  /** A short description naming the table, column, type and policy; {@link #toSql()} gives the DDL. */
  @Override
  public String toString() {
    return "RlsPolicy[" + qualifiedTable() + ", column " + Sql.quoteIdent(tenantColumn) + " " + columnType.sqlType()
        + ", policy " + Sql.quoteIdent(policyName) + ", setting " + setting + "]";
  }

  private List<String> generate() {
    String t = qualifiedTable();
    String col = Sql.quoteIdent(tenantColumn);
    List<String> out = new ArrayList<>(6);
    out.add("ALTER TABLE " + t + " ALTER COLUMN " + col + " SET DEFAULT " + settingExpression());
    if (index) {
      StringBuilder cols = new StringBuilder();
      for (String c : indexColumnsWithTenant()) {
        cols.append(cols.length() == 0 ? "" : ", ").append(Sql.quoteIdent(c));
      }
      out.add("CREATE INDEX IF NOT EXISTS " + Sql.quoteIdent(indexName().orElseThrow()) + " ON " + t + " (" + cols
          + ")");
    }
    out.addAll(rowSecurityStatements(t));
    return out;
  }

  /** Enable and force RLS on {@code table} (quoted), and (re)create the policy on it. */
  private List<String> rowSecurityStatements(String table) {
    String predicate = usingExpression();
    return List.of("ALTER TABLE " + table + " ENABLE ROW LEVEL SECURITY",
        "ALTER TABLE " + table + " FORCE ROW LEVEL SECURITY",
        "DROP POLICY IF EXISTS " + Sql.quoteIdent(policyName) + " ON " + table,
        "CREATE POLICY " + Sql.quoteIdent(policyName) + " ON " + table + " AS PERMISSIVE FOR ALL TO " + roleList()
            + " USING (" + predicate + ") WITH CHECK (" + predicate + ")");
  }

  private String settingExpression() {
    // the setting name is restricted to [A-Za-z0-9_.] by Sql.requireSettingName: a plain literal is safe
    return "nullif(current_setting('" + setting + "', true), '')::" + columnType.sqlType();
  }

  private String qualifiedTable() {
    return (schema == null ? "" : Sql.quoteIdent(schema) + ".") + Sql.quoteIdent(table);
  }

  private String roleList() {
    if (roles.isEmpty()) {
      return "PUBLIC";
    }
    StringBuilder sb = new StringBuilder();
    for (String role : roles) {
      sb.append(sb.length() == 0 ? "" : ", ").append(isPublic(role) ? "PUBLIC" : Sql.quoteIdent(role));
    }
    return sb.toString();
  }

  private List<String> indexColumnsWithTenant() {
    List<String> cols = new ArrayList<>(1 + indexColumns.size());
    cols.add(tenantColumn);
    cols.addAll(indexColumns);
    return cols;
  }

  private static boolean isPublic(String role) {
    return role.toLowerCase(Locale.ROOT).equals("public");
  }

  /**
   * Settings of an {@link RlsPolicy}. Every setter checks its value at once and names it when it is wrong;
   * {@link #columnType(TenantColumnType)} is required.
   */
  public static final class Builder {
    private final @Nullable String schema;
    private final String table;
    private String tenantColumn = DEFAULT_TENANT_COLUMN;
    private @Nullable TenantColumnType columnType;
    private String setting = TenantSetting.DEFAULT.name();
    private String policyName = DEFAULT_POLICY_NAME;
    private final Set<String> roles = new LinkedHashSet<>();
    private boolean index = true;
    private final List<String> indexColumns = new ArrayList<>();

    private Builder(@Nullable String schema, String table) {
      this.schema = schema == null ? null : PolicyNames.requireName("schema name", schema);
      this.table = PolicyNames.requireName("table name", table);
    }

    /** The tenant column, {@value RlsPolicy#DEFAULT_TENANT_COLUMN} by default. */
    public Builder tenantColumn(String column) {
      String c = PolicyNames.requireName("tenant column name", column);
      if (indexColumns.contains(c)) {
        throw new IllegalArgumentException("tenant column \"" + c + "\" is also listed in indexColumns; the index "
            + "leads with the tenant column already, so list only the columns that follow it");
      }
      this.tenantColumn = c;
      return this;
    }

    /** The SQL type of the tenant column; required, there is no default. */
    public Builder columnType(TenantColumnType type) {
      this.columnType = Objects.requireNonNull(type, "columnType must not be null");
      return this;
    }

    /**
     * The setting that carries the tenant, {@link TenantSetting#DEFAULT} ({@code app.tenant_id}) by default; it must
     * match the one the application sets (see {@link TenantDataSource}).
     */
    public Builder tenantSetting(TenantSetting setting) {
      this.setting = Objects.requireNonNull(setting, "tenantSetting").name();
      return this;
    }

    /** The policy name, {@value RlsPolicy#DEFAULT_POLICY_NAME} by default; an existing policy of that name is replaced. */
    public Builder policyName(String name) {
      this.policyName = PolicyNames.requireName("policy name", name);
      return this;
    }

    /**
     * The roles the policy applies to, replacing earlier calls; {@code PUBLIC} (every role) by default and when
     * called with no role. A name equal to {@code public} in any case means the keyword {@code PUBLIC}. Roles not
     * named get no access through this policy (with RLS forced, no rows at all unless another policy allows them).
     */
    public Builder roles(String... roleNames) {
      Objects.requireNonNull(roleNames, "roles");
      Set<String> checked = new LinkedHashSet<>();
      for (String role : roleNames) {
        checked.add(isPublic(PolicyNames.requireName("role name", role)) ? "PUBLIC" : role);
      }
      roles.clear();
      roles.addAll(checked);
      return this;
    }

    /** Whether to create the tenant index; {@code true} by default. Turn it off when an index exists already. */
    public Builder index(boolean createIndex) {
      this.index = createIndex;
      return this;
    }

    /**
     * Columns that follow the tenant column in the index (none by default), replacing earlier calls; for example
     * {@code indexColumns("created_at")} for lists sorted by time within a tenant.
     *
     * @throws IllegalArgumentException if a name is invalid, repeated, or the tenant column itself
     */
    public Builder indexColumns(String... columns) {
      Objects.requireNonNull(columns, "indexColumns");
      List<String> checked = new ArrayList<>(columns.length);
      for (String column : columns) {
        String c = PolicyNames.requireName("index column name", column);
        if (c.equals(tenantColumn)) {
          throw new IllegalArgumentException("indexColumns must not include the tenant column \"" + c
              + "\": the index leads with it already; list only the columns that follow it");
        }
        if (checked.contains(c)) {
          throw new IllegalArgumentException("indexColumns lists \"" + c + "\" twice: " + Arrays.toString(columns));
        }
        checked.add(c);
      }
      indexColumns.clear();
      indexColumns.addAll(checked);
      return this;
    }

    /**
     * The policy.
     *
     * @throws IllegalStateException if {@link #columnType(TenantColumnType)} was not called
     */
    public RlsPolicy build() {
      if (columnType == null) {
        throw new IllegalStateException("columnType is required for the tenant policy on "
            + (schema == null ? "" : Sql.quoteIdent(schema) + ".") + Sql.quoteIdent(table)
            + ": call columnType(TenantColumnType.UUID, BIGINT or TEXT) to match the type of column "
            + Sql.quoteIdent(tenantColumn));
      }
      return new RlsPolicy(this, columnType);
    }
  }
}
