package dev.saaskit.cache;

import dev.saaskit.cache.internal.StandardKeyCodec;

/**
 * Turns a cache key into the string that identifies it inside the cache and on an {@link InvalidationBus}.
 *
 * <p>The encoding must be injective (two different keys never encode to the same string) and stable across nodes
 * and restarts (a node must encode a key exactly as the node that published its invalidation did). Keys are compared
 * by their encoding, not by {@code equals}. An encoding is 1 to {@value Invalidation#MAX_TEXT_LENGTH} characters
 * without NUL characters.
 *
 * <p>Caches of {@code String}, {@code Long}, {@code Integer} and {@code UUID} keys need no codec ({@link #standard()}
 * is the default); any other key type needs one, for example {@code KeyCodec<OrderKey> codec = k -> k.shop() + "/" +
 * k.number();}.
 *
 * @param <K> the key type
 */
@FunctionalInterface
public interface KeyCodec<K> {

  /** The string form of {@code key}; called on every cache operation, so keep it cheap. */
  String encode(K key);

  /**
   * The default codec: a {@code String} key is itself, a {@code Long}, {@code Integer} or {@code UUID} key its
   * {@code toString()}. A key of any other type is rejected with an {@link IllegalArgumentException} that says to
   * declare a codec.
   */
  static <K> KeyCodec<K> standard() {
    return StandardKeyCodec.instance();
  }
}
