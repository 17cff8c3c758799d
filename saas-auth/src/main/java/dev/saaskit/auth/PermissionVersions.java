package dev.saaskit.auth;

import dev.saaskit.core.SaasException;
import dev.saaskit.core.TenantId;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * The current permission version of each membership, held in memory so that {@link Authorizer} can deny a token
 * issued before a role change without a query per request.
 *
 * <p>A version is loaded once per (tenant, user) through the {@link Loader} (one query the first time a user is
 * seen on this node) and then served from memory. When a membership changes anywhere, every node must call
 * {@link #invalidate(TenantId, String)}: saas-auth's {@code Memberships} does it locally and publishes the change
 * through an invalidation hook (saas-cache's PostgreSQL bus plugs in), so the next check on every node reloads the
 * version. Thread-safe.
 */
public final class PermissionVersions {
  /** A membership that does not exist (removed, or never made): every credential for it is denied. */
  public static final long NO_MEMBERSHIP = -1L;

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

  private final Loader loader;
  private final ConcurrentHashMap<TenantId, ConcurrentHashMap<String, Long>> versions = new ConcurrentHashMap<>();
  /**
   * Invalidation counters, each bumped by an invalidation before it removes anything (see load()), striped by
   * membership so that a steady stream of invalidations elsewhere does not keep discarding this membership's loads.
   */
  private final AtomicLongArray epochs = new AtomicLongArray(STRIPES);
  private static final int STRIPES = 64;

  private PermissionVersions(Loader loader) {
    this.loader = loader;
  }

  /** Versions read through {@code loader} and kept until invalidated. */
  public static PermissionVersions loadingFrom(Loader loader) {
    return new PermissionVersions(Objects.requireNonNull(loader, "loader"));
  }

  /**
   * The current version of the membership, from memory (loading it on the first call).
   *
   * @throws SaasException if it had to be loaded and the loader failed
   */
  public long current(TenantId tenant, String userKey) {
    ConcurrentHashMap<String, Long> users = versions.get(tenant);
    if (users != null) {
      Long v = users.get(userKey);
      if (v != null) {
        return v;
      }
    }
    return load(tenant, userKey);
  }

  private long load(TenantId tenant, String userKey) {
    // An invalidation that races with this load must win: the loader may have read the version just before the
    // change committed, and the invalidate() that follows the commit may run before our put. So every
    // invalidation first bumps the epoch; a load that sees the epoch moved after its put takes its value back out.
    // Either the invalidation's epoch bump comes before our re-check (we remove), or its remove() comes after our
    // put (it removes): a stale value never stays.
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
    Long boxed = v;
    ConcurrentHashMap<String, Long> users = versions.computeIfAbsent(tenant, t -> new ConcurrentHashMap<>());
    users.put(userKey, boxed);
    if (epochs.get(stripe) != epochBefore) {
      users.remove(userKey, boxed);
    }
    return v;
  }

  /** Forgets the version of one membership: the next check reloads it. Call it when the membership changed. */
  public void invalidate(TenantId tenant, String userKey) {
    epochs.incrementAndGet(stripe(tenant, userKey));
    ConcurrentHashMap<String, Long> users = versions.get(tenant);
    if (users != null) {
      users.remove(userKey);
    }
  }

  /** Forgets every version of a tenant. */
  public void invalidateTenant(TenantId tenant) {
    bumpAll();
    ConcurrentHashMap<String, Long> users = versions.get(tenant);
    if (users != null) {
      users.clear();
    }
  }

  /** Forgets everything (after a missed invalidation, say). */
  public void invalidateAll() {
    bumpAll();
    for (ConcurrentHashMap<String, Long> users : versions.values()) {
      users.clear();
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
}
