package dev.saaskit.cache.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.cache.SaasCache;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.Await;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Redis stopped mid-test (a redis-server of the test's own, so the shared one is never touched): requests keep
 * succeeding through the loader, invalidations made meanwhile are applied once it is back, and the node drops its
 * local entries when its connection returns.
 */
class RedisDownTest {
  private static final TenantId ACME = TenantId.of("acme");

  @Test
  void requestsKeepSucceedingThroughTheLoaderWhileRedisIsDown() throws Exception {
    AtomicInteger loads = new AtomicInteger();
    try (RedisSupport.OwnServer server = new RedisSupport.OwnServer();
        SaasRedis redis = SaasRedis.builder(server.uri()).app("down").commandTimeout(Duration.ofSeconds(2))
            .breaker(2, Duration.ofMillis(200)).build();
        SaasCache<String, String> cache = SaasCache.<String, String>named("plans").ttl(Duration.ofMinutes(10))
            .sharedTier(redis.tier(ValueCodec.json(String.class))).build()) {
      TenantContext.run(ACME, () -> {
        // the first calls connect and load the scripts: on a loaded machine they may time out, so wait for a store
        Await.until("the tier stores a value", () -> {
          cache.invalidate("before");
          cache.get("before", k -> "v-" + k + "-" + loads.incrementAndGet());
          return redis.stats().tierStores() >= 1;
        });
        long storesBefore = redis.stats().tierStores();
        String before = cache.get("before", k -> "unexpected");

        server.stop();
        for (int i = 0; i < 50; i++) {
          String key = "during-" + i;
          assertThat(cache.get(key, k -> "v-" + k)).isEqualTo("v-" + key);
        }
        assertThat(cache.get("before", k -> "reloaded")).as("the local entry still serves").isEqualTo(before);
        cache.invalidate("before"); // cannot reach Redis: kept, and the node stops using the tier
        assertThat(cache.get("before", k -> "v2")).isEqualTo("v2");
        assertThat(redis.stats().tierBypasses()).isPositive();
        assertThat(redis.stats().errors()).isPositive();

        server.start();
        Await.until("the connection is back and the local entries were flushed",
            () -> redis.stats().reconnectFlushes() >= 1 || probe(cache));
        Await.until("the pending invalidation reached Redis and the tier serves again",
            () -> TenantContext.call(ACME, () -> cache.get("after-" + System.nanoTime(), k -> "a")) != null
                && redis.stats().tierStores() > storesBefore);
      });
    }
  }

  /**
   * The meters the issue asks for ("with a circuit breaker and a meter"): {@code saaskit.redis.*} tagged
   * {@code app}, the same counts as {@code stats()}, the breaker gauge at 1 while Redis is unreachable, and gone from
   * the registry once the connection is closed.
   */
  @Test
  void theMetersCountTheTierAndShowTheBreakerOpenWhileRedisIsUnreachable() throws Exception {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    try (RedisSupport support = RedisSupport.connect();
        SaasRedis redisA = support.redis("meters-a").commandTimeout(Duration.ofSeconds(5))
            .meterRegistry(registry).build();
        SaasRedis redisB = support.redis("meters-b").commandTimeout(Duration.ofSeconds(5)).build();
        SaasCache<String, String> a = SaasCache.<String, String>named("plans").ttl(Duration.ofMinutes(10))
            .sharedTier(redisA.tier(ValueCodec.json(String.class))).build();
        SaasCache<String, String> b = SaasCache.<String, String>named("plans").ttl(Duration.ofMinutes(10))
            .sharedTier(redisB.tier(ValueCodec.json(String.class))).build()) {
      TenantContext.run(ACME, () -> {
        b.get("k1", k -> "v1");                                   // B loads and stores k1
        assertThat(a.get("k1", k -> "unexpected")).isEqualTo("v1"); // a Redis hit on A
        assertThat(a.get("k2", k -> "v2")).isEqualTo("v2");         // a Redis miss on A, then a store
      });
      String app = support.app;
      assertThat(registry.get("saaskit.redis.tier.lookups").tags("app", app, "result", "hit").functionCounter()
          .count()).isEqualTo(1.0);
      assertThat(registry.get("saaskit.redis.tier.lookups").tags("app", app, "result", "miss").functionCounter()
          .count()).isEqualTo(1.0);
      assertThat(registry.get("saaskit.redis.tier.stores").tags("app", app, "result", "stored").functionCounter()
          .count()).isEqualTo(1.0);
      assertThat(registry.get("saaskit.redis.breaker.open").tags("app", app).gauge().value()).isZero();
      assertThat(redisA.stats().tierHits()).isEqualTo(1);
    }
    assertThat(registry.find("saaskit.redis.tier.lookups").meters()).as("removed on close").isEmpty();

    int port = RedisSupport.freePort(); // nothing listens there
    try (SaasRedis redis = SaasRedis.builder("redis://127.0.0.1:" + port).app("unreachable")
            .breaker(2, Duration.ofHours(1)).meterRegistry(registry).build();
        SaasCache<String, String> cache = SaasCache.<String, String>named("plans").ttl(Duration.ofMinutes(10))
            .sharedTier(redis.tier(ValueCodec.json(String.class))).build()) {
      TenantContext.run(ACME, () -> {
        for (int i = 0; i < 10; i++) {
          String key = "k" + i;
          assertThat(cache.get(key, k -> "loaded-" + k)).as("the loader answers").isEqualTo("loaded-" + key);
        }
      });
      assertThat(registry.get("saaskit.redis.breaker.open").tags("app", "unreachable").gauge().value())
          .isEqualTo(1.0);
      assertThat(registry.get("saaskit.redis.errors").tags("app", "unreachable").functionCounter().count())
          .isGreaterThanOrEqualTo(2.0);
      assertThat(registry.get("saaskit.redis.tier.lookups").tags("app", "unreachable", "result", "bypass")
          .functionCounter().count()).isGreaterThanOrEqualTo(8.0);
      assertThat(redis.stats().breakerOpen()).isTrue();
      // a rate limiter on the same connection answers from its in-process fallback, and says so
      RateLimiter limiter = redis.rateLimiter(RateLimitPolicy.fixed(RateLimit.perHour(3)));
      for (int i = 0; i < 3; i++) {
        assertThat(limiter.tryAcquire(ACME).allowed()).isTrue();
      }
      assertThat(limiter.tryAcquire(ACME).allowed()).isFalse();
      assertThat(redis.stats().rateLimitFallbacks()).isEqualTo(4);
      assertThat(registry.get("saaskit.redis.ratelimit.fallbacks").tags("app", "unreachable").functionCounter()
          .count()).isEqualTo(4.0);
    }
    assertThat(registry.getMeters()).as("every meter is removed on close").isEmpty();
    assertThatThrownBy(() -> registry.get("saaskit.redis.breaker.open").gauge())
        .isInstanceOf(io.micrometer.core.instrument.search.MeterNotFoundException.class);
  }

  private static boolean probe(SaasCache<String, String> cache) {
    TenantContext.run(ACME, () -> cache.get("probe-" + System.nanoTime(), k -> "p"));
    return false;
  }
}
