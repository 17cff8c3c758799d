package dev.saaskit.cache.postgres;

import dev.saaskit.cache.Invalidation;
import dev.saaskit.cache.InvalidationListener;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Function;

/**
 * A trivial cache of integers by key for one cache name (entries have no tags and no tenant), race-free against
 * invalidations: a load that an invalidation of its key (or a flush) overtook is not stored, so the only way to
 * keep a stale value is to miss an invalidation, which is what the tests look for.
 */
final class MapCache implements InvalidationListener {
  private final String cacheName;
  private final Map<String, Integer> values = new HashMap<>();
  private final Map<String, Long> generations = new HashMap<>();
  private long flushGeneration;
  private int flushes;

  MapCache(String cacheName) {
    this.cacheName = cacheName;
  }

  int get(String key, Function<String, Integer> loader) {
    long generation;
    long flushed;
    synchronized (this) {
      Integer cached = values.get(key);
      if (cached != null) {
        return cached;
      }
      generation = generations.getOrDefault(key, 0L);
      flushed = flushGeneration;
    }
    int loaded = loader.apply(key);
    synchronized (this) {
      if (generations.getOrDefault(key, 0L) == generation && flushGeneration == flushed) {
        values.put(key, loaded);
      }
    }
    return loaded;
  }

  synchronized Map<String, Integer> snapshot() {
    return new HashMap<>(values);
  }

  synchronized int flushes() {
    return flushes;
  }

  @Override
  public synchronized void onInvalidation(Invalidation invalidation) {
    if (!invalidation.appliesTo(cacheName)) {
      return;
    }
    if (invalidation.scope() == Invalidation.Scope.KEY) {
      generations.merge(invalidation.value(), 1L, Long::sum);
      values.remove(invalidation.value());
    } else if (invalidation.scope() == Invalidation.Scope.TAG) {
      return; // its entries carry no tags
    } else {
      onLostInvalidations();
      flushes--; // a deliberate ALL/TAG/TENANT drop, not a loss
    }
  }

  @Override
  public synchronized void onLostInvalidations() {
    flushGeneration++;
    flushes++;
    values.clear();
  }
}
