package dev.saaskit.cache.internal;

import org.jspecify.annotations.Nullable;

/**
 * One cached value (or cached absence) with its absolute expiry on the cache's ticker. Compared by identity, which
 * is what lets the indexes remove exactly the entry they indexed and nothing that replaced it.
 */
final class Entry<V> {
  final ScopedKey key;
  final @Nullable V value;
  final String[] tags;
  final long writtenAt;
  final long expiresAt;
  /** How long the loader took, for early refresh; 0 for a put. */
  final long loadNanos;

  Entry(ScopedKey key, @Nullable V value, String[] tags, long writtenAt, long expiresAt, long loadNanos) {
    this.key = key;
    this.value = value;
    this.tags = tags;
    this.writtenAt = writtenAt;
    this.expiresAt = expiresAt;
    this.loadNanos = loadNanos;
  }
}
