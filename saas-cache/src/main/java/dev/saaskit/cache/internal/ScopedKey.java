package dev.saaskit.cache.internal;

import dev.saaskit.core.TenantId;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * The key of an entry inside the cache: the tenant it belongs to ({@code null} in a global cache) and the encoded
 * key, so a KEY invalidation from the bus, which carries both as strings, is a direct lookup.
 *
 * <p>Keys stored in the cache never change. The fields are not final only for the per-thread probe
 * ({@link #probe()}), which a hit uses to look an entry up without allocating a key: the map compares a lookup key
 * with {@code equals}, so it need not be the stored instance.
 */
final class ScopedKey {
  private static final ThreadLocal<ScopedKey> PROBES = ThreadLocal.withInitial(() -> new ScopedKey(null, ""));

  @Nullable TenantId tenant;
  String key;
  private int hash;

  ScopedKey(@Nullable TenantId tenant, String key) {
    this.tenant = tenant;
    this.key = key;
    this.hash = hash(tenant, key);
  }

  /**
   * This thread's reusable lookup key. Point it at a key with {@link #aim}, hand it to one map lookup, then
   * {@link #release()} it; never store it (the next lookup on the thread changes it).
   */
  static ScopedKey probe() {
    return PROBES.get();
  }

  /** Points this probe at (tenant, key); returns it. */
  ScopedKey aim(@Nullable TenantId tenant, String key) {
    this.tenant = tenant;
    this.key = key;
    this.hash = hash(tenant, key);
    return this;
  }

  /** Drops the probe's references, so that a thread does not keep a key (possibly personal data) alive. */
  void release() {
    this.tenant = null;
    this.key = "";
  }

  private static int hash(@Nullable TenantId tenant, String key) {
    // Not 31 * tenant + key: tenant ids and keys are often numbered alike ("tenant-3", "plan-123"), and then
    // (tenant-4, k) lands on the hash of (tenant-3, k') for a k' close to k: 10 such tenants x 1,000 keys gave
    // 1,990 distinct hashes. A large odd multiplier keeps tenants apart.
    return (tenant == null ? 0 : tenant.hashCode() * 0x9E3779B1) + key.hashCode();
  }

  /** The tenant, or null in a global cache. */
  @Nullable TenantId tenant() {
    return tenant;
  }

  /** The encoded key. */
  String key() {
    return key;
  }

  @Override
  public boolean equals(@Nullable Object other) {
    if (this == other) {
      return true;
    }
    if (!(other instanceof ScopedKey)) {
      return false;
    }
    ScopedKey that = (ScopedKey) other;
    return hash == that.hash && key.equals(that.key) && Objects.equals(tenant, that.tenant);
  }

  @Override
  public int hashCode() {
    return hash;
  }

  @Override
  public String toString() {
    // keys may be personal data: logs get the tenant and the length only
    return "ScopedKey[tenant=" + tenant + ", key of " + key.length() + " chars]";
  }
}
