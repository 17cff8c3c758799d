package dev.saaskit.cache.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.cache.Invalidation;
import dev.saaskit.testing.Await;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The fault the issue is about: a node's listener connection dies (pg_terminate_backend, as a failover or a
 * proxy restart would do) while another node keeps changing data and invalidating it in the same transactions.
 * After the reconnect the node must have applied every invalidation, and its cache must hold no stale value.
 */
@ExtendWith(PostgresExtension.class)
class ReconnectTest {
  static final int KEYS = 20;
  static final String CACHE = "items";
  static BusFixture fx;

  @BeforeAll
  static void setUp(TestDatabase db) throws SQLException {
    BusFixture.migrate(db);
    fx = new BusFixture(db);
    BusFixture.execute(db.ownerDataSource(), "CREATE TABLE items (id int PRIMARY KEY, version int NOT NULL)",
        "INSERT INTO items SELECT g, 0 FROM generate_series(0, " + (KEYS - 1) + ") g");
  }

  @AfterAll
  static void tearDown() {
    fx.close();
  }

  @Test
  void killingTheListenerConnectionWhileWritesContinueLosesNothing() throws Exception {
    PostgresInvalidationBus writer = fx.node("writer");
    // b polls rarely: whatever it gets while its listener is down comes from the replay after the reconnect
    PostgresInvalidationBus b = fx.node("b", x -> x.pollInterval(Duration.ofSeconds(30)));
    MapCache cache = new MapCache(CACHE);
    RecordingListener onB = new RecordingListener();
    b.subscribe(cache);
    b.subscribe(onB);
    Await.until("b listening", () -> b.stats().listening());

    DataSource app = fx.db.appDataSource();
    DataSource readerPool = fx.appPool(2);
    List<Invalidation> committed = new CopyOnWriteArrayList<>();
    AtomicBoolean stop = new AtomicBoolean();
    AtomicBoolean stopWrites = new AtomicBoolean();
    AtomicLong reads = new AtomicLong();
    ExecutorService threads = Executors.newFixedThreadPool(2);
    try {
      Future<?> writes = threads.submit(() -> {
        SplittableRandom random = new SplittableRandom(7);
        for (int n = 0; !stopWrites.get(); n++) {
          committed.add(bumpAndInvalidate(app, writer, random.nextInt(KEYS), n));
        }
        return null;
      });
      Future<?> cacheReads = threads.submit(() -> {
        SplittableRandom random = new SplittableRandom(11);
        while (!stop.get()) {
          cache.get(Integer.toString(random.nextInt(KEYS)), key -> version(readerPool, key));
          reads.incrementAndGet();
        }
        return null;
      });

      for (int kill = 1; kill <= 3; kill++) {
        int deliveredBefore = onB.received.size();
        Await.until("b applying live invalidations", () -> onB.received.size() > deliveredBefore + 40);
        assertThat(fx.killListener(b)).as("listener backends terminated").isEqualTo(1);
        long killedAt = committed.size();
        // writes go on while b is disconnected and backing off
        Await.until("writes while b is down", () -> committed.size() > killedAt + 30);
        int reconnects = kill;
        Await.until("b reconnected", () -> b.stats().reconnects() >= reconnects);
      }
      int afterLastKill = committed.size();
      Await.until("writes after the last reconnect", () -> committed.size() > afterLastKill + 30);
      stopWrites.set(true);
      writes.get(1, TimeUnit.MINUTES);
      Invalidation marker = Invalidation.tag("marker");
      writer.publish(marker);
      // the marker committed after every write, so once b has it, b has read past all of them; the cache reader
      // keeps going until then, so the cache carries entries from the whole run into the final check
      Await.until("the marker on b", () -> onB.has(marker));
      stop.set(true);
      cacheReads.get(1, TimeUnit.MINUTES);
    } finally {
      stop.set(true);
      stopWrites.set(true);
      threads.shutdownNow();
    }

    assertThat(committed).hasSizeGreaterThan(150);
    List<Invalidation> missing = committed.stream().filter(i -> !onB.received.contains(i)).toList();
    assertThat(missing).as("invalidations b never applied").isEmpty();
    assertThat(onB.flushes).as("a reconnect replays; it does not need to flush").hasValue(0);
    assertThat(b.stats().reconnects()).isGreaterThanOrEqualTo(3);
    assertThat(b.stats().replayed()).as("invalidations found by the replay after a reconnect").isPositive();
    assertThat(reads.get()).isPositive();

    // zero stale values: every value the cache kept through the run is the database's, and so is every read
    Map<String, Integer> database = versions(app);
    Map<String, Integer> cached = cache.snapshot();
    cached.forEach((key, value) -> assertThat(value).as("cached version of item %s", key).isEqualTo(database.get(key)));
    long staleReads = database.keySet().stream()
        .filter(key -> cache.get(key, k -> version(readerPool, k)) != database.get(key).intValue()).count();
    assertThat(staleReads).isZero();
    assertThat(cache.snapshot()).isEqualTo(database);
  }

  /**
   * One business transaction: bump an item's version and invalidate its key, committed together; plus a tag
   * unique to this write, so that every single write can be traced on the receiving node. Returns that tag.
   */
  private static Invalidation bumpAndInvalidate(DataSource app, PostgresInvalidationBus bus, int id, int n)
      throws SQLException {
    try (Connection c = app.getConnection()) {
      c.setAutoCommit(false);
      try (PreparedStatement ps = c.prepareStatement("UPDATE items SET version = version + 1 WHERE id = ?")) {
        ps.setInt(1, id);
        ps.executeUpdate();
      }
      bus.publish(c, Invalidation.key(CACHE, null, Integer.toString(id)));
      Invalidation trace = Invalidation.tag("write-" + n);
      bus.publish(c, trace);
      c.commit();
      return trace;
    }
  }

  private static int version(DataSource ds, String key) {
    try (Connection c = ds.getConnection();
        PreparedStatement ps = c.prepareStatement("SELECT version FROM items WHERE id = ?")) {
      ps.setInt(1, Integer.parseInt(key));
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getInt(1);
      }
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  private static Map<String, Integer> versions(DataSource ds) throws SQLException {
    Map<String, Integer> versions = new HashMap<>();
    try (Connection c = ds.getConnection(); Statement st = c.createStatement();
        ResultSet rs = st.executeQuery("SELECT id, version FROM items")) {
      while (rs.next()) {
        versions.put(Integer.toString(rs.getInt(1)), rs.getInt(2));
      }
    }
    return versions;
  }
}
