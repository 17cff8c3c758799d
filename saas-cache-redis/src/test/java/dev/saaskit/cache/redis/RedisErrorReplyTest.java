package dev.saaskit.cache.redis;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.cache.SaasCache;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Errors Redis answers about one call (a key of the wrong type planted under a cache or rate limit key) fail or
 * degrade that call alone: they do not count toward the circuit breaker, which would otherwise skip Redis for every
 * tenant and key because of one bad key.
 */
class RedisErrorReplyTest {
  private static final TenantId ACME = TenantId.of("acme");

  private RedisSupport redisSupport;

  @BeforeEach
  void connect() {
    redisSupport = RedisSupport.connect();
  }

  @AfterEach
  void close() {
    redisSupport.close();
  }

  @Test
  void aWrongTypeKeyUnderACacheEntryDoesNotOpenTheBreakerForOtherKeys() {
    AtomicInteger loads = new AtomicInteger();
    // breaker after 2 failures, open for an hour: if it opened, nothing below would reach Redis again
    try (SaasRedis redis = redisSupport.redis("a").breaker(2, Duration.ofHours(1)).build();
        SaasRedis redisB = redisSupport.redis("b").build()) {
      // node B stores "good" in Redis; the entry key of "bad" is a string where the tier keeps a hash
      assertThat(readOnce(redisB, "good", loads)).isEqualTo("value-good");
      String badEntry = redisSupport.app + ":{plans}:e:" + suffixOf(redisSupport, "good").replace("good", "bad");
      redisSupport.admin.set(badEntry, "planted");

      for (int i = 0; i < 5; i++) {
        // a fresh cache each time: nothing in its local level, so every read asks Redis
        assertThat(readOnce(redis, "bad", loads)).isEqualTo("value-bad");
      }
      assertThat(redis.stats().errors()).isGreaterThanOrEqualTo(5);
      assertThat(redis.stats().breakerOpen()).isFalse();

      long hits = redis.stats().tierHits();
      assertThat(readOnce(redis, "good", loads)).isEqualTo("value-good");
      assertThat(redis.stats().tierHits()).isEqualTo(hits + 1);
      assertThat(loads).hasValue(6); // "good" came from Redis, not from the loader
    }
  }

  @Test
  void aWrongTypeKeyUnderARateLimitBucketDoesNotOpenTheBreakerForOtherBuckets() {
    RateLimitPolicy policy = RateLimitPolicy.fixed(RateLimit.perMinute(1000));
    try (SaasRedis redis = redisSupport.redis("a").breaker(2, Duration.ofHours(1)).build()) {
      RateLimiter limiter = redis.rateLimiter("api", policy);
      limiter.tryAcquire(ACME, "bad");
      List<String> keys = redisSupport.keys();
      assertThat(keys).hasSize(1);
      redisSupport.admin.del(keys.get(0));
      redisSupport.admin.lpush(keys.get(0), "planted");

      for (int i = 0; i < 5; i++) {
        assertThat(limiter.tryAcquire(ACME, "bad").allowed()).isTrue(); // degraded to the in-process limiter
      }
      assertThat(redis.stats().errors()).isEqualTo(5);
      assertThat(redis.stats().breakerOpen()).isFalse();

      long fallbacks = redis.core().rateLimitFallbacks.sum();
      RateLimitDecision good = limiter.tryAcquire(ACME, "good");
      assertThat(good.allowed()).isTrue();
      assertThat(redis.core().rateLimitFallbacks.sum()).isEqualTo(fallbacks); // answered by Redis
      assertThat(redisSupport.keys()).hasSize(2);
    }
  }

  private static String readOnce(SaasRedis redis, String key, AtomicInteger loads) {
    try (SaasCache<String, String> cache = SaasCache.<String, String>named("plans").ttl(Duration.ofMinutes(10))
        .sharedTier(redis.tier(ValueCodec.json(String.class))).build()) {
      return TenantContext.call(ACME, () -> cache.get(key, k -> {
        loads.incrementAndGet();
        return "value-" + k;
      }));
    }
  }

  /** The suffix of the entry key of {@code key}, as found in Redis after a store. */
  private static String suffixOf(RedisSupport redisSupport, String key) {
    String entry = redisSupport.keys().stream().filter(k -> k.contains(":e:") && k.endsWith(key)).findFirst()
        .orElseThrow();
    return entry.substring(entry.indexOf(":e:") + 3);
  }
}
