package dev.saaskit.fleet;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code Connection.abort} on a fleet connection (review of 2026-12-06). JDBC says an aborted connection is closed,
 * and a watchdog that aborts a hung request's connection does not close it again; the fleet gave the tenant's
 * permit and the budget's back only on {@code close()}, so each abort took one of the tenant's connections for
 * good and the tenant was soon refused every connection.
 */
class FleetAbortTest {
  static TestFleet fleet;

  @BeforeAll
  static void setUp() {
    fleet = TestFleet.create(1, 0);
  }

  @AfterAll
  static void tearDown() {
    fleet.close();
  }

  @Test
  void anAbortedConnectionGivesItsPermitsBackAndIsClosed() throws Exception {
    TenantId t = TenantId.of("aborted");
    fleet.directory.register(t, Placement.shared("shard-0"));
    try (FleetDataSource ds = FleetDataSource.builder(fleet.directory).budget(1).perTenantCap(1)
        .acquireTimeout(Duration.ofSeconds(2)).build()) {
      for (int i = 0; i < 3; i++) {
        Connection c = TenantContext.call(t, ds::getConnection);
        c.abort(Runnable::run); // and never closed, as a watchdog leaves it
        assertThat(c.isClosed()).isTrue();
      }
      Connection last = TenantContext.call(t, ds::getConnection);
      last.abort(Runnable::run);
      last.close(); // a later close changes nothing: the permits are not given back twice
      last.abort(Runnable::run);
      assertThat(ds.stats().borrowedConnections()).isZero();
      // the tenant's one permit and the budget's one permit are back: it still gets a working connection
      TenantContext.run(t, () -> {
        try (Connection c = ds.getConnection(); Statement s = c.createStatement();
            ResultSet rs = s.executeQuery("SELECT 1")) {
          assertThat(rs.next()).isTrue();
        }
      });
    }
  }
}
