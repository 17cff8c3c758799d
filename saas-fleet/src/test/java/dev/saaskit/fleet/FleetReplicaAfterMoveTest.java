package dev.saaskit.fleet;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.MutableClock;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Right after a move, the target's read replicas may not have replayed the copied rows: the moved tenant reads
 * from the target's primary until its placement is older than the replicas' lag bound. An empty ordinary database
 * stands in for the target's replica, as a replica that has not replayed the copy would look to the tenant.
 */
class FleetReplicaAfterMoveTest {
  private static final TenantId MOVED = TenantId.of("moved");
  private static final TenantId RESIDENT = TenantId.of("resident");

  private static String readFrom(FleetDataSource ds, TenantId tenant) throws SQLException {
    return TenantContext.call(tenant, () -> {
      try (Connection c = ds.getReadOnlyConnection(); Statement st = c.createStatement();
          ResultSet rs = st.executeQuery("SELECT current_database()")) {
        rs.next();
        return rs.getString(1);
      }
    });
  }

  @Test
  void aMovedTenantReadsFromTheTargetPrimaryUntilTheTargetsReplicasCanHaveItsRows() throws Exception {
    try (TestFleet fleet = TestFleet.create(2, 0); TestDatabase replica = TestDatabase.create()) {
      fleet.directory.register(MOVED, Placement.shared("shard-0"));
      fleet.directory.register(RESIDENT, Placement.shared("shard-1"));
      MutableClock clock = MutableClock.atSystemTime();
      try (FleetDataSource ds = FleetDataSource.builder(fleet.directory).clock(clock)
          .directoryCacheTtl(Duration.ofHours(1))
          .replicas(Placement.shared("shard-1"), List.of(replica.appDataSource()))
          .maxReplicaLag(Duration.ofSeconds(10)).lagCheckInterval(Duration.ofSeconds(1))
          .readYourWritesWindow(Duration.ZERO).build()) {
        assertThat(readFrom(ds, RESIDENT)).as("registering is not moving").isEqualTo(replica.name());
        TenantContext.run(MOVED, () -> {
          try (Connection c = ds.getConnection(); Statement st = c.createStatement()) {
            st.executeUpdate("INSERT INTO customers (name) VALUES ('before the move')");
          }
        });

        TenantMove.builder(fleet.directory).fleet(ds).drainWait(Duration.ZERO).build()
            .move(MOVED, Placement.shared("shard-1"));

        assertThat(readFrom(ds, MOVED)).as("just moved: the target's primary, which has the rows")
            .isEqualTo(fleet.shards.get(1).name());
        assertThat(readFrom(ds, RESIDENT)).as("the other tenants of the target keep its replica")
            .isEqualTo(replica.name());
        clock.advance(Duration.ofSeconds(9));
        assertThat(readFrom(ds, MOVED)).as("within the replicas' lag bound").isEqualTo(fleet.shards.get(1).name());
        clock.advance(Duration.ofSeconds(3));
        assertThat(readFrom(ds, MOVED)).as("placed longer ago than any usable replica lags")
            .isEqualTo(replica.name());
      }
    }
  }

  @Test
  void aStateChangeIsNotAPlacementChange() throws Exception {
    try (TestFleet fleet = TestFleet.create(1, 0); TestDatabase replica = TestDatabase.create()) {
      fleet.directory.register(RESIDENT, Placement.shared("shard-0"));
      try (FleetDataSource ds = FleetDataSource.builder(fleet.directory)
          .replicas(Placement.shared("shard-0"), List.of(replica.appDataSource()))
          .readYourWritesWindow(Duration.ZERO).build()) {
        fleet.directory.setState(RESIDENT, TenantState.READ_ONLY);
        fleet.directory.setState(RESIDENT, TenantState.ACTIVE);
        assertThat(readFrom(ds, RESIDENT)).isEqualTo(replica.name());
        assertThat(TestFleet.count(fleet.control.adminDataSource(),
            "SELECT count(*) FROM saaskit_fleet.tenants WHERE placed_at IS NOT NULL")).isZero();
      }
    }
  }
}
