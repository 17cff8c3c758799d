package dev.saaskit.jobs;

import dev.saaskit.core.SaasException;
import dev.saaskit.core.TenantSetting;
import dev.saaskit.core.internal.SchemaMigrations;
import dev.saaskit.core.internal.SqlNames;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import javax.sql.DataSource;

/**
 * The database schema of saas-jobs: applies its migrations and grants the two kinds of roles their rights.
 *
 * <ul>
 *   <li>{@link #migrate(DataSource)} runs as the role that should own the tables (a migration role, never the
 *       application's role). The job table has RLS enabled and forced, with a policy that lets a role see and
 *       create only the jobs of the tenant in the tenant setting.
 *   <li>{@link #grantApp(Connection, String)}: an application role may enqueue, poll and cancel the jobs of its
 *       current tenant, nothing else.
 *   <li>{@link #grantWorker(Connection, String)}: a worker role may claim and update jobs of every tenant. It gets
 *       its own policy, scoped {@code TO} that role, instead of {@code BYPASSRLS} or table ownership, so every
 *       other role stays fenced by the tenant policy and the RLS audit sees a deliberate, role-scoped exception.
 * </ul>
 *
 * <pre>{@code
 * JobsSchema schema = JobsSchema.defaults();
 * schema.migrate(ownerDataSource);
 * try (Connection c = ownerDataSource.getConnection()) {
 *   schema.grantApp(c, "app");
 *   schema.grantWorker(c, "jobs_worker");
 * }
 * }</pre>
 *
 * <p>Instances are immutable and thread-safe.
 */
public final class JobsSchema {
  /** The schema name used unless configured otherwise. */
  public static final String DEFAULT_SCHEMA = "saaskit_jobs";

  private final String schema;
  private final TenantSetting tenantSetting;

  private JobsSchema(String schema, TenantSetting tenantSetting) {
    this.schema = SqlNames.requireIdentifier("schema", schema);
    this.tenantSetting = tenantSetting;
  }

  /** Schema {@value #DEFAULT_SCHEMA}, tenant setting {@link TenantSetting#DEFAULT}. */
  public static JobsSchema defaults() {
    return new JobsSchema(DEFAULT_SCHEMA, TenantSetting.DEFAULT);
  }

  /**
   * A schema with custom names.
   *
   * @param schema the PostgreSQL schema holding the job tables (created if missing)
   * @param tenantSetting the setting that carries the current tenant, as used by saas-tenancy
   * @throws IllegalArgumentException if the schema name is malformed
   */
  public static JobsSchema of(String schema, TenantSetting tenantSetting) {
    return new JobsSchema(Objects.requireNonNull(schema, "schema"), Objects.requireNonNull(tenantSetting, "tenantSetting"));
  }

  /** The PostgreSQL schema name. */
  public String schema() {
    return schema;
  }

  /** The setting that carries the current tenant. */
  public TenantSetting tenantSetting() {
    return tenantSetting;
  }

  /**
   * Applies the migrations not applied yet, in one transaction, and returns the scripts it applied. Safe to call
   * from every node at start-up: concurrent calls apply each script once.
   *
   * @throws SaasException if a migration fails (nothing is kept) or the database cannot be reached
   */
  public List<String> migrate(DataSource owner) {
    try (Connection c = owner.getConnection()) {
      return migrate(c);
    } catch (SQLException e) {
      throw new SaasException("cannot connect to migrate schema " + schema + ": " + e.getMessage(), e);
    }
  }

  /** Like {@link #migrate(DataSource)}, on a connection the caller owns. */
  public List<String> migrate(Connection owner) {
    return migrations().apply(owner);
  }

  /**
   * Lets {@code role} enqueue, read and cancel the jobs of its current tenant: {@code USAGE} on the schema,
   * {@code SELECT, INSERT} on the job table and {@code UPDATE} of the columns cancellation writes. The tenant
   * policy limits every one of these to the tenant in the tenant setting. Idempotent.
   */
  public void grantApp(Connection owner, String role) {
    String r = quotedRole(role);
    String s = SqlNames.quoteIdent(schema);
    execute(owner, "GRANT USAGE ON SCHEMA " + s + " TO " + r,
        "GRANT SELECT, INSERT ON " + s + ".jobs TO " + r,
        "GRANT UPDATE (state, cancel_requested, finished_at) ON " + s + ".jobs TO " + r);
  }

  /**
   * Lets {@code role} claim, run and maintain the jobs of every tenant: {@code USAGE} on the schema, DML on the
   * job tables, and a policy {@code TO role} on {@code jobs} and {@code recurring_jobs} that admits every row (the
   * recurring-job scheduler runs with the worker's DataSource). The role must not be the table owner and
   * needs no {@code BYPASSRLS}. Idempotent.
   */
  public void grantWorker(Connection owner, String role) {
    String r = quotedRole(role);
    String s = SqlNames.quoteIdent(schema);
    String policy = SqlNames.quoteIdent(SqlNames.requireIdentifier("worker policy name", "jobs_worker_" + role));
    execute(owner, "GRANT USAGE ON SCHEMA " + s + " TO " + r,
        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA " + s + " TO " + r,
        "DROP POLICY IF EXISTS " + policy + " ON " + s + ".jobs",
        "CREATE POLICY " + policy + " ON " + s + ".jobs TO " + r + " USING (true) WITH CHECK (true)",
        // recurring job definitions: the scheduler (run with the worker's DataSource) fires them for every tenant
        "DROP POLICY IF EXISTS " + policy + " ON " + s + ".recurring_jobs",
        "CREATE POLICY " + policy + " ON " + s + ".recurring_jobs TO " + r + " USING (true) WITH CHECK (true)");
  }

  private static String quotedRole(String role) {
    return SqlNames.quoteIdent(SqlNames.requireIdentifier("role", Objects.requireNonNull(role, "role")));
  }

  private SchemaMigrations migrations() {
    return new SchemaMigrations(JobsSchema.class, "db/saaskit/jobs", schema,
        Map.of("tenant_setting", tenantSetting.name()));
  }

  private void execute(Connection c, String... statements) {
    try {
      boolean autoCommit = c.getAutoCommit();
      c.setAutoCommit(false);
      try (Statement st = c.createStatement()) {
        for (String sql : statements) {
          st.execute(sql);
        }
        c.commit();
      } catch (SQLException | RuntimeException e) {
        c.rollback();
        throw e;
      } finally {
        c.setAutoCommit(autoCommit);
      }
    } catch (SQLException e) {
      throw new SaasException("granting rights on schema " + schema + " failed: " + e.getMessage(), e);
    }
  }
}
