package dev.saaskit.fleet;

import dev.saaskit.fleet.internal.Names;

/**
 * Where a tenant's rows live: a named shared shard (a database shared by many tenants, isolated by row-level
 * security) or a dedicated database of its own.
 */
public sealed interface Placement permits Placement.Shared, Placement.Dedicated {

  /** A placement on the shared shard named {@code shard} (registered with {@link TenantDirectory#addShard}). */
  static Shared shared(String shard) {
    return new Shared(shard);
  }

  /**
   * A dedicated database at {@code jdbcUrl}, whose credentials {@code credentialsRef} names (resolved by the
   * directory's {@link CredentialResolver}; never stored).
   */
  static Dedicated dedicated(String jdbcUrl, String credentialsRef) {
    return new Dedicated(jdbcUrl, credentialsRef);
  }

  /** A short description for logs and reports, e.g. {@code shard eu-1} (never a credential). */
  String describe();

  /**
   * A shared shard.
   *
   * @param shard its name
   */
  record Shared(String shard) implements Placement {
    /** Checks the name. */
    public Shared {
      Names.requireShardName(shard);
    }

    @Override
    public String describe() {
      return "shard " + shard;
    }
  }

  /**
   * A dedicated database.
   *
   * @param jdbcUrl its JDBC URL ({@code jdbc:postgresql:...}) without user or password
   * @param credentialsRef the reference its credentials are resolved from
   */
  record Dedicated(String jdbcUrl, String credentialsRef) implements Placement {
    /** Checks the URL and the reference. */
    public Dedicated {
      Names.requireJdbcUrl(jdbcUrl);
      Names.requireCredentialsRef(credentialsRef);
    }

    @Override
    public String describe() {
      return "dedicated " + Names.withoutQuery(jdbcUrl);
    }
  }
}
