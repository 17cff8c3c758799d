package dev.saaskit.fleet;

import dev.saaskit.core.MigrationResult;
import dev.saaskit.core.ModuleSchema;
import dev.saaskit.core.SaasException;
import dev.saaskit.core.internal.SchemaMigrations;
import dev.saaskit.core.internal.SqlNames;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import javax.sql.DataSource;

/**
 * The control schema of the fleet, in the control database: the {@code shards} and {@code tenants} tables of the
 * {@link TenantDirectory} and the journal of {@link TenantMove}s.
 *
 * <pre>{@code
 * FleetSchema schema = FleetSchema.defaults();   // or FleetSchema.builder().name("fleet_control").build()
 * schema.migrate(controlOwner);
 * try (Connection c = controlOwner.getConnection()) { schema.grantApp(c, "app"); }
 * }</pre>
 *
 * <p>Immutable and thread-safe.
 */
public final class FleetSchema implements ModuleSchema {
  /** The schema name used unless configured otherwise. */
  public static final String DEFAULT_SCHEMA = "saaskit_fleet";

  private final String schema;

  private FleetSchema(String schema) {
    this.schema = SqlNames.requireIdentifier("schema", Objects.requireNonNull(schema, "schema"));
  }

  /** Schema {@value #DEFAULT_SCHEMA}. */
  public static FleetSchema defaults() {
    return new FleetSchema(DEFAULT_SCHEMA);
  }

  /**
   * The schema named {@code name} (a plain identifier); the same as {@code builder().name(name).build()}.
   *
   * @throws IllegalArgumentException if the name is not a plain identifier
   */
  public static FleetSchema named(String name) {
    return new FleetSchema(name);
  }

  /** A builder starting from {@link #defaults()}. */
  public static Builder builder() {
    return new Builder(DEFAULT_SCHEMA);
  }

  /** A builder starting from this schema's settings. */
  public Builder toBuilder() {
    return new Builder(schema);
  }

  @Override
  public String name() {
    return schema;
  }

  @Override
  public int latestVersion() {
    return migrations().latestVersion();
  }

  @Override
  public MigrationResult migrate(DataSource owner) {
    try (Connection c = owner.getConnection()) {
      return migrate(c);
    } catch (SQLException e) {
      throw new SaasException("cannot connect to migrate schema " + schema + ": " + e.getMessage(), e);
    }
  }

  @Override
  public MigrationResult migrate(Connection owner) {
    SchemaMigrations migrations = migrations();
    return MigrationResult.of(schema, migrations.apply(owner), migrations.latestVersion());
  }

  /**
   * Lets the application role read the directory and register tenants and change their state ({@code SELECT} on
   * every table, {@code INSERT, UPDATE} on {@code tenants}); shards and moves stay the operators'. Idempotent.
   */
  @Override
  public void grantApp(Connection owner, String role) {
    String r = SqlNames.quoteIdent(SqlNames.requireIdentifier("role", Objects.requireNonNull(role, "role")));
    String s = SqlNames.quoteIdent(schema);
    try {
      SchemaMigrations.executeAll(owner, List.of("GRANT USAGE ON SCHEMA " + s + " TO " + r,
          "GRANT SELECT ON ALL TABLES IN SCHEMA " + s + " TO " + r,
          "GRANT INSERT, UPDATE ON " + s + ".tenants TO " + r));
    } catch (SQLException e) {
      throw new SaasException("granting rights on schema " + schema + " failed: " + e.getMessage(), e);
    }
  }

  /** Builds a {@link FleetSchema}; setters check their argument at once. Not thread-safe. */
  public static final class Builder {
    private String name;

    private Builder(String name) {
      this.name = name;
    }

    /**
     * The PostgreSQL schema holding the control tables (created if missing); default
     * {@value FleetSchema#DEFAULT_SCHEMA}.
     *
     * @throws IllegalArgumentException if the name is not a plain identifier
     */
    public Builder name(String name) {
      this.name = SqlNames.requireIdentifier("schema", Objects.requireNonNull(name, "name"));
      return this;
    }

    /** The schema. */
    public FleetSchema build() {
      return new FleetSchema(name);
    }
  }

  private SchemaMigrations migrations() {
    return new SchemaMigrations(FleetSchema.class, "db/saaskit/fleet", schema, Map.of());
  }
}
