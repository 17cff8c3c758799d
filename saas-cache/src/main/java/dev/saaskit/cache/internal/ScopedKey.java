package dev.saaskit.cache.internal;

import dev.saaskit.core.TenantId;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * The key of an entry inside the cache: the tenant it belongs to ({@code null} in a global cache) and the encoded
 * key, so a KEY invalidation from the bus, which carries both as strings, is a direct lookup.
 */
final class ScopedKey {
  final @Nullable TenantId tenant;
  final String key;
  private final int hash;

  ScopedKey(@Nullable TenantId tenant, String key) {
    this.tenant = tenant;
    this.key = key;
    // Not 31 * tenant + key: tenant ids and keys are often numbered alike ("tenant-3", "plan-123"), and then
    // (tenant-4, k) lands on the hash of (tenant-3, k') for a k' close to k: 10 such tenants x 1,000 keys gave
    // 1,990 distinct hashes. A large odd multiplier keeps tenants apart.
    this.hash = (tenant == null ? 0 : tenant.hashCode() * 0x9E3779B1) + key.hashCode();
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
