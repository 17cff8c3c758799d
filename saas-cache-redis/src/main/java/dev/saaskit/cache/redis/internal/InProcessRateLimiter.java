package dev.saaskit.cache.redis.internal;

import dev.saaskit.cache.redis.RateLimit;
import dev.saaskit.cache.redis.RateLimitDecision;
import dev.saaskit.cache.redis.RateLimitPolicy;
import dev.saaskit.cache.redis.RateLimiter;
import dev.saaskit.core.TenantId;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;

/** GCRA in this JVM: one theoretical arrival time per bucket, updated under the map's per-key lock. */
public final class InProcessRateLimiter implements RateLimiter {
  private static final int SWEEP_ABOVE = 100_000;

  private final RateLimitPolicy policy;
  private final Clock clock;
  private final ConcurrentHashMap<LimitKey, long[]> tats = new ConcurrentHashMap<>();
  /** The map size above which the next call sweeps buckets that are full again; raised to twice what a sweep left. */
  private volatile int sweepAt = SWEEP_ABOVE;

  public InProcessRateLimiter(RateLimitPolicy policy, Clock clock) {
    this.policy = Objects.requireNonNull(policy, "policy");
    this.clock = Objects.requireNonNull(clock, "clock");
  }

  @Override
  public RateLimitDecision tryAcquire(TenantId tenant, String subject) {
    LimitKey key = new LimitKey(tenant, subject);
    RateLimit limit = Objects.requireNonNull(policy.limitFor(tenant, subject), "the policy returned no limit");
    long interval = limit.emissionIntervalMicros();
    long cap = limit.limit();
    RateLimitDecision[] decision = new RateLimitDecision[1];
    long[] nowSeen = new long[1];
    tats.compute(key, (k, state) -> {
      // the clock is read under the bucket's lock: read before it, a caller descheduled between the read and the
      // lock would bring a time older than the bucket's last update, and the clamp below (meant for a clock stepped
      // back) would hand back the tokens of that delay to everyone (over-admission under contention)
      long now = micros(clock.instant());
      nowSeen[0] = now;
      long[] s = state == null ? new long[] {now} : state;
      // a state more than a period ahead (the wall clock stepped back, a longer period before) is an empty
      // bucket: without the clamp a clock stepped back an hour would deny everyone for that hour
      long tat = Math.min(Math.max(s[0], now), now + interval * cap);
      if (tat < s[0]) {
        s[0] = tat;
      }
      long available = Math.min(cap, (now + interval * cap - tat) / interval);
      if (available < 1) {
        long retry = Math.max(0, tat + interval - interval * cap - now);
        decision[0] = new RateLimitDecision(false, cap, 0, micros(tat - now), micros(retry));
        return s;
      }
      s[0] = tat + interval;
      decision[0] = new RateLimitDecision(true, cap, available - 1, micros(s[0] - now), Duration.ZERO);
      return s;
    });
    if (tats.size() > sweepAt) {
      // amortized: with more live buckets than the bound, sweeping on every call would scan the map every time
      long now = nowSeen[0];
      tats.entrySet().removeIf(e -> e.getValue()[0] <= now);
      sweepAt = Math.max(SWEEP_ABOVE, 2 * tats.size());
    }
    return decision[0];
  }

  /** Buckets kept (for tests). */
  public int buckets() {
    return tats.size();
  }

  static long micros(Instant instant) {
    return instant.getEpochSecond() * 1_000_000L + instant.getNano() / 1000;
  }

  static Duration micros(long micros) {
    return Duration.ofNanos(micros * 1000);
  }
}
