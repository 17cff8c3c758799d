package dev.saaskit.cache;

import java.time.Duration;

/**
 * Counters of one {@link SaasCache} since it was built. A snapshot: later operations do not change it.
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
 */
public record CacheStats(
    long hits,
    long misses,
    long loadSuccesses,
    long loadFailures,
    Duration totalLoadTime,
    long evictions,
    long expirations,
    long discardedLoads,
    long refreshes,
    long invalidationsApplied,
    long invalidationsReceived,
    long lostInvalidations) {

  /** Hits divided by lookups, or 1.0 when there was no lookup yet. */
  public double hitRate() {
    long lookups = hits + misses;
    return lookups == 0 ? 1.0 : (double) hits / lookups;
  }

  /** Loader calls, successful or not. */
  public long loads() {
    return loadSuccesses + loadFailures;
  }
}
