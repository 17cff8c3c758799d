package dev.saaskit.billing;

import dev.saaskit.core.MigrationResult;
import dev.saaskit.core.ModuleSchema;
import dev.saaskit.core.SaasException;
import dev.saaskit.core.TenantSetting;
import dev.saaskit.core.internal.SchemaMigrations;
import dev.saaskit.core.internal.SqlNames;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import javax.sql.DataSource;

/**
 * The database schema of saas-billing: the Stripe mirror (customers, products, prices, subscriptions and their
 * items, invoices, checkout sessions, entitlement summaries), the event inbox and the usage outbox. Tenant tables carry a {@code tenant_id} column under forced row-level security keyed by the tenant
 * setting (as saas-tenancy sets it), so the application role sees one tenant's rows at a time and none without a
 * tenant. Like every saaskit module schema it is a {@link ModuleSchema}:
 *
 * <pre>{@code
 * BillingSchema schema = BillingSchema.defaults();     // saaskit_billing, tenant setting app.tenant_id
 * schema.migrate(ownerDataSource);                     // as the owner, once per version
 * try (Connection c = ownerDataSource.getConnection()) {
 *   schema.grantApp(c, "app");                         // what the application role needs, and nothing more
 * }
 * }</pre>
 *
 * <p>Immutable and thread-safe.
 */
public final class BillingSchema implements ModuleSchema {
  /** The schema name used unless configured otherwise. */
  public static final String DEFAULT_SCHEMA = "saaskit_billing";

  private static final String FOLDER = "db/saaskit/billing";

  private final String schema;
  private final TenantSetting tenantSetting;

  private BillingSchema(String schema, TenantSetting tenantSetting) {
    this.schema = SqlNames.requireIdentifier("schema", schema);
    this.tenantSetting = tenantSetting;
  }

  /** Schema {@value #DEFAULT_SCHEMA}, tenant setting {@link TenantSetting#DEFAULT}. */
  public static BillingSchema defaults() {
    return new BillingSchema(DEFAULT_SCHEMA, TenantSetting.DEFAULT);
  }

  /** A builder starting from {@link #defaults()}. */
  public static Builder builder() {
    return new Builder(DEFAULT_SCHEMA, TenantSetting.DEFAULT);
  }

  /** A builder holding this schema's settings, for a variant. */
  public Builder toBuilder() {
    return new Builder(schema, tenantSetting);
  }

  /** The PostgreSQL schema name. */
  @Override
  public String name() {
    return schema;
  }

  /** The setting that carries the current tenant (the RLS policies read it). */
  public TenantSetting tenantSetting() {
    return tenantSetting;
  }

  /** The newest version the migrations of this library reach. */
  @Override
  public int latestVersion() {
    return migrations().latestVersion();
  }

  /**
   * Creates the schema or brings it up to {@link #latestVersion()}, in one transaction, recording each script in
   * {@code <schema>.saaskit_schema_history}; concurrent calls apply each script once.
   *
   * @param owner connections of the role that owns (or may create) the schema: never the application role
   * @throws SaasException if a script failed (nothing of it is kept), or the history disagrees with this library
   */
  @Override
  public MigrationResult migrate(DataSource owner) {
    Objects.requireNonNull(owner, "owner");
    try (Connection c = owner.getConnection()) {
      return migrate(c);
    } catch (SQLException e) {
      throw new SaasException("cannot connect to migrate schema " + schema + ": " + e.getMessage(), e);
    }
  }

  /** Like {@link #migrate(DataSource)}, on a connection the caller owns (committed, not closed). */
  @Override
  public MigrationResult migrate(Connection owner) {
    Objects.requireNonNull(owner, "owner");
    SchemaMigrations migrations = migrations();
    return MigrationResult.of(schema, migrations.apply(owner), migrations.latestVersion());
  }

  /**
   * Grants {@code role}, the application's role, what saas-billing needs at run time and nothing more: no
   * ownership, no {@code TRUNCATE}, no way around row-level security, nothing on the route tables (read through
   * their functions). Idempotent; run it as the owner after {@link #migrate}. The grants of each migration live next
   * to it ({@code db/saaskit/billing/grants/V<n>.sql}).
   *
   * @throws SaasException if a grant failed (schema missing: migrate first; role unknown)
   */
  @Override
  public void grantApp(Connection owner, String role) {
    Objects.requireNonNull(owner, "owner");
    execute(owner, migrations().grantStatements(role));
  }

  private void execute(Connection c, List<String> statements) {
    try {
      SchemaMigrations.executeAll(c, statements);
    } catch (SQLException e) {
      throw new SaasException("granting rights on schema " + schema + " failed: " + e.getMessage()
          + ". Run BillingSchema.migrate first, as the schema owner, and check the role name.", e);
    }
  }

  private SchemaMigrations migrations() {
    return new SchemaMigrations(BillingSchema.class, FOLDER, schema, Map.of("tenant_setting", tenantSetting.name()));
  }

  /** Builds an {@link BillingSchema}; setters check their argument at once. Not thread-safe. */
  public static final class Builder {
    private String name;
    private TenantSetting tenantSetting;

    private Builder(String name, TenantSetting tenantSetting) {
      this.name = name;
      this.tenantSetting = tenantSetting;
    }

    /** The schema name; default {@value #DEFAULT_SCHEMA}. A plain identifier of at most 63 bytes. */
    public Builder name(String name) {
      this.name = SqlNames.requireIdentifier("schema", Objects.requireNonNull(name, "name"));
      return this;
    }

    /** The setting that carries the current tenant, as saas-tenancy sets it; default {@link TenantSetting#DEFAULT}. */
    public Builder tenantSetting(TenantSetting tenantSetting) {
      this.tenantSetting = Objects.requireNonNull(tenantSetting, "tenantSetting");
      return this;
    }

    /** The schema. */
    public BillingSchema build() {
      return new BillingSchema(name, tenantSetting);
    }
  }
}
