package dev.saaskit.core;

import java.sql.Connection;
import javax.sql.DataSource;

/**
 * The SQL schema a saaskit module keeps its tables in, and the one way every module creates, upgrades and grants
 * it. Each module has its own (the jobs schema, the cache schema, ...), built with {@code defaults()} or a builder,
 * and all of them can be handled alike at start-up or in a migration tool:
 *
 * <pre>{@code
 * for (ModuleSchema schema : List.of(JobsSchema.defaults(), CacheSchema.defaults())) {
 *   schema.migrate(ownerDataSource);                 // as the owner: creates or upgrades, once per version
 *   try (Connection c = ownerDataSource.getConnection()) {
 *     schema.grantApp(c, "app");                     // what the application role needs, and nothing more
 *   }
 * }
 * }</pre>
 *
 * <p>Migrations are plain SQL files under {@code db/saaskit/<module>/} in the module's jar, applied in order in one
 * transaction per call, each recorded with its checksum in the schema's {@code saaskit_schema_history} table, so an
 * application on Flyway, Liquibase or nothing can adopt them. Calls from several nodes at once apply each script
 * once. Implementations are immutable and thread-safe.
 */
public interface ModuleSchema {
  /** The PostgreSQL schema that holds the module's tables. */
  String name();

  /** The newest schema version this library's migrations reach. */
  int latestVersion();

  /**
   * Creates the schema or brings it up to {@link #latestVersion()}, in one transaction, borrowing one connection.
   *
   * @param owner connections of the role that owns the schema (or may create it): never the application role
   * @throws SaasException if a migration failed (nothing of it is kept), the database holds a newer version of the
   *     schema than this library knows, or a recorded migration differs from this library's copy
   */
  MigrationResult migrate(DataSource owner);

  /** Like {@link #migrate(DataSource)}, on a connection the caller owns (committed, not closed). */
  MigrationResult migrate(Connection owner);

  /**
   * Grants {@code role}, the application's role, what the module needs at run time and nothing more (no ownership,
   * no {@code TRUNCATE}, no way around row-level security). Idempotent. Run it as the owner after
   * {@link #migrate}.
   *
   * @throws SaasException if a grant failed (schema missing: migrate first; role unknown)
   */
  void grantApp(Connection owner, String role);
}
