package dev.saaskit.cache.postgres.internal;

import dev.saaskit.core.SaasException;
import dev.saaskit.core.internal.SchemaMigrations;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Map;

/**
 * Applies the cache schema's migrations (plain SQL on the class path, listed in {@code migrations.list}) through
 * saaskit's shared migrator, after checking that the server can run the bus.
 */
public final class PgMigrator {
  /** History table, in the cache schema. */
  public static final String HISTORY_TABLE = SchemaMigrations.HISTORY_TABLE;

  private PgMigrator() {}

  /** The latest version the scripts define. */
  public static int latestVersion() {
    return migrations("saaskit_cache").latestVersion();
  }

  /**
   * Brings schema {@code schema} up to the latest version on {@code owner}.
   *
   * @return the scripts applied (empty when it was up to date)
   */
  public static List<String> migrate(Connection owner, String schema) {
    try {
      checkServer(owner);
    } catch (SQLException e) {
      throw new SaasException("Could not migrate the cache schema " + schema + ": " + e.getMessage()
          + ". Run the migration as the role that owns (or may create) the schema.", e);
    }
    return migrations(schema).apply(owner);
  }

  /** Fails unless the server is a primary of a supported version. */
  public static void checkServer(Connection c) throws SQLException {
    try (Statement st = c.createStatement();
        ResultSet rs = st.executeQuery("SELECT current_setting('server_version_num')::int, pg_is_in_recovery()")) {
      rs.next();
      int version = rs.getInt(1);
      if (version < PgSql.MIN_SERVER_VERSION) {
        throw new SaasException("The PostgreSQL invalidation bus needs PostgreSQL 14 or later, but the server is "
            + version + ".");
      }
      if (rs.getBoolean(2)) {
        throw new SaasException("The PostgreSQL invalidation bus must use the primary server, but this connection"
            + " is to a standby (pg_is_in_recovery() is true): point its DataSource at the primary.");
      }
    }
  }

  private static SchemaMigrations migrations(String schema) {
    return new SchemaMigrations(PgMigrator.class, "db/saaskit/cache", schema, Map.of());
  }
}
