package dev.saaskit.cache.internal;

import dev.saaskit.cache.CacheStats;
import java.time.Duration;
import java.util.concurrent.atomic.LongAdder;

/** The live counters behind {@link CacheStats} and the meters; striped, so hits on many threads do not contend. */
final class Counters {
  final LongAdder hits = new LongAdder();
  final LongAdder misses = new LongAdder();
  final LongAdder loadSuccesses = new LongAdder();
  final LongAdder loadFailures = new LongAdder();
  final LongAdder loadNanos = new LongAdder();
  final LongAdder evictions = new LongAdder();
  final LongAdder expirations = new LongAdder();
  final LongAdder discardedLoads = new LongAdder();
  final LongAdder refreshes = new LongAdder();
  final LongAdder invalidationsApplied = new LongAdder();
  final LongAdder invalidationsReceived = new LongAdder();
  final LongAdder lostInvalidations = new LongAdder();

  CacheStats snapshot() {
    return CacheStats.of(hits.sum(), misses.sum(), loadSuccesses.sum(), loadFailures.sum(),
        Duration.ofNanos(loadNanos.sum()), evictions.sum(), expirations.sum(), discardedLoads.sum(),
        refreshes.sum(), invalidationsApplied.sum(), invalidationsReceived.sum(), lostInvalidations.sum());
  }
}
