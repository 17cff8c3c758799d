package dev.saaskit.cache.postgres;

import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.function.UnaryOperator;
import javax.sql.DataSource;

/**
 * Nodes for tests: each bus gets its own pool of the app role (so its own connections, as on separate machines),
 * and everything is closed after each test.
 */
final class BusFixture implements AutoCloseable {
  static final Duration BOUND = Duration.ofSeconds(30);

  final TestDatabase db;
  private final List<AutoCloseable> open = new ArrayList<>();

  BusFixture(TestDatabase db) {
    this.db = db;
  }

  /** Migrates the default schema as the owner and grants it to the app role. */
  static void migrate(TestDatabase db) throws SQLException {
    CacheSchema.defaults().migrate(db.ownerDataSource());
    try (Connection c = db.ownerDataSource().getConnection()) {
      CacheSchema.defaults().grantApp(c, db.appRole());
    }
  }

  /** A new pool of the app role, closed with the fixture. */
  synchronized HikariDataSource appPool(int size) {
    HikariDataSource pool = db.newPool(db.appRole(), db.appPassword(), size);
    open.add(pool);
    return pool;
  }

  /** Closes {@code closeable} with the fixture. */
  synchronized void register(AutoCloseable closeable) {
    open.add(closeable);
  }

  /** A new pool of the app role whose sessions carry {@code applicationName}, closed with the fixture. */
  synchronized HikariDataSource appPool(int size, String applicationName) {
    HikariDataSource pool = db.newPool(db.appRole(), db.appPassword(), size,
        java.util.Map.of("ApplicationName", applicationName));
    open.add(pool);
    return pool;
  }

  /** A node with its own pool; no automatic pruning unless the test configures it. */
  PostgresInvalidationBus node(String name) {
    return node(name, b -> b);
  }

  PostgresInvalidationBus node(String name, UnaryOperator<PostgresInvalidationBus.Builder> config) {
    return node(name, appPool(4), config);
  }

  PostgresInvalidationBus node(String name, DataSource pool,
      UnaryOperator<PostgresInvalidationBus.Builder> config) {
    PostgresInvalidationBus.Builder builder = PostgresInvalidationBus.builder(pool).nodeName(name)
        .pruneInterval(Duration.ZERO).reconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(500));
    PostgresInvalidationBus bus = config.apply(builder).build().start();
    synchronized (this) {
      open.add(bus);
    }
    return bus;
  }

  /** Closes the nodes and pools of the current test, newest first. */
  @Override
  public synchronized void close() {
    for (int i = open.size() - 1; i >= 0; i--) {
      try {
        open.get(i).close();
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    }
    open.clear();
  }

  static long count(DataSource ds, String sql) throws SQLException {
    try (Connection c = ds.getConnection(); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
      rs.next();
      return rs.getLong(1);
    }
  }

  static long count(Connection c, String sql) throws SQLException {
    try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
      rs.next();
      return rs.getLong(1);
    }
  }

  static void execute(DataSource ds, String... sql) throws SQLException {
    try (Connection c = ds.getConnection(); Statement st = c.createStatement()) {
      for (String each : sql) {
        st.execute(each);
      }
    }
  }

  /** Terminates the listener connection of {@code bus}; returns how many backends were terminated. */
  int killListener(PostgresInvalidationBus bus) throws SQLException {
    return kill(bus.listenerApplicationName());
  }

  /** Terminates every session of this database named {@code applicationName}; returns how many. */
  int kill(String applicationName) throws SQLException {
    try (Connection c = db.adminDataSource().getConnection();
        PreparedStatement ps = c.prepareStatement("SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))"
            + " FROM pg_stat_activity WHERE application_name = ? AND datname = current_database()")) {
      ps.setString(1, applicationName);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getInt(1);
      }
    }
  }
}
