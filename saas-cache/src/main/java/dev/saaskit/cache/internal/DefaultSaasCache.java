package dev.saaskit.cache.internal;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import com.github.benmanes.caffeine.cache.RemovalCause;
import com.github.benmanes.caffeine.cache.Ticker;
import dev.saaskit.cache.CacheLoadException;
import dev.saaskit.core.CheckedFunction;
import dev.saaskit.cache.CacheStats;
import dev.saaskit.cache.CacheValue;
import dev.saaskit.cache.Invalidation;
import dev.saaskit.cache.InvalidationBus;
import dev.saaskit.cache.InvalidationListener;
import dev.saaskit.cache.KeyCodec;
import dev.saaskit.cache.SaasCache;
import dev.saaskit.cache.SharedTier;
import dev.saaskit.core.MissingTenantException;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.BiFunction;
import java.util.random.RandomGenerator;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one implementation of {@link SaasCache}.
 *
 * <p>How an invalidation wins over a load in flight. Loads do not run inside Caffeine (a compute would block
 * invalidations of the key for the whole load, and Caffeine's iteration does not see keys being computed, so a
 * tag, tenant or full invalidation would miss them). Each load is a {@link Flight} registered in {@link #flights}
 * before the loader runs. An invalidation first marks the flights it covers, then removes the entries it covers;
 * a flight stores its result with a Caffeine {@code compute} that checks the marks inside the compute. Two cases:
 * <ul>
 *   <li>key invalidations and puts mark one flight (a volatile flag) and then remove the key through Caffeine's
 *       {@code compute} (not {@code computeIfPresent}, which skips the lock when the key is absent, even while a
 *       compute is inserting it), so the removal and the flight's compute serialise on the key: either the compute
 *       saw the mark and stored nothing, or it ran first and the removal deletes what it stored;
 *   <li>tag, tenant and full invalidations mark flights under the write lock of {@link #marking}, while every store
 *       (and every flight registration) holds its read lock: a store either completed before the marks, so its
 *       entry is in the indexes the removal walks next, or it starts after them and sees its mark. Tags are known
 *       only once a load returns, so a tag mark records the tag and the store compares it with the loaded tags.
 * </ul>
 * Marked key/tenant/all flights leave the flight table at once, so later misses start a fresh load; callers that
 * joined a flight after it was marked load again if its result was discarded.
 *
 * <p>Indexes: {@link #scopes} (tenant to its entries in write order, for tenant invalidation and the per-tenant
 * budget; not kept for a global cache) and {@link #tagIndex} (tag to entries). Both map keys to the exact
 * {@link Entry} object, so removing a replaced entry's index slots never removes its successor's. The rule that
 * makes a returned invalidation final: an index may keep an entry a little after it left the cache, never miss
 * one that is in it. A store indexes its entry inside its compute, before the entry is visible; a removal
 * unindexes the entry only after its compute returned (Caffeine's evictions through the removal listener, which
 * runs after them). Unindexing inside the removal's compute let a second invalidation of the same tag or tenant
 * find nothing and return while the first was still removing the entry, which readers could then still get.
 * Invalidations copy what an index holds rather than take it out, for the same reason. Lock order: Caffeine's
 * per-key lock, then an index map's; nothing calls Caffeine while holding an index lock.
 */
public final class DefaultSaasCache<K, V> implements SaasCache<K, V> {
  private static final Logger LOG = LoggerFactory.getLogger(DefaultSaasCache.class);
  private static final String[] NO_TAGS = new String[0];

  private final String name;
  private final boolean global;
  private final KeyCodec<? super K> codec;
  private final long ttlNanos;
  private final long maxTtlNanos;
  private final long negativeTtlNanos;
  private final double jitter;
  private final long refreshAfterNanos;
  private final double earlyRefreshBeta;
  private final boolean refreshOnHit;
  private final long maximumSizePerTenant;
  /** Expiry and entry timestamps: the shared coarse clock, or the injected one. */
  private final Ticker ticker;
  /** Load times (statistics, early refresh): exact, or the injected clock. */
  private final Ticker loadTicker;
  /** This cache's hold on the shared coarse clock; null with an injected clock. */
  private final CoarseTicker.@Nullable Lease clockLease;
  private final @Nullable RandomGenerator random;
  private final Executor executor;
  private final Cache<ScopedKey, Entry<V>> cache;
  private final ConcurrentMap<ScopedKey, Entry<V>> map;
  private final ConcurrentHashMap<ScopedKey, Flight<V>> flights = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<TenantId, LinkedHashMap<ScopedKey, Entry<V>>> scopes = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, HashMap<ScopedKey, Entry<V>>> tagIndex = new ConcurrentHashMap<>();
  private final ReentrantReadWriteLock marking = new ReentrantReadWriteLock();
  private final Counters counters = new Counters();
  /** {@code counters.hits}, one dereference closer to the hot path. */
  private final LongAdder hits = counters.hits;
  private final @Nullable InvalidationBus bus;
  private final InvalidationBus.@Nullable Subscription subscription;
  private final @Nullable Runnable meters;
  private final SharedTier.@Nullable Binding<V> tier;
  private volatile boolean closed;
  /** Whether the warning about a KEY invalidation without a tenant was logged (once per cache). */
  private volatile boolean warnedTenantlessKey;

  /** Builds the cache from checked settings, without a shared tier. */
  public DefaultSaasCache(CacheSettings<K> settings) {
    this(settings, null);
  }

  /**
   * Builds the cache from checked settings and binds the shared tier if there is one; subscribes it to the bus last,
   * once it is ready for deliveries.
   */
  public DefaultSaasCache(CacheSettings<K> settings, @Nullable SharedTier<V> sharedTier) {
    this.name = settings.name();
    this.global = settings.global();
    this.codec = settings.keyCodec();
    this.ttlNanos = nanos(settings.ttl());
    this.maxTtlNanos = nanos(settings.maxTtl());
    this.negativeTtlNanos = nanos(settings.negativeTtl());
    this.jitter = settings.jitter();
    Duration refreshAfter = settings.refreshAfter();
    this.refreshAfterNanos = refreshAfter == null ? 0 : nanos(refreshAfter);
    this.earlyRefreshBeta = settings.earlyRefreshBeta();
    this.refreshOnHit = refreshAfterNanos > 0 || earlyRefreshBeta > 0;
    this.maximumSizePerTenant = settings.maximumSizePerTenant();
    Clock clock = settings.clock();
    if (clock == null) {
      this.ticker = CoarseTicker.SHARED;
      this.loadTicker = Ticker.systemTicker();
    } else {
      this.ticker = new ClockTicker(clock);
      this.loadTicker = ticker;
    }
    this.random = settings.random();
    this.executor = settings.executor();
    // before the first entry can be written, so no entry is stamped with a stale reading; released below if
    // the construction fails
    this.clockLease = clock == null ? CoarseTicker.SHARED.lease() : null;
    try {
      this.cache = Caffeine.newBuilder()
          .maximumSize(settings.maximumSize())
          .ticker(ticker)
          .executor(executor)
          .expireAfter(new EntryExpiry<V>())
          .removalListener(this::onRemoval)
          .build();
      this.map = cache.asMap();
      Object registry = settings.meterRegistry();
      this.meters = registry == null ? null : CacheMeters.bind(registry, name, counters, this);
      try {
        this.tier = sharedTier == null ? null : Objects.requireNonNull(sharedTier.bind(
            new SharedTier.Context(name, global, settings.maxTtl(), this::flushFromTier)), "the tier's binding");
      } catch (RuntimeException e) {
        if (meters != null) {
          meters.run();
        }
        throw e;
      }
      InvalidationBus theBus = settings.bus();
      this.bus = theBus;
      if (theBus == null) {
        this.subscription = null;
        if (tier != null) {
          // the tier learns of every node's invalidations, this node's local entries only through a bus
          LOG.warn("cache '{}' has a shared tier but no invalidation bus: an invalidation made on another node"
              + " reaches the tier but not the entries this node holds locally, which stay until their TTL; give it"
              + " an InvalidationBus (PostgresInvalidationBus across nodes, InvalidationBus.inProcess() on one node)",
              name);
        }
      } else {
        BusNames.claim(theBus, name);
        try {
          this.subscription = theBus.subscribe(new BusListener());
        } catch (RuntimeException e) {
          BusNames.release(theBus, name);
          if (tier != null) {
            tier.close();
          }
          if (meters != null) {
            meters.run();
          }
          throw e;
        }
      }
    } catch (RuntimeException | Error e) {
      if (clockLease != null) {
        clockLease.release();
      }
      throw e;
    }
  }

  /** The shared tier may have missed invalidations (its connection was lost): drop every local entry. */
  private void flushFromTier() {
    if (closed) {
      return;
    }
    counters.lostInvalidations.increment();
    LOG.warn("cache '{}' flushed: its shared tier may have missed invalidations", name);
    invalidateAllHere();
  }

  @Override
  public String name() {
    return name;
  }

  // The three lookups below are the hot path: no lambda, no lock, no allocation (the key is looked up through this
  // thread's probe, and a key object is made only on a miss), and each small enough for the JIT to inline whole
  // into the caller (the miss and refresh paths are methods of their own).

  @Override
  public @Nullable V getIfPresent(K key) {
    String encoded = encode(key);
    Entry<V> entry = lookup(lookupTenant(), encoded);
    if (entry == null) {
      counters.misses.increment();
      return null;
    }
    hits.increment();
    return entry.value;
  }

  @Override
  public @Nullable V get(K key, CheckedFunction<? super K, ? extends @Nullable V, ? extends Exception> loader) {
    String encoded = encode(key);
    TenantId tenant = lookupTenant();
    Entry<V> entry = lookup(tenant, encoded);
    if (entry == null) {
      return miss(new ScopedKey(tenant, encoded), key, loader, true);
    }
    hits.increment();
    if (refreshOnHit) {
      considerRefresh(entry.key, key, entry, loader, true);
    }
    return entry.value;
  }

  @Override
  public @Nullable V getWith(K key, CheckedFunction<? super K, CacheValue<V>, ? extends Exception> loader) {
    String encoded = encode(key);
    TenantId tenant = lookupTenant();
    Entry<V> entry = lookup(tenant, encoded);
    if (entry == null) {
      return miss(new ScopedKey(tenant, encoded), key, loader, false);
    }
    hits.increment();
    if (refreshOnHit) {
      considerRefresh(entry.key, key, entry, loader, false);
    }
    return entry.value;
  }

  /**
   * The entry cached under (tenant, encoded), through this thread's probe key; an entry's own {@code key} is the
   * stored, immutable one, for whatever must keep the key.
   */
  private @Nullable Entry<V> lookup(@Nullable TenantId tenant, String encoded) {
    ScopedKey probe = ScopedKey.probe().aim(tenant, encoded);
    try {
      return cache.getIfPresent(probe);
    } finally {
      probe.release();
    }
  }

  /** {@code plain}: the loader returns V; otherwise it returns a CacheValue. */
  private @Nullable V miss(ScopedKey scoped, K key, CheckedFunction<? super K, ?, ?> loader, boolean plain) {
    Objects.requireNonNull(loader, "loader");
    counters.misses.increment();
    return loadOnMiss(scoped, key, loader, plain);
  }

  private @Nullable V loadOnMiss(ScopedKey scoped, K key, CheckedFunction<? super K, ?, ?> loader, boolean plain) {
    ensureOpen();
    Texts.check("an encoded key", scoped.key);
    Thread me = Thread.currentThread();
    while (true) {
      Flight<V> mine = new Flight<>(me);
      Flight<V> existing = register(scoped, mine);
      if (existing != null) {
        if (existing.owner == me) {
          throw new IllegalStateException("the loader of cache '" + name + "' asked the cache for the key it is"
              + " loading, which would wait for itself: load the data directly inside the loader");
        }
        boolean joinedAfterMark = existing.isMarked();
        Flight.Result<V> shared = await(existing);
        if (joinedAfterMark && (shared.discarded() || overtaken(existing, shared.tags()))) {
          // an invalidation overtook that load before we joined it: its value is too old for us, whether the
          // store lost to the invalidation or came first and was then removed by it
          continue;
        }
        return shared.value();
      }
      // a flight may have stored and left between our miss and our registration
      Entry<V> stored = cache.getIfPresent(scoped);
      if (stored != null) {
        flights.remove(scoped, mine);
        mine.result.complete(new Flight.Result<>(stored.value, false, stored.tags));
        return stored.value;
      }
      SharedTier.Lookup<V> shared = null;
      SharedTier.Binding<V> theTier = tier;
      if (theTier != null) {
        shared = tierLookup(theTier, scoped);
        if (shared.isHit()) {
          return fromTier(scoped, mine, shared);
        }
      }
      long start = loadTicker.read();
      CacheValue<V> loaded;
      try {
        loaded = callLoader(key, loader, plain);
      } catch (Exception | Error e) {
        failed(scoped, mine, start, e);
        abandonTier(shared);
        if (e instanceof Error) {
          throw (Error) e;
        }
        if (e instanceof InterruptedException) {
          // the loader was interrupted (a cancelled request, a pool shutting down): throwing it cleared this thread's
          // flag, and wrapped in an unchecked exception nobody up the stack would restore it
          Thread.currentThread().interrupt();
        }
        throw new CacheLoadException(name, e);
      }
      return completed(scoped, mine, start, loaded, shared).value();
    }
  }

  private @Nullable Flight<V> register(ScopedKey scoped, Flight<V> flight) {
    Lock read = marking.readLock();
    read.lock();
    try {
      return flights.putIfAbsent(scoped, flight);
    } finally {
      read.unlock();
    }
  }

  /** Whether an invalidation marked so far covers what {@code flight} loaded (tags are read under the read lock). */
  private boolean overtaken(Flight<V> flight, String[] tags) {
    Lock read = marking.readLock();
    read.lock();
    try {
      return flight.discards(tags);
    } finally {
      read.unlock();
    }
  }

  /**
   * Waits for another caller's load of the key. Interruptible: the wait has no timeout (a hung loader holds every
   * caller of its key), so a caller whose thread is interrupted (a cancelled request, an executor shut down with
   * {@code shutdownNow}) stops waiting with a {@code CacheLoadException} whose cause is the
   * {@code InterruptedException}, its flag set again; the load itself goes on for the others.
   */
  private Flight.Result<V> await(Flight<V> flight) {
    try {
      return flight.result.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new CacheLoadException(name, e);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause() == null ? e : e.getCause();
      if (cause instanceof Error) {
        throw (Error) cause;
      }
      throw new CacheLoadException(name, cause);
    }
  }

  @SuppressWarnings("unchecked")
  private CacheValue<V> callLoader(K key, CheckedFunction<? super K, ?, ?> loader, boolean plain) throws Exception {
    Object result = loader.apply(key);
    if (plain) {
      return CacheValue.ofNullable((V) result);
    }
    if (result == null) {
      throw new NullPointerException("the loader of cache '" + name + "' returned null instead of a CacheValue:"
          + " return CacheValue.absent() when there is no value");
    }
    return (CacheValue<V>) result;
  }

  private void failed(ScopedKey scoped, Flight<V> flight, long start, Throwable e) {
    counters.loadFailures.increment();
    counters.loadNanos.add(Math.max(0, loadTicker.read() - start));
    flights.remove(scoped, flight);
    flight.result.completeExceptionally(e);
  }

  /**
   * Stores a load's result and completes its flight; then, if it was stored here and followed a tier miss, hands it
   * to the tier (after the flight completed, so local waiters do not wait for the tier's round trip).
   */
  private Flight.Result<V> completed(ScopedKey scoped, Flight<V> flight, long start, CacheValue<V> loaded,
      SharedTier.@Nullable Lookup<V> tierMiss) {
    long now = ticker.read();
    long took = Math.max(0, loadTicker.read() - start);
    counters.loadSuccesses.increment();
    counters.loadNanos.add(took);
    Flight.Result<V> result;
    long lifetime = 0;
    try {
      Entry<V> entry = newEntry(scoped, loaded, now, took);
      if (entry == null) {
        result = new Flight.Result<>(null, false, NO_TAGS); // an absence, with negative caching off
      } else {
        boolean stored = store(scoped, entry, flight);
        if (!stored) {
          counters.discardedLoads.increment();
        } else {
          lifetime = entry.expiresAt - entry.writtenAt;
        }
        result = new Flight.Result<>(entry.value, !stored, entry.tags);
      }
    } catch (RuntimeException | Error e) {
      // never leave callers waiting on a flight that will not complete
      flights.remove(scoped, flight);
      flight.result.completeExceptionally(e);
      throw e;
    }
    flights.remove(scoped, flight);
    flight.result.complete(result);
    SharedTier.Binding<V> theTier = tier;
    if (theTier != null && tierMiss != null && tierMiss.isMiss()) {
      if (lifetime > 0) {
        try {
          theTier.store(tierMiss, loaded, Duration.ofNanos(lifetime));
        } catch (RuntimeException e) {
          LOG.warn("the shared tier of cache '{}' failed to store a loaded value", name, e);
        }
      } else {
        abandonTier(tierMiss); // discarded, or an absence not cached
      }
    }
    return result;
  }

  /**
   * Tells the tier that the load after {@code tierMiss} will not be stored, so that whatever it holds for it (a
   * single-flight lock other nodes wait on) goes now rather than at its TTL; nothing without a tier miss.
   */
  private void abandonTier(SharedTier.@Nullable Lookup<V> tierMiss) {
    SharedTier.Binding<V> theTier = tier;
    if (theTier != null && tierMiss != null && tierMiss.isMiss()) {
      try {
        theTier.abandon(tierMiss);
      } catch (RuntimeException e) {
        LOG.warn("the shared tier of cache '{}' failed to abandon a load", name, e);
      }
    }
  }

  private SharedTier.Lookup<V> tierLookup(SharedTier.Binding<V> theTier, ScopedKey scoped) {
    try {
      return Objects.requireNonNull(theTier.lookup(scoped.tenant, scoped.key), "the tier's lookup");
    } catch (RuntimeException e) {
      LOG.warn("the shared tier of cache '{}' failed a lookup; loading instead", name, e);
      return SharedTier.Lookup.bypass();
    }
  }

  /** Stores a tier hit locally for at most its remaining lifetime and completes the flight with it. */
  private @Nullable V fromTier(ScopedKey scoped, Flight<V> flight, SharedTier.Lookup<V> hit) {
    Flight.Result<V> result;
    try {
      long now = ticker.read();
      long life = Math.max(1, Math.min(nanos(hit.remaining()), maxTtlNanos));
      List<String> tags = hit.tags();
      Entry<V> entry = new Entry<>(scoped, hit.value(), tags.isEmpty() ? NO_TAGS : tags.toArray(NO_TAGS), now,
          now + life, 0);
      boolean stored = store(scoped, entry, flight);
      if (!stored) {
        counters.discardedLoads.increment();
      }
      result = new Flight.Result<>(entry.value, !stored, entry.tags);
    } catch (RuntimeException | Error e) {
      flights.remove(scoped, flight);
      flight.result.completeExceptionally(e);
      throw e;
    }
    flights.remove(scoped, flight);
    flight.result.complete(result);
    return result.value();
  }

  private void tierInvalidate(Invalidation invalidation) {
    SharedTier.Binding<V> theTier = tier;
    if (theTier != null) {
      try {
        theTier.invalidate(invalidation);
      } catch (RuntimeException e) {
        LOG.warn("the shared tier of cache '{}' failed an invalidation", name, e);
      }
    }
  }

  private void considerRefresh(
      ScopedKey scoped, K key, Entry<V> entry, CheckedFunction<? super K, ?, ?> loader, boolean plain) {
    long now = ticker.read();
    boolean due = refreshAfterNanos > 0 && now - entry.writtenAt >= refreshAfterNanos;
    if (!due && earlyRefreshBeta > 0 && entry.loadNanos > 0) {
      // XFetch: -ln(u) is exponential with mean 1, so the head start is loadTime * beta on average
      double u = 1.0 - nextDouble();
      due = now - (long) (entry.loadNanos * earlyRefreshBeta * Math.log(u)) >= entry.expiresAt;
    }
    if (!due || closed) {
      return;
    }
    Flight<V> flight = new Flight<>(null);
    if (register(scoped, flight) != null) {
      return; // a load or refresh of this key is already running
    }
    counters.refreshes.increment();
    try {
      executor.execute(new Refresh(scoped, key, loader, plain, flight));
    } catch (RuntimeException e) {
      LOG.warn("cache '{}' could not start a background refresh; the entry stays until its TTL", name, e);
      flights.remove(scoped, flight);
      flight.result.complete(new Flight.Result<>(entry.value, false, entry.tags));
    }
  }

  /** A background reload, with the tenant of the key as the current tenant. */
  private final class Refresh implements Runnable {
    private final ScopedKey scoped;
    private final K key;
    private final CheckedFunction<? super K, ?, ?> loader;
    private final boolean plain;
    private final Flight<V> flight;

    Refresh(ScopedKey scoped, K key, CheckedFunction<? super K, ?, ?> loader, boolean plain, Flight<V> flight) {
      this.scoped = scoped;
      this.key = key;
      this.loader = loader;
      this.plain = plain;
      this.flight = flight;
    }

    @Override
    public void run() {
      TenantId tenant = scoped.tenant;
      if (tenant == null) {
        TenantContext.runWithoutTenant(this::reload);
      } else {
        TenantContext.run(tenant, this::reload);
      }
    }

    private void reload() {
      flight.owner = Thread.currentThread(); // so that a loader reading its own key fails instead of waiting forever
      long start = loadTicker.read();
      CacheValue<V> loaded;
      try {
        loaded = callLoader(key, loader, plain);
      } catch (Exception | Error e) {
        failed(scoped, flight, start, e);
        LOG.warn("background refresh of an entry of cache '{}' failed; the current entry stays until its TTL",
            name, e);
        if (e instanceof Error) {
          throw (Error) e;
        }
        if (e instanceof InterruptedException) {
          Thread.currentThread().interrupt(); // the executor's thread was interrupted: it must still see it
        }
        return;
      }
      completed(scoped, flight, start, loaded, null);
    }
  }

  @Override
  public void put(K key, V value) {
    put(key, CacheValue.of(value));
  }

  @Override
  public void put(K key, V value, Duration ttl) {
    put(key, CacheValue.of(value).ttl(ttl));
  }

  @Override
  public void put(K key, CacheValue<V> value) {
    Objects.requireNonNull(value, "value");
    ensureOpen();
    ScopedKey scoped = scopedKey(key);
    Texts.check("an encoded key", scoped.key);
    Entry<V> entry = newEntry(scoped, value, ticker.read(), 0);
    if (entry == null) {
      throw new IllegalArgumentException("cannot put an absence into cache '" + name + "': negative caching is off"
          + " (negativeTtl is zero); give the absence its own ttl or set a negativeTtl");
    }
    Flight<V> inFlight = flights.get(scoped);
    if (inFlight != null) {
      // the value put is newer than whatever that load read
      inFlight.invalidate();
      flights.remove(scoped, inFlight);
    }
    store(scoped, entry, null);
  }

  // Each invalidation reaches the shared tier before it drops the local entries: the other way round, a get on this
  // node between the two missed locally, read the old value from the tier (not yet invalidated) through a flight
  // the local marks never saw, and kept it here after the invalidation returned. Tier first, a get in between is a
  // local hit (the invalidation has not returned yet) or a tier miss, and a flight that read the tier before it was
  // invalidated is marked or its entry removed by the local step that follows.

  @Override
  public void invalidate(K key) {
    ensureOpen();
    ScopedKey scoped = scopedKey(key);
    Invalidation invalidation = Invalidation.key(name, scoped.tenant, scoped.key);
    tierInvalidate(invalidation);
    invalidateKeyHere(scoped);
    counters.invalidationsApplied.increment();
    publish(invalidation);
  }

  @Override
  public void invalidateTag(String tag) {
    ensureOpen();
    Texts.check("tag", tag);
    Invalidation invalidation = Invalidation.tag(name, tag);
    tierInvalidate(invalidation);
    invalidateTagHere(tag);
    counters.invalidationsApplied.increment();
    publish(invalidation);
  }

  @Override
  public void invalidateTenant(TenantId tenant) {
    ensureOpen();
    Objects.requireNonNull(tenant, "tenant");
    Invalidation invalidation = Invalidation.tenant(name, tenant);
    tierInvalidate(invalidation);
    invalidateTenantHere(tenant);
    counters.invalidationsApplied.increment();
    publish(invalidation);
  }

  @Override
  public void invalidateAll() {
    ensureOpen();
    Invalidation invalidation = Invalidation.all(name);
    tierInvalidate(invalidation);
    invalidateAllHere();
    counters.invalidationsApplied.increment();
    publish(invalidation);
  }

  private void publish(Invalidation invalidation) {
    InvalidationBus theBus = bus;
    if (theBus != null) {
      theBus.publish(invalidation);
    }
  }

  private void invalidateKeyHere(ScopedKey scoped) {
    Flight<V> inFlight = flights.get(scoped);
    if (inFlight != null) {
      inFlight.invalidate();
      flights.remove(scoped, inFlight);
    }
    // compute, not computeIfPresent: Caffeine's computeIfPresent first looks the key up without the lock and returns
    // at once when it is absent, so it does not wait for a store whose compute is inserting the key right now (one
    // that checked the mark just before it was set) and that entry would stay; compute waits for it and removes it
    List<Entry<V>> removed = new ArrayList<>(1);
    map.compute(scoped, (k, current) -> {
      if (current != null) {
        removed.add(current);
      }
      return null;
    });
    removed.forEach(this::unindex);
  }

  private void invalidateTagHere(String tag) {
    Lock write = marking.writeLock();
    write.lock();
    try {
      for (Flight<V> flight : flights.values()) {
        flight.invalidateTag(tag);
      }
    } finally {
      write.unlock();
    }
    removeIndexed(tagIndex, tag);
  }

  /**
   * Removes the entries {@code index} holds under {@code key}. Copied, not taken out of the index: a second
   * invalidation covering them that runs now must find them too and wait for their removal (inside Caffeine's
   * compute) before it returns; one that found the index already emptied returned while the first was still
   * removing them.
   */
  private <T, M extends Map<ScopedKey, Entry<V>>> void removeIndexed(ConcurrentHashMap<T, M> index, T key) {
    List<Entry<V>> entries = new ArrayList<>();
    index.computeIfPresent(key, (k, indexed) -> {
      entries.addAll(indexed.values());
      return indexed;
    });
    for (Entry<V> entry : entries) {
      removeIfSame(entry);
    }
  }

  private void invalidateTenantHere(TenantId tenant) {
    if (global) {
      return;
    }
    Lock write = marking.writeLock();
    write.lock();
    try {
      for (Map.Entry<ScopedKey, Flight<V>> flight : flights.entrySet()) {
        if (Objects.equals(tenant, flight.getKey().tenant)) {
          flight.getValue().invalidate();
          flights.remove(flight.getKey(), flight.getValue());
        }
      }
    } finally {
      write.unlock();
    }
    removeIndexed(scopes, tenant);
  }

  private void invalidateAllHere() {
    Lock write = marking.writeLock();
    write.lock();
    try {
      for (Map.Entry<ScopedKey, Flight<V>> flight : flights.entrySet()) {
        flight.getValue().invalidate();
        flights.remove(flight.getKey(), flight.getValue());
      }
    } finally {
      write.unlock();
    }
    List<Entry<V>> removed = new ArrayList<>(1);
    for (ScopedKey key : map.keySet()) {
      map.computeIfPresent(key, (k, current) -> {
        removed.add(current);
        return null;
      });
      removed.forEach(this::unindex);
      removed.clear();
    }
    // the map's iteration is weakly consistent: an entry it did not show (CI caught one in 80,000 rounds, next to a
    // tag invalidation of the same entry) is still in an index, which a tag or tenant invalidation would have found,
    // so go through the indexes too, as they do
    for (TenantId scope : new ArrayList<>(scopes.keySet())) {
      removeIndexed(scopes, scope);
    }
    for (String tag : new ArrayList<>(tagIndex.keySet())) {
      removeIndexed(tagIndex, tag);
    }
  }

  /** Removes {@code entry} if it is still the one cached under its key; true if it was. */
  private boolean removeIfSame(Entry<V> entry) {
    boolean[] removed = {false};
    map.computeIfPresent(entry.key, (k, current) -> {
      if (current != entry) {
        return current;
      }
      removed[0] = true;
      return null;
    });
    if (removed[0]) {
      unindex(entry);
    }
    return removed[0];
  }

  /** Stores {@code entry} unless {@code flight} was overtaken by an invalidation; true if stored. */
  private boolean store(ScopedKey scoped, Entry<V> entry, @Nullable Flight<V> flight) {
    StoreOp op = new StoreOp(entry, flight);
    Lock read = marking.readLock();
    read.lock();
    try {
      if (closed) {
        return false;
      }
      map.compute(scoped, op);
    } finally {
      read.unlock();
    }
    List<Entry<V>> victims = op.victims;
    if (victims != null) {
      for (Entry<V> victim : victims) {
        if (removeIfSame(victim)) {
          counters.evictions.increment();
        }
      }
    }
    return op.stored;
  }

  /** The compute that stores one entry: checks the flight's marks and indexes the entry atomically with the write. */
  private final class StoreOp implements BiFunction<ScopedKey, Entry<V>, Entry<V>> {
    private final Entry<V> entry;
    private final @Nullable Flight<V> flight;
    boolean stored;
    @Nullable List<Entry<V>> victims;

    StoreOp(Entry<V> entry, @Nullable Flight<V> flight) {
      this.entry = entry;
      this.flight = flight;
    }

    @Override
    public @Nullable Entry<V> apply(ScopedKey key, @Nullable Entry<V> current) {
      Flight<V> theFlight = flight;
      if (theFlight != null && theFlight.discards(entry.tags)) {
        return current;
      }
      index();
      if (current != null) {
        unindex(current);
      }
      stored = true;
      return entry;
    }

    private void index() {
      for (String tag : entry.tags) {
        tagIndex.compute(tag, (t, keys) -> {
          HashMap<ScopedKey, Entry<V>> tagged = keys == null ? new HashMap<>() : keys;
          tagged.put(entry.key, entry);
          return tagged;
        });
      }
      if (global) {
        return; // the scope index serves tenant invalidation and tenant budgets only
      }
      scopes.compute(scopeOf(entry.key), (scope, inScope) -> {
        LinkedHashMap<ScopedKey, Entry<V>> entries = inScope == null ? new LinkedHashMap<>() : inScope;
        entries.remove(entry.key); // re-inserted at the end: write order
        entries.put(entry.key, entry);
        if (maximumSizePerTenant > 0 && entries.size() > maximumSizePerTenant) {
          // left in the index until they are out of the cache (removeIfSame unindexes them then), so that a tenant
          // invalidation running meanwhile still finds them
          long excess = entries.size() - maximumSizePerTenant;
          List<Entry<V>> over = new ArrayList<>();
          Iterator<Entry<V>> oldestFirst = entries.values().iterator();
          while (over.size() < excess && oldestFirst.hasNext()) {
            over.add(oldestFirst.next());
          }
          victims = over;
        }
        return entries;
      });
    }
  }

  private void unindex(Entry<V> entry) {
    for (String tag : entry.tags) {
      tagIndex.computeIfPresent(tag, (t, keys) -> {
        keys.remove(entry.key, entry);
        return keys.isEmpty() ? null : keys;
      });
    }
    if (global) {
      return;
    }
    scopes.computeIfPresent(scopeOf(entry.key), (scope, entries) -> {
      entries.remove(entry.key, entry);
      return entries.isEmpty() ? null : entries;
    });
  }

  /**
   * Caffeine's removal listener, run after the removal (on the cache's executor): unindexes entries Caffeine
   * evicted (expired or over the size limit). Removals of our own unindex themselves, also once the removal is done.
   */
  private void onRemoval(@Nullable ScopedKey key, @Nullable Entry<V> entry, RemovalCause cause) {
    if (!cause.wasEvicted()) {
      return;
    }
    if (entry != null) {
      unindex(entry);
    }
    if (cause == RemovalCause.EXPIRED) {
      counters.expirations.increment();
    } else {
      counters.evictions.increment();
    }
  }

  private @Nullable Entry<V> newEntry(ScopedKey scoped, CacheValue<V> value, long now, long loadNanos) {
    long base;
    Optional<Duration> own = value.ttl();
    if (own.isPresent()) {
      base = nanos(own.get());
    } else if (value.isPresent()) {
      base = ttlNanos;
    } else if (negativeTtlNanos > 0) {
      base = negativeTtlNanos;
    } else {
      return null;
    }
    List<String> tags = value.tags();
    return new Entry<>(scoped, value.value(), tags.isEmpty() ? NO_TAGS : tags.toArray(NO_TAGS), now,
        now + lifetime(base), loadNanos);
  }

  /** The TTL an entry gets: clamped to maxTtl, jittered, and clamped again, so nothing outlives maxTtl. */
  long lifetime(long requestedNanos) {
    long bounded = Math.min(requestedNanos, maxTtlNanos);
    if (jitter > 0) {
      bounded = (long) (bounded * (1 + jitter * (2 * nextDouble() - 1)));
    }
    return Math.max(1, Math.min(bounded, maxTtlNanos));
  }

  private double nextDouble() {
    RandomGenerator source = random;
    return source == null ? ThreadLocalRandom.current().nextDouble() : source.nextDouble();
  }

  @Override
  public Invalidation keyInvalidation(K key) {
    ScopedKey scoped = scopedKey(key);
    return Invalidation.key(name, scoped.tenant, Texts.check("an encoded key", scoped.key));
  }

  @Override
  public Invalidation keyInvalidation(TenantId tenant, K key) {
    Objects.requireNonNull(tenant, "tenant");
    if (global) {
      throw new IllegalArgumentException("cache '" + name + "' is global: its keys belong to no tenant, so use"
          + " keyInvalidation(key)");
    }
    String encoded = Objects.requireNonNull(codec.encode(Objects.requireNonNull(key, "key")),
        "the key codec returned null");
    return Invalidation.key(name, tenant, Texts.check("an encoded key", encoded));
  }

  /** A key object for the paths that keep or publish the key (puts, invalidations, misses). */
  private ScopedKey scopedKey(K key) {
    String encoded = encode(key);
    return new ScopedKey(lookupTenant(), encoded);
  }

  /** On every lookup: kept small (the failure paths are methods of their own) so that the JIT inlines it. */
  private String encode(K key) {
    return Objects.requireNonNull(codec.encode(Objects.requireNonNull(key, "key")), "the key codec returned null");
  }

  /** The tenant a lookup is scoped to: null in a global cache, else the current one (required). */
  private @Nullable TenantId lookupTenant() {
    if (global) {
      return null;
    }
    TenantId tenant = TenantContext.currentOrNull();
    if (tenant == null) {
      throw missingTenant();
    }
    return tenant;
  }

  private MissingTenantException missingTenant() {
    return new MissingTenantException("cache '" + name + "' is tenant-scoped and no tenant is set for this thread:"
        + " use it inside TenantContext.run(tenantId, ...) (carry the tenant into other threads with"
        + " TenantContext.wrap), or declare the cache .global() if its data belongs to no tenant");
  }

  private static TenantId scopeOf(ScopedKey key) {
    return Objects.requireNonNull(key.tenant, "only tenant-scoped entries are indexed by scope");
  }

  private void ensureOpen() {
    if (closed) {
      throw new IllegalStateException("cache '" + name + "' is closed");
    }
  }

  private static long nanos(Duration duration) {
    try {
      return duration.toNanos();
    } catch (ArithmeticException e) {
      return Long.MAX_VALUE;
    }
  }

  @Override
  public long estimatedSize() {
    return cache.estimatedSize();
  }

  @Override
  public CacheStats stats() {
    return counters.snapshot();
  }

  @Override
  public void close() {
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
    }
    try {
      if (subscription != null) {
        subscription.close();
      }
    } finally {
      InvalidationBus theBus = bus;
      if (theBus != null) {
        BusNames.release(theBus, name);
      }
      if (meters != null) {
        meters.run();
      }
      invalidateAllHere();
      try {
        if (tier != null) {
          tier.close();
        }
      } finally {
        if (clockLease != null) {
          clockLease.release();
        }
      }
    }
  }

  /** Runs Caffeine's pending maintenance (expired entries are then removed and unindexed). For tests. */
  public void cleanUp() {
    cache.cleanUp();
  }

  /** Number of tags in the tag index. For tests: proves the index does not leak. */
  public int indexedTags() {
    return tagIndex.size();
  }

  /** Number of entries in the tenant/scope index. For tests. */
  public int indexedEntries() {
    int total = 0;
    for (TenantId scope : scopes.keySet()) {
      int[] size = {0};
      scopes.computeIfPresent(scope, (s, entries) -> {
        size[0] = entries.size();
        return entries;
      });
      total += size[0];
    }
    return total;
  }

  /** Number of loads in flight. For tests. */
  public int loadsInFlight() {
    return flights.size();
  }

  @Override
  public String toString() {
    return "SaasCache[" + name + (global ? ", global" : ", tenant-scoped") + "]";
  }

  /** Receives the bus's deliveries for this cache. */
  private final class BusListener implements InvalidationListener {
    @Override
    public void onInvalidation(Invalidation invalidation) {
      if (closed || !invalidation.appliesTo(name)) {
        return;
      }
      counters.invalidationsReceived.increment();
      // the shared tier too, and first (see invalidate): an invalidation published in a transaction
      // (bus.publish(connection, ..)) or written by the SQL trigger reaches no tier on its way, and without this the
      // next local miss on any node read the old value back from the tier and cached it again until its TTL
      // (applying one that already reached the tier again is harmless: at worst an extra miss)
      switch (invalidation.scope()) {
        case KEY -> {
          TenantId tenant = global ? null : invalidation.tenant();
          if (global || tenant != null) {
            ScopedKey scoped = new ScopedKey(tenant, Objects.requireNonNull(invalidation.value()));
            tierInvalidate(Invalidation.key(name, tenant, scoped.key));
            invalidateKeyHere(scoped);
          } else {
            invalidateKeyOfEveryTenantHere(Objects.requireNonNull(invalidation.value()));
          }
        }
        case TAG -> {
          tierInvalidate(invalidation);
          invalidateTagHere(Objects.requireNonNull(invalidation.value()));
        }
        case TENANT -> {
          tierInvalidate(invalidation);
          invalidateTenantHere(Objects.requireNonNull(invalidation.tenant()));
        }
        case ALL -> {
          tierInvalidate(invalidation);
          invalidateAllHere();
        }
      }
      counters.invalidationsApplied.increment();
    }

    @Override
    public void onLostInvalidations() {
      if (closed) {
        return;
      }
      counters.lostInvalidations.increment();
      LOG.warn("cache '{}' flushed: the invalidation bus lost invalidations", name);
      // a lost invalidation may have been published in a transaction, which reaches a shared tier only through the
      // bus: the tier's entries are as suspect as the local ones
      tierInvalidate(Invalidation.all(name));
      invalidateAllHere();
    }
  }

  /**
   * A KEY invalidation without a tenant reached this tenant-scoped cache: published by hand without one, or by a node
   * where the cache is still global (a rolling deploy that made it tenant-scoped). Which tenant's key it means is
   * unknown, and ignoring it kept the stale entries of every tenant until their TTL; so the key goes in every tenant
   * (the scope index holds every tenant with an entry, the flight table every tenant loading), and the shared tier,
   * which cannot list its tenants, drops everything.
   */
  private void invalidateKeyOfEveryTenantHere(String key) {
    if (!warnedTenantlessKey) {
      warnedTenantlessKey = true;
      LOG.warn("cache '{}' is tenant-scoped but received a KEY invalidation without a tenant (published by hand, or"
          + " by a node where the cache is global): the key is dropped in every tenant, and the shared tier entirely;"
          + " publish keyInvalidation(tenant, key) instead", name);
    }
    tierInvalidate(Invalidation.all(name));
    Set<TenantId> tenants = new HashSet<>(scopes.keySet());
    for (ScopedKey loading : flights.keySet()) {
      if (loading.tenant != null) {
        tenants.add(loading.tenant);
      }
    }
    for (TenantId tenant : tenants) {
      invalidateKeyHere(new ScopedKey(tenant, key));
    }
  }

  /** Expiry at the absolute time stored in each entry, so rewriting the same entry never extends it. */
  private static final class EntryExpiry<V> implements Expiry<ScopedKey, Entry<V>> {
    @Override
    public long expireAfterCreate(ScopedKey key, Entry<V> entry, long currentTime) {
      return Math.max(0, entry.expiresAt - currentTime);
    }

    @Override
    public long expireAfterUpdate(ScopedKey key, Entry<V> entry, long currentTime, long currentDuration) {
      return Math.max(0, entry.expiresAt - currentTime);
    }

    @Override
    public long expireAfterRead(ScopedKey key, Entry<V> entry, long currentTime, long currentDuration) {
      return currentDuration;
    }
  }
}
