package dev.saaskit.cache.redis;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.cache.InvalidationBus;
import dev.saaskit.cache.SaasCache;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.Await;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * A caller whose thread is interrupted (a cancelled request, a pool stopped with shutdownNow) makes Lettuce give up
 * waiting for the reply. That says nothing about Redis: it must not count toward the circuit breaker, which would
 * otherwise open for every tenant after a few cancelled requests, and it must not keep the breaker's one probe.
 */
class RedisInterruptTest {
  private static final TenantId ACME = TenantId.of("acme");

  @Test
  void interruptedCallersDoNotOpenTheBreakerForEveryone() throws Exception {
    try (RedisSupport support = RedisSupport.connect();
        SaasRedis redis = support.redis("interrupt").commandTimeout(Duration.ofSeconds(5))
            .breaker(2, Duration.ofHours(1)).build();
        SaasCache<String, String> cache = SaasCache.<String, String>named("plans").ttl(Duration.ofMinutes(10))
            .sharedTier(redis.tier(ValueCodec.json(String.class))).invalidationBus(InvalidationBus.inProcess())
            .build()) {
      RateLimiter limiter = redis.rateLimiter(RateLimitPolicy.fixed(RateLimit.perHour(1_000)));
      TenantContext.run(ACME, () -> {
        Await.until("the tier stores a value", () -> {
          cache.get("warm-" + System.nanoTime(), k -> "v");
          return redis.stats().tierStores() >= 1;
        });
        for (int i = 0; i < 5; i++) {
          Thread.currentThread().interrupt();
          try {
            assertThat(cache.get("cancelled-" + i, k -> "loaded")).isEqualTo("loaded");
            limiter.tryAcquire(ACME, "cancelled");
          } finally {
            Thread.interrupted();
          }
        }
      });
      assertThat(redis.stats().breakerOpen()).as("the breaker after interrupted callers").isFalse();
      long bypasses = redis.stats().tierBypasses();
      long fallbacks = redis.stats().rateLimitFallbacks();
      TenantContext.run(ACME, () -> {
        assertThat(cache.get("after", k -> "loaded")).isEqualTo("loaded");
        assertThat(limiter.tryAcquire(ACME, "other").allowed()).isTrue();
      });
      assertThat(redis.stats().tierBypasses()).as("the next caller uses Redis").isEqualTo(bypasses);
      assertThat(redis.stats().rateLimitFallbacks()).as("and so does the next limiter check").isEqualTo(fallbacks);
    }
  }
}
