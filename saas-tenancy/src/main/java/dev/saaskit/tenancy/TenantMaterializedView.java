package dev.saaskit.tenancy;

import dev.saaskit.core.SaasException;
import dev.saaskit.core.TenantSetting;
import dev.saaskit.tenancy.internal.AnalyticsCatalog;
import dev.saaskit.tenancy.internal.PolicyNames;
import dev.saaskit.tenancy.internal.Sql;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A materialized view of per-tenant aggregates that each tenant reads only its own rows of, with a refresh that
 * never blocks readers. PostgreSQL applies no Row-Level Security to materialized views: a plain one over tenant
 * tables shows every tenant's numbers to every role that may select from it. This class builds the safe form.
 *
 * <pre>{@code
 * TenantMaterializedView stats = TenantMaterializedView.builder("order_stats")   // the view the app reads
 *     .query("SELECT tenant_id, created_on AS day, count(*) AS orders, sum(amount_cents) AS revenue"
 *         + " FROM orders GROUP BY tenant_id, created_on")
 *     .columnType(TenantColumnType.UUID)       // required: the type of the query's tenant column
 *     .uniqueKey("tenant_id", "day")           // required: output columns identifying a row, tenant column first
 *     .readers("app")                          // required: the roles that read the view
 *     .build();
 * stats.create(analyticsConnection);           // once, in a migration (or print stats.toSql() into one)
 * stats.refresh(analyticsDataSource);          // every few minutes
 * }</pre>
 *
 * <p>For that view {@link #toSql()} gives (with the defaults: tenant column {@code tenant_id}, setting
 * {@code app.tenant_id}, materialized view {@code <name>_data}):
 *
 * <pre>
 * CREATE MATERIALIZED VIEW "order_stats_data" AS
 * SELECT tenant_id, created_on AS day, count(*) AS orders, sum(amount_cents) AS revenue FROM orders GROUP BY tenant_id, created_on
 * WITH DATA;
 * CREATE UNIQUE INDEX "order_stats_data_tenant_id_day_idx" ON "order_stats_data" ("tenant_id", "day");
 * REVOKE ALL ON "order_stats_data" FROM PUBLIC, "app";
 * CREATE VIEW "order_stats" WITH (security_barrier = true) AS SELECT * FROM "order_stats_data"
 *     WHERE "tenant_id" = (select nullif(current_setting('app.tenant_id', true), '')::uuid);
 * REVOKE ALL ON "order_stats" FROM PUBLIC, "app";
 * GRANT SELECT ON "order_stats" TO "app";
 * </pre>
 *
 * (the {@code CREATE VIEW} is one line in the output).
 *
 * <h2>Why this is safe</h2>
 * <ul>
 *   <li>The readers have <b>no privilege on the materialized view</b>: selecting from it directly fails with
 *       permission denied, and only its owner may refresh it (on PostgreSQL 17, also roles granted
 *       {@code MAINTAIN}, which {@code REVOKE ALL} takes away).</li>
 *   <li>The readers query the <b>view</b>, which reads the materialized view with the rights of its owner (it is
 *       deliberately not {@code security_invoker}) and keeps only the rows whose tenant column equals the current
 *       tenant setting: the same fail-closed expression as the {@link RlsPolicy} policies, so no tenant set (or an
 *       empty one) means no rows. The view is exactly as safe as the policies on the tables: both trust the
 *       setting that {@link TenantDataSource} sends with every statement.</li>
 *   <li>The view is a <b>security barrier</b>: PostgreSQL never evaluates a condition of the reader's query
 *       (a {@code WHERE} on the view calling a function that raises a notice, an error carrying a value, a
 *       division by zero) on a row before the tenant filter has accepted it, unless the function is
 *       {@code LEAKPROOF}, which only a superuser can declare. Without the barrier, the planner may push a cheap
 *       function below the filter and let it see other tenants' rows.</li>
 *   <li>The filter compares the column uncast with the setting read in a scalar subquery (once per statement, an
 *       InitPlan), so the <b>unique index</b>, which starts with the tenant column, serves every tenant's read.</li>
 *   <li>The unique index also makes {@code REFRESH MATERIALIZED VIEW CONCURRENTLY} possible, which takes an
 *       {@code EXCLUSIVE} lock: it conflicts with other refreshes but not with readers' {@code ACCESS SHARE}.</li>
 * </ul>
 *
 * <h2>Which role creates and refreshes it</h2>
 * The role that runs {@link #create(Connection)} owns both objects and is the only one that may
 * {@linkplain #refresh(Connection) refresh}. The query runs with that role's rights, and it must see <b>every
 * tenant's rows</b> of the source tables. The tables' owner does not when their RLS is forced (and with the setting
 * unset it sees none, so the aggregates would be empty). Use a dedicated role that owns nothing else, is not a
 * reader and is none of the readers' roles, with {@code SELECT} on the sources and either {@code BYPASSRLS} or, per
 * source table, a policy just for it: {@code CREATE POLICY analytics_read ON orders FOR SELECT TO analytics USING
 * (true)}. Do not give cross-tenant reading to the tables' owner: plain views it owns would leak through it.
 *
 * <p>{@link #create(Connection)} checks these (the executable form does more than {@link #statements()}): it
 * fails if the tenant column or a unique-key column is not an output column of the query or the tenant column's
 * type differs from {@link Builder#columnType}, if row-level security would hide source rows from the creating
 * role, or if a reader is the creating role, a member of it, a superuser or a member of {@code pg_read_all_data}
 * (or could select from the materialized view by any other path once it exists); and it revokes privileges that default
 * privileges gave other roles on the new objects.
 *
 * <h2>The query</h2>
 * Every output row must belong to one tenant: group by the tenant column and aggregate nothing across tenants (no
 * window functions or subqueries over all tenants). The query is run as given, after removing one trailing
 * semicolon; it must be one statement, so it may not contain another {@code ;} (write {@code chr(59)} in a
 * literal). Names are resolved when the statements run; functions the query calls should schema-qualify what
 * they use, since PostgreSQL 17 refreshes with a restricted {@code search_path}.
 *
 * <p>Identifiers are validated (non-empty, at most 63 bytes of UTF-8) and always double-quoted, so they are used
 * exactly as given. Instances are immutable and thread-safe.
 */
public final class TenantMaterializedView {
  private static final Logger LOG = LoggerFactory.getLogger(TenantMaterializedView.class);

  /** The tenant column unless {@link Builder#tenantColumn(String)} says otherwise. */
  public static final String DEFAULT_TENANT_COLUMN = RlsPolicy.DEFAULT_TENANT_COLUMN;

  /** Appended to the view's name to name the materialized view, unless {@link Builder#materializedViewName} is set. */
  public static final String DEFAULT_MATERIALIZED_VIEW_SUFFIX = "_data";

  private final @Nullable String schema; // null: unqualified, resolved through search_path
  private final String viewName;
  private final String materializedViewName;
  private final String query;
  private final String tenantColumn;
  private final TenantColumnType columnType;
  private final List<String> uniqueKey;
  private final List<String> readers;
  private final String setting;
  private final List<String> statements;
  private final List<String> dropStatements;

  private TenantMaterializedView(Builder b, String query, TenantColumnType columnType, String materializedViewName) {
    this.schema = b.schema;
    this.viewName = b.name;
    this.materializedViewName = materializedViewName;
    this.query = query;
    this.tenantColumn = b.tenantColumn;
    this.columnType = columnType;
    this.uniqueKey = List.copyOf(b.uniqueKey);
    this.readers = List.copyOf(b.readers);
    this.setting = b.setting;
    this.statements = List.copyOf(generate());
    this.dropStatements = List.of("DROP VIEW IF EXISTS " + qualifiedView(),
        "DROP MATERIALIZED VIEW IF EXISTS " + qualifiedMaterializedView());
  }

  /**
   * Starts a tenant materialized view whose readable view is {@code name}, without a schema (PostgreSQL resolves it
   * through the {@code search_path} when the statements run).
   *
   * @throws IllegalArgumentException if the name is empty or longer than 63 bytes in UTF-8
   */
  public static Builder builder(String name) {
    return new Builder(null, name);
  }

  /**
   * Starts a tenant materialized view whose readable view is {@code schema.name}; the materialized view is created
   * in the same schema.
   *
   * @throws IllegalArgumentException if a name is empty or longer than 63 bytes in UTF-8
   */
  public static Builder builder(String schema, String name) {
    return new Builder(schema, name);
  }

  /**
   * The statements that create it, in order, each without a trailing semicolon: create the materialized view with
   * its data, create the unique index, revoke every privilege on it from {@code PUBLIC} and the readers, create the
   * view, revoke every privilege on the view from {@code PUBLIC} and the readers, grant {@code SELECT} on the view
   * to the readers.
   */
  public List<String> statements() {
    return statements;
  }

  /** The statements as a migration script: joined with {@code ";\n"}, ending with {@code ";"}. */
  public String toSql() {
    return String.join(";\n", statements) + ";";
  }

  /**
   * The statements that remove it: drop the view, then the materialized view (with its index), both
   * {@code IF EXISTS}.
   */
  public List<String> dropStatements() {
    return dropStatements;
  }

  /**
   * The refresh statement, {@code REFRESH MATERIALIZED VIEW CONCURRENTLY <materialized view>}, for schedulers that
   * run SQL (pg_cron, for example), as the owning role.
   */
  public String refreshStatement() {
    return "REFRESH MATERIALIZED VIEW CONCURRENTLY " + qualifiedMaterializedView();
  }

  /** The name of the view the readers query, without schema: the name given to the builder. */
  public String viewName() {
    return viewName;
  }

  /** The name of the materialized view, without schema: {@code <view name>_data} unless set otherwise. */
  public String materializedViewName() {
    return materializedViewName;
  }

  /** The name of the unique index on the materialized view, derived like {@link RlsPolicy}'s index names. */
  public String uniqueIndexName() {
    return PolicyNames.indexName(materializedViewName, uniqueKey);
  }

  /** The schema of both views, or empty when they are named without one. */
  public Optional<String> schema() {
    return Optional.ofNullable(schema);
  }

  /**
   * Creates the materialized view (running its query once), its index and the view, in the caller's transaction:
   * it neither commits, nor rolls back, nor changes auto-commit or closes the connection. Turn auto-commit off
   * (Flyway does) to create all or nothing. Run it as the role that will own and refresh the view (see the
   * class documentation).
   *
   * <p>Beyond {@link #statements()}, it checks the query's output columns, that row-level security hides no source
   * row from this role and that no reader is this role, a member of it, a superuser or a member of
   * {@code pg_read_all_data}, nor can select from the materialized view at the end; and it revokes any privilege
   * that default privileges gave a role other than the readers (and any but {@code SELECT} to the readers).
   *
   * @throws SaasException if a statement or a check fails; the message names what and how to fix it, the cause is
   *     the driver's {@link SQLException} where there is one
   */
  public void create(Connection connection) {
    Objects.requireNonNull(connection, "connection");
    String sql = "";
    try {
      for (String reader : readers) {
        sql = "pg_has_role(" + Sql.quoteLiteral(reader) + ", current_user, 'MEMBER')";
        String owner = AnalyticsCatalog.readerActingAsOwner(connection, reader);
        if (owner != null) {
          throw new SaasException("cannot create " + describe() + ": reader " + Sql.quoteIdent(reader)
              + " is the creating role " + Sql.quoteIdent(owner) + ", a member of it or a superuser, so it could"
              + " read every tenant's rows of the materialized view directly. Create it as a role the readers are"
              + " not members of (a dedicated analytics role).");
        }
        sql = "checking the predefined roles of reader " + Sql.quoteIdent(reader);
        String readsAll = AnalyticsCatalog.readerReadsAllData(connection, reader);
        if (!readsAll.isEmpty()) {
          throw new SaasException("cannot create " + describe() + ": reader " + Sql.quoteIdent(reader) + " could read"
              + " the materialized view directly, and with it every tenant's rows: it is a member of " + readsAll
              + ", which may select from every table and materialized view. Read the view with a role that is not"
              + " (REVOKE " + readsAll + " FROM " + Sql.quoteIdent(reader) + ").");
        }
      }
      for (int i = 0; i < statements.size(); i++) {
        sql = statements.get(i);
        AnalyticsCatalog.execute(connection, sql);
        if (i == 0) {
          sql = "checking the output columns of " + qualifiedMaterializedView();
          checkColumns(AnalyticsCatalog.columns(connection, qualifiedMaterializedView()));
          sql = "checking row-level security on the sources of " + qualifiedMaterializedView();
          checkSources(AnalyticsCatalog.filteredSources(connection, qualifiedMaterializedView()));
        }
      }
      sql = "revoking privileges left by default privileges";
      revokeStray(connection, qualifiedMaterializedView(), false);
      revokeStray(connection, qualifiedView(), true);
      // Whatever the checks above missed (a grant path PostgreSQL adds later), the readers must not reach the
      // materialized view itself: ask PostgreSQL, which knows every path.
      for (String reader : readers) {
        sql = "has_table_privilege(" + Sql.quoteLiteral(reader) + ", " + qualifiedMaterializedView() + ", 'SELECT')";
        if (AnalyticsCatalog.readerCanSelect(connection, reader, qualifiedMaterializedView())) {
          throw new SaasException("cannot create " + describe() + ": reader " + Sql.quoteIdent(reader) + " could read"
              + " the materialized view " + qualifiedMaterializedView() + " directly, and with it every tenant's rows,"
              + " even after every grant on it was revoked. Roll back, and read the view with a role that has no"
              + " such privilege.");
        }
      }
    } catch (SQLException e) {
      throw new SaasException("creating " + describe() + " failed at: " + sql + "\nPostgreSQL said: "
          + e.getMessage() + "\n" + hint(e), e);
    }
  }

  /**
   * Refreshes the aggregates with {@link #refreshStatement()}: readers keep reading the previous data meanwhile
   * and see the new data once the refresh commits. It runs as the caller's transaction stands; in auto-commit mode
   * (recommended) the refresh commits on its own. The connection's role must own the materialized view (the role
   * that created it). Two refreshes of the same view run one after the other; the second waits for the first.
   *
   * <p>Before refreshing it checks, with one catalog query, that row-level security still hides no row of the
   * query's source tables from the owner, the way {@link #create(Connection)} required (a SELECT policy naming
   * the owner's role, {@code BYPASSRLS}, or ownership of an unforced table). If that was undone since, it refuses
   * and keeps the previous data, instead of publishing aggregates of the rows the owner can still see. Tables the
   * query reads through a view or a function are not checked (as in {@code create}), and a policy dropped between
   * the check and the refresh is not caught.
   *
   * @throws SaasException if the check or the refresh fails; the message names the fix, the cause is the driver's
   *     {@link SQLException} where there is one
   */
  public void refresh(Connection connection) {
    Objects.requireNonNull(connection, "connection");
    try {
      // REFRESH runs the query with the owner's rights. If row-level security now hides source rows from the
      // owner (its SELECT policy dropped, BYPASSRLS taken away, a table it owns forced), the refresh would succeed
      // and replace every tenant's aggregates with the few (or no) rows it still sees: dashboards silently empty.
      // One catalog query, before the refresh, keeps the previous data instead.
      AnalyticsCatalog.OwnerFilter filter =
          AnalyticsCatalog.ownerFilteredSources(connection, qualifiedMaterializedView());
      if (!filter.tables.isEmpty()) {
        throw new SaasException(refusal(filter));
      }
      AnalyticsCatalog.execute(connection, refreshStatement());
    } catch (SQLException e) {
      throw new SaasException("refreshing " + describe() + " failed: " + e.getMessage() + "\n"
          + ("42501".equals(e.getSQLState())
              ? "Only the owner of a materialized view may refresh it: refresh through a connection of the role"
                  + " that created it. If it is that role, it may have lost SELECT on a source table: GRANT SELECT"
                  + " ON <table> TO <owner>."
              : hint(e)), e);
    }
  }

  private String refusal(AnalyticsCatalog.OwnerFilter filter) {
    String owner = Sql.quoteIdent(filter.owner);
    StringBuilder fix = new StringBuilder();
    for (String table : filter.tables) {
      fix.append("\n  CREATE POLICY analytics_read ON ").append(table).append(" FOR SELECT TO ").append(owner)
          .append(" USING (true);");
    }
    return "refusing to refresh " + describe() + ": row-level security on " + String.join(", ", filter.tables)
        + " now applies to " + owner + ", the owner of " + qualifiedMaterializedView() + " whose rights the refresh"
        + " runs with (its SELECT policy was dropped or re-scoped, its BYPASSRLS removed, or FORCE ROW LEVEL SECURITY"
        + " set on a table it owns). The refresh would replace every tenant's aggregates with only the rows it still"
        + " sees (none without a tenant), so the readers' numbers would go empty or partial; the previous data is"
        + " kept. Restore its cross-tenant read, as the tables' owner:" + fix + "\nor, as an administrator, ALTER"
        + " ROLE " + owner + " BYPASSRLS;";
  }

  /**
   * Borrows one connection from {@code ownerDataSource}, refreshes in auto-commit mode (restoring the connection's
   * mode after) and returns the connection. The data source must log in as the role that owns the materialized
   * view.
   *
   * @throws SaasException if no connection can be had or the refresh fails
   */
  public void refresh(DataSource ownerDataSource) {
    Objects.requireNonNull(ownerDataSource, "ownerDataSource");
    try (Connection c = ownerDataSource.getConnection()) {
      boolean autoCommit = c.getAutoCommit();
      if (!autoCommit) {
        c.setAutoCommit(true);
      }
      try {
        refresh(c);
      } finally {
        if (!autoCommit) {
          c.setAutoCommit(false);
        }
      }
    } catch (SQLException e) {
      throw new SaasException("could not get a connection to refresh " + describe() + ": " + e.getMessage(), e);
    }
  }

  /**
   * Runs {@link #dropStatements()} in the caller's transaction, as the owning role.
   *
   * @throws SaasException if a statement fails
   */
  public void drop(Connection connection) {
    Objects.requireNonNull(connection, "connection");
    for (String sql : dropStatements) {
      try {
        AnalyticsCatalog.execute(connection, sql);
      } catch (SQLException e) {
        throw new SaasException("dropping " + describe() + " failed at: " + sql + "\nPostgreSQL said: "
            + e.getMessage() + "\nDrop it as the role that created it.", e);
      }
    }
  }

  /** A builder holding this view's settings, to derive a variant. */
  public Builder toBuilder() {
    Builder b = new Builder(schema, viewName);
    b.query = query;
    b.tenantColumn = tenantColumn;
    b.columnType = columnType;
    b.uniqueKey.addAll(uniqueKey);
    b.readers.addAll(readers);
    b.setting = setting;
    b.materializedViewName = materializedViewName;
    return b;
  }

  @Override
  public boolean equals(@Nullable Object other) {
    return other instanceof TenantMaterializedView
        && ((TenantMaterializedView) other).statements.equals(statements);
  }

  @Override
  public int hashCode() {
    return statements.hashCode();
  }

  /** A short description naming the view, materialized view, tenant column and readers; {@link #toSql()} gives the DDL. */
  @Override
  public String toString() {
    return "TenantMaterializedView[" + qualifiedView() + " over " + qualifiedMaterializedView() + ", column "
        + Sql.quoteIdent(tenantColumn) + " " + columnType.sqlType() + ", readers " + quotedList(readers)
        + ", setting " + setting + "]";
  }

  private List<String> generate() {
    String mv = qualifiedMaterializedView();
    String view = qualifiedView();
    String readerList = quotedList(readers);
    List<String> out = new ArrayList<>(6);
    // the query on lines of its own: a trailing "--" comment in it cannot swallow WITH DATA
    out.add("CREATE MATERIALIZED VIEW " + mv + " AS\n" + query + "\nWITH DATA");
    out.add("CREATE UNIQUE INDEX " + Sql.quoteIdent(uniqueIndexName()) + " ON " + mv + " (" + quotedList(uniqueKey)
        + ")");
    out.add("REVOKE ALL ON " + mv + " FROM PUBLIC, " + readerList);
    out.add("CREATE VIEW " + view + " WITH (security_barrier = true) AS SELECT * FROM " + mv + " WHERE "
        + Sql.quoteIdent(tenantColumn) + " = (select nullif(current_setting('" + setting + "', true), '')::"
        + columnType.sqlType() + ")");
    out.add("REVOKE ALL ON " + view + " FROM PUBLIC, " + readerList);
    out.add("GRANT SELECT ON " + view + " TO " + readerList);
    return out;
  }

  private void checkColumns(Map<String, String> columns) {
    String type = columns.get(tenantColumn);
    if (type == null) {
      throw new SaasException("the query of " + describe() + " has no output column named " + Sql.quoteIdent(tenantColumn)
          + " (the tenant column); its columns are " + columns.keySet() + ". Select the tenant column (and group by"
          + " it), or name it with tenantColumn(...).");
    }
    if (!type.equals(columnType.sqlType())) {
      throw new SaasException("the tenant column " + Sql.quoteIdent(tenantColumn) + " of " + describe() + " is of type "
          + type + " but columnType is " + columnType.sqlType() + ": set columnType to match, or cast the column"
          + " in the query");
    }
    for (String column : uniqueKey) {
      if (!columns.containsKey(column)) {
        throw new SaasException("uniqueKey column " + Sql.quoteIdent(column) + " of " + describe() + " is not an"
            + " output column of the query; its columns are " + columns.keySet());
      }
    }
  }

  private void checkSources(List<String> filtered) {
    if (!filtered.isEmpty()) {
      throw new SaasException("cannot create " + describe() + ": row-level security on " + String.join(", ", filtered)
          + " applies to the creating role (current_user), so the query sees no other tenant's rows (and without"
          + " a tenant set, none at all); the aggregates would be wrong. Create and refresh it as a dedicated role"
          + " that reads every tenant's rows: one with BYPASSRLS, or one named by a SELECT policy on each source,"
          + " e.g. CREATE POLICY analytics_read ON <table> FOR SELECT TO <role> USING (true). Do not use the tables'"
          + " owner for this.");
    }
  }

  private void revokeStray(Connection connection, String relation, boolean readersMaySelect) throws SQLException {
    for (AnalyticsCatalog.Grant grant : AnalyticsCatalog.grants(connection, relation)) {
      boolean reader = !grant.isPublic && readers.contains(grant.grantee);
      if (readersMaySelect && reader && grant.privileges.equals(List.of("SELECT"))) {
        continue;
      }
      String revoke = "REVOKE ALL ON " + relation + " FROM " + grant.sqlGrantee();
      AnalyticsCatalog.execute(connection, revoke);
      if (readersMaySelect && reader) {
        AnalyticsCatalog.execute(connection, "GRANT SELECT ON " + relation + " TO " + grant.sqlGrantee());
      }
      LOG.info("{}: revoked {} on {} from {} (granted by default privileges)", viewName, grant.privileges, relation,
          grant.grantee);
    }
  }

  private String hint(SQLException e) {
    String state = e.getSQLState();
    if ("42P07".equals(state)) {
      return "An object of that name exists already: drop it first (see dropStatements()) or choose another name.";
    }
    if ("23505".equals(state)) {
      return "The uniqueKey " + quotedList(uniqueKey) + " does not identify one row of the query's result: add the"
          + " grouping columns that are missing from it.";
    }
    if ("42501".equals(state)) {
      return "The creating role needs SELECT on the source tables and CREATE on the schema, and must own the"
          + " objects it refreshes or drops.";
    }
    if ("42704".equals(state)) {
      return "A role or type named in it does not exist: create the reader roles before the view.";
    }
    if ("55000".equals(state)) {
      return "REFRESH ... CONCURRENTLY needs a populated materialized view with its unique index: recreate it with"
          + " create(), which fills it.";
    }
    return "Check the query, that the columns exist and that the connection's role may read the sources.";
  }

  private String describe() {
    return "tenant materialized view " + qualifiedView();
  }

  private String qualifiedView() {
    return qualify(viewName);
  }

  private String qualifiedMaterializedView() {
    return qualify(materializedViewName);
  }

  private String qualify(String name) {
    return (schema == null ? "" : Sql.quoteIdent(schema) + ".") + Sql.quoteIdent(name);
  }

  private static String quotedList(List<String> names) {
    StringBuilder sb = new StringBuilder();
    for (String name : names) {
      sb.append(sb.length() == 0 ? "" : ", ").append(Sql.quoteIdent(name));
    }
    return sb.toString();
  }

  /**
   * Settings of a {@link TenantMaterializedView}. Every setter checks its value at once and names it when it is
   * wrong; {@link #query}, {@link #columnType}, {@link #uniqueKey} and {@link #readers} are required.
   */
  public static final class Builder {
    private final @Nullable String schema;
    private final String name;
    private @Nullable String query;
    private String tenantColumn = DEFAULT_TENANT_COLUMN;
    private @Nullable TenantColumnType columnType;
    private final List<String> uniqueKey = new ArrayList<>();
    private final Set<String> readers = new LinkedHashSet<>();
    private String setting = TenantSetting.DEFAULT.name();
    private @Nullable String materializedViewName;

    private Builder(@Nullable String schema, String name) {
      this.schema = schema == null ? null : PolicyNames.requireName("schema name", schema);
      this.name = PolicyNames.requireName("view name", name);
    }

    /**
     * The query computing the aggregates; required. Each output row must belong to one tenant (group by the tenant
     * column). One trailing semicolon is removed.
     *
     * @throws IllegalArgumentException if the query is blank or holds a {@code ;} other than a trailing one
     */
    public Builder query(String sql) {
      Objects.requireNonNull(sql, "query");
      String q = sql.strip();
      if (q.endsWith(";")) {
        q = q.substring(0, q.length() - 1).strip();
      }
      if (q.isEmpty()) {
        throw new IllegalArgumentException("query must not be empty");
      }
      int semicolon = q.indexOf(';');
      if (semicolon >= 0) {
        throw new IllegalArgumentException("query must be a single statement but has ';' at index " + semicolon
            + " (only one trailing ';' is allowed; inside a string literal write chr(59)): " + q);
      }
      this.query = q;
      return this;
    }

    /** The tenant column, an output column of the query; {@value TenantMaterializedView#DEFAULT_TENANT_COLUMN} by default. */
    public Builder tenantColumn(String column) {
      this.tenantColumn = PolicyNames.requireName("tenant column name", column);
      return this;
    }

    /** The SQL type of the query's tenant column; required, there is no default. */
    public Builder columnType(TenantColumnType type) {
      this.columnType = Objects.requireNonNull(type, "columnType must not be null");
      return this;
    }

    /**
     * The output columns that identify a row of the query, replacing earlier calls; required. It must start with
     * the tenant column, so that the unique index on them also serves the tenant filter, for example
     * {@code uniqueKey("tenant_id", "day")} for a query grouped by tenant and day.
     *
     * @throws IllegalArgumentException if a name is invalid or repeated
     */
    public Builder uniqueKey(String... columns) {
      Objects.requireNonNull(columns, "uniqueKey");
      List<String> checked = new ArrayList<>(columns.length);
      for (String column : columns) {
        String c = PolicyNames.requireName("uniqueKey column name", column);
        if (checked.contains(c)) {
          throw new IllegalArgumentException("uniqueKey lists \"" + c + "\" twice: " + Arrays.toString(columns));
        }
        checked.add(c);
      }
      uniqueKey.clear();
      uniqueKey.addAll(checked);
      return this;
    }

    /**
     * The roles granted {@code SELECT} on the view, replacing earlier calls; required, at least one (usually the
     * application role). Repeated names count once.
     *
     * @throws IllegalArgumentException if a name is invalid or {@code PUBLIC}
     */
    public Builder readers(String... roles) {
      Objects.requireNonNull(roles, "readers");
      Set<String> checked = new LinkedHashSet<>();
      for (String role : roles) {
        String r = PolicyNames.requireName("reader role name", role);
        if (r.toLowerCase(Locale.ROOT).equals("public")) {
          throw new IllegalArgumentException("readers must name roles, not PUBLIC: grant the view to the"
              + " application role(s) only");
        }
        checked.add(r);
      }
      readers.clear();
      readers.addAll(checked);
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

    /**
     * The name of the materialized view, in the view's schema; {@code <view name>_data} by default.
     *
     * @throws IllegalArgumentException if the name is invalid
     */
    public Builder materializedViewName(String materializedView) {
      this.materializedViewName = PolicyNames.requireName("materialized view name", materializedView);
      return this;
    }

    /**
     * The tenant materialized view.
     *
     * @throws IllegalStateException if a required setting is missing, the unique key does not start with the
     *     tenant column, or the materialized view's name is unusable
     */
    public TenantMaterializedView build() {
      String where = "tenant materialized view " + (schema == null ? "" : Sql.quoteIdent(schema) + ".")
          + Sql.quoteIdent(name);
      if (query == null) {
        throw new IllegalStateException("query is required for the " + where + ": call query(\"SELECT "
            + tenantColumn + ", ... FROM ... GROUP BY " + tenantColumn + ", ...\")");
      }
      if (columnType == null) {
        throw new IllegalStateException("columnType is required for the " + where
            + ": call columnType(TenantColumnType.UUID, BIGINT or TEXT) to match the type of column "
            + Sql.quoteIdent(tenantColumn) + " in the query");
      }
      if (uniqueKey.isEmpty()) {
        throw new IllegalStateException("uniqueKey is required for the " + where + ": name the output columns that"
            + " identify a row, tenant column first, e.g. uniqueKey(\"" + tenantColumn + "\", \"day\");"
            + " REFRESH MATERIALIZED VIEW CONCURRENTLY needs their unique index");
      }
      if (!uniqueKey.get(0).equals(tenantColumn)) {
        throw new IllegalStateException("uniqueKey must start with the tenant column " + Sql.quoteIdent(tenantColumn)
            + ", so that its unique index also serves the tenant filter, but "
            + (uniqueKey.contains(tenantColumn) ? "was" : "does not include it:") + " (" + quotedList(uniqueKey)
            + ")");
      }
      if (readers.isEmpty()) {
        throw new IllegalStateException("readers is required for the " + where + ": name the role(s) that read the"
            + " view, usually the application role, e.g. readers(\"app\")");
      }
      String mv = materializedViewName != null ? materializedViewName : name + DEFAULT_MATERIALIZED_VIEW_SUFFIX;
      if (materializedViewName == null
          && mv.getBytes(StandardCharsets.UTF_8).length > Sql.MAX_IDENTIFIER_BYTES) {
        throw new IllegalStateException("the materialized view name \"" + mv + "\" derived for the " + where
            + " is longer than " + Sql.MAX_IDENTIFIER_BYTES + " bytes: choose one with materializedViewName(...)");
      }
      if (mv.equals(name)) {
        throw new IllegalStateException("materializedViewName must differ from the view name \"" + name + "\"");
      }
      return new TenantMaterializedView(this, query, columnType, mv);
    }
  }
}
