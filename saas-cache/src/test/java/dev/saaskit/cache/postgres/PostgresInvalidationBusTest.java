package dev.saaskit.cache.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.cache.Invalidation;
import dev.saaskit.cache.InvalidationBus;
import dev.saaskit.cache.InvalidationListener;
import dev.saaskit.core.SaasException;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.Await;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Delivery between nodes in one JVM, each with its own pool and listener connection, on a real PostgreSQL. */
@ExtendWith(PostgresExtension.class)
class PostgresInvalidationBusTest {
  static BusFixture fx;

  @BeforeAll
  static void setUp(TestDatabase db) throws SQLException {
    BusFixture.migrate(db);
    fx = new BusFixture(db);
  }

  @AfterEach
  void closeNodes() {
    fx.close();
  }

  @AfterAll
  static void tearDown() {
    fx.close();
  }

  @Test
  void everyNodeIncludingThePublisherReceivesEveryInvalidationInPublishOrder() throws Exception {
    List<PostgresInvalidationBus> nodes = List.of(fx.node("a"), fx.node("b"), fx.node("c"));
    List<RecordingListener> recorders = new ArrayList<>();
    for (PostgresInvalidationBus node : nodes) {
      RecordingListener r = new RecordingListener();
      node.subscribe(r);
      recorders.add(r);
    }
    List<Invalidation> fromA = IntStream.range(0, 100)
        .mapToObj(i -> Invalidation.key("plans", TenantId.of("t" + i % 7), "a-" + i)).toList();
    List<Invalidation> fromC = IntStream.range(0, 100).mapToObj(i -> Invalidation.tag("c-" + i)).toList();

    ExecutorService publishers = Executors.newFixedThreadPool(2);
    try {
      Future<?> a = publishers.submit(() -> fromA.forEach(nodes.get(0)::publish));
      Future<?> c = publishers.submit(() -> fromC.forEach(nodes.get(2)::publish));
      a.get(1, TimeUnit.MINUTES);
      c.get(1, TimeUnit.MINUTES);
    } finally {
      publishers.shutdownNow();
    }

    for (RecordingListener r : recorders) {
      Await.until("all 200 invalidations on every node", () -> r.hasAll(fromA) && r.hasAll(fromC));
    }
    for (RecordingListener r : recorders) {
      // one publisher's sequence of commits arrives in that order; nothing is duplicated without a replay
      assertThat(r.receivedAmong(fromA)).containsExactlyElementsOf(fromA);
      assertThat(r.receivedAmong(fromC)).containsExactlyElementsOf(fromC);
      assertThat(r.received).hasSize(200);
      assertThat(r.flushes).hasValue(0);
    }
    assertThat(nodes.get(0).stats().published()).isEqualTo(100);
    assertThat(nodes.get(1).stats().delivered()).isEqualTo(200);
    assertThat(nodes.get(1).stats().listening()).isTrue();
  }

  @Test
  void aListenerThatThrowsOnAnInvalidationIsFlushedAndTheBusReadsOn() {
    PostgresInvalidationBus a = fx.node("a");
    RecordingListener failing = new RecordingListener() {
      @Override
      public void onInvalidation(Invalidation invalidation) {
        super.onInvalidation(invalidation);
        if (invalidation.equals(Invalidation.tag("poison"))) {
          throw new IllegalStateException("could not apply");
        }
      }
    };
    RecordingListener healthy = new RecordingListener();
    a.subscribe(failing);
    a.subscribe(healthy);
    a.publish(Invalidation.tag("poison"));
    a.publish(Invalidation.tag("after"));
    Await.until("both delivered",
        () -> failing.has(Invalidation.tag("after")) && healthy.has(Invalidation.tag("after")));
    assertThat(failing.flushes.get()).isEqualTo(1);
    assertThat(healthy.flushes.get()).isZero();
  }

  @Test
  void aTransactionalPublishTakesEffectOnCommitAndNeverOnRollback() throws SQLException {
    PostgresInvalidationBus a = fx.node("a");
    PostgresInvalidationBus b = fx.node("b");
    RecordingListener onA = new RecordingListener();
    RecordingListener onB = new RecordingListener();
    a.subscribe(onA);
    b.subscribe(onB);
    DataSource app = fx.db.appDataSource();
    Invalidation rolledBack = Invalidation.tag("rolled-back");
    Invalidation committed = Invalidation.tag("committed");

    try (Connection c = app.getConnection()) {
      c.setAutoCommit(false);
      a.publish(c, rolledBack);
      c.rollback();
      a.publish(c, committed);
      // not visible before the commit, on any node: the read after this publish's wake-up finds nothing
      assertThat(onA.received).doesNotContain(committed);
      c.commit();
    }
    Await.until("the committed invalidation on both nodes", () -> onA.has(committed) && onB.has(committed));
    // the rolled-back row never existed; the committed one came after it, so the nodes have read past it
    assertThat(onA.received).containsExactly(committed);
    assertThat(onB.received).containsExactly(committed);
  }

  @Test
  void transactionsCommittingOutOfSeqOrderAreBothDelivered() throws Exception {
    PostgresInvalidationBus a = fx.node("a");
    PostgresInvalidationBus b = fx.node("b", x -> x.pollInterval(Duration.ofMillis(50)));
    RecordingListener onB = new RecordingListener();
    b.subscribe(onB);
    Invalidation first = Invalidation.tag("first-inserted-last-committed");
    Invalidation second = Invalidation.tag("second-inserted-first-committed");
    DataSource app = fx.db.appDataSource();

    try (Connection t1 = app.getConnection(); Connection t2 = app.getConnection()) {
      t1.setAutoCommit(false);
      t2.setAutoCommit(false);
      a.publish(t1, first);
      a.publish(t2, second);
      t2.commit();
      Await.until("the later seq, committed first", () -> onB.has(second));
      // b has now read a row whose seq is above that of an uncommitted row: a reader tracking "last seq" would
      // skip the lower one forever once it commits
      assertThat(seqOf(t1, first)).isLessThan(seqOf(t2, second));
      long readsBefore = b.stats().polls();
      Await.until("a few more reads by b while t1 is open", () -> b.stats().polls() > readsBefore + 3);
      assertThat(onB.received).containsExactly(second);
      t1.commit();
    }
    Await.until("the lower seq, committed last", () -> onB.has(first));
    assertThat(onB.received).containsExactly(second, first);
    assertThat(onB.flushes).hasValue(0);
  }

  @Test
  void notificationsAloneWakeANodeThatDoesNotPoll() throws SQLException {
    // with an hour between reads, only the NOTIFY from the publishing node can make b read
    PostgresInvalidationBus a = fx.node("a", x -> x.pollInterval(Duration.ofHours(1)));
    PostgresInvalidationBus b = fx.node("b", x -> x.pollInterval(Duration.ofHours(1)));
    RecordingListener onB = new RecordingListener();
    b.subscribe(onB);
    Await.until("b listening", () -> b.stats().listening());

    Invalidation own = Invalidation.all("plans");
    a.publish(own);
    Await.until("b woken by a's notification", () -> onB.has(own));

    Invalidation inTx = Invalidation.tenant("plans", TenantId.of("acme"));
    try (Connection c = fx.db.appDataSource().getConnection()) {
      c.setAutoCommit(false);
      a.publish(c, inTx);
      c.commit();
    }
    // a watched the app's transaction and notified after its commit
    Await.until("b woken after the app's commit", () -> onB.has(inTx));
    // awaited, not asserted at once: b's start read (which runs once its LISTEN holds, so after "listening") may
    // deliver a's first invalidation before its notification arrives, and that late notification's read then
    // delivers inTx before inTx's own notification is counted
    Await.until("b received both notifications", () -> b.stats().notificationsReceived() >= 2);
    assertThat(b.stats().replayed()).isZero();
    assertThat(a.stats().notificationsSent()).isGreaterThanOrEqualTo(2);
  }

  @Test
  void wakeUpsAreCoalescedToOnePerNotifyInterval() {
    Duration interval = Duration.ofMillis(200);
    PostgresInvalidationBus a = fx.node("a", x -> x.pollInterval(Duration.ofHours(1)).notifyInterval(interval));
    PostgresInvalidationBus b = fx.node("b", x -> x.pollInterval(Duration.ofHours(1)));
    RecordingListener onB = new RecordingListener();
    b.subscribe(onB);
    Await.until("b listening", () -> b.stats().listening());
    List<Invalidation> all = IntStream.range(0, 150).mapToObj(i -> Invalidation.tag("burst-" + i)).toList();

    long start = System.nanoTime();
    all.forEach(a::publish);
    long elapsedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    // b reads only when notified: the trailing notification of the burst must come too
    Await.until("the whole burst on b", () -> onB.hasAll(all));

    long allowed = 2 + elapsedMs / interval.toMillis();
    assertThat(a.stats().notificationsSent()).isBetween(1L, allowed);
    assertThat(a.stats().published()).isEqualTo(150);
    assertThat(onB.receivedAmong(all)).containsExactlyElementsOf(all);
  }

  @Test
  void aNodeStartsAtTheHeadOfTheLog() {
    PostgresInvalidationBus a = fx.node("a");
    Invalidation before = Invalidation.tag("before-b-started");
    a.publish(before);
    PostgresInvalidationBus b = fx.node("b");
    RecordingListener onB = new RecordingListener();
    b.subscribe(onB);
    Invalidation after = Invalidation.tag("after-b-started");
    a.publish(after);
    Await.until("the later invalidation", () -> onB.has(after));
    assertThat(onB.received).containsExactly(after);
  }

  @Test
  void aFailingListenerDoesNotStopTheOthersAndAClosedSubscriptionGetsNothing() {
    PostgresInvalidationBus a = fx.node("a");
    RecordingListener kept = new RecordingListener();
    RecordingListener dropped = new RecordingListener();
    a.subscribe(new InvalidationListener() {
      @Override
      public void onInvalidation(Invalidation invalidation) {
        throw new IllegalStateException("a broken cache");
      }

      @Override
      public void onLostInvalidations() {}
    });
    a.subscribe(kept);
    InvalidationBus.Subscription subscription = a.subscribe(dropped);
    Invalidation one = Invalidation.tag("one");
    a.publish(one);
    Await.until("first delivery", () -> kept.has(one) && dropped.has(one));
    subscription.close();
    subscription.close();
    Invalidation two = Invalidation.tag("two");
    a.publish(two);
    Await.until("second delivery", () -> kept.has(two));
    assertThat(dropped.received).containsExactly(one);
    assertThat(kept.received).containsExactly(one, two);
  }

  @Test
  void aClosedBusRefusesWorkAndReleasesItsListenerConnection() throws SQLException {
    PostgresInvalidationBus a = fx.node("a");
    Await.until("listening", () -> a.stats().listening());
    assertThat(listenerSessions(a)).isEqualTo(1);
    a.close();
    a.close();
    assertThat(listenerSessions(a)).isZero();
    assertThat(a.stats().listening()).isFalse();
    assertThatThrownBy(() -> a.publish(Invalidation.tag("x"))).isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("closed");
    assertThatThrownBy(() -> a.subscribe(new RecordingListener())).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void buildStartsNoThreadStartStartsThemOnceAndCloseIsBoundedAndIdempotent() throws Exception {
    PostgresInvalidationBus bus = PostgresInvalidationBus.builder(fx.appPool(4)).nodeName("lifecycle")
        .pruneInterval(Duration.ofMinutes(1)).closeTimeout(Duration.ofSeconds(5)).build();
    fx.register(bus);
    assertThat(busThreads("lifecycle")).isEmpty();
    assertThat(bus.isRunning()).isFalse();
    // publishing before start() writes the row; subscribing before start() receives what is read after it
    RecordingListener early = new RecordingListener();
    bus.subscribe(early);

    assertThat(bus.start()).isSameAs(bus);
    assertThat(bus.isRunning()).isTrue();
    assertThat(busThreads("lifecycle")).isNotEmpty();
    assertThatThrownBy(bus::start).isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("already started");
    bus.publish(Invalidation.tag("after-start"));
    Await.until("delivery to a listener subscribed before start()", () -> early.has(Invalidation.tag("after-start")));

    long began = System.nanoTime();
    bus.close();
    assertThat(Duration.ofNanos(System.nanoTime() - began)).isLessThan(Duration.ofSeconds(5));
    Await.until("the bus's threads gone", () -> busThreads("lifecycle").isEmpty());
    bus.close(); // idempotent
    assertThat(bus.isRunning()).isFalse();
    assertThatThrownBy(bus::start).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
  }

  @Test
  void theBusRegistersItsMetersWhenItStartsAndRemovesThemWhenItCloses() {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    PostgresInvalidationBus bus = PostgresInvalidationBus.builder(fx.appPool(4)).nodeName("metered")
        .pruneInterval(Duration.ZERO).meterRegistry(registry).build();
    fx.register(bus);
    assertThat(registry.getMeters()).isEmpty();
    bus.start();
    RecordingListener r = new RecordingListener();
    bus.subscribe(r);
    bus.publish(Invalidation.tag("metered"));
    Await.until("the delivery counted", () -> r.has(Invalidation.tag("metered"))
        && registry.get("saaskit.cache.bus.delivered").tag("node", "metered").functionCounter().count() >= 1);
    assertThat(registry.get("saaskit.cache.bus.published").tag("schema", "saaskit_cache").functionCounter().count())
        .isEqualTo(1);
    assertThat(registry.get("saaskit.cache.bus.polls").functionCounter().count()).isGreaterThanOrEqualTo(1);
    Await.until("listening", () -> registry.get("saaskit.cache.bus.listening").gauge().value() == 1);
    assertThat(registry.get("saaskit.cache.bus.read.age").gauge().value()).isBetween(0.0, 30.0);
    assertThat(registry.getMeters()).extracting(m -> m.getId().getName()).contains(
        "saaskit.cache.bus.notifications.sent", "saaskit.cache.bus.notifications.received",
        "saaskit.cache.bus.replayed", "saaskit.cache.bus.flushes", "saaskit.cache.bus.reconnects",
        "saaskit.cache.bus.pruned");
    bus.close();
    assertThat(registry.getMeters()).isEmpty();
  }

  @Test
  void closeReturnsWithinTheCloseTimeoutEvenWhenASubscriberHangs() throws Exception {
    java.util.concurrent.CountDownLatch entered = new java.util.concurrent.CountDownLatch(1);
    java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
    PostgresInvalidationBus bus = fx.node("hanging", b -> b.closeTimeout(Duration.ofMillis(300)));
    bus.subscribe(new InvalidationListener() {
      @Override
      public void onInvalidation(Invalidation invalidation) {
        entered.countDown();
        try {
          release.await(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }

      @Override
      public void onLostInvalidations() {}
    });
    try {
      bus.publish(Invalidation.tag("hang"));
      assertThat(entered.await(30, TimeUnit.SECONDS)).isTrue();
      long began = System.nanoTime();
      bus.close();
      assertThat(Duration.ofNanos(System.nanoTime() - began)).isLessThan(Duration.ofSeconds(3));
    } finally {
      release.countDown();
    }
    Await.until("the reader thread ends once the subscriber returns", () -> busThreads("hanging").isEmpty());
  }

  @Test
  void aSubscriberThatClosesTheBusDoesNotWaitForItsOwnThread() throws Exception {
    for (boolean pollingOnly : new boolean[] {false, true}) {
      String node = pollingOnly ? "self-close-poll" : "self-close";
      // a close timeout far beyond the test's bound: a close() that joins its own thread fails the await below
      PostgresInvalidationBus bus = fx.node(node, b -> b.pollingOnly(pollingOnly).closeTimeout(Duration.ofMinutes(10)));
      java.util.concurrent.CountDownLatch returned = new java.util.concurrent.CountDownLatch(1);
      bus.subscribe(new InvalidationListener() {
        @Override
        public void onInvalidation(Invalidation invalidation) {
          bus.close();
          returned.countDown();
        }

        @Override
        public void onLostInvalidations() {}
      });
      bus.publish(Invalidation.tag("close-from-subscriber"));
      assertThat(returned.await(Await.DEFAULT_BOUND.toSeconds(), TimeUnit.SECONDS))
          .as("close() from a subscriber returns without waiting for the reader thread it runs on").isTrue();
      assertThat(bus.isRunning()).isFalse();
      Await.until("the bus's threads end once the subscriber returned", () -> busThreads(node).isEmpty());
      assertThatThrownBy(() -> bus.publish(Invalidation.tag("x"))).isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("closed");
    }
  }

  @Test
  void aSecondCloseReturnsOnlyOnceTheFirstHasStoppedTheThreads() throws Exception {
    java.util.concurrent.CountDownLatch entered = new java.util.concurrent.CountDownLatch(1);
    java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
    PostgresInvalidationBus bus = fx.node("two-closes", b -> b.closeTimeout(Duration.ofMinutes(10)));
    bus.subscribe(new InvalidationListener() {
      @Override
      public void onInvalidation(Invalidation invalidation) {
        entered.countDown();
        try {
          release.await(60, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }

      @Override
      public void onLostInvalidations() {}
    });
    List<String> threadsWhenSecondReturned = new java.util.concurrent.CopyOnWriteArrayList<>();
    Thread first = new Thread(bus::close, "app-close");
    Thread second = new Thread(() -> {
      bus.close();
      threadsWhenSecondReturned.addAll(busThreads("two-closes"));
      threadsWhenSecondReturned.add("returned");
    }, "shutdown-hook-close");
    try {
      bus.publish(Invalidation.tag("slow"));
      assertThat(entered.await(30, TimeUnit.SECONDS)).isTrue();
      first.start();
      Await.until("the first close() waits for the subscriber",
          () -> first.getState() == Thread.State.TIMED_WAITING);
      second.start();
      Await.until("the second close() waits (for the first) or returned", () -> {
        Thread.State state = second.getState();
        return state == Thread.State.TIMED_WAITING || state == Thread.State.TERMINATED;
      });
    } finally {
      release.countDown();
    }
    second.join(TimeUnit.SECONDS.toMillis(30));
    first.join(TimeUnit.SECONDS.toMillis(30));
    assertThat(threadsWhenSecondReturned).as("no bus thread is left when the second close() returns")
        .containsExactly("returned");
  }

  @Test
  void closeDoesNotWaitForAStartStuckOnTheDatabaseAndThatStartStopsWhatItStarted() throws Exception {
    PostgresInvalidationBus bus = PostgresInvalidationBus.builder(fx.appPool(4)).nodeName("stuck-start")
        .closeTimeout(Duration.ofSeconds(5)).build();
    fx.register(bus);
    java.util.concurrent.atomic.AtomicReference<Throwable> startFailure =
        new java.util.concurrent.atomic.AtomicReference<>();
    Thread starter = new Thread(() -> {
      try {
        bus.start();
      } catch (Throwable e) {
        startFailure.set(e);
      }
    }, "starter");
    Thread closer = new Thread(bus::close, "closer");
    try (Connection owner = fx.db.ownerDataSource().getConnection()) {
      owner.setAutoCommit(false);
      try (java.sql.Statement st = owner.createStatement()) {
        // the head read of start() waits for this lock, as for a database that does not answer
        st.execute("LOCK TABLE " + CacheSchema.DEFAULT_NAME + ".prune_state IN ACCESS EXCLUSIVE MODE");
      }
      try {
        starter.start();
        Await.until("start() waits for the database", () -> BusFixture.count(fx.db.ownerDataSource(),
            "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = '" + CacheSchema.DEFAULT_NAME
                + ".prune_state'::regclass") == 1);
        closer.start();
        Await.until("close() returns while start() still waits for the database",
            () -> closer.getState() == Thread.State.TERMINATED);
        assertThat(bus.isRunning()).isFalse();
      } finally {
        owner.rollback();
      }
    }
    starter.join(TimeUnit.SECONDS.toMillis(30));
    assertThat(starter.isAlive()).isFalse();
    assertThat(startFailure.get()).isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("closed while it started");
    assertThat(bus.isRunning()).isFalse();
    Await.until("the threads that start() began are stopped", () -> busThreads("stuck-start").isEmpty());
    assertThatThrownBy(bus::start).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
  }

  @Test
  void aBusClosedBeforeStartHasNothingToStop() {
    PostgresInvalidationBus bus = PostgresInvalidationBus.builder(fx.db.appDataSource()).nodeName("never").build();
    bus.close();
    bus.close();
    assertThat(busThreads("never")).isEmpty();
    assertThatThrownBy(() -> bus.publish(Invalidation.tag("x"))).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> PostgresInvalidationBus.builder(fx.db.appDataSource()).closeTimeout(Duration.ZERO))
        .hasMessage("closeTimeout must be PT0.001S to PT10M but was PT0S");
  }

  private static List<String> busThreads(String node) {
    return Thread.getAllStackTraces().keySet().stream().map(Thread::getName)
        .filter(n -> n.startsWith("saaskit-cache-bus") && n.endsWith("-" + node)).toList();
  }

  @Test
  void publishFailsWithAnExplanationWhenTheRoleHasNoGrant(TestDatabase db) throws SQLException {
    String stranger = db.createRole("stranger", "");
    try (var pool = db.newPool(stranger, db.rolePassword(stranger), 2)) {
      assertThatThrownBy(() -> PostgresInvalidationBus.builder(pool).build().start())
          .isInstanceOf(SaasException.class)
          .hasMessageContaining("CacheSchema.grant");
      try (Connection c = pool.getConnection()) {
        PostgresInvalidationBus a = fx.node("a");
        assertThatThrownBy(() -> a.publish(c, Invalidation.tag("x")))
            .isInstanceOf(SaasException.class)
            .hasMessageContaining("permission denied");
      }
    }
  }

  @Test
  void theBuilderNamesTheBadSetting() {
    DataSource ds = fx.db.appDataSource();
    assertThatThrownBy(() -> PostgresInvalidationBus.builder(ds).pollInterval(Duration.ofMillis(5)))
        .hasMessage("pollInterval must be PT0.01S to PT1H but was PT0.005S");
    assertThatThrownBy(() -> PostgresInvalidationBus.builder(ds).nodeName("has space"))
        .hasMessageContaining("nodeName must be 1 to 40 characters");
    assertThatThrownBy(() -> PostgresInvalidationBus.builder(ds).pruneBatchSize(0))
        .hasMessage("pruneBatchSize must be 1 to 100000 but was 0");
    assertThatThrownBy(() -> PostgresInvalidationBus.builder(ds).maxRows(-1))
        .hasMessageContaining("maxRows must be >= 0");
    assertThatThrownBy(() -> PostgresInvalidationBus.builder(ds)
        .reconnectBackoff(Duration.ofSeconds(2), Duration.ofSeconds(1)))
        .hasMessageContaining("reconnectBackoff max must be >= min");
    assertThatThrownBy(() -> PostgresInvalidationBus.builder(ds).notifyInterval(Duration.ofSeconds(2)).build())
        .hasMessageContaining("notifyInterval must be below pollInterval");
    assertThatThrownBy(() -> PostgresInvalidationBus.builder(ds).retention(Duration.ofSeconds(1)).build())
        .hasMessageContaining("retention must be at least twice pollInterval");
  }

  /** The seq of {@code tag}'s row, read on {@code c} (which sees its own uncommitted rows). */
  private static long seqOf(Connection c, Invalidation tag) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT seq FROM saaskit_cache.invalidation_log WHERE value = ?")) {
      ps.setString(1, tag.value());
      try (ResultSet rs = ps.executeQuery()) {
        assertThat(rs.next()).isTrue();
        return rs.getLong(1);
      }
    }
  }

  private static long listenerSessions(PostgresInvalidationBus bus) throws SQLException {
    try (Connection c = fx.db.adminDataSource().getConnection();
        PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM pg_stat_activity WHERE application_name = ?")) {
      ps.setString(1, bus.listenerApplicationName());
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getLong(1);
      }
    }
  }
}
