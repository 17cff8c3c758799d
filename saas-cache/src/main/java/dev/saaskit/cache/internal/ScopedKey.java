package dev.saaskit.cache.internal;

import dev.saaskit.core.TenantId;
import org.jspecify.annotations.Nullable;

/**
 * The key of an entry inside the cache: the tenant it belongs to ({@code null} in a global cache) and the encoded
 * key, so a KEY invalidation from the bus, which carries both as strings, is a direct lookup.
 */
public final class ScopedKey {
  final @Nullable TenantId tenant;
  final String key;
  private final int hash;

  ScopedKey(@Nullable TenantId tenant, String key) {
    this.tenant = tenant;
    this.key = key;
    this.hash = (tenant == null ? 0 : tenant.hashCode() * 31) + key.hashCode();
  }

  /** The tenant, or null in a global cache. */
  public @Nullable TenantId tenant() {
    return tenant;
  }

  /** The encoded key. */
  public String key() {
    return key;
  }

  @Override
  public boolean equals(Object other) {
    if (this == other) {
      return true;
    }
    if (!(other instanceof ScopedKey)) {
      return false;
    }
    ScopedKey that = (ScopedKey) other;
    return hash == that.hash && key.equals(that.key)
        && (tenant == null ? that.tenant == null : tenant.equals(that.tenant));
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
