package dev.saaskit.cache.redis;

import java.time.Duration;
import java.util.Objects;

/**
 * A limit: at most {@code limit} requests per {@code period}, spread evenly (GCRA: a full bucket admits a burst of
 * {@code limit}, then one request every {@code period / limit}).
 *
 * @param limit requests per period, at least 1
 * @param period the period, at least 1 ms and at most 100 years
 */
public record RateLimit(long limit, Duration period) {
  private static final Duration LONGEST_PERIOD = Duration.ofDays(36_525);

  /**
   * Checks the limit.
   *
   * @throws IllegalArgumentException if {@code limit} is below 1, the period shorter than 1 ms or longer than
   *     100 years, or the emission interval ({@code period / limit}) below 1 µs
   */
  public RateLimit {
    Objects.requireNonNull(period, "period");
    if (limit < 1) {
      throw new IllegalArgumentException("limit must be >= 1 but was " + limit);
    }
    if (period.compareTo(Duration.ofMillis(1)) < 0) {
      throw new IllegalArgumentException("period must be at least 1 ms but was " + period);
    }
    if (period.compareTo(LONGEST_PERIOD) > 0) {
      // longer ones overflow the microsecond arithmetic (and Lua's exact integers) of the algorithm
      throw new IllegalArgumentException("period must be at most 100 years but was " + period);
    }
    if (period.toNanos() / 1000 / limit < 1) {
      throw new IllegalArgumentException("limit " + limit + " per " + period + " is finer than 1 request per µs");
    }
  }

  /** {@code limit} requests per second. */
  public static RateLimit perSecond(long limit) {
    return new RateLimit(limit, Duration.ofSeconds(1));
  }

  /** {@code limit} requests per minute. */
  public static RateLimit perMinute(long limit) {
    return new RateLimit(limit, Duration.ofMinutes(1));
  }

  /** {@code limit} requests per hour. */
  public static RateLimit perHour(long limit) {
    return new RateLimit(limit, Duration.ofHours(1));
  }

  /** The time between two requests at the steady rate, in microseconds. */
  public long emissionIntervalMicros() {
    return period.toNanos() / 1000 / limit;
  }
}
