package dev.saaskit.cache.redis;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.cache.SaasCache;
import dev.saaskit.cache.redis.internal.RedisRateLimiter;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.Await;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The circuit breaker when a call that took its probe never reaches Redis; what rate limit leases keep. */
class RedisReviewTest {
  private static final TenantId ACME = TenantId.of("acme");

  /** Strings, except "unencodable", which this codec cannot write (an app type Jackson cannot serialize). */
  private static final ValueCodec<String> PICKY = new ValueCodec<>() {
    @Override
    public byte[] encode(String value) {
      if (value.equals("unencodable")) {
        throw new IllegalArgumentException("cannot encode " + value);
      }
      return value.getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public String decode(byte[] bytes) {
      return new String(bytes, StandardCharsets.UTF_8);
    }
  };

  @Test
  void aStoreThatCannotEncodeItsValueDoesNotKeepTheBreakerOpenForever() throws Exception {
    try (RedisSupport support = RedisSupport.connect();
        SaasRedis redis = support.redis("picky").commandTimeout(Duration.ofSeconds(5))
            .breaker(1, Duration.ofMillis(100)).build();
        SaasCache<String, String> cache = SaasCache.<String, String>named("picky").ttl(Duration.ofMinutes(5))
            .sharedTier(redis.tier(PICKY)).build()) {
      TenantContext.run(ACME, () -> {
        Await.until("the tier answers", () -> {
          cache.get("warm-" + System.nanoTime(), k -> "v");
          return redis.stats().tierStores() >= 1;
        });
        // a load that outlives a Redis hiccup: the breaker opens and its open time ends before the store
        String value = cache.get("slow", k -> {
          redis.core().failed(new IllegalStateException("simulated Redis failure"));
          assertThat(redis.stats().breakerOpen()).isTrue();
          Thread.sleep(200);
          return "unencodable";
        });
        assertThat(value).isEqualTo("unencodable");
        long stores = redis.stats().tierStores();
        Await.until("the breaker closes again and the tier serves", Duration.ofSeconds(5), () -> {
          TenantContext.run(ACME, () -> cache.get("after-" + System.nanoTime(), k -> "fine"));
          return !redis.stats().breakerOpen() && redis.stats().tierStores() > stores;
        });
      });
    }
  }

  @Test
  void leasesOfEverySubjectEverSeenAreNotKeptForever() throws Exception {
    int port = RedisSupport.freePort(); // nothing listens: every call falls back at once, breaker open for an hour
    try (SaasRedis redis = SaasRedis.builder("redis://127.0.0.1:" + port).app("leases")
        .breaker(1, Duration.ofHours(1)).build()) {
      RateLimiter limiter = redis.rateLimiter(RateLimitPolicy.fixed(RateLimit.perMinute(10)), 10,
          Duration.ofMillis(1));
      // one request each from many clients, as an API key or an IP address chosen by the caller makes them
      int subjects = RedisRateLimiter.SWEEP_ABOVE + 20_000;
      for (int i = 0; i < subjects; i++) {
        limiter.tryAcquire(ACME, "client-" + i);
      }
      assertThat(((RedisRateLimiter) limiter).heldLeases()).isLessThanOrEqualTo(RedisRateLimiter.SWEEP_ABOVE + 1);
    }
  }
}
