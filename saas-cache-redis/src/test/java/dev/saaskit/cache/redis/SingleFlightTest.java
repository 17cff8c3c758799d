package dev.saaskit.cache.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.cache.SaasCache;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.Await;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Single flight across nodes: one node loads a cold key while the other waits for its value in Redis; a lock
 * nobody releases makes waiters load after their wait, never hang.
 */
class SingleFlightTest {
  private static final TenantId ACME = TenantId.of("acme");

  private RedisSupport redisSupport;
  private final List<AutoCloseable> open = new ArrayList<>();

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

  private SaasRedis redis(String node) {
    SaasRedis redis = redisSupport.redis(node).commandTimeout(Duration.ofSeconds(5)).build();
    open.add(redis);
    return redis;
  }

  private SaasCache<String, String> cache(SaasRedis redis, Duration lockTtl, Duration wait) {
    SaasCache<String, String> cache = SaasCache.<String, String>named("reports").ttl(Duration.ofMinutes(10))
        .sharedTier(redis.tier(ValueCodec.json(String.class)).singleFlight(lockTtl, wait)).build();
    open.add(cache);
    return cache;
  }

  @Test
  void oneNodeLoadsAColdKeyWhileTheOtherWaitsForIt() throws Exception {
    SaasRedis redisA = redis("a");
    SaasRedis redisB = redis("b");
    SaasCache<String, String> a = cache(redisA, Duration.ofSeconds(60), Duration.ofSeconds(60));
    SaasCache<String, String> b = cache(redisB, Duration.ofSeconds(60), Duration.ofSeconds(60));
    AtomicInteger loads = new AtomicInteger();
    CountDownLatch aLoading = new CountDownLatch(1);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    AtomicReference<String> onA = new AtomicReference<>();
    Thread loaderOnA = new Thread(() -> {
      try {
        onA.set(TenantContext.call(ACME, () -> a.get("k", k -> {
          loads.incrementAndGet();
          aLoading.countDown();
          // finish only once B is waiting for this load
          Await.until("B waits for A's load", () -> redisB.stats().lockWaits() >= 1);
          return "report";
        })));
      } catch (Throwable e) {
        failure.set(e);
      }
    });
    loaderOnA.start();
    assertThat(aLoading.await(60, TimeUnit.SECONDS)).isTrue();
    String onB = TenantContext.call(ACME, () -> b.get("k", k -> {
      loads.incrementAndGet();
      return "loaded on B";
    }));
    loaderOnA.join(60_000);
    assertThat(failure.get()).isNull();
    assertThat(onA.get()).isEqualTo("report");
    assertThat(onB).isEqualTo("report");
    assertThat(loads).as("one load for both nodes").hasValue(1);
    assertThat(redisB.stats().lockTimeouts()).isZero();
    assertThat(redisSupport.keys()).as("the lock was released").noneMatch(key -> key.contains("}:l:"));
  }

  @Test
  void aLockNobodyReleasesMakesWaitersLoadAfterTheirWait() {
    SaasRedis redis = redis("a");
    SaasCache<String, String> cache = cache(redis, Duration.ofSeconds(30), Duration.ofMillis(100));
    // a holder that died: the lock stays for its TTL
    redisSupport.admin.set(redisSupport.app + ":{reports}:l:4:acme:k", "dead-node",
        io.lettuce.core.SetArgs.Builder.px(30_000));
    String value = TenantContext.call(ACME, () -> cache.get("k", k -> "loaded anyway"));
    assertThat(value).isEqualTo("loaded anyway");
    assertThat(redis.stats().lockWaits()).isEqualTo(1);
    assertThat(redis.stats().lockTimeouts()).isEqualTo(1);
  }

  /**
   * A load whose result is not stored (the loader failed, an invalidation overtook it, or it found nothing and the
   * cache keeps no absences) releases its lock. It used to keep it until its TTL, and every miss of the key, on
   * every node, waited the whole wait before loading: with negative caching off, about every lookup of a missing
   * row.
   */
  @Test
  void aLoadThatIsNotStoredReleasesItsLock() {
    SaasRedis redisA = redis("a");
    SaasRedis redisB = redis("b");
    SaasCache<String, String> a = SaasCache.<String, String>named("reports").ttl(Duration.ofMinutes(10))
        .negativeTtl(Duration.ZERO)
        .sharedTier(redisA.tier(ValueCodec.json(String.class)).singleFlight(Duration.ofMinutes(1),
            Duration.ofSeconds(2))).build();
    open.add(a);
    SaasCache<String, String> b = SaasCache.<String, String>named("reports").ttl(Duration.ofMinutes(10))
        .negativeTtl(Duration.ZERO)
        .sharedTier(redisB.tier(ValueCodec.json(String.class)).singleFlight(Duration.ofMinutes(1),
            Duration.ofSeconds(2))).build();
    open.add(b);

    assertThat(TenantContext.call(ACME, () -> a.get("absent", k -> null))).isNull();
    assertThatThrownBy(() -> TenantContext.call(ACME, () -> a.get("failing", k -> {
      throw new IllegalStateException("database down");
    }))).isInstanceOf(dev.saaskit.cache.CacheLoadException.class);
    assertThat(TenantContext.call(ACME, () -> a.get("overtaken", k -> {
      a.invalidate(k); // the data changed while it loaded: this result is not stored
      return "old";
    }))).isEqualTo("old");
    assertThat(a.stats().discardedLoads()).isEqualTo(1);
    assertThat(redisSupport.keys()).as("no lock is left").noneMatch(key -> key.contains("}:l:"));

    for (String key : List.of("absent", "failing", "overtaken")) {
      assertThat(TenantContext.call(ACME, () -> b.get(key, k -> "on b"))).isEqualTo("on b");
    }
    assertThat(redisB.stats().lockWaits()).as("B never waited for a lock nobody would release").isZero();
  }

  @Test
  void settingsAreChecked() {
    RedisTier<String> tier = redis("a").tier(ValueCodec.json(String.class));
    assertThatThrownBy(() -> tier.singleFlight(Duration.ofSeconds(1), Duration.ofSeconds(2)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("must not exceed lockTtl");
    assertThatThrownBy(() -> tier.singleFlight(Duration.ZERO, Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("must be positive");
  }
}
