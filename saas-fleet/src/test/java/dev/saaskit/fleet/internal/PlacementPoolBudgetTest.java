package dev.saaskit.fleet.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.testing.Await;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLTransientConnectionException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.Executors;
import java.util.concurrent.ExecutorService;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A pool closed while its connection adder waits for the budget: the adder stops waiting at once, so it cannot
 * open a connection into a pool that is shutting down (HikariCP drops a connection added to a closed pool without
 * closing it, which would leak a permit of the budget and a server connection), and the pool's shutdown does not
 * wait for it.
 */
class PlacementPoolBudgetTest {
  static TestDatabase db;

  @BeforeAll
  static void setUp() {
    db = TestDatabase.create();
  }

  @AfterAll
  static void tearDown() throws Exception {
    db.close();
  }

  @Test
  void aPoolClosedWhileItsAdderWaitsForTheBudgetStopsWaitingAndLeaksNothing() throws Exception {
    ConnectionBudget budget = new ConnectionBudget(1);
    ExecutorService closer = Executors.newCachedThreadPool();
    // X's adder would wait five minutes for the budget; X's borrower gives up after one second
    BudgetedConnector xConnector = connector("x", budget, asking -> { }, Duration.ofMinutes(5));
    PlacementPool x = new PlacementPool("x", hikari("x", xConnector, Duration.ofSeconds(1)), xConnector, closer, 0);
    BudgetedConnector yConnector = connector("y", budget, asking -> { }, Duration.ofMinutes(5));
    PlacementPool y = new PlacementPool("y", hikari("y", yConnector, Duration.ofSeconds(30)), yConnector, closer, 0);
    try {
      Connection held = y.borrow(); // the whole budget
      assertThatThrownBy(x::borrow).isInstanceOf(SQLTransientConnectionException.class);
      assertThat(xConnector.waiting()).as("x's adder still waits for the budget").isEqualTo(1);

      assertThat(x.closeIfUnused()).isTrue();
      Await.until("x's adder stopped waiting", () -> xConnector.waiting() == 0);
      Await.until("x is shut down", () -> x.totalConnections() == 0 && isShutDown(x));

      held.close();
      try (Connection c = y.borrow()) {
        assertThat(select(c)).isEqualTo(1);
      }
      y.forceClose();
      assertThat(budget.open()).as("no permit of the budget is left behind").isZero();
      assertThat(budget.peakOpen()).isEqualTo(1);
    } finally {
      y.forceClose();
      x.forceClose();
      closer.shutdown();
    }
  }

  private static boolean isShutDown(PlacementPool pool) {
    try {
      pool.borrow().close();
      return false;
    } catch (Exception e) {
      return true;
    }
  }

  private static BudgetedConnector connector(String key, ConnectionBudget budget, BudgetedConnector.Evictor evictor,
      Duration timeout) {
    Properties props = new Properties();
    props.setProperty("user", db.appRole());
    props.setProperty("password", db.appPassword());
    return new BudgetedConnector(key, db.jdbcUrl(), props, budget, evictor, timeout.toNanos());
  }

  private static HikariDataSource hikari(String name, BudgetedConnector connector, Duration connectionTimeout) {
    HikariConfig config = new HikariConfig();
    config.setPoolName("budget-test-" + name);
    config.setDataSource(connector);
    config.setMinimumIdle(0);
    config.setMaximumPoolSize(2);
    config.setConnectionTimeout(connectionTimeout.toMillis());
    config.setInitializationFailTimeout(-1);
    return new HikariDataSource(config);
  }

  private static int select(Connection c) throws Exception {
    try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT 1")) {
      rs.next();
      return rs.getInt(1);
    }
  }
}
