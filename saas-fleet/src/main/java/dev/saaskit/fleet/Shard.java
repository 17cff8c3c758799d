package dev.saaskit.fleet;

import dev.saaskit.fleet.internal.Names;

/**
 * A shared database of the fleet: many tenants, isolated by row-level security.
 *
 * @param name its name, 1-63 characters of {@code a-z0-9_-}
 * @param jdbcUrl its JDBC URL without credentials
 * @param credentialsRef the reference its credentials are resolved from
 * @param acceptsNew whether the default placement policy may put new tenants here
 */
public record Shard(String name, String jdbcUrl, String credentialsRef, boolean acceptsNew) {
  /** Checks every part. */
  public Shard {
    Names.requireShardName(name);
    Names.requireJdbcUrl(jdbcUrl);
    Names.requireCredentialsRef(credentialsRef);
  }

  /** A shard that accepts new tenants. */
  public static Shard of(String name, String jdbcUrl, String credentialsRef) {
    return new Shard(name, jdbcUrl, credentialsRef, true);
  }
}
