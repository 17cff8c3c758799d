package dev.saaskit.cache.internal;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.FunctionTimer;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

/**
 * The Micrometer meters of one cache. The only class of the module that names Micrometer types: it is loaded only
 * when the app passes a registry, so the module runs without Micrometer on the class path otherwise.
 */
final class CacheMeters {
  private CacheMeters() {}

  /** Registers the meters and returns what removes them again. */
  static Runnable bind(Object registryObject, String cacheName, Counters counters, DefaultSaasCache<?, ?> cache) {
    MeterRegistry registry = (MeterRegistry) registryObject;
    Tags tags = Tags.of("cache", cacheName);
    List<Meter> meters = new ArrayList<>();
    meters.add(counter(registry, "saaskit.cache.gets", tags.and("result", "hit"), counters.hits,
        "lookups that found an entry"));
    meters.add(counter(registry, "saaskit.cache.gets", tags.and("result", "miss"), counters.misses,
        "lookups that found no entry"));
    meters.add(counter(registry, "saaskit.cache.loads", tags.and("result", "success"), counters.loadSuccesses,
        "loader calls that returned"));
    meters.add(counter(registry, "saaskit.cache.loads", tags.and("result", "failure"), counters.loadFailures,
        "loader calls that threw"));
    meters.add(counter(registry, "saaskit.cache.loads.discarded", tags, counters.discardedLoads,
        "loads not stored because an invalidation overtook them"));
    meters.add(counter(registry, "saaskit.cache.refreshes", tags, counters.refreshes,
        "background reloads started"));
    meters.add(counter(registry, "saaskit.cache.evictions", tags.and("cause", "size"), counters.evictions,
        "entries dropped for the size bounds"));
    meters.add(counter(registry, "saaskit.cache.evictions", tags.and("cause", "expired"), counters.expirations,
        "entries dropped at the end of their TTL"));
    meters.add(counter(registry, "saaskit.cache.invalidations.applied", tags, counters.invalidationsApplied,
        "invalidations applied, local and received"));
    meters.add(counter(registry, "saaskit.cache.invalidations.received", tags, counters.invalidationsReceived,
        "invalidations received from the bus"));
    meters.add(counter(registry, "saaskit.cache.invalidations.lost", tags, counters.lostInvalidations,
        "times the bus lost invalidations and the cache was flushed"));
    meters.add(FunctionTimer.builder("saaskit.cache.load.duration", counters,
            c -> c.loadSuccesses.sum() + c.loadFailures.sum(), c -> c.loadNanos.sum(), TimeUnit.NANOSECONDS)
        .tags(tags).description("time spent in loaders").register(registry));
    meters.add(Gauge.builder("saaskit.cache.size", cache, DefaultSaasCache::estimatedSize)
        .tags(tags).description("approximate number of entries").register(registry));
    return () -> meters.forEach(registry::remove);
  }

  private static Meter counter(MeterRegistry registry, String name, Tags tags, LongAdder adder, String what) {
    return FunctionCounter.builder(name, adder, LongAdder::sum).tags(tags).description(what).register(registry);
  }
}
