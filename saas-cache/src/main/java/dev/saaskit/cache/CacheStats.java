package dev.saaskit.cache;

import java.time.Duration;
import java.util.Objects;

/**
 * Counters of one {@link SaasCache} since it was built. A snapshot: later operations do not change it. Immutable;
 * a final class rather than a record so that counters can be added without breaking callers (Caffeine's
 * {@code CacheStats} is the model): read it through its accessors, make one with {@link #of}, and compute the
 * activity between two snapshots with {@link #minus(CacheStats)}.
 */
public final class CacheStats {
  private static final CacheStats EMPTY = new CacheStats(0, 0, 0, 0, Duration.ZERO, 0, 0, 0, 0, 0, 0, 0);

  private final long hits;
  private final long misses;
  private final long loadSuccesses;
  private final long loadFailures;
  private final Duration totalLoadTime;
  private final long evictions;
  private final long expirations;
  private final long discardedLoads;
  private final long refreshes;
  private final long invalidationsApplied;
  private final long invalidationsReceived;
  private final long lostInvalidations;

  private CacheStats(long hits, long misses, long loadSuccesses, long loadFailures, Duration totalLoadTime,
      long evictions, long expirations, long discardedLoads, long refreshes, long invalidationsApplied,
      long invalidationsReceived, long lostInvalidations) {
    this.hits = hits;
    this.misses = misses;
    this.loadSuccesses = loadSuccesses;
    this.loadFailures = loadFailures;
    this.totalLoadTime = totalLoadTime;
    this.evictions = evictions;
    this.expirations = expirations;
    this.discardedLoads = discardedLoads;
    this.refreshes = refreshes;
    this.invalidationsApplied = invalidationsApplied;
    this.invalidationsReceived = invalidationsReceived;
    this.lostInvalidations = lostInvalidations;
  }

  /**
   * Statistics with these counts (for tests, and for adapters that report a cache's statistics elsewhere).
   *
   * @param hits lookups that found an entry (a cached absence counts as a hit)
   * @param misses lookups that found none (a {@code get} then loads, or joins a load in flight)
   * @param loadSuccesses loader calls that returned (including background refreshes)
   * @param loadFailures loader calls that threw
   * @param totalLoadTime time spent in loader calls, as measured by the cache's clock
   * @param evictions entries dropped to respect the size bounds (the cache's maximum size or a tenant's budget)
   * @param expirations entries dropped because their TTL ran out
   * @param discardedLoads loads whose result was not stored because an invalidation raced them
   * @param refreshes background reloads started (refresh-ahead and early refresh)
   * @param invalidationsApplied invalidations applied to this cache: local calls and the ones received from the bus
   * @param invalidationsReceived invalidations received from the bus that address this cache (own ones included)
   * @param lostInvalidations times the bus reported lost invalidations (each one flushed the cache)
   * @throws IllegalArgumentException if a count or the load time is negative
   */
  public static CacheStats of(long hits, long misses, long loadSuccesses, long loadFailures, Duration totalLoadTime,
      long evictions, long expirations, long discardedLoads, long refreshes, long invalidationsApplied,
      long invalidationsReceived, long lostInvalidations) {
    Objects.requireNonNull(totalLoadTime, "totalLoadTime");
    if (totalLoadTime.isNegative()) {
      throw new IllegalArgumentException("totalLoadTime must be >= 0 but was " + totalLoadTime);
    }
    return new CacheStats(check("hits", hits), check("misses", misses), check("loadSuccesses", loadSuccesses),
        check("loadFailures", loadFailures), totalLoadTime, check("evictions", evictions),
        check("expirations", expirations), check("discardedLoads", discardedLoads), check("refreshes", refreshes),
        check("invalidationsApplied", invalidationsApplied), check("invalidationsReceived", invalidationsReceived),
        check("lostInvalidations", lostInvalidations));
  }

  /** Statistics with every count zero. */
  public static CacheStats empty() {
    return EMPTY;
  }

  private static long check(String what, long count) {
    if (count < 0) {
      throw new IllegalArgumentException(what + " must be >= 0 but was " + count);
    }
    return count;
  }

  /** Lookups that found an entry (a cached absence counts as a hit). */
  public long hits() {
    return hits;
  }

  /** Lookups that found none (a {@code get} then loads, or joins a load in flight). */
  public long misses() {
    return misses;
  }

  /** Loader calls that returned (including background refreshes). */
  public long loadSuccesses() {
    return loadSuccesses;
  }

  /** Loader calls that threw. */
  public long loadFailures() {
    return loadFailures;
  }

  /** Time spent in loader calls, as measured by the cache's clock. */
  public Duration totalLoadTime() {
    return totalLoadTime;
  }

  /** Entries dropped to respect the size bounds (the cache's maximum size or a tenant's budget). */
  public long evictions() {
    return evictions;
  }

  /** Entries dropped because their TTL ran out. */
  public long expirations() {
    return expirations;
  }

  /** Loads whose result was not stored because an invalidation raced them. */
  public long discardedLoads() {
    return discardedLoads;
  }

  /** Background reloads started (refresh-ahead and early refresh). */
  public long refreshes() {
    return refreshes;
  }

  /** Invalidations applied to this cache: local calls and the ones received from the bus. */
  public long invalidationsApplied() {
    return invalidationsApplied;
  }

  /** Invalidations received from the bus that address this cache (its own ones included). */
  public long invalidationsReceived() {
    return invalidationsReceived;
  }

  /** Times the bus reported lost invalidations (each one flushed the cache). */
  public long lostInvalidations() {
    return lostInvalidations;
  }

  /** Hits divided by lookups, or 1.0 when there was no lookup yet. */
  public double hitRate() {
    long lookups = hits + misses;
    return lookups == 0 ? 1.0 : (double) hits / lookups;
  }

  /** Loader calls, successful or not. */
  public long loads() {
    return loadSuccesses + loadFailures;
  }

  /**
   * The activity between {@code earlier} and this snapshot: each count minus {@code earlier}'s, never below zero
   * (as Caffeine's {@code minus}).
   */
  public CacheStats minus(CacheStats earlier) {
    Objects.requireNonNull(earlier, "earlier");
    Duration time = totalLoadTime.minus(earlier.totalLoadTime);
    return new CacheStats(Math.max(0, hits - earlier.hits), Math.max(0, misses - earlier.misses),
        Math.max(0, loadSuccesses - earlier.loadSuccesses), Math.max(0, loadFailures - earlier.loadFailures),
        time.isNegative() ? Duration.ZERO : time, Math.max(0, evictions - earlier.evictions),
        Math.max(0, expirations - earlier.expirations), Math.max(0, discardedLoads - earlier.discardedLoads),
        Math.max(0, refreshes - earlier.refreshes), Math.max(0, invalidationsApplied - earlier.invalidationsApplied),
        Math.max(0, invalidationsReceived - earlier.invalidationsReceived),
        Math.max(0, lostInvalidations - earlier.lostInvalidations));
  }

  /** The sum of this and {@code other} (several caches reported as one), each count saturating at Long.MAX_VALUE. */
  public CacheStats plus(CacheStats other) {
    Objects.requireNonNull(other, "other");
    return new CacheStats(sum(hits, other.hits), sum(misses, other.misses),
        sum(loadSuccesses, other.loadSuccesses), sum(loadFailures, other.loadFailures),
        totalLoadTime.plus(other.totalLoadTime), sum(evictions, other.evictions),
        sum(expirations, other.expirations), sum(discardedLoads, other.discardedLoads),
        sum(refreshes, other.refreshes), sum(invalidationsApplied, other.invalidationsApplied),
        sum(invalidationsReceived, other.invalidationsReceived), sum(lostInvalidations, other.lostInvalidations));
  }

  private static long sum(long a, long b) {
    long s = a + b;
    return s < 0 ? Long.MAX_VALUE : s;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof CacheStats s && s.hits == hits && s.misses == misses && s.loadSuccesses == loadSuccesses
        && s.loadFailures == loadFailures && s.totalLoadTime.equals(totalLoadTime) && s.evictions == evictions
        && s.expirations == expirations && s.discardedLoads == discardedLoads && s.refreshes == refreshes
        && s.invalidationsApplied == invalidationsApplied && s.invalidationsReceived == invalidationsReceived
        && s.lostInvalidations == lostInvalidations;
  }

  @Override
  public int hashCode() {
    return Objects.hash(hits, misses, loadSuccesses, loadFailures, totalLoadTime, evictions, expirations,
        discardedLoads, refreshes, invalidationsApplied, invalidationsReceived, lostInvalidations);
  }

  @Override
  public String toString() {
    return "CacheStats[hits=" + hits + ", misses=" + misses + ", loadSuccesses=" + loadSuccesses
        + ", loadFailures=" + loadFailures + ", totalLoadTime=" + totalLoadTime + ", evictions=" + evictions
        + ", expirations=" + expirations + ", discardedLoads=" + discardedLoads + ", refreshes=" + refreshes
        + ", invalidationsApplied=" + invalidationsApplied + ", invalidationsReceived=" + invalidationsReceived
        + ", lostInvalidations=" + lostInvalidations + "]";
  }
}
