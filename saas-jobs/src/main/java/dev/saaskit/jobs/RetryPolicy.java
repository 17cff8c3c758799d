package dev.saaskit.jobs;

import java.time.Duration;
import java.util.Objects;
import java.util.random.RandomGenerator;
import org.jspecify.annotations.Nullable;

/**
 * How long a failed job waits before its next attempt: exponential backoff with a cap and jitter.
 *
 * <p>For the failure of attempt {@code n} (1 for the first attempt) the ceiling is
 * {@code exp(n) = min(maxDelay, baseDelay * 2^(n-1))}, and the delay is drawn from it by the {@link Jitter} mode:
 * {@link Jitter#NONE} waits {@code exp(n)}, {@link Jitter#FULL} a uniform value in {@code [0, exp(n)]},
 * {@link Jitter#EQUAL} (the default) {@code exp(n)/2} plus a uniform value in {@code [0, exp(n) - exp(n)/2]}.
 * Delays are whole milliseconds, and never longer than {@link #MAX_DELAY} (1000 years), whatever {@code baseDelay}
 * and {@code maxDelay} say: a retry time must fit in the job row ({@code timestamptz} ends in the year 294276), so a
 * {@code maxDelay} meant as "no cap" ({@code ChronoUnit.FOREVER.getDuration()}) is read as that bound. Equal jitter
 * keeps the backoff growing while spreading a burst of failures (an outage of a downstream service) so the retries
 * do not return in lockstep.
 *
 * <p>The retry runs at the worker clock's time of the failure plus the delay. Whether there is a retry at all is
 * decided by the job's {@code max_attempts}, not by the policy. Instances are immutable.
 */
public final class RetryPolicy {

  /** How the delay is drawn below the exponential ceiling. */
  public enum Jitter {
    /** Exactly the ceiling. */
    NONE,
    /** Uniform between zero and the ceiling. */
    FULL,
    /** Half the ceiling plus a uniform value up to the other half. */
    EQUAL
  }

  /**
   * The longest delay a policy gives, 1000 years: {@code baseDelay} and {@code maxDelay} beyond it count as it. Until
   * 2026-12-05 a delay that did not fit in a long of milliseconds threw ArithmeticException at the failure (the
   * outcome was lost, the job retried only when its lease expired), and one past PostgreSQL's last timestamp could
   * not be stored.
   */
  public static final Duration MAX_DELAY = Duration.ofDays(365_250);

  private static final RetryPolicy DEFAULTS =
      new RetryPolicy(Duration.ofSeconds(1), Duration.ofHours(1), Jitter.EQUAL);

  private final Duration baseDelay;
  private final Duration maxDelay;
  private final Jitter jitter;

  private RetryPolicy(Duration baseDelay, Duration maxDelay, Jitter jitter) {
    this.baseDelay = baseDelay;
    this.maxDelay = maxDelay;
    this.jitter = jitter;
  }

  /** Base 1 s, cap 1 h, equal jitter. */
  public static RetryPolicy defaults() {
    return DEFAULTS;
  }

  /**
   * Exponential backoff from {@code baseDelay}, capped at {@code maxDelay}, with equal jitter.
   *
   * @throws IllegalArgumentException if {@code baseDelay} is under 1 ms or {@code maxDelay} is under
   *     {@code baseDelay}
   */
  public static RetryPolicy exponential(Duration baseDelay, Duration maxDelay) {
    Objects.requireNonNull(baseDelay, "baseDelay");
    Objects.requireNonNull(maxDelay, "maxDelay");
    if (baseDelay.compareTo(Duration.ofMillis(1)) < 0) {
      throw new IllegalArgumentException("baseDelay must be >= 1 ms but was " + baseDelay);
    }
    if (maxDelay.compareTo(baseDelay) < 0) {
      throw new IllegalArgumentException("maxDelay must be >= baseDelay (" + baseDelay + ") but was " + maxDelay);
    }
    return new RetryPolicy(baseDelay, maxDelay, Jitter.EQUAL);
  }

  /** The same backoff with another jitter mode. */
  public RetryPolicy withJitter(Jitter jitter) {
    return new RetryPolicy(baseDelay, maxDelay, Objects.requireNonNull(jitter, "jitter"));
  }

  /** The delay ceiling after the first failure. */
  public Duration baseDelay() {
    return baseDelay;
  }

  /** The largest delay ceiling. */
  public Duration maxDelay() {
    return maxDelay;
  }

  /** The jitter mode. */
  public Jitter jitter() {
    return jitter;
  }

  /**
   * The ceiling {@code min(maxDelay, baseDelay * 2^(attempt-1))} for the failure of {@code attempt}, at most
   * {@link #MAX_DELAY}.
   *
   * @throws IllegalArgumentException if {@code attempt < 1}
   */
  public Duration ceiling(int attempt) {
    return Duration.ofMillis(ceilingMillis(attempt));
  }

  /**
   * The delay before the attempt after failed attempt {@code attempt}, drawing jitter from {@code random}.
   *
   * @throws IllegalArgumentException if {@code attempt < 1}
   */
  public Duration delay(int attempt, RandomGenerator random) {
    Objects.requireNonNull(random, "random");
    long ceiling = ceilingMillis(attempt);
    switch (jitter) {
      case NONE:
        return Duration.ofMillis(ceiling);
      case FULL:
        return Duration.ofMillis(random.nextLong(ceiling + 1));
      case EQUAL:
      default:
        long half = ceiling / 2;
        return Duration.ofMillis(half + random.nextLong(ceiling - half + 1));
    }
  }

  private long ceilingMillis(int attempt) {
    if (attempt < 1) {
      throw new IllegalArgumentException("attempt must be >= 1 but was " + attempt);
    }
    long base = boundedMillis(baseDelay);
    long max = boundedMillis(maxDelay);
    int doublings = attempt - 1;
    // base >= 1, so 2^63 overflow is the only hazard: past 62 doublings the cap has long been reached
    if (doublings >= 62 || base > (max >> doublings)) {
      return max;
    }
    return Math.min(max, base << doublings);
  }

  /** {@code d} in whole milliseconds, at most {@link #MAX_DELAY}'s (no overflow for any Duration). */
  private static long boundedMillis(Duration d) {
    return (d.compareTo(MAX_DELAY) > 0 ? MAX_DELAY : d).toMillis();
  }

  @Override
  public boolean equals(@Nullable Object o) {
    return o instanceof RetryPolicy && ((RetryPolicy) o).baseDelay.equals(baseDelay)
        && ((RetryPolicy) o).maxDelay.equals(maxDelay) && ((RetryPolicy) o).jitter == jitter;
  }

  @Override
  public int hashCode() {
    return Objects.hash(baseDelay, maxDelay, jitter);
  }

  @Override
  public String toString() {
    return "RetryPolicy[base=" + baseDelay + ", max=" + maxDelay + ", jitter=" + jitter + "]";
  }
}
