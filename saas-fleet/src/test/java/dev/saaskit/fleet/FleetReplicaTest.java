package dev.saaskit.fleet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.MutableClock;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Read-replica routing. No streaming replica is built here: two ordinary databases stand in for the replicas of
 * shard-0 (each answers a different name to {@code SELECT current_database()}), and lag is injected through the
 * {@link ReplicaLagProbe}; the default probe's SQL runs against them (it answers 0 on a server not in recovery).
 */
class FleetReplicaTest {
  static TestFleet fleet;
  static TestDatabase replicaA;
  static TestDatabase replicaB;
  static final TenantId T = TenantId.of("reader");

  @BeforeAll
  static void setUp() {
    fleet = TestFleet.create(1, 0);
    replicaA = TestDatabase.create();
    replicaB = TestDatabase.create();
    fleet.directory.register(T, Placement.shared("shard-0"));
  }

  @AfterAll
  static void tearDown() {
    replicaA.close();
    replicaB.close();
    fleet.close();
  }

  private static String where(FleetDataSource ds) throws SQLException {
    return TenantContext.call(T, () -> {
      try (Connection c = ds.getReadOnlyConnection(); Statement st = c.createStatement();
          ResultSet rs = st.executeQuery("SELECT current_database(), current_setting('app.tenant_id', true)")) {
        rs.next();
        assertThat(rs.getString(2)).isEqualTo("reader");
        return rs.getString(1);
      }
    });
  }

  @Test
  void readsAreSpreadOverTheReplicasAndAWriteSendsTheTenantsReadsToThePrimaryForAWhile() throws Exception {
    MutableClock clock = MutableClock.atSystemTime();
    try (FleetDataSource ds = FleetDataSource.builder(fleet.directory).clock(clock)
        .replicas(Placement.shared("shard-0"), List.of(replicaA.appDataSource(), replicaB.appDataSource()))
        .readYourWritesWindow(Duration.ofSeconds(5)).build()) {
      Set<String> seen = new HashSet<>();
      for (int i = 0; i < 4; i++) {
        seen.add(where(ds));
      }
      assertThat(seen).containsExactlyInAnyOrder(replicaA.name(), replicaB.name());

      TenantContext.run(T, () -> {
        try (Connection c = ds.getConnection(); Statement st = c.createStatement()) {
          st.executeUpdate("INSERT INTO customers (name) VALUES ('just written')");
        }
      });
      assertThat(where(ds)).as("read-your-writes").isEqualTo(fleet.shards.get(0).name());
      clock.advance(Duration.ofSeconds(6));
      assertThat(where(ds)).isIn(replicaA.name(), replicaB.name());
    }
  }

  /** A closed data source hands out no connection, a replica's included (it used to, to a tenant with replicas). */
  @Test
  void aClosedDataSourceRefusesReadOnlyConnectionsToo() throws Exception {
    FleetDataSource ds = FleetDataSource.builder(fleet.directory)
        .replicas(Placement.shared("shard-0"), List.of(replicaA.appDataSource())).build();
    assertThat(where(ds)).as("a replica serves before close()").isEqualTo(replicaA.name());
    ds.close();
    assertThatThrownBy(() -> where(ds)).isInstanceOf(SQLException.class)
        .hasMessage("the FleetDataSource is closed")
        .extracting(e -> ((SQLException) e).getSQLState()).isEqualTo("08003");
  }

  @Test
  void aLaggingOrDownReplicaIsSkippedAndWithNoneLeftThePrimaryServes() throws Exception {
    MutableClock clock = MutableClock.atSystemTime();
    com.zaxxer.hikari.HikariConfig config = new com.zaxxer.hikari.HikariConfig();
    config.setJdbcUrl("jdbc:postgresql://127.0.0.1:1/nothing_listens_here"); // a replica that is down
    config.setInitializationFailTimeout(-1);
    config.setConnectionTimeout(250);
    com.zaxxer.hikari.HikariDataSource down = new com.zaxxer.hikari.HikariDataSource(config);
    Set<String> lagging = new HashSet<>(Set.of(replicaA.name()));
    ReplicaLagProbe probe = replica -> {
      String name;
      try (Statement st = replica.createStatement(); ResultSet rs = st.executeQuery("SELECT current_database()")) {
        rs.next();
        name = rs.getString(1);
      }
      return lagging.contains(name) ? Duration.ofMinutes(5) : ReplicaLagProbe.replayLag().lag(replica);
    };
    try (FleetDataSource ds = FleetDataSource.builder(fleet.directory).clock(clock).lagProbe(probe)
        .maxReplicaLag(Duration.ofSeconds(10)).lagCheckInterval(Duration.ofSeconds(1))
        .replicas(Placement.shared("shard-0"), List.of(replicaA.appDataSource(), down, replicaB.appDataSource()))
        .build(); down) {
      for (int i = 0; i < 6; i++) {
        assertThat(where(ds)).isEqualTo(replicaB.name());
      }
      lagging.add(replicaB.name());
      clock.advance(Duration.ofSeconds(2)); // lag is measured again
      assertThat(where(ds)).isEqualTo(fleet.shards.get(0).name());
      lagging.clear();
      clock.advance(Duration.ofSeconds(2));
      assertThat(where(ds)).isIn(replicaA.name(), replicaB.name());
    }
  }
}
