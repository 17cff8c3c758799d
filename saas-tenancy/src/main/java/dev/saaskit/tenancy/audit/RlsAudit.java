package dev.saaskit.tenancy.audit;

import dev.saaskit.core.SaasException;
import dev.saaskit.core.TenantSetting;
import dev.saaskit.tenancy.RlsPolicy;
import dev.saaskit.tenancy.audit.internal.Auditor;
import dev.saaskit.tenancy.internal.PolicyNames;
import dev.saaskit.tenancy.internal.Sql;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;

/**
 * Audits a live PostgreSQL database for tenant isolation by Row-Level Security: tenant isolation is only as strong
 * as its weakest table, policy, view or function. It reads the catalog in a handful of queries for the whole
 * database and reports {@link Finding}s, each with a stable rule id, a severity, the object, a one-line
 * explanation and, where one exists, the SQL that fixes it.
 *
 * <pre>{@code
 * AuditReport report = RlsAudit.builder()
 *     .appRole("app")                                   // judge the role the application logs in as
 *     .baseline(Baseline.load(Path.of("rls-baseline.txt")))
 *     .build()
 *     .run(adminDataSource);                            // any role that can read the catalog
 * System.out.println(report.toText());
 * if (report.hasErrors()) System.exit(1);
 * }</pre>
 *
 * <p>Or, as one line in a test suite: {@code RlsAudit.defaults().assertNoErrors(dataSource)}.
 *
 * <p>A <b>tenant table</b> is a table or partitioned table (including partitions) in the audited schemas with a
 * column named like one of the {@linkplain Builder#tenantColumns tenant columns}. Policies are judged for the
 * roles they apply to: a policy for {@code PUBLIC}, for the {@linkplain Builder#appRole application role} or for
 * a role it is a member of is held to the strict rules; one only for other roles (a job worker's, say) is reported
 * as {@link Severity#INFO}. The rules are listed by {@link AuditReport#rules()} and in {@code docs/rls-audit.md}.
 *
 * <p>The audit only reads the catalog: it changes no setting and no data and leaves no state on the connection.
 * Instances are immutable and thread-safe.
 */
public final class RlsAudit {
  private static final RlsAudit DEFAULTS = new Builder().build();

  private final List<String> tenantColumns;
  private final List<String> schemas; // empty: every non-system schema
  private final @Nullable String appRole; // null: current_user
  private final String settingName;
  private final Set<String> ignoredTables;
  private final Set<String> includedTables;
  private final Baseline baseline;

  private RlsAudit(Builder b) {
    this.tenantColumns = List.copyOf(b.tenantColumns);
    this.schemas = List.copyOf(b.schemas);
    this.appRole = b.appRole;
    this.settingName = b.settingName;
    this.ignoredTables = Set.copyOf(b.ignoredTables);
    this.includedTables = Set.copyOf(b.includedTables);
    this.baseline = b.baseline;
  }

  /**
   * The audit with the defaults: tenant column {@code tenant_id}, every non-system schema, the connection's own
   * role as the application role, setting {@code app.tenant_id}, no baseline.
   */
  public static RlsAudit defaults() {
    return DEFAULTS;
  }

  /** A builder, starting from the defaults. */
  public static Builder builder() {
    return new Builder();
  }

  /** A builder holding this audit's settings, to derive a variant. */
  public Builder toBuilder() {
    Builder b = new Builder();
    b.tenantColumns.clear();
    b.tenantColumns.addAll(tenantColumns);
    b.schemas.addAll(schemas);
    b.appRole = appRole;
    b.settingName = settingName;
    b.ignoredTables.addAll(ignoredTables);
    b.includedTables.addAll(includedTables);
    b.baseline = baseline;
    return b;
  }

  /**
   * Audits the database of {@code dataSource}, borrowing one connection and returning it.
   *
   * @throws SaasException if the catalog cannot be read, or the configured application role does not exist
   */
  public AuditReport run(DataSource dataSource) {
    Objects.requireNonNull(dataSource, "dataSource");
    try (Connection connection = dataSource.getConnection()) {
      return run(connection);
    } catch (SQLException e) {
      throw new SaasException("the RLS audit could not connect: " + e.getMessage(), e);
    }
  }

  /**
   * Audits the database of {@code connection}, with catalog queries only, in the connection's current transaction
   * state; it neither commits nor closes it.
   *
   * @throws SaasException if the catalog cannot be read, or the configured application role does not exist
   */
  public AuditReport run(Connection connection) {
    Objects.requireNonNull(connection, "connection");
    Auditor.Result result;
    try {
      result = new Auditor(tenantColumns, settingName, ignoredTables, includedTables).audit(connection, appRole, schemas);
    } catch (SQLException e) {
      throw new SaasException("the RLS audit could not read the PostgreSQL catalog: " + e.getMessage(), e);
    } catch (IllegalStateException e) {
      throw new SaasException(Objects.requireNonNullElse(e.getMessage(), e.toString()), e);
    }
    return AuditReport.of(result.findings(), baseline, result.annotations(), result.appRole(), result.database(),
        result.tenantTables());
  }

  /**
   * The one line for a test suite: audits {@code dataSource} with this audit's settings and fails if any
   * {@link Severity#ERROR} is found. With {@link #defaults()} the application role is the data source's own user.
   *
   * <pre>{@code @Test void tenantIsolationHolds() { RlsAudit.defaults().assertNoErrors(appDataSource); } }</pre>
   *
   * @throws AssertionError listing every error finding with its fix
   */
  public void assertNoErrors(DataSource dataSource) {
    AuditReport report = run(dataSource);
    if (!report.hasErrors()) {
      return;
    }
    List<Finding> errors = report.errors();
    StringBuilder sb = new StringBuilder("RLS audit of database ").append(report.database()).append(" for role ")
        .append(report.appRole()).append(" found ").append(errors.size())
        .append(errors.size() == 1 ? " error" : " errors").append(" in tenant isolation:");
    for (Finding f : errors) {
      sb.append("\n\n[").append(f.ruleId()).append("] ").append(f.object()).append("\n  ").append(f.message());
      f.fix().ifPresent(fix -> sb.append("\n  fix:\n    ").append(fix.replace("\n", "\n    ")));
    }
    if (!report.suppressed().isEmpty()) {
      sb.append("\n\n(").append(report.suppressed().size()).append(" suppressed by the baseline)");
    }
    sb.append("\n\nFix them, or accept one in a baseline with a reason: <rule-id> <object> -- <reason>");
    throw new AssertionError(sb.toString());
  }

  @Override
  public String toString() {
    return "RlsAudit[tenantColumns=" + tenantColumns + ", schemas=" + (schemas.isEmpty() ? "all non-system" : schemas)
        + ", appRole=" + (appRole == null ? "current_user" : appRole) + ", setting=" + settingName
        + (ignoredTables.isEmpty() ? "" : ", ignoreTables=" + ignoredTables)
        + (includedTables.isEmpty() ? "" : ", includeTables=" + includedTables) + ", baseline=" + baseline + "]";
  }

  /** Settings of an {@link RlsAudit}. Setters check their values at once and name a bad one. */
  public static final class Builder {
    private final Set<String> tenantColumns = new LinkedHashSet<>(List.of(RlsPolicy.DEFAULT_TENANT_COLUMN));
    private final Set<String> schemas = new LinkedHashSet<>();
    private @Nullable String appRole;
    private String settingName = TenantSetting.DEFAULT.name();
    private Baseline baseline = Baseline.empty();
    private final Set<String> ignoredTables = new LinkedHashSet<>();
    private final Set<String> includedTables = new LinkedHashSet<>();

    private Builder() {}

    /**
     * The names of the columns that mark a tenant table, replacing the default {@code tenant_id}: a table with any
     * one of them holds tenant data.
     *
     * @throws IllegalArgumentException if none is given or a name is empty or longer than 63 bytes
     */
    public Builder tenantColumns(String... names) {
      Set<String> checked = PolicyNames.requireNames("tenantColumns", "tenant column name", names, true);
      tenantColumns.clear();
      tenantColumns.addAll(checked);
      return this;
    }

    /**
     * The schemas to audit, replacing earlier calls; with none (the default) every schema except
     * {@code pg_catalog}, {@code information_schema}, {@code pg_toast*} and {@code pg_temp*}.
     *
     * @throws IllegalArgumentException if a name is empty or longer than 63 bytes
     */
    public Builder schemas(String... schemaNames) {
      Set<String> checked = PolicyNames.requireNames("schemas", "schema name", schemaNames, false);
      schemas.clear();
      schemas.addAll(checked);
      return this;
    }

    /**
     * The application role to judge: the role the application's pool logs in as. By default the audit judges the
     * connection's own role ({@code current_user}); name the role when running the audit as an operator or
     * superuser.
     *
     * @throws IllegalArgumentException if the name is empty or longer than 63 bytes
     */
    public Builder appRole(String role) {
      this.appRole = PolicyNames.requireName("appRole", role);
      return this;
    }

    /**
     * The setting the tenant policies read, {@link TenantSetting#DEFAULT} ({@code app.tenant_id}) by default; used to
     * recognise the tenant-filtered view pattern and to write fixes.
     */
    public Builder tenantSetting(TenantSetting setting) {
      this.settingName = Objects.requireNonNull(setting, "tenantSetting").name();
      return this;
    }

    /**
     * Tables that have a tenant column but hold no tenant data (a shared lookup table keyed by tenant, an audit log
     * read only by operators), as {@code schema.table}, replacing earlier calls: they are not judged as tenant
     * tables, and views over them are not tenant data. Prefer a baseline entry with a reason when a tenant table
     * merely has an accepted finding.
     *
     * @throws IllegalArgumentException if a name is not {@code schema.table} with valid identifiers
     */
    public Builder ignoreTables(String... qualifiedNames) {
      ignoredTables.clear();
      ignoredTables.addAll(PolicyNames.requireQualifiedNames("ignoreTables", qualifiedNames));
      return this;
    }

    /**
     * Tables without a tenant column that hold tenant data all the same, as {@code schema.table}, replacing earlier
     * calls. A table without a tenant column is judged by {@code tenant-data-without-tenant-column} when a foreign
     * key path leads from it to a tenant table (an {@code order_items} row references its order); one with no such
     * path is outside the audit unless it is named here. A named table the application role can read or write must
     * have row-level security with policies that tie its rows to the tenant.
     *
     * @throws IllegalArgumentException if a name is not {@code schema.table} with valid identifiers
     */
    public Builder includeTables(String... qualifiedNames) {
      includedTables.clear();
      includedTables.addAll(PolicyNames.requireQualifiedNames("includeTables", qualifiedNames));
      return this;
    }

    /** Findings to ignore, each with a reason; {@link Baseline#empty()} by default. */
    public Builder baseline(Baseline baseline) {
      this.baseline = Objects.requireNonNull(baseline, "baseline");
      return this;
    }

    /** The audit. */
    public RlsAudit build() {
      return new RlsAudit(this);
    }
  }
}
