package dev.saaskit.cache.internal;

import dev.saaskit.cache.KeyCodec;
import java.util.UUID;

/** Strings as themselves; Long, Integer and UUID by {@code toString()}; anything else refused. */
public final class StandardKeyCodec implements KeyCodec<Object> {
  private static final StandardKeyCodec INSTANCE = new StandardKeyCodec();

  private StandardKeyCodec() {}

  /** The shared instance, typed for any key. */
  @SuppressWarnings("unchecked")
  public static <K> KeyCodec<K> instance() {
    return (KeyCodec<K>) (KeyCodec<?>) INSTANCE;
  }

  @Override
  public String encode(Object key) {
    if (key instanceof String) {
      return (String) key;
    }
    if (key instanceof Long || key instanceof Integer || key instanceof UUID) {
      return key.toString();
    }
    throw new IllegalArgumentException("keys of type " + key.getClass().getName()
        + " have no default encoding: declare the cache with .keyCodec(key -> ...) returning a stable, unique"
        + " string per key (String, Long, Integer and UUID keys need none)");
  }

  @Override
  public String toString() {
    return "KeyCodec.standard()";
  }
}
