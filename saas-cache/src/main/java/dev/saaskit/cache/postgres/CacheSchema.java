package dev.saaskit.cache.postgres;

import dev.saaskit.cache.postgres.internal.PgMigrator;
import dev.saaskit.cache.postgres.internal.PgSql;
import dev.saaskit.cache.postgres.internal.PgTagTemplate;
import dev.saaskit.core.MigrationResult;
import dev.saaskit.core.ModuleSchema;
import dev.saaskit.core.SaasException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;

/**
 * The database schema of the {@link PostgresInvalidationBus}: the invalidation log, its pruning bookkeeping and a
 * trigger function. Like every saaskit module schema it is a {@link ModuleSchema}: one call creates or upgrades it
 * ({@link #migrate(DataSource)}, with its own history table, so apps on Flyway, Liquibase or nothing can adopt
 * it), one gives the application role what the bus needs ({@link #grantApp(Connection, String)}), and
 * {@link #attachTrigger(Connection, String, String)} makes any change to a table, from any client, write a tag
 * invalidation in the same transaction. Hand the same object to the bus: {@code builder(ds).schema(schema)}.
 *
 * <pre>{@code
 * CacheSchema schema = CacheSchema.defaults();           // saaskit_cache; CacheSchema.builder().name(..) for another
 * schema.migrate(ownerDataSource);                            // as the role that runs migrations
 * try (Connection c = ownerDataSource.getConnection()) {
 *   schema.grantApp(c, "app");                                   // INSERT/SELECT on the log, what pruning needs
 *   schema.attachTrigger(c, "plans", "plans:{tenant_id}");    // optional
 * }
 * }</pre>
 *
 * <p>Immutable and thread-safe.
 */
public final class CacheSchema implements ModuleSchema {
  /** The default schema name, {@value}. */
  public static final String DEFAULT_NAME = "saaskit_cache";

  private static final CacheSchema DEFAULT = new CacheSchema(DEFAULT_NAME);

  private final String name;

  private CacheSchema(String name) {
    this.name = name;
  }

  /** The schema named {@value #DEFAULT_NAME}. */
  public static CacheSchema defaults() {
    return DEFAULT;
  }

  /** Starts from the defaults; {@link Builder#name(String)} picks another schema name. */
  public static Builder builder() {
    return new Builder(DEFAULT_NAME);
  }

  /** A builder holding this schema's settings, to make a variant. */
  public Builder toBuilder() {
    return new Builder(name);
  }

  /** The schema name. */
  @Override
  public String name() {
    return name;
  }

  /** The newest schema version this library defines. */
  @Override
  public int latestVersion() {
    return PgMigrator.latestVersion();
  }

  /**
   * Creates the schema or brings it up to {@link #latestVersion()}, in one transaction, and records each step in
   * {@code <schema>.saaskit_schema_history}. Safe to call from several nodes at once (an advisory lock makes one
   * of them migrate) and on every start (an up-to-date schema is left alone).
   *
   * @param owner connections of the role that owns the schema (or may create it); not the application role
   * @return the scripts applied (none when the schema was up to date) and the version reached
   * @throws SaasException if the server is older than PostgreSQL 14 or a standby, if a recorded migration differs
   *     from this library's copy, if the database holds a newer version, or if the SQL failed
   */
  @Override
  public MigrationResult migrate(DataSource owner) {
    Objects.requireNonNull(owner, "owner");
    try (Connection c = owner.getConnection()) {
      return migrate(c);
    } catch (SQLException e) {
      throw new SaasException("Could not migrate the cache schema " + name + ": " + e.getMessage()
          + ". Run the migration as the role that owns (or may create) the schema.", e);
    }
  }

  /** Like {@link #migrate(DataSource)}, on a connection the caller owns (committed, not closed). */
  @Override
  public MigrationResult migrate(Connection owner) {
    Objects.requireNonNull(owner, "owner");
    return MigrationResult.of(name, PgMigrator.migrate(owner, name), latestVersion());
  }

  /**
   * Gives {@code appRole} what a bus needs and nothing more: {@code USAGE} on the schema; {@code SELECT},
   * {@code DELETE} and column-level {@code INSERT (scope, cache_name, tenant, value)} on the log (so it cannot
   * forge the transaction id or sequence); {@code SELECT, UPDATE} on the pruning state and {@code SELECT, INSERT,
   * DELETE} on the pruning horizons; {@code SELECT} on the history (the bus checks the version at start). The
   * role owns nothing and gets no {@code TRUNCATE}. Run it as the schema's owner, after {@link #migrate}.
   *
   * @throws SaasException if a GRANT failed (missing schema: migrate first; unknown role)
   */
  @Override
  public void grantApp(Connection connection, String appRole) {
    Objects.requireNonNull(connection, "connection");
    Objects.requireNonNull(appRole, "appRole");
    String s = PgSql.ident(name);
    String r = PgSql.ident(appRole);
    try (Statement st = connection.createStatement()) {
      st.execute("GRANT USAGE ON SCHEMA " + s + " TO " + r);
      st.execute("GRANT SELECT, DELETE ON " + s + ".invalidation_log TO " + r);
      st.execute("GRANT INSERT (scope, cache_name, tenant, value) ON " + s + ".invalidation_log TO " + r);
      st.execute("GRANT SELECT, UPDATE ON " + s + ".prune_state TO " + r);
      st.execute("GRANT SELECT, INSERT, DELETE ON " + s + ".prune_horizon TO " + r);
      st.execute("GRANT SELECT ON " + s + "." + PgMigrator.HISTORY_TABLE + " TO " + r);
      if (!connection.getAutoCommit()) {
        connection.commit();
      }
    } catch (SQLException e) {
      throw new SaasException("Could not grant the cache schema " + name + " to role " + appRole + ": "
          + e.getMessage() + ". Run CacheSchema.migrate first, as the schema owner, and check the role name.", e);
    }
  }

  /**
   * Like {@link #attachTrigger(Connection, String, String, String, String)} for a table found through the
   * connection's {@code search_path}, invalidating the tag in every cache.
   */
  public List<String> attachTrigger(Connection connection, String table, String tagTemplate) {
    return attachTrigger(connection, null, table, tagTemplate, null);
  }

  /**
   * Makes every change to {@code table} write a {@link dev.saaskit.cache.Invalidation#tag TAG invalidation} in
   * the same transaction, whoever makes it (the app, another service, psql): for each statement, one
   * invalidation per distinct tag that {@code tagTemplate} expands to over the rows it inserted, updated (old and
   * new values, so a change of the tag's columns invalidates both tags) or deleted; a {@code TRUNCATE} invalidates
   * everything in the cache (or in every cache). Placeholders {@code {column}} take the column's value as
   * {@code to_jsonb(row) ->> 'column'} renders it (NULL as the empty string), so tags of text, integer and uuid
   * columns match what Java's {@code toString()} gives.
   *
   * <p>Creates (or replaces) four statement-level {@code AFTER} triggers named
   * {@code saaskit_cache_<hash>_ins/_upd/_del/_trunc}, with every identifier quoted; returns their names. The
   * connection's role must own the table and may execute {@code <schema>.invalidate_tag_trigger()} (the schema
   * owner can; grant {@code EXECUTE} to another table owner). The trigger function is {@code SECURITY DEFINER}, so
   * the roles that change the table need no privilege on the log.
   *
   * @param tableSchema the table's schema, or {@code null} to find it through the {@code search_path}
   * @param table the table name as stored (case-sensitive, unquoted)
   * @param tagTemplate the tag, with {@code {column}} placeholders naming columns of the table
   * @param cacheName the cache to invalidate the tag in, or {@code null} for every cache
   * @throws IllegalArgumentException if the template is malformed or names a column the table lacks
   * @throws SaasException if the table does not exist or the DDL failed
   */
  public List<String> attachTrigger(Connection connection, @Nullable String tableSchema, String table,
      String tagTemplate, @Nullable String cacheName) {
    Objects.requireNonNull(connection, "connection");
    Objects.requireNonNull(table, "table");
    PgTagTemplate template = PgTagTemplate.parse(tagTemplate);
    if (cacheName != null && (cacheName.isEmpty() || cacheName.length() > 1024)) {
      throw new IllegalArgumentException("cacheName must be 1 to 1024 characters but was " + cacheName.length());
    }
    try {
      String[] resolved = resolveTable(connection, tableSchema, table);
      String qualified = PgSql.ident(resolved[0]) + "." + PgSql.ident(resolved[1]);
      template.checkColumns(qualified, columns(connection, resolved[0], resolved[1]));
      String base = "saaskit_cache_" + shortHash(name + "\0" + tagTemplate + "\0" + (cacheName == null ? "" : cacheName));
      String call = PgSql.ident(name) + ".invalidate_tag_trigger(" + PgSql.literal(tagTemplate)
          + (cacheName == null ? "" : ", " + PgSql.literal(cacheName)) + ")";
      List<String> names = List.of(base + "_ins", base + "_upd", base + "_del", base + "_trunc");
      List<String> ddl = new ArrayList<>();
      ddl.add("CREATE OR REPLACE TRIGGER " + PgSql.ident(names.get(0)) + " AFTER INSERT ON " + qualified
          + " REFERENCING NEW TABLE AS saaskit_new FOR EACH STATEMENT EXECUTE FUNCTION " + call);
      ddl.add("CREATE OR REPLACE TRIGGER " + PgSql.ident(names.get(1)) + " AFTER UPDATE ON " + qualified
          + " REFERENCING OLD TABLE AS saaskit_old NEW TABLE AS saaskit_new FOR EACH STATEMENT EXECUTE FUNCTION "
          + call);
      ddl.add("CREATE OR REPLACE TRIGGER " + PgSql.ident(names.get(2)) + " AFTER DELETE ON " + qualified
          + " REFERENCING OLD TABLE AS saaskit_old FOR EACH STATEMENT EXECUTE FUNCTION " + call);
      ddl.add("CREATE OR REPLACE TRIGGER " + PgSql.ident(names.get(3)) + " AFTER TRUNCATE ON " + qualified
          + " FOR EACH STATEMENT EXECUTE FUNCTION " + call);
      try (Statement st = connection.createStatement()) {
        for (String sql : ddl) {
          st.execute(sql);
        }
      }
      if (!connection.getAutoCommit()) {
        connection.commit();
      }
      return names;
    } catch (SQLException e) {
      throw new SaasException("Could not attach the invalidation trigger to " + table + ": " + e.getMessage()
          + ". The connection's role must own the table and may execute " + name + ".invalidate_tag_trigger().", e);
    }
  }

  private static String[] resolveTable(Connection c, @Nullable String schema, String table) throws SQLException {
    String sql = "SELECT n.nspname, cl.relname, cl.relkind FROM pg_catalog.pg_class cl"
        + " JOIN pg_catalog.pg_namespace n ON n.oid = cl.relnamespace WHERE cl.oid = to_regclass(?)";
    String name = schema == null ? PgSql.ident(table) : PgSql.ident(schema) + "." + PgSql.ident(table);
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setString(1, name);
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) {
          throw new SaasException("Table " + name + " does not exist"
              + (schema == null ? " in the connection's search_path" : "") + ".");
        }
        String kind = rs.getString(3);
        if (!"r".equals(kind) && !"p".equals(kind)) {
          throw new SaasException(name + " is not a table (relkind " + kind + "): triggers go on tables.");
        }
        return new String[] {rs.getString(1), rs.getString(2)};
      }
    }
  }

  private static List<String> columns(Connection c, String schema, String table) throws SQLException {
    List<String> columns = new ArrayList<>();
    try (PreparedStatement ps = c.prepareStatement("SELECT a.attname FROM pg_catalog.pg_attribute a"
        + " WHERE a.attrelid = to_regclass(?) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum")) {
      ps.setString(1, PgSql.ident(schema) + "." + PgSql.ident(table));
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          columns.add(rs.getString(1));
        }
      }
    }
    return columns;
  }

  private static String shortHash(String text) {
    try {
      byte[] digest = MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(digest, 0, 5);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Builds a {@link CacheSchema}; every setting starts at its default. */
  public static final class Builder {
    private String name;

    private Builder(String name) {
      this.name = name;
    }

    /**
     * The schema name (default {@value CacheSchema#DEFAULT_NAME}): 1 to 63 characters of {@code a-z},
     * {@code 0-9} and {@code _}, not starting with a digit.
     *
     * @throws IllegalArgumentException if the name is malformed
     */
    public Builder name(String name) {
      this.name = PgSql.checkSchemaName(name);
      return this;
    }

    /** The schema. */
    public CacheSchema build() {
      return name.equals(DEFAULT_NAME) ? DEFAULT : new CacheSchema(name);
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof CacheSchema s && s.name.equals(name);
  }

  @Override
  public int hashCode() {
    return name.hashCode();
  }

  @Override
  public String toString() {
    return "CacheSchema[" + name + "]";
  }
}
