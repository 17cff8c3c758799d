package dev.saaskit.cache.internal;

import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.jspecify.annotations.Nullable;

/**
 * One load in progress for one key, shared by every caller that missed it meanwhile. Invalidations that overtake it
 * mark it; the loaded entry is stored only if no mark applies to it.
 */
final class Flight<V> {
  final CompletableFuture<Result<V>> result = new CompletableFuture<>();
  /**
   * The thread running the loader, to refuse a loader that reads its own key: the caller for a foreground load; for a
   * background refresh null until its loader starts on the executor's thread (a refresh's loader that read its own
   * key after the entry went away used to wait for itself forever, and every later miss of the key with it).
   */
  volatile @Nullable Thread owner;
  /** Set when an invalidation of the key, its tenant or everything overtook the load, or a put replaced it. */
  private volatile boolean invalidated;
  /** Set when any invalidation marked this flight; callers that join a marked flight retry if it is discarded. */
  private volatile boolean marked;
  /** Tags invalidated during the load; written under the cache's marking write lock, read under its read lock. */
  private @Nullable Set<String> invalidatedTags;
  /** Distinct tag marks kept per flight; above it the flight is discarded as by a key invalidation. */
  static final int MAX_MARKED_TAGS = 1024;

  Flight(@Nullable Thread owner) {
    this.owner = owner;
  }

  void invalidate() {
    marked = true;
    invalidated = true;
  }

  /**
   * Called with the cache's marking write lock held. Every tag invalidation marks every load in flight, and a load
   * has no timeout: a hung one kept every tag invalidated meanwhile (a busy table's trigger writes one per row), in
   * memory without bound. Past {@link #MAX_MARKED_TAGS} distinct tags the load is discarded whatever it loaded,
   * which covers them all.
   */
  void invalidateTag(String tag) {
    marked = true;
    if (invalidated) {
      return;
    }
    Set<String> tags = invalidatedTags;
    if (tags == null) {
      tags = new HashSet<>();
      invalidatedTags = tags;
    }
    tags.add(tag);
    if (tags.size() > MAX_MARKED_TAGS) {
      invalidated = true;
      invalidatedTags = null;
    }
  }

  /** Distinct tags this flight keeps as marks (for tests); under the marking lock, or once the flight is quiet. */
  int markedTags() {
    Set<String> tags = invalidatedTags;
    return tags == null ? 0 : tags.size();
  }

  boolean isMarked() {
    return marked;
  }

  /** Whether an entry with {@code tags} loaded by this flight must be discarded; call with the read lock held. */
  boolean discards(String[] tags) {
    if (invalidated) {
      return true;
    }
    Set<String> dropped = invalidatedTags;
    if (dropped != null) {
      for (String tag : tags) {
        if (dropped.contains(tag)) {
          return true;
        }
      }
    }
    return false;
  }

  /**
   * What the flight produced: the value for its callers, whether it was stored, and the tags of what it loaded (so a
   * caller that joined after an invalidation marked the flight can tell whether that invalidation covers it, even
   * when the store came first and the invalidation then removed the entry).
   */
  // tags is the entry's own array, shared to avoid a copy per load; it is never modified after the entry is built
  // and never leaves the cache (this record is package-private, and nothing compares Results with equals)
  @SuppressWarnings("ArrayRecordComponent")
  record Result<V>(@Nullable V value, boolean discarded, String[] tags) {}
}
