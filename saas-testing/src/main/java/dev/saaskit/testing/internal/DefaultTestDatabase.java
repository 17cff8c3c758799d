package dev.saaskit.testing.internal;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.core.SaasException;
import dev.saaskit.testing.PostgresServer;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Pattern;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;

/**
 * The one {@link TestDatabase} implementation: creates the roles and the database with a superuser connection,
 * hands out lazily created pools, and drops everything again on {@link #close()}.
 */
public final class DefaultTestDatabase implements TestDatabase {
  /** Prefix of every database and role this module creates. */
  public static final String PREFIX = "saas_t_";

  private static final Pattern SUFFIX = Pattern.compile("[a-z0-9_]{1,32}");
  private static final String ROLE_DEFAULTS = "LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB NOREPLICATION";

  private final RunningServer server;
  private final String name;
  private final String ownerRole;
  private final String appRole;
  /** Role name to password, in creation order; guarded by {@code this}. */
  private final Map<String, String> roles = new LinkedHashMap<>();
  /** Every pool handed out; guarded by {@code this}. */
  private final List<HikariDataSource> pools = new ArrayList<>();
  private @Nullable HikariDataSource ownerPool;
  private @Nullable HikariDataSource appPool;
  private @Nullable HikariDataSource adminPool;
  private int poolCounter;
  private boolean closed;

  private DefaultTestDatabase(RunningServer server, String name) {
    this.server = server;
    this.name = name;
    this.ownerRole = name + "_owner";
    this.appRole = name + "_app";
  }

  /**
   * Creates a fresh database and its owner and app roles on {@code server}.
   *
   * @param createdFor recorded as the database comment (the test class, say), to identify leftovers
   */
  public static DefaultTestDatabase create(RunningServer server, String createdFor) {
    DefaultTestDatabase db = new DefaultTestDatabase(server, PREFIX + Sql.randomHex(6));
    SharedServer.register(db);
    try {
      db.setUp(createdFor);
      return db;
    } catch (SQLException | RuntimeException e) {
      try {
        db.close();
      } catch (RuntimeException cleanup) {
        e.addSuppressed(cleanup);
      }
      throw new SaasException("Could not create a test database on the " + server.description() + ": "
          + e.getMessage(), e);
    }
  }

  private void setUp(String createdFor) throws SQLException {
    String owner = Sql.ident(ownerRole);
    String app = Sql.ident(appRole);
    String db = Sql.ident(name);
    try (Connection c = server.connect(server.maintenanceDatabase()); Statement st = c.createStatement()) {
      String ownerPassword = Sql.randomHex(16);
      synchronized (this) {
        roles.put(ownerRole, ownerPassword);
      }
      st.execute("CREATE ROLE " + owner + " " + ROLE_DEFAULTS + " PASSWORD " + Sql.literal(ownerPassword));
      String appPassword = Sql.randomHex(16);
      synchronized (this) {
        roles.put(appRole, appPassword);
      }
      st.execute("CREATE ROLE " + app + " " + ROLE_DEFAULTS + " PASSWORD " + Sql.literal(appPassword));
      // template0: nothing anyone installed into template1 leaks in, and nobody can be connected to it.
      st.execute("CREATE DATABASE " + db + " OWNER " + owner + " TEMPLATE template0 ENCODING 'UTF8'");
      st.execute("COMMENT ON DATABASE " + db + " IS " + Sql.literal("saas-testing: " + createdFor));
    }
    try (Connection c = server.connect(name); Statement st = c.createStatement()) {
      st.execute("REVOKE CONNECT ON DATABASE " + db + " FROM PUBLIC");
      st.execute("GRANT CONNECT ON DATABASE " + db + " TO " + app);
      st.execute("ALTER SCHEMA public OWNER TO " + owner);
      st.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC");
      st.execute("GRANT USAGE ON SCHEMA public TO " + app);
      st.execute("ALTER DEFAULT PRIVILEGES FOR ROLE " + owner
          + " IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO " + app);
      st.execute("ALTER DEFAULT PRIVILEGES FOR ROLE " + owner
          + " IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO " + app);
    }
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public String jdbcUrl() {
    return server.jdbcUrl(name);
  }

  @Override
  public String ownerRole() {
    return ownerRole;
  }

  @Override
  public String ownerPassword() {
    return rolePassword(ownerRole);
  }

  @Override
  public String appRole() {
    return appRole;
  }

  @Override
  public String appPassword() {
    return rolePassword(appRole);
  }

  @Override
  public synchronized DataSource ownerDataSource() {
    checkOpen();
    if (ownerPool == null) {
      ownerPool = pool(ownerRole, ownerPassword(), 4, Map.of(), "owner");
    }
    return ownerPool;
  }

  @Override
  public synchronized DataSource appDataSource() {
    checkOpen();
    if (appPool == null) {
      appPool = pool(appRole, appPassword(), 10, Map.of(), "app");
    }
    return appPool;
  }

  @Override
  public synchronized DataSource adminDataSource() {
    checkOpen();
    if (adminPool == null) {
      adminPool = pool(server.superuser(), server.superuserPassword(), 2, Map.of(), "admin");
    }
    return adminPool;
  }

  @Override
  public HikariDataSource newPool(String role, String password, int maxPoolSize) {
    return newPool(role, password, maxPoolSize, Map.of());
  }

  @Override
  public synchronized HikariDataSource newPool(String role, String password, int maxPoolSize,
      Map<String, String> jdbcProperties) {
    Objects.requireNonNull(role, "role");
    Objects.requireNonNull(password, "password");
    Objects.requireNonNull(jdbcProperties, "jdbcProperties");
    if (maxPoolSize < 1) {
      throw new IllegalArgumentException("maxPoolSize must be >= 1 but was " + maxPoolSize);
    }
    checkOpen();
    return pool(role, password, maxPoolSize, jdbcProperties, role);
  }

  private HikariDataSource pool(String role, String password, int maxPoolSize, Map<String, String> jdbcProperties,
      String label) {
    HikariConfig config = new HikariConfig();
    config.setPoolName(name + "-" + label + "-" + (++poolCounter));
    config.setDriverClassName("org.postgresql.Driver");
    config.setJdbcUrl(jdbcUrl());
    config.setUsername(role);
    if (!password.isEmpty()) {
      config.setPassword(password);
    }
    config.setMaximumPoolSize(maxPoolSize);
    // Open connections on demand: many test classes share one server and its max_connections.
    config.setMinimumIdle(0);
    config.addDataSourceProperty("ApplicationName", "saas-testing " + name);
    jdbcProperties.forEach(config::addDataSourceProperty);
    HikariDataSource pool = new HikariDataSource(config);
    pools.add(pool);
    return pool;
  }

  @Override
  public synchronized String createRole(String nameSuffix, String attributes) {
    Objects.requireNonNull(nameSuffix, "nameSuffix");
    Objects.requireNonNull(attributes, "attributes");
    checkOpen();
    if (!SUFFIX.matcher(nameSuffix).matches()) {
      throw new IllegalArgumentException(
          "role name suffix must be 1 to 32 characters of a-z, 0-9 and _ but was '" + nameSuffix + "'");
    }
    String role = name + "_" + nameSuffix;
    if (roles.containsKey(role)) {
      throw new IllegalArgumentException("role " + role + " already exists in test database " + name
          + " (the suffixes owner and app are taken by the built-in roles)");
    }
    if (attributes.contains(";")) {
      throw new IllegalArgumentException("attributes must be role options such as SUPERUSER or BYPASSRLS, "
          + "without ';', but were '" + attributes + "'");
    }
    String password = Sql.randomHex(16);
    roles.put(role, password);
    try (Connection c = server.connect(name); Statement st = c.createStatement()) {
      st.execute("CREATE ROLE " + Sql.ident(role) + " LOGIN PASSWORD " + Sql.literal(password) + " " + attributes);
      st.execute("GRANT CONNECT ON DATABASE " + Sql.ident(name) + " TO " + Sql.ident(role));
      st.execute("GRANT USAGE ON SCHEMA public TO " + Sql.ident(role));
    } catch (SQLException e) {
      throw new SaasException("Could not create role " + role + " with attributes '" + attributes + "': "
          + e.getMessage(), e);
    }
    return role;
  }

  @Override
  public synchronized String rolePassword(String role) {
    String password = roles.get(role);
    if (password == null) {
      throw new IllegalArgumentException("role '" + role + "' was not created by test database " + name
          + "; its roles are " + roles.keySet());
    }
    return password;
  }

  @Override
  public PostgresServer server() {
    return server;
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("test database " + name + " is closed");
    }
  }

  @Override
  public void close() {
    List<HikariDataSource> toClose;
    List<String> toDrop;
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
      toClose = new ArrayList<>(pools);
      pools.clear();
      ownerPool = null;
      appPool = null;
      adminPool = null;
      toDrop = new ArrayList<>(roles.keySet());
    }
    List<Exception> errors = new ArrayList<>();
    for (HikariDataSource pool : toClose) {
      try {
        pool.close();
      } catch (RuntimeException e) {
        errors.add(e);
      }
    }
    try (Connection c = server.connect(server.maintenanceDatabase()); Statement st = c.createStatement()) {
      try {
        dropDatabase(c, st);
      } catch (SQLException e) {
        errors.add(e);
      }
      // Reverse creation order: custom roles first, the owner last.
      for (int i = toDrop.size() - 1; i >= 0; i--) {
        String role = toDrop.get(i);
        try {
          dropRole(c, st, role);
        } catch (SQLException e) {
          errors.add(new SQLException("could not drop role " + role + ": " + e.getMessage(), e.getSQLState(), e));
        }
      }
    } catch (SQLException e) {
      errors.add(e);
    } finally {
      SharedServer.unregister(this);
    }
    if (!errors.isEmpty()) {
      SaasException failure = new SaasException("Closing test database " + name + " on the "
          + server.description() + " failed: " + errors.get(0).getMessage(), errors.get(0));
      errors.subList(1, errors.size()).forEach(failure::addSuppressed);
      throw failure;
    }
  }

  private void dropDatabase(Connection c, Statement st) throws SQLException {
    String db = Sql.ident(name);
    if (server.majorVersion() >= 13) {
      st.execute("DROP DATABASE IF EXISTS " + db + " WITH (FORCE)");
      return;
    }
    if (!exists(c, "select 1 from pg_catalog.pg_database where datname = ?", name)) {
      return;
    }
    st.execute("ALTER DATABASE " + db + " ALLOW_CONNECTIONS false");
    try (PreparedStatement ps = c.prepareStatement("select pg_terminate_backend(pid) from pg_catalog.pg_stat_activity"
        + " where datname = ? and pid <> pg_backend_pid()")) {
      ps.setString(1, name);
      ps.execute();
    }
    st.execute("DROP DATABASE IF EXISTS " + db);
  }

  private void dropRole(Connection c, Statement st, String role) throws SQLException {
    if (!exists(c, "select 1 from pg_catalog.pg_roles where rolname = ?", role)) {
      return;
    }
    String r = Sql.ident(role);
    // Objects and grants in this (maintenance) database and on shared objects; then hand anything left that
    // cannot be dropped here (say, a database the role created) to the superuser so DROP ROLE can succeed.
    st.execute("DROP OWNED BY " + r);
    st.execute("REASSIGN OWNED BY " + r + " TO CURRENT_USER");
    st.execute("DROP ROLE IF EXISTS " + r);
  }

  private static boolean exists(Connection c, String sql, String value) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setString(1, value);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next();
      }
    }
  }

  @Override
  public String toString() {
    return "TestDatabase[" + name + " on " + server.description() + "]";
  }
}
