package dev.saaskit.cache.redis;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.cache.SaasCache;
import dev.saaskit.cache.postgres.CacheSchema;
import dev.saaskit.cache.postgres.PostgresInvalidationBus;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.Await;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Two nodes as in production: each a {@link SaasCache} with the Redis tier (its own connection) and its own
 * {@link PostgresInvalidationBus}, which carries the local invalidations. A value loaded on A is a Redis hit on B;
 * after A invalidates, B never serves the old value; killing B's Redis connection during invalidations leaves no
 * stale read once it is back.
 */
@ExtendWith(PostgresExtension.class)
class TwoNodesTest {
  private static final TenantId ACME = TenantId.of("acme");

  private RedisSupport redisSupport;
  private final List<AutoCloseable> open = new ArrayList<>();
  private final ConcurrentHashMap<String, Integer> source = new ConcurrentHashMap<>();
  private final AtomicInteger loadsA = new AtomicInteger();
  private final AtomicInteger loadsB = new AtomicInteger();

  @BeforeAll
  static void schema(TestDatabase db) throws SQLException {
    CacheSchema.defaults().migrate(db.ownerDataSource());
    try (Connection c = db.ownerDataSource().getConnection()) {
      CacheSchema.defaults().grantApp(c, db.appRole());
    }
  }

  @BeforeEach
  void connect() {
    redisSupport = RedisSupport.connect();
  }

  @AfterEach
  void close() throws Exception {
    for (int i = open.size() - 1; i >= 0; i--) {
      open.get(i).close();
    }
    redisSupport.close();
  }

  private <T extends AutoCloseable> T keep(T closeable) {
    open.add(closeable);
    return closeable;
  }

  private final Map<SaasCache<String, Integer>, PostgresInvalidationBus> buses = new HashMap<>();
  private final Map<SaasCache<String, Integer>, HikariDataSource> pools = new HashMap<>();

  private SaasCache<String, Integer> node(TestDatabase db, String name, SaasRedis redis) {
    HikariDataSource pool = keep(db.newPool(db.appRole(), db.appPassword(), 2));
    PostgresInvalidationBus bus = keep(PostgresInvalidationBus.builder(pool).nodeName(name)
        .pruneInterval(Duration.ZERO).reconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(500)).build()
        .start());
    SaasCache<String, Integer> cache = keep(SaasCache.<String, Integer>named("counters").ttl(Duration.ofMinutes(10))
        .sharedTier(redis.tier(ValueCodec.json(Integer.class))).invalidationBus(bus).build());
    buses.put(cache, bus);
    pools.put(cache, pool);
    return cache;
  }

  private Integer read(SaasCache<String, Integer> cache, AtomicInteger loads, String key) {
    return TenantContext.call(ACME, () -> cache.get(key, k -> {
      loads.incrementAndGet();
      return source.get(k);
    }));
  }

  @Test
  void loadedOnAHitOnBAndAfterAnInvalidationOnABNeverServesTheOldValue(TestDatabase db) {
    SaasRedis redisA = keep(redisSupport.redis("a").build());
    SaasRedis redisB = keep(redisSupport.redis("b").build());
    SaasCache<String, Integer> a = node(db, "a", redisA);
    SaasCache<String, Integer> b = node(db, "b", redisB);
    source.put("k", 1);

    assertThat(read(a, loadsA, "k")).isEqualTo(1);
    assertThat(read(b, loadsB, "k")).isEqualTo(1);
    assertThat(loadsB).as("B's miss was a Redis hit").hasValue(0);
    assertThat(redisB.stats().tierHits()).isEqualTo(1);

    source.put("k", 2);
    TenantContext.run(ACME, () -> a.invalidate("k"));
    // B holds 1 locally until the bus delivers; once it does, 1 never comes back (Redis lost it at once)
    Await.until("B reads the new value", () -> read(b, loadsB, "k") == 2);
    for (int i = 0; i < 100; i++) {
      assertThat(read(b, loadsB, "k")).isEqualTo(2);
    }
    assertThat(read(a, loadsA, "k")).isEqualTo(2);
  }

  /**
   * The invalidation is published in the business transaction on A ({@code bus.publish(connection, ..)}), so it
   * reaches Redis only through the bus. It used to drop the nodes' local entries only: the next miss on either node
   * read the old value back from Redis and cached it again, until the Redis entry's TTL (10 minutes here).
   */
  @Test
  void anInvalidationPublishedInATransactionAlsoDropsTheRedisEntry(TestDatabase db) throws SQLException {
    SaasRedis redisA = keep(redisSupport.redis("a").build());
    SaasRedis redisB = keep(redisSupport.redis("b").build());
    SaasCache<String, Integer> a = node(db, "a", redisA);
    SaasCache<String, Integer> b = node(db, "b", redisB);
    source.put("k", 1);
    assertThat(read(a, loadsA, "k")).isEqualTo(1);
    assertThat(read(b, loadsB, "k")).isEqualTo(1);
    assertThat(loadsB).as("B's miss was a Redis hit").hasValue(0);

    // counted once a delivery has been applied (received is counted when it arrives)
    long appliedA = a.stats().invalidationsApplied();
    long appliedB = b.stats().invalidationsApplied();
    try (Connection c = pools.get(a).getConnection()) {
      c.setAutoCommit(false);
      source.put("k", 2); // the data change of the transaction
      buses.get(a).publish(c, TenantContext.call(ACME, () -> a.keyInvalidation("k")));
      c.commit();
    }
    Await.until("both nodes applied the invalidation", () -> a.stats().invalidationsApplied() > appliedA
        && b.stats().invalidationsApplied() > appliedB);
    assertThat(read(b, loadsB, "k")).as("B does not read the old value back from Redis").isEqualTo(2);
    assertThat(read(a, loadsA, "k")).as("nor does A").isEqualTo(2);
  }

  @Test
  void killingBsRedisConnectionDuringInvalidationsLeavesNoStaleRead(TestDatabase db) throws Exception {
    SaasRedis redisA = keep(redisSupport.redis("a").build());
    SaasRedis redisB = keep(redisSupport.redis("b").build());
    SaasCache<String, Integer> a = node(db, "a", redisA);
    SaasCache<String, Integer> b = node(db, "b", redisB);
    int keys = 10;
    for (int k = 0; k < keys; k++) {
      source.put("k" + k, 0);
      read(a, loadsA, "k" + k);
      read(b, loadsB, "k" + k);
    }
    AtomicBoolean writing = new AtomicBoolean(true);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    Thread reader = new Thread(() -> {
      try {
        while (writing.get()) {
          for (int k = 0; k < keys; k++) {
            read(b, loadsB, "k" + k);
          }
        }
      } catch (Throwable e) {
        failure.set(e);
      }
    });
    reader.start();
    int rounds = 60;
    for (int round = 1; round <= rounds; round++) {
      for (int k = 0; k < keys; k++) {
        source.put("k" + k, round);
        String key = "k" + k;
        TenantContext.run(ACME, () -> a.invalidate(key));
      }
      if (round == 20 || round == 40) {
        assertThat(redisSupport.killClients("b")).as("B's connection killed").isPositive();
      }
    }
    writing.set(false);
    reader.join(60_000);
    assertThat(failure.get()).as("no read failed").isNull();
    Await.until("B reconnected to Redis", () -> redisB.stats().reconnectFlushes() >= 1);
    Await.until("B saw every invalidation", () -> {
      for (int k = 0; k < keys; k++) {
        if (read(b, loadsB, "k" + k) != rounds) {
          return false;
        }
      }
      return true;
    });
    for (int i = 0; i < 20; i++) {
      for (int k = 0; k < keys; k++) {
        assertThat(read(b, loadsB, "k" + k)).isEqualTo(rounds);
        assertThat(read(a, loadsA, "k" + k)).isEqualTo(rounds);
      }
    }
  }
}
