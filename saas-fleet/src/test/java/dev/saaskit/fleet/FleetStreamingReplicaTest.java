package dev.saaskit.fleet;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.Await;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Read replicas against a real streaming hot standby ({@link StreamingReplica}: initdb, pg_basebackup -R, on this
 * machine's PostgreSQL binaries): reads go to the standby and see what the primary wrote once it is replayed; the
 * default lag probe measures a real replay lag when replay is paused, and the standby is skipped beyond the bound;
 * a stopped standby is skipped. Skipped on a machine without PostgreSQL server binaries.
 */
class FleetStreamingReplicaTest {
  static final TenantId T = TenantId.of("replicated");
  static StreamingReplica pair;
  static TestFleet fleet;
  static Placement.Dedicated placement;
  static HikariDataSource standbyPool;

  @BeforeAll
  static void setUp() throws Exception {
    pair = StreamingReplica.startIfPossible().orElse(null);
    Assumptions.assumeTrue(pair != null, "no PostgreSQL server binaries under /usr/lib/postgresql");
    try (Connection c = DriverManager.getConnection(pair.primaryUrl("postgres"), "postgres", "");
        Statement st = c.createStatement()) {
      st.execute("CREATE ROLE repl_owner LOGIN PASSWORD 'owner-pw'");
      st.execute("CREATE ROLE repl_app LOGIN PASSWORD 'app-pw'");
      st.execute("CREATE DATABASE shop OWNER repl_owner");
    }
    try (Connection c = DriverManager.getConnection(pair.primaryUrl("shop"), "postgres", "");
        Statement st = c.createStatement()) {
      st.execute("ALTER DEFAULT PRIVILEGES FOR ROLE repl_owner GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES"
          + " TO repl_app");
      st.execute("GRANT USAGE ON SCHEMA public TO repl_app");
    }
    Flyway.configure().dataSource(pair.primaryUrl("shop"), "repl_owner", "owner-pw")
        .locations("classpath:db/app").load().migrate();
    fleet = TestFleet.create(0, 0);
    fleet.secrets.put("REPL_USER", "repl_app");
    fleet.secrets.put("REPL_PASSWORD", "app-pw");
    fleet.secrets.put("REPL_ADMIN_USER", "repl_owner");
    fleet.secrets.put("REPL_ADMIN_PASSWORD", "owner-pw");
    placement = Placement.dedicated(pair.primaryUrl("shop"), "REPL");
    fleet.directory.register(T, placement);
    HikariConfig config = new HikariConfig();
    config.setJdbcUrl(pair.standbyUrl("shop"));
    config.setUsername("repl_app");
    config.setPassword("app-pw");
    config.setMaximumPoolSize(2);
    config.setConnectionTimeout(2_000);
    config.setInitializationFailTimeout(-1);
    standbyPool = new HikariDataSource(config);
    Await.until("the standby replays the schema", Duration.ofSeconds(30), () -> {
      try (Connection c = standbyPool.getConnection(); Statement st = c.createStatement();
          ResultSet rs = st.executeQuery("SELECT to_regclass('public.customers') IS NOT NULL")) {
        return rs.next() && rs.getBoolean(1);
      }
    });
  }

  @AfterAll
  static void tearDown() throws Exception {
    if (standbyPool != null) {
      standbyPool.close();
    }
    if (fleet != null) {
      fleet.close();
    }
    if (pair != null) {
      pair.close();
    }
  }

  /** Reads through the fleet: whether the answer came from a server in recovery, and how many customers it sees. */
  private static boolean[] read(FleetDataSource ds, String name) throws SQLException {
    return TenantContext.call(T, () -> {
      try (Connection c = ds.getReadOnlyConnection(); Statement st = c.createStatement();
          ResultSet rs = st.executeQuery("SELECT pg_is_in_recovery(), EXISTS (SELECT 1 FROM customers"
              + " WHERE name = '" + name + "')")) {
        rs.next();
        return new boolean[] {rs.getBoolean(1), rs.getBoolean(2)};
      }
    });
  }

  private static void write(FleetDataSource ds, String name) throws SQLException {
    TenantContext.run(T, () -> {
      try (Connection c = ds.getConnection(); Statement st = c.createStatement()) {
        st.executeUpdate("INSERT INTO customers (name) VALUES ('" + name + "')");
      }
    });
  }

  private static void onStandby(String sql) throws SQLException {
    try (Connection c = DriverManager.getConnection(pair.standbyUrl("postgres"), "postgres", "");
        Statement st = c.createStatement()) {
      st.execute(sql);
    }
  }

  @Test
  void readsGoToTheStandbyWhileItKeepsUpAndToThePrimaryWhenItLagsOrIsDown() throws Exception {
    try (FleetDataSource ds = FleetDataSource.builder(fleet.directory)
        .replicas(placement, List.of(standbyPool))
        .readYourWritesWindow(Duration.ZERO)
        .maxReplicaLag(Duration.ofSeconds(1))
        .lagCheckInterval(Duration.ofMillis(100))
        .build()) {
      write(ds, "first");
      Await.until("the standby replays the write and serves the read", Duration.ofSeconds(30), () -> {
        boolean[] r = read(ds, "first");
        return r[0] && r[1];
      });

      // replay paused: the standby receives WAL it does not apply; its measured lag grows past the bound
      onStandby("SELECT pg_wal_replay_pause()");
      write(ds, "while-paused");
      Await.until("a lagging standby is skipped: the primary answers", Duration.ofSeconds(30), () -> {
        boolean[] r = read(ds, "while-paused");
        return !r[0] && r[1];
      });
      try (Connection c = standbyPool.getConnection()) {
        assertThat(ReplicaLagProbe.replayLag().lag(c)).isGreaterThan(Duration.ofSeconds(1));
      }

      onStandby("SELECT pg_wal_replay_resume()");
      Await.until("the standby caught up serves reads again", Duration.ofSeconds(30), () -> {
        boolean[] r = read(ds, "while-paused");
        return r[0] && r[1];
      });

      pair.stopStandby();
      // a read on a connection the standby pool handed out before the standby stopped fails, as with any pool;
      // from the next lag check on the fleet skips the standby
      Await.until("a stopped standby is skipped", Duration.ofSeconds(30), () -> {
        try {
          return !read(ds, "first")[0];
        } catch (SQLException e) {
          return false;
        }
      });
      assertThat(read(ds, "first")[1]).isTrue();
    }
  }
}
