package dev.saaskit.examples.saasapp;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.auth.AuthSchema;
import dev.saaskit.billing.BillingSchema;
import dev.saaskit.cache.postgres.CacheSchema;
import dev.saaskit.core.ModuleSchema;
import dev.saaskit.jobs.JobsSchema;
import dev.saaskit.tenancy.RlsPolicy;
import dev.saaskit.tenancy.TenantColumnType;
import dev.saaskit.tenancy.TenantMaterializedView;
import io.micrometer.core.instrument.MeterRegistry;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HexFormat;
import java.util.List;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * The database side of the app: the roles (as in production, four of them, none of which the app both owns tables
 * with and reads tenant data through), the app's own tables, every saaskit module's migrations, and the pools.
 *
 * <ul>
 *   <li>{@code <prefix>_owner} owns the database and every table; it runs the migrations and nothing else.
 *   <li>{@code <prefix>_app} is what requests run as: DML grants only, no BYPASSRLS, held to row-level security.
 *   <li>{@code <prefix>_worker} claims jobs of every tenant through saas-jobs' worker policy.
 *   <li>{@code <prefix>_analytics} owns and refreshes the analytics materialized view (it reads every tenant's
 *       rows through a {@code FOR SELECT TO analytics} policy; readers see their tenant's rows only).
 * </ul>
 *
 * <p>The passwords are new random ones at each start (set by the admin connection), so none is ever written to
 * disk or configuration.
 */
final class Database implements AutoCloseable {
  /** The app's own tables, tenant data under forced RLS; created once (the version table says so). */
  private static final String PROJECTS_DDL = """
      CREATE TABLE projects (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id text NOT NULL,
        name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
        created_at timestamptz NOT NULL DEFAULT now())""";
  private static final String REPORTS_DDL = """
      CREATE TABLE reports (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        tenant_id text NOT NULL,
        job_id bigint NOT NULL,
        projects integer NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now())""";

  /** The analytics view: one row per tenant, read through a tenant-filtering view. */
  static TenantMaterializedView analyticsView(String appRole) {
    return TenantMaterializedView.builder("tenant_activity")
        .query("SELECT tenant_id, count(*) FILTER (WHERE kind = 'project') AS projects,"
            + " count(*) FILTER (WHERE kind = 'report') AS reports"
            + " FROM (SELECT tenant_id, 'project' AS kind FROM projects"
            + " UNION ALL SELECT tenant_id, 'report' AS kind FROM reports) activity GROUP BY tenant_id")
        .columnType(TenantColumnType.TEXT)
        .uniqueKey("tenant_id")
        .readers(appRole)
        .build();
  }

  final String ownerRole;
  final String appRole;
  final String workerRole;
  final String analyticsRole;
  final HikariDataSource appPool;
  final HikariDataSource workerPool;
  final HikariDataSource analyticsPool;
  final TenantMaterializedView analytics;

  private Database(String prefix, HikariDataSource appPool, HikariDataSource workerPool,
      HikariDataSource analyticsPool) {
    this.ownerRole = prefix + "_owner";
    this.appRole = prefix + "_app";
    this.workerRole = prefix + "_worker";
    this.analyticsRole = prefix + "_analytics";
    this.appPool = appPool;
    this.workerPool = workerPool;
    this.analyticsPool = analyticsPool;
    this.analytics = analyticsView(appRole);
  }

  /**
   * Creates (or finds) the database and roles through {@code adminUrl}, applies every migration as the owner, and
   * opens the pools.
   */
  static Database bootstrap(String adminUrl, String database, String prefix, boolean resetBillingMirror,
      MeterRegistry registry) throws SQLException {
    String owner = prefix + "_owner";
    String app = prefix + "_app";
    String worker = prefix + "_worker";
    String analyticsRole = prefix + "_analytics";
    String ownerPassword = randomPassword();
    String appPassword = randomPassword();
    String workerPassword = randomPassword();
    String analyticsPassword = randomPassword();

    // 1. As the admin: the roles (least privilege: only the owner owns anything) and the database.
    try (Connection c = dataSource(adminUrl, null, null, null).getConnection();
        Statement s = c.createStatement()) {
      s.execute("SELECT pg_advisory_lock(hashtext('saas-app bootstrap'))");
      try {
        ensureRole(c, owner, "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE", ownerPassword);
        String leastPrivilege = "LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE";
        ensureRole(c, app, leastPrivilege, appPassword);
        ensureRole(c, worker, leastPrivilege, workerPassword);
        ensureRole(c, analyticsRole, leastPrivilege, analyticsPassword);
        boolean exists;
        try (PreparedStatement ps = c.prepareStatement("SELECT 1 FROM pg_database WHERE datname = ?")) {
          ps.setString(1, database);
          try (ResultSet rs = ps.executeQuery()) {
            exists = rs.next();
          }
        }
        if (!exists) {
          s.execute("CREATE DATABASE " + database + " OWNER " + owner);
        }
      } finally {
        s.execute("SELECT pg_advisory_unlock(hashtext('saas-app bootstrap'))");
      }
    }

    // 2. As the owner: every module's schema, the app's tables, grants.
    DataSource ownerDs = dataSource(adminUrl, database, owner, ownerPassword);
    List<ModuleSchema> modules = List.of(JobsSchema.defaults(), CacheSchema.defaults(), AuthSchema.defaults(),
        BillingSchema.defaults());
    for (ModuleSchema schema : modules) {
      schema.migrate(ownerDs);
    }
    try (Connection c = ownerDs.getConnection()) {
      for (ModuleSchema schema : modules) {
        schema.grantApp(c, app);
      }
      JobsSchema.defaults().grantWorker(c, worker);
      migrateAppTables(c, app, analyticsRole);
      if (resetBillingMirror) {
        resetBillingMirror(c);
      }
    }

    // 3. As the analytics role: the tenant-safe materialized view (created once).
    DataSource analyticsDs = dataSource(adminUrl, database, analyticsRole, analyticsPassword);
    try (Connection c = analyticsDs.getConnection()) {
      c.setAutoCommit(false);
      TenantMaterializedView view = analyticsView(app);
      if (!exists(c, view.viewName())) {
        view.create(c);
        try (Statement s = c.createStatement()) {
          s.execute("CREATE TABLE analytics_refreshes (view_name text PRIMARY KEY, refreshed_at timestamptz NOT NULL)");
          s.execute("GRANT SELECT ON analytics_refreshes TO " + app);
        }
      }
      c.commit();
    }

    HikariDataSource appPool = pool("app", dataSource(adminUrl, database, app, appPassword), 16, registry);
    HikariDataSource workerPool = pool("worker", dataSource(adminUrl, database, worker, workerPassword), 4,
        registry);
    HikariDataSource analyticsPool = pool("analytics", analyticsDs, 2, registry);
    return new Database(prefix, appPool, workerPool, analyticsPool);
  }

  private static void migrateAppTables(Connection c, String app, String analytics) throws SQLException {
    c.setAutoCommit(false);
    try (Statement s = c.createStatement()) {
      s.execute("SELECT pg_advisory_xact_lock(hashtext('saas-app tables'))");
      if (!exists(c, "projects")) {
        s.execute(PROJECTS_DDL);
        RlsPolicy.forTable("projects").columnType(TenantColumnType.TEXT).build().apply(c);
        s.execute(REPORTS_DDL);
        RlsPolicy.forTable("reports").columnType(TenantColumnType.TEXT).build().apply(c);
        s.execute("GRANT SELECT, INSERT, DELETE ON projects TO " + app);
        s.execute("GRANT SELECT, INSERT ON reports TO " + app);
        // the analytics role reads every tenant's rows, for the materialized view only (docs/analytics.md)
        s.execute("GRANT SELECT ON projects, reports TO " + analytics);
        s.execute("CREATE POLICY analytics_read ON projects FOR SELECT TO " + analytics + " USING (true)");
        s.execute("CREATE POLICY analytics_read ON reports FOR SELECT TO " + analytics + " USING (true)");
        s.execute("GRANT CREATE ON SCHEMA public TO " + analytics);
      }
      c.commit();
    } catch (SQLException | RuntimeException e) {
      c.rollback();
      throw e;
    } finally {
      c.setAutoCommit(true);
    }
  }

  /**
   * Offline mode only: the StripeEmulator keeps its state in memory, so after a restart the billing mirror (kept in
   * the persistent database) names customers and subscriptions the new emulator never had. The owner empties it
   * (TRUNCATE, which row-level security does not apply to) so that mirror and emulator start equal; tenants and
   * their projects stay. Never done against real Stripe.
   */
  private static void resetBillingMirror(Connection c) throws SQLException {
    List<String> tables = new java.util.ArrayList<>();
    try (PreparedStatement ps = c.prepareStatement("SELECT quote_ident(schemaname) || '.' || quote_ident(tablename)"
        + " FROM pg_tables WHERE schemaname = ? AND tablename <> 'saaskit_schema_history'")) {
      ps.setString(1, BillingSchema.defaults().name());
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          tables.add(rs.getString(1));
        }
      }
    }
    if (!tables.isEmpty()) {
      try (Statement s = c.createStatement()) {
        s.execute("TRUNCATE " + String.join(", ", tables));
      }
    }
  }

  private static boolean exists(Connection c, String relation) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT to_regclass(?) IS NOT NULL")) {
      ps.setString(1, "public." + relation);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getBoolean(1);
      }
    }
  }

  private static void ensureRole(Connection c, String role, String attributes, String password)
      throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT 1 FROM pg_roles WHERE rolname = ?")) {
      ps.setString(1, role);
      try (ResultSet rs = ps.executeQuery(); Statement s = c.createStatement()) {
        if (!rs.next()) {
          s.execute("CREATE ROLE " + role + " " + attributes);
        }
        s.execute("ALTER ROLE " + role + " " + attributes + " PASSWORD '" + password + "'");
      }
    }
  }

  /** The server of {@code url}, another database (null: the URL's), another role (null: the URL's). */
  static PGSimpleDataSource dataSource(String url, @Nullable String database,
      @Nullable String user, @Nullable String password) {
    PGSimpleDataSource ds = new PGSimpleDataSource();
    ds.setUrl(url);
    if (database != null) {
      ds.setDatabaseName(database);
    }
    if (user != null) {
      ds.setUser(user);
      ds.setPassword(password);
    }
    return ds;
  }

  private static HikariDataSource pool(String name, DataSource connections, int size, MeterRegistry registry) {
    HikariConfig config = new HikariConfig();
    config.setPoolName(name);
    config.setDataSource(connections);
    config.setMaximumPoolSize(size);
    config.setMetricRegistry(registry); // hikaricp_connections_* in /metrics
    return new HikariDataSource(config);
  }

  private static String randomPassword() {
    byte[] bytes = new byte[18];
    new SecureRandom().nextBytes(bytes);
    return HexFormat.of().formatHex(bytes); // hex only: safe to inline in ALTER ROLE
  }

  @Override
  public void close() {
    analyticsPool.close();
    workerPool.close();
    appPool.close();
  }
}
