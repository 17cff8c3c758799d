package dev.saaskit.cache.redis.internal;

import dev.saaskit.cache.CacheValue;
import dev.saaskit.cache.Invalidation;
import dev.saaskit.cache.SharedTier;
import dev.saaskit.cache.redis.ValueCodec;
import dev.saaskit.core.TenantId;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.UUID;
import java.util.Iterator;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Redis tier bound to one cache. Key layout (all keys of a cache share the hash tag {@code {<cache>}}):
 * <pre>
 * &lt;app&gt;:{&lt;cache&gt;}:e:&lt;len&gt;:&lt;tenant&gt;:&lt;key&gt;   entry (hash: d payload, c/t generations, #tag generations)
 * &lt;app&gt;:{&lt;cache&gt;}:e:-:&lt;key&gt;                 entry of a global cache
 * &lt;app&gt;:{&lt;cache&gt;}:v:...                        key version (same suffix as the entry)
 * &lt;app&gt;:{&lt;cache&gt;}:l:...                        single-flight lock (same suffix)
 * &lt;app&gt;:{&lt;cache&gt;}:gen                         cache generation (ALL)
 * &lt;app&gt;:{&lt;cache&gt;}:tgen:&lt;tenant&gt;              tenant generation (TENANT)
 * &lt;app&gt;:{&lt;cache&gt;}:tag:&lt;tag&gt;                  tag generation (TAG)
 * &lt;app&gt;:{&lt;cache&gt;}:tagseq                      moved by every TAG invalidation
 * &lt;app&gt;:{&lt;cache&gt;}:srv                         run_id of the server the entries were written to
 * </pre>
 * The tenant is written with its length so that no tenant/key pair can spell another's.
 */
public final class TierBinding<V> implements SharedTier.Binding<V> {
  /** Invalidations kept while Redis is unreachable; above it they collapse into one invalidation of the cache. */
  public static final int MAX_PENDING = 10_000;
  private static final Logger LOG = LoggerFactory.getLogger(TierBinding.class);
  private static final byte ABSENT = 0;
  private static final byte PRESENT = 1;

  private final RedisCore core;
  private final ValueCodec<V> codec;
  private final SharedTier.Context context;
  private final String base;
  private final String tagPrefix;
  private final byte[] tagPrefixBytes;
  private final long genPttl;
  private final long versionPttl;
  private final long graceNanos;
  private final @Nullable Duration lockTtl;
  private final Duration lockWait;
  private final Duration lockPoll;
  /**
   * Invalidations made here that Redis has not applied yet, oldest first. One leaves the queue only once Redis has
   * applied it, so a lookup that reads the queue without a lock (and without waiting for the drain) sees every
   * invalidation made before it that may not be in Redis yet. Each is wrapped in its own {@link Pending}: removal
   * is by identity, never by equality (an equal invalidation made later must still be applied after its write).
   */
  private final ConcurrentLinkedQueue<Pending> pending = new ConcurrentLinkedQueue<>();
  /** The size of {@link #pending} (whose own size() walks the queue); guarded by its monitor. */
  private int pendingCount;
  /**
   * Held by the one call that applies the queue to Redis, across its Redis calls. Lookups never wait for it: a
   * lookup whose key no pending invalidation covers goes to Redis at once, one whose key one covers bypasses the
   * tier while another call drains (and drains itself only when nobody does).
   */
  private final ReentrantLock draining = new ReentrantLock();
  private final Runnable unregister;

  public TierBinding(RedisCore core, ValueCodec<V> codec, SharedTier.Context context, @Nullable Duration lockTtl,
      Duration lockWait, Duration lockPoll) {
    this.core = core;
    this.codec = codec;
    this.context = context;
    String cache = context.cacheName();
    if (cache.indexOf('{') >= 0 || cache.indexOf('}') >= 0) {
      throw new IllegalArgumentException("cache '" + cache + "' cannot use the Redis tier: its name must not"
          + " contain '{' or '}' (the name is the Redis hash tag of its keys)");
    }
    this.base = core.prefix() + "{" + cache + "}:";
    this.tagPrefix = base + "tag:";
    this.tagPrefixBytes = RedisCore.bytes(tagPrefix);
    long grace = core.storeGrace().toMillis();
    this.genPttl = millis(context.maxTtl()) + 2 * grace;
    this.versionPttl = 2 * grace + 1000;
    this.graceNanos = core.storeGrace().toNanos();
    this.lockTtl = lockTtl;
    this.lockWait = lockWait;
    this.lockPoll = lockPoll;
    this.unregister = core.onReconnect(context.flushLocal());
  }

  private static long millis(Duration d) {
    try {
      return d.toMillis();
    } catch (ArithmeticException e) {
      return Long.MAX_VALUE / 4;
    }
  }

  String suffix(@Nullable TenantId tenant, String key) {
    if (tenant == null) {
      return "-:" + key;
    }
    String t = tenant.value();
    return t.length() + ":" + t + ":" + key;
  }

  /** The Redis key of the entry of {@code key} (for tests and docs). */
  public String entryKey(@Nullable TenantId tenant, String key) {
    return base + "e:" + suffix(tenant, key);
  }

  private String[] keys(@Nullable TenantId tenant, String suffix) {
    String gen = base + "gen";
    String tenantGen = tenant == null || context.global() ? gen : base + "tgen:" + tenant.value();
    return new String[] {base + "e:" + suffix, gen, tenantGen, base + "v:" + suffix, base + "tagseq",
        base + "l:" + suffix, base + "srv"};
  }

  @Override
  public SharedTier.Lookup<V> lookup(@Nullable TenantId tenant, String key) {
    if (!readable(tenant, key) || !core.allow()) {
      core.tierBypasses.increment();
      return SharedTier.Lookup.bypass();
    }
    String suffix = suffix(tenant, key);
    String[] keys = keys(tenant, suffix);
    String lockToken = lockTtl == null ? "" : UUID.randomUUID().toString();
    long deadline = System.nanoTime() + lockWait.toNanos();
    boolean waited = false;
    boolean skipEntry = false;
    try {
      byte[] server = RedisCore.bytes(core.serverId());
      while (true) {
        List<Object> reply = core.evalList(Scripts.LOOKUP, keys, tagPrefixBytes,
            RedisCore.bytes(lockToken), RedisCore.bytes(lockTtl == null ? 0 : lockTtl.toMillis()),
            RedisCore.bytes(skipEntry ? "1" : "0"), RedisCore.bytes(genPttl), server);
        core.succeeded();
        if (RedisCore.number(reply.get(0)) == 1) {
          SharedTier.Lookup<V> hit = decodeHit(reply);
          if (hit != null) {
            core.tierHits.increment();
            return hit;
          }
          skipEntry = true; // did not decode: ask again for what a miss needs (a rare second round trip)
          continue;
        }
        long locked = RedisCore.number(reply.get(5));
        if (locked == 0) {
          // another node is loading this key: wait for its value, then load ourselves
          if (!waited) {
            core.lockWaits.increment();
            waited = true;
          }
          if (System.nanoTime() - deadline < 0) {
            LockSupport.parkNanos(lockPoll.toNanos());
            skipEntry = false; // look for the holder's value again
            continue;
          }
          core.lockTimeouts.increment();
        }
        core.tierMisses.increment();
        return SharedTier.Lookup.miss(new Token(tenant, key, keys, RedisCore.text(reply.get(1)),
            RedisCore.text(reply.get(2)), RedisCore.text(reply.get(3)), RedisCore.text(reply.get(4)),
            locked == 1 ? lockToken : "", System.nanoTime()));
      }
    } catch (RuntimeException e) {
      core.failed(e);
      core.tierBypasses.increment();
      return SharedTier.Lookup.bypass();
    }
  }

  @SuppressWarnings("unchecked")
  private SharedTier.@Nullable Lookup<V> decodeHit(List<Object> reply) {
    byte[] payload = (byte[]) reply.get(1);
    long pttl = RedisCore.number(reply.get(2));
    List<Object> tagReplies = (List<Object>) reply.get(3);
    if (payload.length < 2 || (payload[0] & 0xff) != codec.version() || pttl <= 0) {
      core.tierUndecodable.increment();
      return null;
    }
    List<String> tags = new ArrayList<>(tagReplies.size());
    for (Object tag : tagReplies) {
      tags.add(RedisCore.text(tag));
    }
    if (payload[1] == ABSENT) {
      return SharedTier.Lookup.hit(null, Duration.ofMillis(pttl), tags);
    }
    byte[] data = new byte[payload.length - 2];
    System.arraycopy(payload, 2, data, 0, data.length);
    try {
      V value = codec.decode(data);
      return SharedTier.Lookup.hit(Objects.requireNonNull(value, "the codec decoded null"), Duration.ofMillis(pttl),
          tags);
    } catch (RuntimeException e) {
      core.tierUndecodable.increment();
      LOG.debug("an entry of cache '{}' in Redis did not decode; treated as a miss", context.cacheName(), e);
      return null;
    }
  }

  @Override
  public void store(SharedTier.Lookup<V> miss, CacheValue<V> value, Duration lifetime) {
    Object raw = miss.token();
    if (!(raw instanceof Token)) {
      return;
    }
    Token token = (Token) raw;
    if (System.nanoTime() - token.createdNanos > graceNanos) {
      core.tierStoresRejected.increment();
      return; // too old to compare safely with generations that may have expired meanwhile
    }
    byte[] payload;
    try {
      payload = payload(value);
    } catch (RuntimeException e) {
      LOG.warn("a value of cache '{}' could not be encoded for Redis; not stored there", context.cacheName(), e);
      return;
    }
    // allow() may hand this call the breaker's one probe: from here on every path reports success or failure
    if (covered(token.tenant, token.key) || !core.allow()) {
      return; // an invalidation of this key still on its way to Redis would drop the entry; it may be older
    }
    List<String> tags = value.tags();
    byte[][] args = new byte[9 + tags.size()][];
    args[0] = RedisCore.bytes(token.cacheGen);
    args[1] = RedisCore.bytes(token.tenantGen);
    args[2] = RedisCore.bytes(token.version);
    args[3] = RedisCore.bytes(token.tagSeq);
    args[4] = RedisCore.bytes(Math.max(1, lifetime.toMillis()));
    args[5] = payload;
    args[6] = RedisCore.bytes(token.lock);
    args[7] = tagPrefixBytes;
    args[8] = RedisCore.bytes(genPttl);
    for (int i = 0; i < tags.size(); i++) {
      args[9 + i] = RedisCore.bytes(tags.get(i));
    }
    try {
      long stored = core.evalLong(Scripts.STORE, token.keys, args);
      core.succeeded();
      if (stored == 1) {
        core.tierStores.increment();
      } else {
        core.tierStoresRejected.increment();
      }
    } catch (RuntimeException e) {
      core.failed(e);
    }
  }

  /**
   * Releases this load's single-flight lock, if it took one: without it, a failed load, one an invalidation
   * overtook, or an absence the cache does not keep left the lock until its TTL, and every miss of the key on every
   * node (this one too) waited the whole single-flight wait meanwhile before loading.
   */
  @Override
  public void abandon(SharedTier.Lookup<V> miss) {
    Object raw = miss.token();
    if (!(raw instanceof Token)) {
      return;
    }
    Token token = (Token) raw;
    if (token.lock.isEmpty() || !core.allow()) {
      return;
    }
    try {
      core.evalLong(Scripts.RELEASE, new String[] {token.keys[5]}, RedisCore.bytes(token.lock));
      core.succeeded();
    } catch (RuntimeException e) {
      core.failed(e);
    }
  }

  private byte[] payload(CacheValue<V> value) {
    V present = value.value();
    if (present == null) {
      return new byte[] {(byte) codec.version(), ABSENT};
    }
    byte[] data = codec.encode(present);
    byte[] payload = new byte[data.length + 2];
    payload[0] = (byte) codec.version();
    payload[1] = PRESENT;
    System.arraycopy(data, 0, payload, 2, data.length);
    return payload;
  }

  @Override
  public void invalidate(Invalidation invalidation) {
    boolean first;
    synchronized (pending) {
      first = pendingCount == 0;
      if (pendingCount >= MAX_PENDING) {
        LOG.warn("cache '{}': more than {} invalidations could not reach Redis; they are replaced by one of the"
            + " whole cache", context.cacheName(), MAX_PENDING);
        // Redis has been out of reach for long: one invalidation of the whole cache covers every one kept (it
        // moves the cache generation, which every entry and every store compares), in bounded memory. Added
        // before the others leave, so that a lookup reading the queue meanwhile never finds it without them
        Pending all = new Pending(Invalidation.all(context.cacheName()));
        pending.add(all);
        for (Iterator<Pending> it = pending.iterator(); it.hasNext(); ) {
          if (it.next() != all) {
            it.remove();
          }
        }
        pendingCount = 1;
      }
      pending.add(new Pending(invalidation));
      pendingCount++;
    }
    // the caller waits for the invalidations before its own (it returns once Redis applied its own, as before);
    // lookups do not wait for this
    boolean drained;
    draining.lock();
    try {
      drained = drainLocked();
    } finally {
      draining.unlock();
    }
    // warned once per backlog, not once per invalidation: during an outage there may be thousands
    if (!drained && first) {
      LOG.warn("cache '{}': an invalidation could not reach Redis; this node stops using the tier for what it"
          + " covers until it can apply it (other nodes may read the old Redis entry meanwhile, until its TTL)",
          context.cacheName());
    }
  }

  /**
   * Whether a lookup of {@code key} may read Redis now: true when no invalidation that covers it waits to reach
   * Redis. Never waits for another call's drain: while one runs, a covered key bypasses the tier (its loader
   * reads the source, so it cannot see the value the invalidation retired); when none runs (Redis came back after
   * an outage), this lookup applies the waiting invalidations itself.
   */
  private boolean readable(@Nullable TenantId tenant, String key) {
    if (!covered(tenant, key)) {
      return true;
    }
    if (!draining.tryLock()) {
      return false;
    }
    try {
      return drainLocked() || !covered(tenant, key);
    } finally {
      draining.unlock();
    }
  }

  /**
   * Whether an invalidation made on this node that Redis has not applied yet covers {@code key} of {@code tenant}.
   * Reads the queue without a lock: an invalidation made before this call and not yet applied is in it throughout.
   */
  private boolean covered(@Nullable TenantId tenant, String key) {
    if (pending.isEmpty()) {
      return false;
    }
    for (Pending next : pending) {
      Invalidation invalidation = next.invalidation;
      switch (invalidation.scope()) {
        case ALL, TAG -> {
          return true; // a tag: the entry's tags are known only once it is read
        }
        case TENANT -> {
          TenantId of = invalidation.tenant();
          if (context.global() || tenant == null || of == null || of.equals(tenant)) {
            return true;
          }
        }
        case KEY -> {
          TenantId of = invalidation.tenant();
          if (key.equals(invalidation.value()) && (context.global() || of == null || tenant == null
              || of.equals(tenant))) {
            return true;
          }
        }
      }
    }
    return false;
  }

  /** Applies the invalidations not yet applied, in order, holding {@link #draining}; true when none is left. */
  private boolean drainLocked() {
    Pending next;
    while ((next = pending.peek()) != null) {
      if (!core.allow()) {
        return false;
      }
      try {
        apply(next.invalidation);
        core.succeeded();
      } catch (RuntimeException e) {
        core.failed(e);
        return false;
      }
      synchronized (pending) {
        if (pending.remove(next)) { // by identity; gone already if a collapse into ALL replaced it
          pendingCount--;
        }
      }
    }
    return true;
  }

  private void apply(Invalidation invalidation) {
    byte[] genTtl = RedisCore.bytes(genPttl);
    byte[] versionTtl = RedisCore.bytes(versionPttl);
    switch (invalidation.scope()) {
      case KEY -> {
        String suffix = suffix(context.global() ? null : invalidation.tenant(),
            Objects.requireNonNull(invalidation.value()));
        core.evalLong(Scripts.INVALIDATE,
            new String[] {base + "v:" + suffix, base + "e:" + suffix}, RedisCore.bytes("k"), versionTtl, versionTtl);
      }
      case TAG -> core.evalLong(Scripts.INVALIDATE,
          new String[] {tagPrefix + Objects.requireNonNull(invalidation.value()), base + "tagseq"},
          RedisCore.bytes("t"), genTtl, versionTtl);
      case TENANT -> {
        if (!context.global()) {
          core.evalLong(Scripts.INVALIDATE,
              new String[] {base + "tgen:" + Objects.requireNonNull(invalidation.tenant()).value()},
              RedisCore.bytes("g"), genTtl, versionTtl);
        }
      }
      case ALL -> core.evalLong(Scripts.INVALIDATE, new String[] {base + "gen"},
          RedisCore.bytes("g"), genTtl, versionTtl);
    }
  }

  /** Invalidations made here that Redis has not applied yet. For tests. */
  public int pendingInvalidations() {
    return pending.size();
  }

  @Override
  public void close() {
    unregister.run();
  }

  /** An invalidation waiting to reach Redis; equal only to itself. */
  private static final class Pending {
    final Invalidation invalidation;

    Pending(Invalidation invalidation) {
      this.invalidation = invalidation;
    }
  }

  /** What a miss read, for the compare-and-set of the store that follows it. */
  private static final class Token {
    final @Nullable TenantId tenant;
    final String key;
    final String[] keys;
    final String cacheGen;
    final String tenantGen;
    final String version;
    final String tagSeq;
    final String lock;
    final long createdNanos;

    Token(@Nullable TenantId tenant, String key, String[] keys, String cacheGen, String tenantGen, String version,
        String tagSeq, String lock, long createdNanos) {
      this.tenant = tenant;
      this.key = key;
      this.keys = keys;
      this.cacheGen = cacheGen;
      this.tenantGen = tenantGen;
      this.version = version;
      this.tagSeq = tagSeq;
      this.lock = lock;
      this.createdNanos = createdNanos;
    }
  }
}
