package dev.saaskit.cache;

import java.time.Duration;
import java.util.function.Supplier;

/**
 * Uses a cache the way an app without Micrometer does. {@link MetricsTest} loads it in a class loader that has no
 * Micrometer, so any reference to Micrometer on this path would fail with NoClassDefFoundError.
 */
public final class NoMicrometerProbe implements Supplier<String> {
  /** Public: MetricsTest instantiates the probe reflectively from its isolated class loader. */
  public NoMicrometerProbe() {}

  @Override
  public String get() {
    try (SaasCache<String, String> cache =
        SaasCache.<String, String>named("probe").ttl(Duration.ofMinutes(1)).global().build()) {
      cache.put("a", "1");
      String hit = cache.get("a", k -> "loaded");
      String miss = cache.get("b", k -> "loaded");
      cache.invalidateTag("t");
      CacheStats stats = cache.stats();
      return hit + "," + miss + "," + stats.hits() + "," + stats.misses() + "," + stats.loadSuccesses();
    }
  }
}
