package dev.saaskit.jobs;

import dev.saaskit.core.MigrationResult;
import dev.saaskit.core.ModuleSchema;
import dev.saaskit.core.SaasException;
import dev.saaskit.core.TenantSetting;
import dev.saaskit.core.internal.SchemaMigrations;
import dev.saaskit.core.internal.SqlNames;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HexFormat;
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
 * <p>Other names: {@code JobsSchema.builder().name("jobs").tenantSetting(TenantSetting.of("app.org_id")).build()}.
 *
 * <p><b>The RLS audit.</b> saaskit's own tables carry what saas-tenancy's {@code RlsAudit} should know about them,
 * as {@code saaskit-audit:} comments: the job tables' nullable {@code tenant_id} (system jobs have no tenant, and
 * the tenant policy never admits a null tenant to the application role) and the worker policy that admits every
 * row (the worker runs every tenant's jobs). So a jobs schema migrated and granted with this class gives the audit
 * no warnings.
 *
 * <p>Instances are immutable and thread-safe.
 */
public final class JobsSchema implements ModuleSchema {
  /** The schema name used unless configured otherwise. */
  public static final String DEFAULT_SCHEMA = "saaskit_jobs";

  private static final String WORKER_POLICY_COMMENT = "'saaskit-audit: policy-always-true -- the worker role runs"
      + " every tenant''s jobs (claims, outcomes, rescue, recurring jobs): this policy is scoped TO that role only;"
      + " every other role stays fenced by the tenant policy'";

  private static final String APP_POLICY_COMMENT = "'Limits the application role to the job rows only the job rows"
      + " JobQueue writes (new pending jobs, or jobs started by a worker of the enqueuing process) and to cancelling"
      + " live jobs (JobsSchema.grantApp)'";

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

  /** The newest version the migrations of this library reach. */
  @Override
  public int latestVersion() {
    return migrations().latestVersion();
  }

  /** The setting that carries the current tenant. */
  public TenantSetting tenantSetting() {
    return tenantSetting;
  }

  /**
   * Applies the migrations not applied yet, in one transaction, and says which it applied and the version reached.
   * Safe to call from every node at start-up: concurrent calls apply each script once.
   *
   * @throws SaasException if a migration fails (nothing is kept) or the database cannot be reached
   */
  @Override
  public MigrationResult migrate(DataSource owner) {
    try (Connection c = owner.getConnection()) {
      return migrate(c);
    } catch (SQLException e) {
      throw new SaasException("cannot connect to migrate schema " + schema + ": " + e.getMessage(), e);
    }
  }

  /** Like {@link #migrate(DataSource)}, on a connection the caller owns. */
  @Override
  public MigrationResult migrate(Connection owner) {
    SchemaMigrations migrations = migrations();
    return MigrationResult.of(schema, migrations.apply(owner), migrations.latestVersion());
  }

  /**
   * Lets {@code role} enqueue, read and cancel the jobs of its current tenant: {@code USAGE} on the schema,
   * {@code SELECT, INSERT} on the job table and {@code UPDATE} of the columns cancellation writes. The tenant
   * policy limits every one of these to the tenant in the tenant setting, and two restrictive policies scoped
   * {@code TO role} ({@code jobs_app_insert_<role>}, {@code jobs_app_update_<role>}) limit them to what
   * {@link JobQueue} writes: a new job is pending with no attempt and no lease (or started by a worker of the
   * enqueuing process, with attempt and lease epoch 1 and a lease), and an update only cancels a pending or running
   * job (on schema version 6 and later, a new job also carries no claim token). Without them the role could plant
   * rows that stop every tenant's claims (counters at their maximum) or that no rescue reaches, or run a finished job
   * again. Not added for a role that also has the worker policy
   * ({@link #grantWorker}, which drops them). Idempotent; run it again after upgrading to add the policies.
   */
  @Override
  public void grantApp(Connection owner, String role) {
    String r = quotedRole(role);
    String s = SqlNames.quoteIdent(schema);
    String insertPolicy = SqlNames.quoteIdent(policyName("jobs_app_insert_", role));
    String updatePolicy = SqlNames.quoteIdent(policyName("jobs_app_update_", role));
    // Column grants alone let the role write any value into the columns it may write: a row planted with
    // attempts or lease_epoch at their type's maximum made every claim of its queue fail ("integer out of range"),
    // for every tenant; a pending job set to 'running' has no lease, so no rescue ever took it; a dead or completed
    // job set back to 'pending' ran again. These restrictive policies admit exactly the rows JobQueue writes.
    String pendingRow = "state = 'pending' AND attempts = 0 AND lease_epoch = 0 AND worker_id IS NULL"
        + " AND lease_expires_at IS NULL AND started_at IS NULL";
    // the local start of JobQueue.enqueue: claimed by a worker of the enqueuing process, with that worker's lease
    String startedRow = "state = 'running' AND attempts = 1 AND lease_epoch = 1 AND worker_id IS NOT NULL"
        + " AND lease_expires_at IS NOT NULL AND isfinite(lease_expires_at)";
    // columns of schema version 1 only, so that grantApp works on a schema migrated to any version
    String newRow = "(" + pendingRow + " OR " + startedRow + ") AND NOT cancel_requested AND finished_at IS NULL"
        + " AND result IS NULL";
    if (hasColumn(owner, "claim_token")) {
      // schema version 6: the claim token names the claim a worker may give back when its answer is lost; only a
      // worker's claim writes one (the role's column grants leave it out of the updates it may make)
      newRow += " AND claim_token IS NULL";
    }
    // JobQueue.cancel: a pending job becomes cancelled (it has no lease); a running one (leased) stays running with
    // the request set. A live row is all it may touch. The check sees only the new row, and no column the role
    // cannot write tells every pending row from every running one, so a pending row marked running with its cancel
    // requested is not refused: it stays its own tenant's affair (no counter moves, no other tenant's row is in reach)
    String cancelledRow = "cancel_requested AND ((state = 'cancelled' AND lease_expires_at IS NULL"
        + " AND finished_at IS NOT NULL) OR (state = 'running' AND finished_at IS NULL))";
    List<String> statements = new ArrayList<>(List.of("GRANT USAGE ON SCHEMA " + s + " TO " + r,
        "GRANT SELECT, INSERT ON " + s + ".jobs TO " + r,
        "GRANT UPDATE (state, cancel_requested, finished_at) ON " + s + ".jobs TO " + r,
        "DROP POLICY IF EXISTS " + insertPolicy + " ON " + s + ".jobs",
        "DROP POLICY IF EXISTS " + updatePolicy + " ON " + s + ".jobs"));
    if (!hasWorkerPolicy(owner, role)) {
      // a role granted grantWorker as well claims and finishes jobs: these limits would stop its workers
      statements.addAll(List.of(
          "CREATE POLICY " + insertPolicy + " ON " + s + ".jobs AS RESTRICTIVE FOR INSERT TO " + r
              + " WITH CHECK (" + newRow + ")",
          "COMMENT ON POLICY " + insertPolicy + " ON " + s + ".jobs IS " + APP_POLICY_COMMENT,
          "CREATE POLICY " + updatePolicy + " ON " + s + ".jobs AS RESTRICTIVE FOR UPDATE TO " + r
              + " USING (state IN ('pending', 'running')) WITH CHECK (" + cancelledRow + ")",
          "COMMENT ON POLICY " + updatePolicy + " ON " + s + ".jobs IS " + APP_POLICY_COMMENT));
    }
    execute(owner, statements.toArray(String[]::new));
  }

  /**
   * Lets {@code role} claim, run and maintain the jobs of every tenant: {@code USAGE} on the schema, DML on the
   * job tables, and a policy {@code TO role} on {@code jobs} and {@code recurring_jobs} that admits every row (the
   * recurring-job scheduler runs with the worker's DataSource). The role must not be the table owner and
   * needs no {@code BYPASSRLS}. Each policy carries a {@code saaskit-audit: policy-always-true} comment saying why
   * it admits every row, so the RLS audit reports no finding for it. Idempotent.
   */
  public void grantWorker(Connection owner, String role) {
    String r = quotedRole(role);
    String s = SqlNames.quoteIdent(schema);
    String policy = SqlNames.quoteIdent(SqlNames.requireIdentifier("worker policy name", "jobs_worker_" + role));
    execute(owner, "GRANT USAGE ON SCHEMA " + s + " TO " + r,
        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA " + s + " TO " + r,
        // the application role's limits (grantApp) would stop this role's claims and outcomes
        "DROP POLICY IF EXISTS " + SqlNames.quoteIdent(policyName("jobs_app_insert_", role)) + " ON " + s + ".jobs",
        "DROP POLICY IF EXISTS " + SqlNames.quoteIdent(policyName("jobs_app_update_", role)) + " ON " + s + ".jobs",
        "DROP POLICY IF EXISTS " + policy + " ON " + s + ".jobs",
        "CREATE POLICY " + policy + " ON " + s + ".jobs TO " + r + " USING (true) WITH CHECK (true)",
        "COMMENT ON POLICY " + policy + " ON " + s + ".jobs IS " + WORKER_POLICY_COMMENT,
        // recurring job definitions: the scheduler (run with the worker's DataSource) fires them for every tenant
        "DROP POLICY IF EXISTS " + policy + " ON " + s + ".recurring_jobs",
        "CREATE POLICY " + policy + " ON " + s + ".recurring_jobs TO " + r + " USING (true) WITH CHECK (true)",
        "COMMENT ON POLICY " + policy + " ON " + s + ".recurring_jobs IS " + WORKER_POLICY_COMMENT);
  }

  /** Builds a {@link JobsSchema}; setters check their argument at once. Not thread-safe. */
  public static final class Builder {
    private String name;
    private TenantSetting tenantSetting;

    private Builder(String name, TenantSetting tenantSetting) {
      this.name = name;
      this.tenantSetting = tenantSetting;
    }

    /**
     * The PostgreSQL schema holding the job tables (created if missing); default {@value JobsSchema#DEFAULT_SCHEMA}.
     *
     * @throws IllegalArgumentException if the name is not a plain identifier
     */
    public Builder name(String name) {
      this.name = SqlNames.requireIdentifier("schema", Objects.requireNonNull(name, "name"));
      return this;
    }

    /** The setting that carries the current tenant, as used by saas-tenancy; default {@link TenantSetting#DEFAULT}. */
    public Builder tenantSetting(TenantSetting tenantSetting) {
      this.tenantSetting = Objects.requireNonNull(tenantSetting, "tenantSetting");
      return this;
    }

    /** The schema. */
    public JobsSchema build() {
      return new JobsSchema(name, tenantSetting);
    }
  }

  private static String quotedRole(String role) {
    return SqlNames.quoteIdent(SqlNames.requireIdentifier("role", Objects.requireNonNull(role, "role")));
  }

  /**
   * A policy name for {@code role}: the prefix and the role, or, when that is longer than an identifier may be, the
   * prefix and a hash of the role (policy names are per table, so only this role's own two policies must differ).
   */
  private static String policyName(String prefix, String role) {
    String name = prefix + role;
    if (name.getBytes(StandardCharsets.UTF_8).length <= SqlNames.MAX_IDENTIFIER_BYTES) {
      return name;
    }
    try {
      byte[] hash = MessageDigest.getInstance("SHA-256").digest(role.getBytes(StandardCharsets.UTF_8));
      return prefix + HexFormat.of().formatHex(hash, 0, 16);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }

  /** Whether the job table has {@code column} (columns added by later schema versions). */
  private boolean hasColumn(Connection owner, String column) {
    try (PreparedStatement ps = owner.prepareStatement("SELECT EXISTS (SELECT 1 FROM information_schema.columns"
        + " WHERE table_schema = ? AND table_name = 'jobs' AND column_name = ?)")) {
      ps.setString(1, schema);
      ps.setString(2, column);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() && rs.getBoolean(1);
      }
    } catch (SQLException e) {
      throw new SaasException("granting rights on schema " + schema + " failed: " + e.getMessage(), e);
    }
  }

  private boolean hasWorkerPolicy(Connection owner, String role) {
    try (PreparedStatement ps = owner.prepareStatement("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_policies"
        + " WHERE schemaname = ? AND tablename = 'jobs' AND policyname = ?)")) {
      ps.setString(1, schema);
      ps.setString(2, "jobs_worker_" + role);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() && rs.getBoolean(1);
      }
    } catch (SQLException e) {
      throw new SaasException("granting rights on schema " + schema + " failed: " + e.getMessage(), e);
    }
  }

  private SchemaMigrations migrations() {
    return new SchemaMigrations(JobsSchema.class, "db/saaskit/jobs", schema,
        Map.of("tenant_setting", tenantSetting.name()));
  }

  private void execute(Connection c, String... statements) {
    try {
      SchemaMigrations.executeAll(c, List.of(statements));
    } catch (SQLException e) {
      throw new SaasException("granting rights on schema " + schema + " failed: " + e.getMessage(), e);
    }
  }
}
