package dev.saaskit.fleet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.core.MissingTenantException;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.Await;
import dev.saaskit.testing.MutableClock;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Routing, isolation, the budget, states and pool life of FleetDataSource over a real mixed fleet. */
class FleetDataSourceTest {
  static TestFleet fleet;

  @BeforeAll
  static void setUp() {
    fleet = TestFleet.create(2, 3);
  }

  @AfterAll
  static void tearDown() {
    fleet.close();
  }

  /** The process ids of the fleet's application-role backends on the server now. */
  private static Set<Integer> appBackends() {
    List<String> roles = new ArrayList<>();
    for (TestDatabase db : fleet.databases()) {
      roles.add(db.appRole().toLowerCase(Locale.ROOT));
    }
    Set<Integer> pids = new HashSet<>();
    try (Connection c = fleet.control.adminDataSource().getConnection();
        PreparedStatement ps = c.prepareStatement("SELECT pid FROM pg_stat_activity WHERE usename = ANY(?)")) {
      ps.setArray(1, c.createArrayOf("text", roles.toArray()));
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          pids.add(rs.getInt(1));
        }
      }
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
    return pids;
  }

  private static TenantId id(String prefix, int i) {
    return TenantId.of(prefix + "-" + i);
  }

  @Test
  void fiftyConcurrentTenantsOfAMixedFleetStayIsolatedAndWithinTheBudget() throws Exception {
    int tenants = 50;
    int budget = 8;
    List<TenantId> ids = new ArrayList<>();
    for (int i = 0; i < tenants; i++) {
      TenantId t = id("mix", i);
      ids.add(t);
      if (i < 3) {
        fleet.directory.register(t, fleet.dedicatedPlacement(i));
      } else {
        fleet.directory.place(t);
      }
    }
    // the default policy evened out the shards (other tests put a few tenants there explicitly)
    long onShard0 = fleet.directory.list().stream().filter(e -> e.state() != TenantState.DELETED)
        .filter(e -> e.placement().equals(Placement.shared("shard-0"))).count();
    long onShard1 = fleet.directory.list().stream().filter(e -> e.state() != TenantState.DELETED)
        .filter(e -> e.placement().equals(Placement.shared("shard-1"))).count();
    assertThat(Math.abs(onShard0 - onShard1)).isLessThanOrEqualTo(1);

    int iterations = 12;
    AtomicLong maxSeenOnServer = new AtomicLong();
    AtomicBoolean running = new AtomicBoolean(true);
    try (FleetDataSource ds = FleetDataSource.builder(fleet.directory).budget(budget).perTenantCap(2)
        .acquireTimeout(Duration.ofSeconds(60)).build()) {
      // a backend whose client has closed it stays listed until its process exits, which on a loaded machine can
      // take a while: only backends listed in two samples half a second apart count (pooled connections stay open
      // that long, so connections over the budget would be seen)
      Thread sampler = new Thread(() -> {
        Set<Integer> previous = Set.of();
        while (running.get()) {
          Set<Integer> now = appBackends();
          Set<Integer> inBoth = new HashSet<>(now);
          inBoth.retainAll(previous);
          maxSeenOnServer.accumulateAndGet(inBoth.size(), Math::max);
          previous = now;
          try {
            Thread.sleep(500);
          } catch (InterruptedException e) {
            return;
          }
        }
      });
      sampler.start();
      ExecutorService pool = Executors.newFixedThreadPool(tenants);
      CountDownLatch start = new CountDownLatch(1);
      List<Future<?>> done = new ArrayList<>();
      for (TenantId t : ids) {
        done.add(pool.submit(() -> {
          start.await();
          TenantContext.call(t, () -> {
            for (int k = 0; k < iterations; k++) {
              try (Connection c = ds.getConnection();
                  PreparedStatement insert = c.prepareStatement("INSERT INTO customers (name) VALUES (?)")) {
                insert.setString(1, t.value() + "#" + k);
                insert.executeUpdate();
              }
              try (Connection c = ds.getConnection(); Statement st = c.createStatement();
                  ResultSet rs = st.executeQuery("SELECT name FROM customers")) {
                int seen = 0;
                while (rs.next()) {
                  assertThat(rs.getString(1)).startsWith(t.value() + "#");
                  seen++;
                }
                assertThat(seen).isEqualTo(k + 1);
              }
            }
            return null;
          });
          return null;
        }));
      }
      start.countDown();
      for (Future<?> f : done) {
        f.get();
      }
      pool.shutdown();
      running.set(false);
      sampler.join();
      FleetStats stats = ds.stats();
      assertThat(stats.peakOpenConnections()).isLessThanOrEqualTo(budget).isGreaterThan(0);
      assertThat(stats.borrowedConnections()).isZero();
      // the server may still list a backend for a moment after its client closed it (the process exits after
      // reading the Terminate message), so a connection opened with the freed permit can briefly overlap it
      assertThat(maxSeenOnServer.get()).isLessThanOrEqualTo(budget + 2);
    }
    // every tenant's rows are in its own placement's database, and nowhere else
    for (TenantId t : ids) {
      Placement p = fleet.directory.require(t).placement();
      for (TestDatabase db : fleet.databases()) {
        long expected = db == fleet.database(p) ? iterations : 0;
        assertThat(TestFleet.rows(db, "customers", t)).as("%s in %s", t, db.name()).isEqualTo(expected);
      }
    }
  }

  @Test
  void noTenantNoConnectionAndAConnectionStaysWithItsTenant() throws Exception {
    fleet.directory.register(TenantId.of("bound-a"), Placement.shared("shard-0"));
    fleet.directory.register(TenantId.of("bound-b"), Placement.shared("shard-0"));
    try (FleetDataSource ds = FleetDataSource.builder(fleet.directory).build()) {
      assertThatThrownBy(ds::getConnection).isInstanceOf(MissingTenantException.class)
          .hasMessageContaining("forEachPlacement");
      Connection a = TenantContext.call(TenantId.of("bound-a"), ds::getConnection);
      try (a) {
        TenantContext.run(TenantId.of("bound-a"), () -> {
          try (Statement st = a.createStatement()) {
            st.executeUpdate("INSERT INTO customers (name) VALUES ('a')");
          }
        });
        // the same connection under tenant b's context: refused before anything is sent
        assertThatThrownBy(() -> TenantContext.run(TenantId.of("bound-b"), () -> {
          try (Statement st = a.createStatement()) {
            st.executeQuery("SELECT count(*) FROM customers");
          }
        })).isInstanceOf(FleetException.class).hasMessageContaining("was used under tenant 'bound-b'");
      }
      assertThat(TestFleet.rows(fleet.shards.get(0), "customers", TenantId.of("bound-b"))).isZero();
    }
  }

  @Test
  void suspendedDeletedAndUnknownTenantsGetAClearExceptionNotAConnection() throws SQLException {
    TenantId t = TenantId.of("susp");
    fleet.directory.register(t, Placement.shared("shard-1"));
    try (FleetDataSource ds = FleetDataSource.builder(fleet.directory).build()) {
      fleet.directory.setState(t, TenantState.SUSPENDED);
      assertThatThrownBy(() -> TenantContext.call(t, ds::getConnection))
          .isInstanceOf(TenantUnavailableException.class).hasMessageContaining("'susp' is suspended");
      assertThat(ds.stats().borrowedConnections()).isZero();
      fleet.directory.setState(t, TenantState.ACTIVE);
      TenantContext.run(t, () -> ds.getConnection().close());
      fleet.directory.setState(t, TenantState.DELETED);
      assertThatThrownBy(() -> TenantContext.call(t, ds::getConnection))
          .isInstanceOf(TenantUnavailableException.class).hasMessageContaining("deleted");
      assertThatThrownBy(() -> fleet.directory.setState(t, TenantState.ACTIVE))
          .isInstanceOf(FleetException.class).hasMessageContaining("kept for audit");
      assertThatThrownBy(() -> TenantContext.call(TenantId.of("nobody"), ds::getConnection))
          .isInstanceOfSatisfying(TenantUnavailableException.class, e -> assertThat(e.state()).isEmpty())
          .hasMessageContaining("not in the tenant directory");
    }
  }

  @Test
  void aReadOnlyTenantReadsAndGetsAClearErrorOnWrite() throws Exception {
    TenantId t = TenantId.of("ro");
    fleet.directory.register(t, fleet.dedicatedPlacement(2));
    try (FleetDataSource ds = FleetDataSource.builder(fleet.directory).build()) {
      TenantContext.run(t, () -> {
        try (Connection c = ds.getConnection(); Statement st = c.createStatement()) {
          st.executeUpdate("INSERT INTO customers (name) VALUES ('before')");
        }
      });
      fleet.directory.setState(t, TenantState.READ_ONLY);
      TenantContext.run(t, () -> {
        try (Connection c = ds.getConnection()) {
          assertThat(c.getAutoCommit()).isTrue();
          try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT name FROM customers")) {
            assertThat(rs.next()).isTrue();
            assertThat(rs.getString(1)).isEqualTo("before");
          }
          try (Statement st = c.createStatement()) {
            assertThatThrownBy(() -> st.executeUpdate("INSERT INTO customers (name) VALUES ('during')"))
                .isInstanceOfSatisfying(TenantReadOnlyException.class, e -> {
                  assertThat(e.getSQLState()).isEqualTo("25006");
                  assertThat(e.state()).isEqualTo(TenantState.READ_ONLY);
                })
                .hasMessageContaining("'ro' is read_only");
          }
        }
      });
      fleet.directory.setState(t, TenantState.ACTIVE);
      TenantContext.run(t, () -> {
        try (Connection c = ds.getConnection(); Statement st = c.createStatement()) {
          assertThat(st.executeUpdate("INSERT INTO customers (name) VALUES ('after')")).isEqualTo(1);
        }
      });
    }
    assertThat(TestFleet.rows(fleet.dedicated.get(2), "customers", t)).isEqualTo(2);
  }

  @Test
  void aNoisyTenantHitsItsCapWhileOthersStillGetConnections() throws Exception {
    TenantId noisy = TenantId.of("noisy");
    TenantId quiet = TenantId.of("quiet");
    fleet.directory.register(noisy, Placement.shared("shard-0"));
    fleet.directory.register(quiet, Placement.shared("shard-0"));
    try (FleetDataSource ds = FleetDataSource.builder(fleet.directory).budget(4).perTenantCap(2)
        .acquireTimeout(Duration.ofSeconds(3)).build()) {
      List<Connection> held = new ArrayList<>();
      TenantContext.run(noisy, () -> {
        held.add(ds.getConnection());
        held.add(ds.getConnection());
        assertThatThrownBy(ds::getConnection).isInstanceOfSatisfying(SQLTransientConnectionException.class,
            e -> assertThat(e.getSQLState()).isEqualTo("53300")).hasMessageContaining("holds its cap of 2");
      });
      TenantContext.run(quiet, () -> {
        try (Connection c = ds.getConnection(); Statement st = c.createStatement()) {
          st.executeQuery("SELECT 1").close();
        }
      });
      for (Connection c : held) {
        c.close();
      }
      assertThat(ds.stats().borrowedConnections()).isZero();
      assertThat(ds.stats().peakOpenConnections()).isLessThanOrEqualTo(4);
    }
  }

  @Test
  void theBudgetIsSharedFairlyAndIdleConnectionsOfOtherPoolsAreGivenBack() throws Exception {
    // budget 2: tenant on shard-0 leaves an idle connection, tenant on dedicated-1 still gets one, and then one more
    TenantId s = TenantId.of("budget-s");
    TenantId d = TenantId.of("budget-d");
    fleet.directory.register(s, Placement.shared("shard-1"));
    fleet.directory.register(d, fleet.dedicatedPlacement(1));
    try (FleetDataSource ds = FleetDataSource.builder(fleet.directory).budget(2).perTenantCap(2)
        .acquireTimeout(Duration.ofSeconds(30)).build()) {
      TenantContext.run(s, () -> {
        Connection a = ds.getConnection();
        Connection b = ds.getConnection();
        a.createStatement().executeQuery("SELECT 1").close();
        b.createStatement().executeQuery("SELECT 1").close();
        a.close();
        b.close();
      });
      assertThat(ds.stats().openConnections()).isEqualTo(2);
      TenantContext.run(d, () -> {
        try (Connection a = ds.getConnection(); Connection b = ds.getConnection()) {
          a.createStatement().executeQuery("SELECT 1").close();
          b.createStatement().executeQuery("SELECT 1").close();
        }
      });
      assertThat(ds.stats().peakOpenConnections()).isEqualTo(2);
    }
  }

  @Test
  void theDirectoryChangesWithoutRestartAndTheRemovedTenantsPoolIsClosedAfterItsLastConnection()
      throws Exception {
    TenantId t = TenantId.of("mover");
    TenantEntry entry = fleet.directory.register(t, fleet.dedicatedPlacement(0));
    TestDatabase old = fleet.dedicated.get(0);
    try (FleetDataSource ds = FleetDataSource.builder(fleet.directory).directoryCacheTtl(Duration.ofHours(1))
        .build()) {
      Connection inFlight = TenantContext.call(t, ds::getConnection);
      TenantContext.run(t, () -> {
        inFlight.setAutoCommit(false);
        try (Statement st = inFlight.createStatement()) {
          st.executeUpdate("INSERT INTO customers (name) VALUES ('old placement')");
        }
      });
      int poolsBefore = ds.stats().pools();
      assertThat(fleet.directory.compareAndSet(entry, Placement.shared("shard-1"), TenantState.ACTIVE)).isTrue();
      // the connection already handed out finishes its transaction on the old placement
      TenantContext.run(t, () -> {
        inFlight.commit();
        inFlight.close();
      });
      assertThat(TestFleet.rows(old, "customers", t)).isEqualTo(1);
      assertThat(ds.stats().pools()).isEqualTo(poolsBefore - 1);
      Await.until("the old database has no connection of the fleet",
          () -> TestFleet.count(old.adminDataSource(), "SELECT count(*) FROM pg_stat_activity WHERE usename = '"
              + old.appRole() + "'") == 0);
      // the next connection goes to the new placement at once, cache or not
      TenantContext.run(t, () -> {
        try (Connection c = ds.getConnection(); Statement st = c.createStatement()) {
          st.executeUpdate("INSERT INTO customers (name) VALUES ('new placement')");
        }
      });
      assertThat(TestFleet.rows(fleet.shards.get(1), "customers", t)).isEqualTo(1);
      assertThat(TestFleet.rows(old, "customers", t)).isEqualTo(1);
    }
  }

  @Test
  void changesMadeElsewhereArriveThroughInvalidate() throws Exception {
    TenantId t = TenantId.of("elsewhere");
    fleet.directory.register(t, Placement.shared("shard-0"));
    TenantDirectory otherNode = TenantDirectory.builder(fleet.control.ownerDataSource())
        .credentialResolver(CredentialResolver.fromLookup(fleet.secrets::get)).build();
    try (FleetDataSource ds = FleetDataSource.builder(fleet.directory).directoryCacheTtl(Duration.ofHours(1))
        .build()) {
      TenantContext.run(t, () -> ds.getConnection().close());
      otherNode.setState(t, TenantState.SUSPENDED);
      TenantContext.run(t, () -> ds.getConnection().close()); // cached: still active here
      ds.invalidate(t);
      assertThatThrownBy(() -> TenantContext.call(t, ds::getConnection))
          .isInstanceOf(TenantUnavailableException.class);
    }
  }

  @Test
  void idlePoolsAreClosed() throws Exception {
    MutableClock clock = MutableClock.atSystemTime();
    TenantId t = TenantId.of("idle");
    fleet.directory.register(t, fleet.dedicatedPlacement(1));
    try (FleetDataSource ds = FleetDataSource.builder(fleet.directory).clock(clock)
        .poolIdleTimeout(Duration.ofMinutes(1)).build()) {
      TenantContext.run(t, () -> {
        try (Connection c = ds.getConnection()) {
          c.createStatement().executeQuery("SELECT 1").close();
          clock.advance(Duration.ofMinutes(5));
          assertThat(ds.closeIdlePools()).as("a pool with a borrowed connection stays").isZero();
        }
      });
      assertThat(ds.closeIdlePools()).isZero();
      clock.advance(Duration.ofSeconds(61));
      assertThat(ds.closeIdlePools()).isEqualTo(1);
      assertThat(ds.stats().pools()).isZero();
      Await.until("the closed pool's connection is closed", () -> ds.stats().openConnections() == 0);
      TenantContext.run(t, () -> ds.getConnection().close()); // reopened on demand
      assertThat(ds.stats().pools()).isEqualTo(1);
    }
  }

  /** The live threads the fleet names (its housekeeping and pool closers; HikariCP's threads of its pools). */
  private static Set<Thread> fleetThreads() {
    Set<Thread> threads = new HashSet<>();
    for (Thread t : Thread.getAllStackTraces().keySet()) {
      if (t.isAlive() && (t.getName().startsWith("saaskit-fleet") || t.getName().startsWith("fleet-"))) {
        threads.add(t);
      }
    }
    return threads;
  }

  @Test
  void buildStartsNoThreadTheFirstPoolStartsHousekeepingAndCloseStopsIt() throws Exception {
    TenantId t = TenantId.of("lifecycle");
    fleet.directory.register(t, fleet.dedicatedPlacement(2));
    Set<Thread> before = fleetThreads();
    FleetDataSource ds = FleetDataSource.builder(fleet.directory).budget(7).closeTimeout(Duration.ofSeconds(5))
        .build();
    try {
      Set<Thread> afterBuild = fleetThreads();
      afterBuild.removeAll(before);
      assertThat(afterBuild).as("threads started by build()").isEmpty();
      assertThat(ds.stats()).isEqualTo(FleetStats.of(7, 0, 0, 0, 0, 0));

      TenantContext.run(t, () -> ds.getConnection().close());
      Set<Thread> afterUse = fleetThreads();
      afterUse.removeAll(before);
      assertThat(afterUse).extracting(Thread::getName).contains("saaskit-fleet-housekeeping");
      FleetStats stats = ds.stats();
      assertThat(stats.pools()).isEqualTo(1);
      assertThat(stats.borrowedConnections()).isZero();
      assertThat(stats.budget()).isEqualTo(7);

      ds.close();
      ds.close(); // idempotent
      Await.until("the fleet's threads end after close()", () -> afterUse.stream().noneMatch(Thread::isAlive));
      assertThat(ds.stats().pools()).isZero();
    } finally {
      ds.close();
    }
  }

  /**
   * A getConnection() racing close() (a request during the application's shutdown) gets the data source's own
   * "closed" SQLException (08003), and no pool is left open behind the close. It used to make its pool on the
   * housekeeping executor close() had shut down, and threw HikariCP's RejectedExecutionException instead.
   */
  @Test
  void aConnectionRequestRacingCloseGetsTheClosedSqlExceptionAndLeavesNoPool() throws Exception {
    TenantId t = TenantId.of("close-race");
    fleet.directory.register(t, fleet.dedicatedPlacement(2));
    CountDownLatch making = new CountDownLatch(1);
    CountDownLatch proceed = new CountDownLatch(1);
    FleetDataSource ds = FleetDataSource.builder(fleet.directory).hikari(config -> {
      making.countDown();
      try {
        proceed.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }).build();
    ExecutorService threads = Executors.newFixedThreadPool(2, r -> new Thread(r, "close-race-" + r.hashCode()));
    try {
      Future<?> request = threads.submit(() -> {
        TenantContext.run(t, () -> ds.getConnection().close());
        return null;
      });
      assertThat(making.await(30, java.util.concurrent.TimeUnit.SECONDS)).as("the pool is being made").isTrue();
      Thread[] closer = new Thread[1];
      Future<?> closing = threads.submit(() -> {
        closer[0] = Thread.currentThread();
        ds.close();
      });
      // close() has shut its executors down once it waits for the pool being made (to clear the pool map)
      Await.until("close() reached the pool being made", () -> closing.isDone() || (closer[0] != null
          && java.util.Arrays.stream(closer[0].getStackTrace()).anyMatch(f -> f.getMethodName().equals("clear"))));
      proceed.countDown();
      assertThatThrownBy(() -> request.get(30, java.util.concurrent.TimeUnit.SECONDS))
          .cause().isInstanceOf(SQLException.class).hasMessage("the FleetDataSource is closed")
          .extracting(e -> ((SQLException) e).getSQLState()).isEqualTo("08003");
      closing.get(30, java.util.concurrent.TimeUnit.SECONDS);
      assertThat(ds.stats().pools()).as("pools left behind the close").isZero();
    } finally {
      proceed.countDown();
      threads.shutdownNow();
      ds.close();
    }
  }

  @Test
  void closeTimeoutIsCheckedByTheBuilder() {
    assertThatThrownBy(() -> FleetDataSource.builder(fleet.directory).closeTimeout(Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class).hasMessage("closeTimeout must be > 0 but was PT0S");
    assertThatThrownBy(() -> FleetStats.of(0, 0, 0, 0, 0, 0)).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("budget must be >= 1 but was 0");
    assertThatThrownBy(() -> FleetStats.of(1, -1, 0, 0, 0, 0)).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("openConnections must be >= 0 but was -1");
  }

  @Test
  void crossTenantWorkGoesThroughAnExplicitIterationOfPlacements() throws SQLException {
    try (FleetDataSource ds = FleetDataSource.builder(fleet.directory).build()) {
      Map<Placement, Object> names = ds.forEachPlacement((placement, c) -> {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT current_database()")) {
          rs.next();
          return rs.getString(1);
        }
      });
      assertThat(names).containsEntry(Placement.shared("shard-0"), fleet.shards.get(0).name())
          .containsEntry(Placement.shared("shard-1"), fleet.shards.get(1).name());
      assertThat(new ConcurrentHashMap<>(names).values()).doesNotHaveDuplicates();
    }
  }
}
