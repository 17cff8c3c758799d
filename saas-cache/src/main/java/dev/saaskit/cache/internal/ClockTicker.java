package dev.saaskit.cache.internal;

import com.github.benmanes.caffeine.cache.Ticker;
import java.time.Clock;
import java.time.Instant;

/** Nanoseconds since the cache was built, read from an injected {@link Clock}, so tests drive expiry. */
final class ClockTicker implements Ticker {
  private final Clock clock;
  private final long originSeconds;
  private final int originNanos;

  ClockTicker(Clock clock) {
    this.clock = clock;
    Instant origin = clock.instant();
    this.originSeconds = origin.getEpochSecond();
    this.originNanos = origin.getNano();
  }

  @Override
  public long read() {
    Instant now = clock.instant();
    return (now.getEpochSecond() - originSeconds) * 1_000_000_000L + (now.getNano() - originNanos);
  }
}
