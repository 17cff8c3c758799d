package dev.saaskit.fleet;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.Await;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Writes that race a move on the node that runs it: a write that succeeded must end up in the target (or be refused
 * with TenantReadOnlyException), never be written to the source after the move's drain and then deleted with it.
 */
class TenantMoveWriteRaceTest {
  static TestFleet fleet;

  @BeforeAll
  static void setUp() {
    fleet = TestFleet.create(2, 2);
  }

  @AfterAll
  static void tearDown() {
    fleet.close();
  }

  /** What the racing writer saw: "written", "refused", or an unexpected error. */
  private static Thread writer(FleetDataSource ds, TenantId tenant, AtomicReference<Object> outcome) {
    Thread w = new Thread(() -> {
      try {
        TenantContext.run(tenant, () -> {
          try (Connection c = ds.getConnection(); Statement st = c.createStatement()) {
            st.executeUpdate("INSERT INTO customers (name) VALUES ('racing write')");
          }
        });
        outcome.set("written");
      } catch (TenantReadOnlyException e) {
        outcome.set("refused");
      } catch (Throwable e) {
        outcome.set(e);
      }
    }, "racing-writer");
    w.setDaemon(true);
    return w;
  }

  private static long racingRows(TestFleetDb where, TenantId tenant) {
    return TestFleet.count(where.db.adminDataSource(), "SELECT count(*) FROM customers WHERE tenant_id = '"
        + tenant.value() + "' AND name = 'racing write'");
  }

  private record TestFleetDb(dev.saaskit.testing.TestDatabase db) {}

  @Test
  void aWriterThatWaitedForTheBudgetAcrossTheDrainDoesNotWriteToTheSourceAndLoseItsRow() throws Exception {
    TenantId moving = TenantId.of("race-budget");
    TenantId hog = TenantId.of("race-budget-hog");
    fleet.directory.register(moving, Placement.shared("shard-0"));
    fleet.directory.register(hog, Placement.shared("shard-1"));
    Shop.seed(fleet.shards.get(0), moving, 10);
    Placement target = fleet.dedicatedPlacement(0);
    AtomicReference<Object> outcome = new AtomicReference<>();

    try (FleetDataSource ds = FleetDataSource.builder(fleet.directory).budget(1).perTenantCap(2)
        .acquireTimeout(Duration.ofSeconds(30)).build()) {
      // the only connection of the budget is out, to another tenant
      Connection held = TenantContext.call(hog, ds::getConnection);
      // the writer of the moving tenant routes while the tenant is active, then waits for the budget
      Thread w = writer(ds, moving, outcome);
      w.start();
      Await.until("the writer waits for the budget", () -> w.getState() == Thread.State.TIMED_WAITING);

      TenantMove move = TenantMove.builder(fleet.directory).fleet(ds).drainTimeout(Duration.ofSeconds(20))
          .checkpoints((t, point) -> {
            if (point == TenantMove.Checkpoint.VERIFY_DONE) {
              // the copy is verified: now the writer gets its connection
              closeQuietly(held);
              join(w);
            }
          }).build();
      move.move(moving, target);
      join(w);
    }

    assertThat(outcome.get()).isIn("written", "refused");
    if ("written".equals(outcome.get())) {
      assertThat(racingRows(new TestFleetDb(fleet.database(target)), moving))
          .as("a write reported as successful reached the tenant's database").isEqualTo(1);
    }
    assertThat(Shop.rows(fleet.shards.get(0), moving)).isZero();
    assertThat(TestFleet.rows(fleet.database(target), "customers", moving))
        .isEqualTo(10 + ("written".equals(outcome.get()) ? 1 : 0));
  }

  @Test
  void aDirectoryReadThatRacesTheMovesInvalidationIsNotCachedAsAWritableRoute() throws Exception {
    TenantId moving = TenantId.of("race-cache");
    fleet.directory.register(moving, Placement.shared("shard-1"));
    Shop.seed(fleet.shards.get(1), moving, 10);
    Placement target = fleet.dedicatedPlacement(1);

    // a control data source that can hold the writer's directory read after it ran, before its result is used
    CountDownLatch readDone = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    DataSource control = fleet.control.ownerDataSource();
    DataSource gated = gate(control, "racing-writer", readDone, release);
    TenantDirectory directory = TenantDirectory.builder(gated)
        .credentialResolver(CredentialResolver.fromLookup(fleet.secrets::get)).build();
    AtomicReference<Object> outcome = new AtomicReference<>();

    try (FleetDataSource ds = FleetDataSource.builder(directory).directoryCacheTtl(Duration.ofMinutes(1))
        .build()) {
      Thread w = writer(ds, moving, outcome);
      w.start();
      assertThat(readDone.await(30, TimeUnit.SECONDS)).isTrue(); // it read 'active' on shard-1

      TenantMove move = TenantMove.builder(directory).fleet(ds).checkpoints((t, point) -> {
        if (point == TenantMove.Checkpoint.VERIFY_DONE) {
          release.countDown();
          join(w);
        }
      }).build();
      move.move(moving, target);
      release.countDown();
      join(w);
    }

    assertThat(outcome.get()).isIn("written", "refused");
    if ("written".equals(outcome.get())) {
      assertThat(racingRows(new TestFleetDb(fleet.database(target)), moving))
          .as("a write reported as successful reached the tenant's database").isEqualTo(1);
    }
    assertThat(Shop.rows(fleet.shards.get(1), moving)).isZero();
  }

  private static void closeQuietly(Connection c) {
    try {
      if (!c.isClosed()) {
        c.close();
      }
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  private static void join(Thread t) {
    try {
      t.join(TimeUnit.SECONDS.toMillis(30));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /**
   * {@code delegate}, except that on the thread named {@code threadName} the first connection, when closed (after
   * its query ran), signals {@code done} and waits for {@code release}.
   */
  private static DataSource gate(DataSource delegate, String threadName, CountDownLatch done,
      CountDownLatch release) {
    return (DataSource) Proxy.newProxyInstance(DataSource.class.getClassLoader(), new Class<?>[] {DataSource.class},
        (proxy, method, args) -> {
          if (!method.getName().equals("getConnection") || args != null) {
            return invoke(method, delegate, args);
          }
          Connection real = delegate.getConnection();
          if (!Thread.currentThread().getName().equals(threadName) || done.getCount() == 0) {
            return real;
          }
          return Proxy.newProxyInstance(Connection.class.getClassLoader(), new Class<?>[] {Connection.class},
              (c, m, a) -> {
                if (m.getName().equals("close") && done.getCount() > 0) {
                  done.countDown();
                  release.await(60, TimeUnit.SECONDS);
                }
                return invoke(m, real, a);
              });
        });
  }

  private static Object invoke(java.lang.reflect.Method method, Object target, Object[] args) throws Throwable {
    try {
      return method.invoke(target, args);
    } catch (java.lang.reflect.InvocationTargetException e) {
      throw e.getCause();
    }
  }
}
