package dev.saaskit.cache.internal;

import dev.saaskit.cache.InvalidationBus;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.WeakHashMap;

/**
 * The cache names subscribed to each bus. Invalidations address caches by name, so two caches with one name on one
 * bus would drop each other's entries: the second one is refused. Weak keys: a bus that is no longer referenced
 * takes its names with it.
 */
final class BusNames {
  private static final Map<InvalidationBus, Set<String>> NAMES = new WeakHashMap<>();

  private BusNames() {}

  static synchronized void claim(InvalidationBus bus, String name) {
    if (!NAMES.computeIfAbsent(bus, b -> new HashSet<>()).add(name)) {
      throw new IllegalStateException("a cache named '" + name + "' is already subscribed to this invalidation bus:"
          + " invalidations address caches by name, so names must be unique per bus (close the other cache first"
          + " or choose another name)");
    }
  }

  static synchronized void release(InvalidationBus bus, String name) {
    Set<String> names = NAMES.get(bus);
    if (names != null) {
      names.remove(name);
      if (names.isEmpty()) {
        NAMES.remove(bus);
      }
    }
  }
}
