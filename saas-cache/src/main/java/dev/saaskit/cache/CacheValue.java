package dev.saaskit.cache;

import dev.saaskit.cache.internal.Texts;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * A value to cache together with how to cache it: its own TTL and its tags. A loader returns one from
 * {@link SaasCache#getWith(Object, dev.saaskit.core.CheckedFunction)}, and {@link SaasCache#put(Object, CacheValue)}
 * stores one. Immutable: {@link #ttl(Duration)} and {@link #tags(String...)} return copies.
 *
 * <pre>{@code
 * CacheValue.of(plan).ttl(Duration.ofMinutes(1)).tags("subscription:" + tenant)
 * CacheValue.absent()          // "there is no such row": cached for the cache's negativeTtl
 * }</pre>
 *
 * @param <V> the value type
 */
public final class CacheValue<V> {
  private static final CacheValue<?> ABSENT = new CacheValue<>(null, null, List.of());

  private final @Nullable V value;
  private final @Nullable Duration ttl;
  private final List<String> tags;

  private CacheValue(@Nullable V value, @Nullable Duration ttl, List<String> tags) {
    this.value = value;
    this.ttl = ttl;
    this.tags = tags;
  }

  /** A present value, cached for the cache's TTL unless {@link #ttl(Duration)} says otherwise. */
  public static <V> CacheValue<V> of(V value) {
    return new CacheValue<>(Objects.requireNonNull(value, "value (use CacheValue.absent() for no value)"), null,
        List.of());
  }

  /** {@link #of(Object)} for a non-null value, {@link #absent()} for null. */
  public static <V> CacheValue<V> ofNullable(@Nullable V value) {
    return value == null ? absent() : of(value);
  }

  /**
   * No value ("not found"): cached as an absence for the cache's {@code negativeTtl} (not at all when it is zero),
   * so repeated lookups of a missing row do not reach the database.
   */
  @SuppressWarnings("unchecked")
  public static <V> CacheValue<V> absent() {
    return (CacheValue<V>) ABSENT;
  }

  /**
   * This value with its own TTL instead of the cache's. The cache still applies its jitter and never keeps an entry
   * longer than its {@code maxTtl} (a longer TTL is clamped to it).
   *
   * @throws IllegalArgumentException if {@code ttl} is zero or negative
   */
  public CacheValue<V> ttl(Duration ttl) {
    Objects.requireNonNull(ttl, "ttl");
    if (ttl.isZero() || ttl.isNegative()) {
      throw new IllegalArgumentException("ttl must be positive but was " + ttl);
    }
    return new CacheValue<>(value, ttl, tags);
  }

  /**
   * This value with {@code tags} added. {@link SaasCache#invalidateTag(String)} drops every entry carrying a tag.
   * Tags are plain strings shared by all tenants of a cache: put the tenant in the tag when it matters
   * ({@code "permissions:" + tenant + ":" + user}).
   *
   * @throws IllegalArgumentException if a tag is empty, longer than {@value Invalidation#MAX_TEXT_LENGTH}
   *     characters or holds a NUL character
   */
  public CacheValue<V> tags(String... tags) {
    return tags(Arrays.asList(tags));
  }

  /** {@link #tags(String...)} for a collection. */
  public CacheValue<V> tags(Collection<String> tags) {
    Objects.requireNonNull(tags, "tags");
    Set<String> all = new LinkedHashSet<>(this.tags);
    for (String tag : tags) {
      Texts.check("a tag", tag);
      all.add(tag);
    }
    return new CacheValue<>(value, ttl, Collections.unmodifiableList(new ArrayList<>(all)));
  }

  /** The value, or {@code null} for an absence. */
  public @Nullable V value() {
    return value;
  }

  /** True unless this is an absence. */
  public boolean isPresent() {
    return value != null;
  }

  /** The TTL of this value, when it has its own. */
  public Optional<Duration> ttl() {
    return Optional.ofNullable(ttl);
  }

  /** The tags, without duplicates, in the order given. */
  public List<String> tags() {
    return tags;
  }

  @Override
  public String toString() {
    return (value == null ? "CacheValue.absent()" : "CacheValue[present]") + (ttl == null ? "" : " ttl=" + ttl)
        + (tags.isEmpty() ? "" : " tags=" + tags);
  }
}
