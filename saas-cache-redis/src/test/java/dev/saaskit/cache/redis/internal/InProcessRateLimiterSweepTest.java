package dev.saaskit.cache.redis.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.cache.redis.RateLimit;
import dev.saaskit.cache.redis.RateLimitPolicy;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.MutableClock;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/**
 * Subjects may be chosen by clients (addresses, keys), so the in-process limiter must not keep a bucket for every
 * subject it ever saw: once it holds more than 100,000, buckets that are full again are dropped. Sweeps are
 * amortized (the next one waits until the map has doubled), and a bucket that is still draining is kept.
 */
class InProcessRateLimiterSweepTest {

  @Test
  void bucketsOfSubjectsThatCameOnceAreDroppedOnceTheyAreFullAgain() {
    MutableClock clock = MutableClock.at(Instant.parse("2026-12-05T00:00:00Z"));
    InProcessRateLimiter limiter = new InProcessRateLimiter(RateLimitPolicy.fixed(RateLimit.perSecond(1)), clock);
    TenantId tenant = TenantId.of("acme");
    for (int i = 0; i < 100_000; i++) {
      assertThat(limiter.tryAcquire(tenant, "ip-" + i).allowed()).isTrue();
    }
    assertThat(limiter.buckets()).isEqualTo(100_000);

    clock.advance(Duration.ofSeconds(2));
    assertThat(limiter.tryAcquire(tenant, "newcomer").allowed()).isTrue();
    assertThat(limiter.tryAcquire(tenant, "newcomer").allowed()).as("its bucket survives the sweep").isFalse();

    assertThat(limiter.buckets()).isEqualTo(1);
  }
}
