package dev.saaskit.cache;

import dev.saaskit.cache.internal.CacheSettings;
import dev.saaskit.cache.internal.DefaultSaasCache;
import dev.saaskit.cache.internal.Texts;
import dev.saaskit.core.CheckedFunction;
import dev.saaskit.core.TenantId;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.Executor;
import java.util.concurrent.ForkJoinPool;
import java.util.random.RandomGenerator;
import org.jspecify.annotations.Nullable;

/**
 * A local cache (Caffeine inside) where every entry has a TTL, keys belong to the current tenant, concurrent misses
 * load once, and every mutation can invalidate: by key, by tag, by tenant or everything, on this node and, through
 * an {@link InvalidationBus}, on every node.
 *
 * <pre>{@code
 * SaasCache<String, Plan> plans = SaasCache.<String, Plan>named("plans")
 *     .ttl(Duration.ofMinutes(5))          // required: named(...) has no build()
 *     .maximumSize(10_000)
 *     .build();
 * Plan plan = TenantContext.call(tenant, () -> plans.get(planId, id -> planRepository.find(id)));
 * }</pre>
 *
 * <p><b>TTL.</b> There is no way to build a cache without a TTL: {@link #named(String)} returns a stage whose only
 * method is {@link TtlStage#ttl(Duration)}. Every TTL gets a random jitter (±10% by default) so entries written
 * together do not expire together, and no entry lives longer than the cache's {@code maxTtl}.
 *
 * <p><b>Tenants.</b> Unless built {@link Builder#global()}, the cache keys every entry by the current
 * {@link dev.saaskit.core.TenantContext} tenant: the same key in two tenants is two entries, and using the cache
 * with no tenant set throws {@link dev.saaskit.core.MissingTenantException}.
 *
 * <p><b>Loads.</b> {@link #get(Object, CheckedFunction)} calls the loader once for all concurrent misses of a key,
 * caches a {@code null} result as an absence for {@code negativeTtl}, does not cache failures, and never stores a
 * result that an invalidation overtook while it was being loaded (the caller that loaded it still receives it).
 * Loaders may throw checked exceptions; a failed load throws {@link CacheLoadException} with the loader's exception
 * as its cause.
 *
 * <p>Thread-safe. Close the cache when done with it if it uses an invalidation bus or meters.
 *
 * @param <K> the key type (String, Long, Integer or UUID, or any type with a {@link KeyCodec})
 * @param <V> the value type
 */
public interface SaasCache<K, V> extends AutoCloseable {

  /**
   * Starts declaring a cache called {@code name}. The name identifies the cache in meters and, on an
   * {@link InvalidationBus}, in invalidations, so it must be unique per bus. The next (and only) step is
   * {@link TtlStage#ttl(Duration)}.
   *
   * @throws IllegalArgumentException if the name is empty, longer than {@value Invalidation#MAX_TEXT_LENGTH}
   *     characters or holds a NUL character
   */
  static <K, V> TtlStage<K, V> named(String name) {
    return new TtlStage<>(Texts.check("cache name", name));
  }

  /** The cache's name. */
  String name();

  /**
   * The cached value of {@code key}, or {@code null} when there is none (or a cached absence). Never loads.
   *
   * @throws dev.saaskit.core.MissingTenantException for a tenant-scoped cache when no tenant is set
   */
  @Nullable V getIfPresent(K key);

  /**
   * The cached value of {@code key}, loading it with {@code loader} on a miss. A {@code null} from the loader means
   * "absent" and is cached for {@code negativeTtl}. Concurrent misses of one key call the loader once and share its
   * result. With refresh-ahead or early refresh on, a hit may also start one background reload with this loader.
   *
   * <p>The loader may throw checked exceptions (a JDBC loader throws {@link java.sql.SQLException}): whatever it
   * throws, checked or unchecked, reaches the caller (and every caller that waited for the same load) as a
   * {@link CacheLoadException} whose {@linkplain CacheLoadException#getCause() cause} is exactly the loader's
   * exception, so one {@code catch} covers every failed load. An {@link Error} is rethrown as it is.
   *
   * <pre>{@code
   * Plan plan = plans.get("current", key -> planRepository.load());   // load() throws SQLException
   * }</pre>
   *
   * @return the value, or {@code null} if absent
   * @throws CacheLoadException if the loader threw (nothing is cached; the cause is the loader's exception); a
   *     loader that reads the same key of the same cache (a load that would wait for itself) fails this way too,
   *     with an {@link IllegalStateException} as the cause, and so does a caller interrupted while it waited for
   *     another caller's load, with an {@link InterruptedException} as the cause (its interrupt flag set again)
   * @throws dev.saaskit.core.MissingTenantException for a tenant-scoped cache when no tenant is set
   */
  @Nullable V get(K key, CheckedFunction<? super K, ? extends @Nullable V, ? extends Exception> loader);

  /**
   * Like {@link #get(Object, CheckedFunction)}, for loaders that also choose the entry's TTL or tags: the loader returns
   * a {@link CacheValue}.
   *
   * <pre>{@code
   * Permissions p = perms.getWith(userId, id -> CacheValue.of(repo.load(id))
   *     .tags("permissions:" + tenant + ":" + id));
   * }</pre>
   */
  @Nullable V getWith(K key, CheckedFunction<? super K, CacheValue<V>, ? extends Exception> loader);

  /**
   * Stores {@code value} for the cache's TTL, on this node only. It replaces the entry and wins over a load of the
   * same key in flight. After changing the data behind a key, call {@link #invalidate(Object)} (which reaches every
   * node) rather than {@code put}.
   */
  void put(K key, V value);

  /** Stores {@code value} with its own TTL (jittered, clamped to {@code maxTtl}), on this node only. */
  void put(K key, V value, Duration ttl);

  /**
   * Stores a {@link CacheValue} (its TTL, its tags; an absence is cached as one), on this node only.
   *
   * @throws IllegalArgumentException if the value is an absence and negative caching is off ({@code negativeTtl}
   *     zero)
   */
  void put(K key, CacheValue<V> value);

  /**
   * Drops {@code key} (of the current tenant, for a tenant-scoped cache) here at once, and on every node through
   * the bus if there is one. A load of that key in flight will not store its result.
   */
  void invalidate(K key);

  /**
   * The invalidation that drops {@code key} of the current tenant (of no tenant, for a global cache) in this cache,
   * with the key encoded by the cache's {@link KeyCodec} as the bus carries it. For publishing in your own
   * transaction, so that the invalidation commits or rolls back with the data change; it takes effect, here too,
   * when the bus delivers it:
   *
   * <pre>{@code
   * bus.publish(connection, plans.keyInvalidation("current"));   // inside TenantContext.run(tenant, ...)
   * }</pre>
   *
   * @throws dev.saaskit.core.MissingTenantException for a tenant-scoped cache when no tenant is set
   */
  Invalidation keyInvalidation(K key);

  /**
   * Like {@link #keyInvalidation(Object)}, for {@code key} of {@code tenant}, whatever the current tenant.
   *
   * @throws IllegalArgumentException if the cache is global (its keys belong to no tenant)
   */
  Invalidation keyInvalidation(TenantId tenant, K key);

  /** Drops every entry carrying {@code tag}, in every tenant, here and on every node. Wins over loads in flight. */
  void invalidateTag(String tag);

  /**
   * Drops every entry of {@code tenant}, here and on every node. Wins over loads in flight. A global cache holds no
   * tenant entries: for it this does nothing.
   */
  void invalidateTenant(TenantId tenant);

  /** Drops every entry, here and on every node. Wins over loads in flight. */
  void invalidateAll();

  /** The approximate number of entries (expired ones not yet cleaned up included). */
  long estimatedSize();

  /** The counters since the cache was built; works with or without a meter registry. */
  CacheStats stats();

  /**
   * Stops listening to the bus, removes the cache's meters, frees its name on the bus and drops its entries.
   * Afterwards loads, puts and invalidations throw {@link IllegalStateException} (an invalidation that could no
   * longer be published must not pass silently). Safe to call more than once.
   */
  @Override
  void close();

  /**
   * The first stage of declaring a cache: it has no {@code build()}, so a cache without a TTL does not compile.
   *
   * @param <K> the key type
   * @param <V> the value type
   */
  final class TtlStage<K, V> {
    private final String name;

    private TtlStage(String name) {
      this.name = name;
    }

    /**
     * How long an entry lives after it is written (before jitter). Loads do not extend it; reads do not extend it.
     *
     * @throws IllegalArgumentException if {@code ttl} is not positive or longer than
     *     {@link Builder#LONGEST_TTL}
     */
    public Builder<K, V> ttl(Duration ttl) {
      return new Builder<>(name, bounded("ttl", ttl));
    }
  }

  /**
   * The settings of a cache, each with a default; {@link #build()} checks them together.
   *
   * @param <K> the key type
   * @param <V> the value type
   */
  final class Builder<K, V> {
    /** Default {@code maxTtl} as a multiple of the TTL. */
    public static final int DEFAULT_MAX_TTL_FACTOR = 10;
    /** Default {@code negativeTtl} as a fraction of the TTL. */
    public static final int DEFAULT_NEGATIVE_TTL_DIVISOR = 10;
    /** Default jitter: each TTL is multiplied by a random factor in [0.9, 1.1]. */
    public static final double DEFAULT_JITTER = 0.10;
    /** The longest TTL or maxTtl accepted: data meant to live longer is not cache data. */
    public static final Duration LONGEST_TTL = Duration.ofDays(365);
    /** Largest jitter accepted. */
    public static final double MAX_JITTER = 0.50;
    /** Default maximum number of entries of the whole cache. */
    public static final long DEFAULT_MAXIMUM_SIZE = 10_000;

    private final String name;
    private final Duration ttl;
    private @Nullable Duration maxTtl;
    private @Nullable Duration negativeTtl;
    private double jitter = DEFAULT_JITTER;
    private boolean global;
    private long maximumSize = DEFAULT_MAXIMUM_SIZE;
    private long maximumSizePerTenant;
    private @Nullable Duration refreshAfter;
    private double earlyRefreshBeta;
    private KeyCodec<? super K> keyCodec = KeyCodec.standard();
    private @Nullable InvalidationBus bus;
    private @Nullable SharedTier<V> sharedTier;
    // Object, not MeterRegistry: Micrometer is optional and this class must load without it
    private @Nullable Object meterRegistry;
    private @Nullable Clock clock;
    private @Nullable RandomGenerator random;
    private Executor executor = ForkJoinPool.commonPool();

    private Builder(String name, Duration ttl) {
      this.name = name;
      this.ttl = ttl;
    }

    /**
     * The longest any entry may live, whatever TTL a {@code put} or a loader asks for (a longer one is clamped to
     * it, jitter included). Default: {@value #DEFAULT_MAX_TTL_FACTOR} times the TTL (at most
     * {@link #LONGEST_TTL}). Must be at least the TTL and at most {@link #LONGEST_TTL}.
     */
    public Builder<K, V> maxTtl(Duration maxTtl) {
      this.maxTtl = bounded("maxTtl", maxTtl);
      return this;
    }

    /**
     * How long an absence (a loader returning {@code null} or {@link CacheValue#absent()}) is cached, before
     * jitter. Default: the TTL divided by {@value #DEFAULT_NEGATIVE_TTL_DIVISOR}. {@link Duration#ZERO} turns
     * negative caching off: absences are then returned but not cached.
     */
    public Builder<K, V> negativeTtl(Duration negativeTtl) {
      Objects.requireNonNull(negativeTtl, "negativeTtl");
      if (negativeTtl.isNegative()) {
        throw new IllegalArgumentException("negativeTtl must be zero (off) or positive but was " + negativeTtl);
      }
      this.negativeTtl = negativeTtl;
      return this;
    }

    /**
     * The random spread of every TTL, as a fraction: each entry's TTL is multiplied by a uniform random factor in
     * {@code [1 - jitter, 1 + jitter]}. Default {@value #DEFAULT_JITTER}; 0 turns it off; at most
     * {@value #MAX_JITTER}.
     */
    public Builder<K, V> jitter(double jitter) {
      if (!(jitter >= 0 && jitter <= MAX_JITTER)) {
        throw new IllegalArgumentException("jitter must be between 0 and " + MAX_JITTER + " but was " + jitter);
      }
      this.jitter = jitter;
      return this;
    }

    /**
     * Makes the cache global: keys are shared by all tenants and no tenant needs to be set. Only for data that
     * belongs to no tenant (plan catalogue, feature flags). Default: tenant-scoped.
     */
    public Builder<K, V> global() {
      this.global = true;
      return this;
    }

    /** The maximum number of entries of the whole cache (least useful evicted first). Default 10,000. */
    public Builder<K, V> maximumSize(long maximumSize) {
      if (maximumSize < 1) {
        throw new IllegalArgumentException("maximumSize must be >= 1 but was " + maximumSize);
      }
      this.maximumSize = maximumSize;
      return this;
    }

    /**
     * The maximum number of entries one tenant may hold, so one busy tenant cannot evict everyone else's entries:
     * past it the tenant's own oldest entries are dropped. Default: none (only {@code maximumSize}). Not for a
     * global cache.
     */
    public Builder<K, V> maximumSizePerTenant(long maximumSizePerTenant) {
      if (maximumSizePerTenant < 1) {
        throw new IllegalArgumentException("maximumSizePerTenant must be >= 1 but was " + maximumSizePerTenant);
      }
      this.maximumSizePerTenant = maximumSizePerTenant;
      return this;
    }

    /**
     * Refresh-ahead: once an entry is older than {@code refreshAfter}, a {@code get} still returns it at once and
     * starts one background reload (on the executor) that replaces it. Must be shorter than the TTL. Default: off.
     */
    public Builder<K, V> refreshAfter(Duration refreshAfter) {
      this.refreshAfter = positive("refreshAfter", refreshAfter);
      return this;
    }

    /**
     * Probabilistic early refresh ("XFetch"): a {@code get} hit starts one background reload when
     * {@code now - loadTime * beta * ln(random) >= expiry}, so hot keys are reloaded shortly before they expire,
     * the earlier the slower their loader, and a popular key never expires under load. {@code beta} 1.0 is the
     * usual choice; larger refreshes earlier. Default: off.
     */
    public Builder<K, V> earlyRefresh(double beta) {
      if (!(beta > 0 && beta <= 100)) {
        throw new IllegalArgumentException("earlyRefresh beta must be > 0 and <= 100 but was " + beta);
      }
      this.earlyRefreshBeta = beta;
      return this;
    }

    /** How keys become strings (see {@link KeyCodec}). Default {@link KeyCodec#standard()}. */
    public Builder<K, V> keyCodec(KeyCodec<? super K> keyCodec) {
      this.keyCodec = Objects.requireNonNull(keyCodec, "keyCodec");
      return this;
    }

    /**
     * Subscribes the cache to {@code bus}: every invalidation made here is also published, and the ones received
     * (from this node and the others) are applied; lost ones flush the cache. The cache name must be unique on the
     * bus. Default: none (invalidations stay on this node).
     */
    public Builder<K, V> invalidationBus(InvalidationBus bus) {
      this.bus = Objects.requireNonNull(bus, "bus");
      return this;
    }

    /**
     * Puts a shared tier (Redis, from {@code saas-cache-redis}) behind the local level: a local miss asks the tier,
     * then the loader, and fills both. Local hits never touch it. Invalidations made here reach the tier before the
     * bus. On several nodes give the cache an {@link #invalidationBus(InvalidationBus)} too: the tier learns of
     * every node's invalidations, but the entries another node holds locally are dropped only by the bus (a cache
     * with a tier and no bus logs a warning when built). Default: none.
     */
    public Builder<K, V> sharedTier(SharedTier<V> sharedTier) {
      this.sharedTier = Objects.requireNonNull(sharedTier, "sharedTier");
      return this;
    }

    /**
     * Registers the cache's meters ({@code saaskit.cache.*}, tagged {@code cache=<name>}, listed in docs/cache.md)
     * in {@code meterRegistry}, and removes them on {@link SaasCache#close()}. Micrometer is an optional
     * dependency: without this call the cache never touches it. Default: none.
     */
    public Builder<K, V> meterRegistry(MeterRegistry meterRegistry) {
      this.meterRegistry = Objects.requireNonNull(meterRegistry, "meterRegistry");
      return this;
    }

    /**
     * The clock that TTLs are measured with (tests pass a mutable one). Default: the JVM's monotonic nano time as
     * read every millisecond by one daemon thread shared by all caches without a clock, so that a hit does not pay
     * for a {@code System.nanoTime()} call (an entry may outlive its TTL by about that millisecond; load times stay
     * exact). A cache with its own clock reads it on every hit.
     */
    public Builder<K, V> clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * The random source for jitter and early refresh; it must be thread-safe if the cache is used from several
     * threads ({@link java.util.Random} is). Default: {@link java.util.concurrent.ThreadLocalRandom}.
     */
    public Builder<K, V> random(RandomGenerator random) {
      this.random = Objects.requireNonNull(random, "random");
      return this;
    }

    /**
     * Where background reloads and Caffeine's maintenance run. Default {@link ForkJoinPool#commonPool()};
     * {@code Runnable::run} runs them on the calling thread (deterministic tests).
     */
    public Builder<K, V> executor(Executor executor) {
      this.executor = Objects.requireNonNull(executor, "executor");
      return this;
    }

    /**
     * Builds the cache and, with a bus, subscribes it.
     *
     * @throws IllegalArgumentException if the settings do not fit together (named in the message)
     * @throws IllegalStateException if a cache with this name is already subscribed to the bus
     */
    public SaasCache<K, V> build() {
      Duration max = maxTtl;
      if (max == null) {
        Duration tenTimes = ttl.multipliedBy(DEFAULT_MAX_TTL_FACTOR);
        max = tenTimes.compareTo(LONGEST_TTL) > 0 ? LONGEST_TTL : tenTimes;
      }
      if (max.compareTo(ttl) < 0) {
        throw new IllegalArgumentException("maxTtl must be >= ttl (" + ttl + ") but was " + max);
      }
      Duration negative = negativeTtl != null ? negativeTtl : ttl.dividedBy(DEFAULT_NEGATIVE_TTL_DIVISOR);
      if (negative.compareTo(max) > 0) {
        throw new IllegalArgumentException("negativeTtl must be <= maxTtl (" + max + ") but was " + negative);
      }
      if (refreshAfter != null && refreshAfter.compareTo(ttl) >= 0) {
        throw new IllegalArgumentException(
            "refreshAfter must be shorter than ttl (" + ttl + ") but was " + refreshAfter);
      }
      if (global && maximumSizePerTenant > 0) {
        throw new IllegalArgumentException(
            "maximumSizePerTenant does not apply to a global cache: remove it or drop .global()");
      }
      if (maximumSizePerTenant > maximumSize) {
        throw new IllegalArgumentException("maximumSizePerTenant must be <= maximumSize (" + maximumSize
            + ") but was " + maximumSizePerTenant);
      }
      CacheSettings<K> settings = new CacheSettings<>(name, ttl, max, negative, jitter, global, maximumSize,
          maximumSizePerTenant, refreshAfter, earlyRefreshBeta, keyCodec, bus, meterRegistry, clock, random,
          executor);
      return new DefaultSaasCache<>(settings, sharedTier);
    }
  }

  private static Duration bounded(String what, Duration value) {
    positive(what, value);
    if (value.compareTo(Builder.LONGEST_TTL) > 0) {
      throw new IllegalArgumentException(what + " must be at most " + Builder.LONGEST_TTL + " but was " + value);
    }
    return value;
  }

  private static Duration positive(String what, Duration value) {
    Objects.requireNonNull(value, what);
    if (value.isZero() || value.isNegative()) {
      throw new IllegalArgumentException(what + " must be positive but was " + value);
    }
    return value;
  }
}
