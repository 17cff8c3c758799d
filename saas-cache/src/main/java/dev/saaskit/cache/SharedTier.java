package dev.saaskit.cache;

import dev.saaskit.core.TenantId;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A second cache level shared by every node (Redis in {@code saas-cache-redis}), behind a {@link SaasCache}'s local
 * one. Given to {@link SaasCache.Builder#sharedTier(SharedTier)}, it changes only what a local miss does: the cache
 * asks the tier, and on a tier miss calls the loader and hands the result to the tier. A local hit never touches it.
 *
 * <p>The cache keeps its rules at both levels: what the tier returns is stored locally for at most the remaining
 * lifetime the tier reports (clamped to {@code maxTtl}), what it stores carries the entry's own lifetime, and every
 * invalidation reaches the tier before the cache drops its local entries: one made on this node before it is
 * published on the bus, and one the bus delivers (it may have been published in a transaction, which reaches no tier
 * on its way), so each node applies it to the tier again. Every method is called on the
 * caller's thread and must not throw: a tier that cannot answer returns {@link Lookup#bypass()} and the cache falls
 * back to its loader.
 *
 * @param <V> the value type
 */
@FunctionalInterface
public interface SharedTier<V> {

  /**
   * Binds the tier to one cache; called once, by {@link SaasCache.Builder#build()}.
   *
   * @param context the cache's name, scope, longest lifetime, and how to flush its local level
   */
  Binding<V> bind(Context context);

  /**
   * What a tier learns about the cache it serves.
   *
   * @param cacheName the cache's name
   * @param global whether the cache is global (its keys carry no tenant)
   * @param maxTtl the longest any entry may live
   * @param flushLocal drops every local entry of the cache (and marks loads in flight) on this node: a tier calls it
   *     when it may have missed invalidations, for example after its connection was lost
   */
  record Context(String cacheName, boolean global, Duration maxTtl, Runnable flushLocal) {
    /** Checks that no part is null. */
    public Context {
      Objects.requireNonNull(cacheName, "cacheName");
      Objects.requireNonNull(maxTtl, "maxTtl");
      Objects.requireNonNull(flushLocal, "flushLocal");
    }
  }

  /**
   * A tier bound to one cache.
   *
   * @param <V> the value type
   */
  interface Binding<V> extends AutoCloseable {

    /**
     * Looks {@code key} up. Must not throw.
     *
     * @param tenant the key's tenant, {@code null} in a global cache
     * @param key the key as the cache's {@link KeyCodec} encodes it
     * @return a hit, a miss (whose token {@link #store} receives back), or {@link Lookup#bypass()}
     */
    Lookup<V> lookup(@Nullable TenantId tenant, String key);

    /**
     * Stores what the loader returned after {@code miss}, unless an invalidation of the key reached the tier since
     * that lookup. Called only when the cache stored the value locally too (a load that an invalidation overtook
     * on this node is not stored anywhere). Must not throw.
     *
     * @param miss the miss this load followed
     * @param value the loaded value (an absence for a cached absence) with its tags
     * @param lifetime how long the entry lives (TTL with jitter, clamped to {@code maxTtl}); always positive
     */
    void store(Lookup<V> miss, CacheValue<V> value, Duration lifetime);

    /**
     * Tells the tier that the load that followed {@code miss} will not be stored: the loader failed, an invalidation
     * overtook it on this node, or it loaded an absence that the cache does not keep (negative caching off). A tier
     * that holds something for the load (a single-flight lock that other nodes wait on) releases it, so they load at
     * once instead of waiting out their wait. Must not throw. The default does nothing.
     *
     * @param miss the miss the load followed
     */
    default void abandon(Lookup<V> miss) {}

    /**
     * Applies an invalidation made on this node (before the cache publishes it on its bus) or delivered by the bus
     * (the same invalidation may so arrive once per node, and must be harmless to apply again); also an invalidation
     * of the whole cache when the bus lost invalidations. Called before the cache drops its local entries. Must not
     * throw: a tier that cannot apply it now keeps it and stops serving until it can.
     */
    void invalidate(Invalidation invalidation);

    /** Releases what the binding holds; called by {@link SaasCache#close()}. */
    @Override
    void close();
  }

  /**
   * The answer of {@link Binding#lookup}: a hit (a value or a cached absence, with its remaining lifetime and
   * tags), a miss (with the tier's token for {@link Binding#store}), or a bypass (the tier cannot answer: load and
   * do not store in the tier).
   *
   * @param <V> the value type
   */
  final class Lookup<V> {
    private static final Lookup<?> BYPASS = new Lookup<>(Kind.BYPASS, null, Duration.ZERO, List.of(), null);

    private enum Kind { HIT, MISS, BYPASS }

    private final Kind kind;
    private final @Nullable V value;
    private final Duration remaining;
    private final List<String> tags;
    private final @Nullable Object token;

    private Lookup(Kind kind, @Nullable V value, Duration remaining, List<String> tags, @Nullable Object token) {
      this.kind = kind;
      this.value = value;
      this.remaining = remaining;
      this.tags = tags;
      this.token = token;
    }

    /**
     * A hit: {@code value} ({@code null} for a cached absence) that lives {@code remaining} longer.
     *
     * @throws IllegalArgumentException if {@code remaining} is not positive
     */
    public static <V> Lookup<V> hit(@Nullable V value, Duration remaining, List<String> tags) {
      Objects.requireNonNull(remaining, "remaining");
      if (remaining.isZero() || remaining.isNegative()) {
        throw new IllegalArgumentException("remaining must be positive but was " + remaining);
      }
      return new Lookup<>(Kind.HIT, value, remaining, List.copyOf(tags), null);
    }

    /** A miss; {@code token} is whatever the tier needs to store the load's result safely (a version). */
    public static <V> Lookup<V> miss(Object token) {
      return new Lookup<>(Kind.MISS, null, Duration.ZERO, List.of(), Objects.requireNonNull(token, "token"));
    }

    /** The tier cannot answer: the cache loads and does not store in the tier. */
    @SuppressWarnings("unchecked")
    public static <V> Lookup<V> bypass() {
      return (Lookup<V>) BYPASS;
    }

    /** True for a hit. */
    public boolean isHit() {
      return kind == Kind.HIT;
    }

    /** True for a miss. */
    public boolean isMiss() {
      return kind == Kind.MISS;
    }

    /** The value of a hit ({@code null} for a cached absence, a miss or a bypass). */
    public @Nullable V value() {
      return value;
    }

    /** The remaining lifetime of a hit; zero otherwise. */
    public Duration remaining() {
      return remaining;
    }

    /** The tags of a hit. */
    public List<String> tags() {
      return tags;
    }

    /** The token of a miss. */
    public @Nullable Object token() {
      return token;
    }

    @Override
    public String toString() {
      return "Lookup[" + kind + (kind == Kind.HIT ? ", remaining " + remaining : "") + "]";
    }
  }
}
