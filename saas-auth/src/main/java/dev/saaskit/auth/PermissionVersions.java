package dev.saaskit.auth;

import dev.saaskit.core.SaasException;
import dev.saaskit.core.TenantId;
import java.util.Iterator;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The current permission version of each membership, held in memory so that {@link Authorizer} can deny a token
 * issued before a role change without a query per request.
 *
 * <p>A version is loaded once per (tenant, user) through the {@link Loader} (one query the first time a user is
 * seen on this node) and then served from memory. When a membership changes anywhere, every node must call
 * {@link #invalidate(TenantId, String)}: saas-auth's {@code Memberships} does it locally and publishes the change
 * through an invalidation hook (saas-cache's PostgreSQL bus plugs in), so the next check on every node reloads the
 * version. Thread-safe.
 *
 * <p>The map holds at most {@link Builder#maximumSize maximumSize} memberships (default {@value
 * #DEFAULT_MAXIMUM_SIZE}). When a load takes it over that size, the memberships not checked since the previous
 * eviction are dropped first, then others, down to nine tenths of the maximum. Dropping an entry never lets an old
 * credential through: the next check of that membership loads its version again from the source of truth (one
 * query), exactly as on the first check. Memberships checked often stay in memory and cost no query.
 */
public final class PermissionVersions {
  /** A membership that does not exist (removed, or never made): every credential for it is denied. */
  public static final long NO_MEMBERSHIP = -1L;

  /** The default {@link Builder#maximumSize maximumSize}: 100,000 memberships (a few tens of MB at most). */
  public static final int DEFAULT_MAXIMUM_SIZE = 100_000;

  /** Reads the current version of a membership from the source of truth. */
  @FunctionalInterface
  public interface Loader {
    /**
     * The membership's current version, or {@link #NO_MEMBERSHIP}.
     *
     * @param tenant the tenant
     * @param userKey {@link Principal#userKey(String, String)} of the user
     * @throws Exception if the source could not be read (the check then fails closed)
     */
    long load(TenantId tenant, String userKey) throws Exception;
  }

  /** One loaded version, and whether a check used it since the last eviction (a CLOCK reference bit). */
  private static final class Entry {
    final long version;
    // plain field: a lost or late write only changes which entry an eviction drops first, never a decision
    boolean used;

    Entry(long version) {
      this.version = version;
    }
  }

  private final Loader loader;
  private final int maximumSize;
  private final int evictTo;
  private final ConcurrentHashMap<TenantId, ConcurrentHashMap<String, Entry>> versions = new ConcurrentHashMap<>();
  /** The number of entries: raised by a put that added a key, lowered by a remove that removed one. */
  private final AtomicInteger size = new AtomicInteger();
  private final ReentrantLock evicting = new ReentrantLock();
  /**
   * Invalidation counters, each bumped by an invalidation before it removes anything (see load()), striped by
   * membership so that a steady stream of invalidations elsewhere does not keep discarding this membership's loads.
   */
  private final AtomicLongArray epochs = new AtomicLongArray(STRIPES);
  private static final int STRIPES = 64;

  private PermissionVersions(Builder b) {
    this.loader = b.loader;
    this.maximumSize = b.maximumSize;
    this.evictTo = Math.max(1, maximumSize - maximumSize / 10);
  }

  /** Versions read through {@code loader} and kept until invalidated or evicted (default maximum size). */
  public static PermissionVersions loadingFrom(Loader loader) {
    return builder(loader).build();
  }

  /**
   * A builder of versions read through {@code loader}, to set the maximum size.
   *
   * @param loader reads a version from the source of truth
   */
  public static Builder builder(Loader loader) {
    return new Builder(Objects.requireNonNull(loader, "loader"));
  }

  /** The most memberships held in memory (a few concurrent loads may pass it briefly, by one each). */
  public int maximumSize() {
    return maximumSize;
  }

  /**
   * The current version of the membership, from memory (loading it on the first call, and after it was
   * invalidated or evicted).
   *
   * @throws SaasException if it had to be loaded and the loader failed
   */
  public long current(TenantId tenant, String userKey) {
    ConcurrentHashMap<String, Entry> users = versions.get(tenant);
    if (users != null) {
      Entry e = users.get(userKey);
      if (e != null) {
        if (!e.used) {
          e.used = true;
        }
        return e.version;
      }
    }
    return load(tenant, userKey);
  }

  private long load(TenantId tenant, String userKey) {
    // An invalidation that races with this load must win: the loader may have read the version just before the
    // change committed, and the invalidate() that follows the commit may run before our put. So every
    // invalidation first bumps the epoch; a load that sees the epoch moved after its put takes its value back out.
    // Either the invalidation's epoch bump comes before our re-check (we remove), or its remove() comes after our
    // put (it removes): a stale value never stays. Eviction only removes entries: a removed entry is loaded again.
    int stripe = stripe(tenant, userKey);
    long epochBefore = epochs.get(stripe);
    long v;
    try {
      v = loader.load(tenant, userKey);
    } catch (Exception e) {
      throw new SaasException("could not load the permission version of a membership in tenant " + tenant.value()
          + ": " + e.getMessage(), e);
    }
    if (v < NO_MEMBERSHIP) {
      throw new SaasException("the permission version loader returned " + v + " for a membership in tenant "
          + tenant.value() + "; versions are >= 0, or NO_MEMBERSHIP (-1)");
    }
    Entry entry = new Entry(v);
    boolean[] added = new boolean[1];
    // put under the tenant's lock in the outer map, so that an eviction dropping the tenant's emptied map (also
    // under that lock) never drops it with this entry in it
    ConcurrentHashMap<String, Entry> users = versions.compute(tenant, (t, m) -> {
      ConcurrentHashMap<String, Entry> map = m == null ? new ConcurrentHashMap<>() : m;
      added[0] = map.put(userKey, entry) == null;
      return map;
    });
    if (added[0] && size.incrementAndGet() > maximumSize) {
      evict();
    }
    if (epochs.get(stripe) != epochBefore && users.remove(userKey, entry)) {
      size.decrementAndGet();
    }
    return v;
  }

  /**
   * Drops entries down to {@code evictTo}: first every entry no check used since the previous eviction (clearing
   * the mark of the others), then, if the hot set alone is too large, any. One thread evicts at a time; a load that
   * finds the map too large waits for the running eviction (loads are the cold path: they query anyway), so that
   * loads on many threads cannot outrun one evicting thread. Checks served from memory never wait.
   */
  private void evict() {
    evicting.lock();
    try {
      if (size.get() <= maximumSize) {
        return; // the eviction this load waited for made room
      }
      for (int pass = 0; pass < 2 && size.get() > evictTo; pass++) {
        for (ConcurrentHashMap<String, Entry> users : versions.values()) {
          for (Iterator<Map.Entry<String, Entry>> it = users.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<String, Entry> next = it.next();
            Entry e = next.getValue();
            if (pass == 0 && e.used) {
              e.used = false;
            } else if ((pass == 0 || size.get() > evictTo) && users.remove(next.getKey(), e)) {
              size.decrementAndGet();
            }
          }
        }
      }
      dropEmptyTenants();
    } finally {
      evicting.unlock();
    }
  }

  private void dropEmptyTenants() {
    for (TenantId tenant : versions.keySet()) {
      versions.computeIfPresent(tenant, (t, m) -> m.isEmpty() ? null : m);
    }
  }

  /** The number of memberships held now (for tests). */
  int size() {
    return size.get();
  }

  /** The number of tenants with a map now (for tests). */
  int tenantCount() {
    return versions.size();
  }

  /** Forgets the version of one membership: the next check reloads it. Call it when the membership changed. */
  public void invalidate(TenantId tenant, String userKey) {
    epochs.incrementAndGet(stripe(tenant, userKey));
    ConcurrentHashMap<String, Entry> users = versions.get(tenant);
    if (users != null && users.remove(userKey) != null) {
      size.decrementAndGet();
    }
  }

  /** Forgets every version of a tenant. */
  public void invalidateTenant(TenantId tenant) {
    bumpAll();
    ConcurrentHashMap<String, Entry> users = versions.get(tenant);
    if (users != null) {
      clear(users);
      versions.computeIfPresent(tenant, (t, m) -> m.isEmpty() ? null : m);
    }
  }

  /** Forgets everything (after a missed invalidation, say). */
  public void invalidateAll() {
    bumpAll();
    for (ConcurrentHashMap<String, Entry> users : versions.values()) {
      clear(users);
    }
    dropEmptyTenants();
  }

  private void clear(ConcurrentHashMap<String, Entry> users) {
    for (String userKey : users.keySet()) {
      if (users.remove(userKey) != null) {
        size.decrementAndGet();
      }
    }
  }

  private void bumpAll() {
    for (int i = 0; i < STRIPES; i++) {
      epochs.incrementAndGet(i);
    }
  }

  private static int stripe(TenantId tenant, String userKey) {
    int h = tenant.hashCode() * 31 + userKey.hashCode();
    return (h ^ (h >>> 16)) & (STRIPES - 1);
  }

  /** Builds {@link PermissionVersions}; not thread-safe. */
  public static final class Builder {
    private final Loader loader;
    private int maximumSize = DEFAULT_MAXIMUM_SIZE;

    private Builder(Loader loader) {
      this.loader = loader;
    }

    /**
     * The most memberships held in memory; default {@value PermissionVersions#DEFAULT_MAXIMUM_SIZE}, at least 1.
     * Above it the least recently checked are dropped and cost one load on their next check. Size it to the
     * members active on one node within a few minutes.
     */
    public Builder maximumSize(int maximumSize) {
      if (maximumSize < 1) {
        throw new IllegalArgumentException("maximumSize must be >= 1 but was " + maximumSize);
      }
      this.maximumSize = maximumSize;
      return this;
    }

    /** The versions map, empty. */
    public PermissionVersions build() {
      return new PermissionVersions(this);
    }
  }
}
