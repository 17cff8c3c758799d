package dev.saaskit.tenancy;

import dev.saaskit.core.SaasException;
import dev.saaskit.tenancy.audit.AuditReport;
import dev.saaskit.tenancy.audit.Baseline;
import dev.saaskit.tenancy.audit.Finding;
import dev.saaskit.tenancy.audit.RlsAudit;
import dev.saaskit.tenancy.audit.Severity;
import dev.saaskit.tenancy.internal.PolicyNames;
import dev.saaskit.tenancy.internal.Sql;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Checks at start-up that PostgreSQL will hold the application to its Row-Level Security policies, and refuses to
 * go on otherwise. Run it once, with the pool the application uses for tenant work, before serving requests:
 *
 * <pre>{@code
 * HikariDataSource pool = new HikariDataSource(config);   // logs in as the application role
 * StartupGuard.defaults().verify(pool);                    // throws UnsafeDatabaseSetupException if unsafe
 * DataSource db = TenantDataSource.wrap(pool);
 * }</pre>
 *
 * <p>The guard is the start-up subset of {@link RlsAudit}: it runs the audit as the pool's own role
 * ({@code current_user}) and fails on every ERROR finding of these rules, with the audit's own messages and fixes,
 * so the two can never disagree about them:
 * <ul>
 *   <li>{@code app-role-superuser}, {@code app-role-bypassrls}: either one turns every policy off;</li>
 *   <li>{@code app-role-member-of-privileged}: the role can {@code SET ROLE} to a superuser or {@code BYPASSRLS}
 *       role, or (PostgreSQL 15 and older) has {@code CREATEROLE}, which lets it grant itself any such role that is
 *       not a superuser;</li>
 *   <li>{@code app-role-privileged-login}: the pool logs in as such a role and switches to the application role
 *       with {@code SET ROLE} or {@code SET SESSION AUTHORIZATION} (a {@code RESET ROLE} or
 *       {@code RESET SESSION AUTHORIZATION} brings the login role back);</li>
 *   <li>{@code rls-disabled}: a table with a tenant column (partitions included) has RLS disabled;</li>
 *   <li>{@code rls-not-forced} where the role owns the table, and {@code app-role-owns-tenant-table}: the role owns
 *       a tenant table, directly or through membership in the owning role. An owner is exempt from unforced policies
 *       and can always disable RLS or drop the policies, so owning tenant tables fails the guard even with RLS
 *       forced. To accept it on purpose (a prototype, a single-role setup), say so in a
 *       {@linkplain Builder#baseline baseline} entry: {@code app-role-owns-tenant-table * -- <your reason>}.</li>
 * </ul>
 * Warnings of these rules (RLS not forced on a table the role does not own, no tenant table found at all) are
 * logged. Policies, views, functions and grants are the full audit's business: run
 * {@code RlsAudit.defaults().assertNoErrors(..)} in your test suite.
 *
 * <p>{@link #verify(DataSource)} throws an {@link UnsafeDatabaseSetupException} listing every problem with the
 * SQL that fixes it; {@link #problems(DataSource)} returns the same list without throwing (for health checks).
 * Pass the plain pool, not a {@link TenantDataSource} in strict mode, which would refuse to connect without a
 * tenant. Instances are immutable and thread-safe.
 */
public final class StartupGuard {
  private static final Logger LOG = LoggerFactory.getLogger(StartupGuard.class);
  private static final StartupGuard DEFAULTS = new Builder().build();

  private static final String OWNS_TENANT_TABLE = "app-role-owns-tenant-table";

  /** The audit rules the guard enforces. */
  static final Set<String> RULES = Set.of("app-role-superuser", "app-role-bypassrls", "app-role-member-of-privileged",
      "app-role-privileged-login", "rls-disabled", "rls-not-forced", OWNS_TENANT_TABLE,
      "no-tenant-tables");

  private final List<String> tenantColumns;
  private final List<String> schemas;
  private final List<String> ignoredTables;
  private final Baseline baseline;
  private final RlsAudit audit;

  private StartupGuard(Builder b) {
    this.tenantColumns = List.copyOf(b.tenantColumns);
    this.schemas = List.copyOf(b.schemas);
    this.ignoredTables = List.copyOf(b.ignoredTables);
    this.baseline = b.baseline;
    this.audit = RlsAudit.builder()
        .tenantColumns(tenantColumns.toArray(String[]::new))
        .schemas(schemas.toArray(String[]::new))
        .ignoreTables(ignoredTables.toArray(String[]::new))
        .baseline(baseline)
        .build();
  }

  /** The guard with the defaults: tenant column {@code tenant_id}, every non-system schema, no baseline. */
  public static StartupGuard defaults() {
    return DEFAULTS;
  }

  /** A builder to change the tenant column names, the schemas checked, ignored tables or the baseline. */
  public static Builder builder() {
    return new Builder();
  }

  /** A builder holding this guard's settings, to derive a variant. */
  public Builder toBuilder() {
    Builder b = new Builder();
    b.tenantColumns.clear();
    b.tenantColumns.addAll(tenantColumns);
    b.schemas.addAll(schemas);
    b.ignoredTables.addAll(ignoredTables);
    b.baseline = baseline;
    return b;
  }

  /**
   * Checks the database as the role of {@code appDataSource}'s connections and returns normally when it is safe.
   *
   * @throws UnsafeDatabaseSetupException listing every problem and how to fix it
   * @throws SaasException if the catalog cannot be read (no connection, for example)
   */
  public void verify(DataSource appDataSource) {
    Findings findings = inspect(appDataSource);
    if (findings.problems.isEmpty()) {
      LOG.debug("start-up guard: role {} is held to row-level security on {} tenant table(s)",
          findings.role, findings.tenantTables);
      return;
    }
    StringBuilder message = new StringBuilder("Unsafe database setup for tenant isolation: the application role ")
        .append(Sql.quoteIdent(findings.role)).append(" would not be held to row-level security (")
        .append(findings.problems.size()).append(findings.problems.size() == 1 ? " problem" : " problems")
        .append("). Fix each, then start again:");
    for (int i = 0; i < findings.problems.size(); i++) {
      message.append("\n\n").append(i + 1).append(". ").append(findings.problems.get(i));
    }
    for (String warning : findings.warnings) {
      message.append("\n\nAlso: ").append(warning);
    }
    if (findings.ownsTenantTables) {
      message.append("\n\nIf the application role must own its tables on purpose (a single-role prototype, RLS forced),"
          + " accept that explicitly, with a reason, in a baseline: StartupGuard.builder().baseline(Baseline.parse(\"")
          .append(OWNS_TENANT_TABLE).append(" * -- <reason>\")).build().verify(..); the audit accepts the same line.");
    }
    throw new UnsafeDatabaseSetupException(message.toString(), findings.problems);
  }

  /**
   * The problems {@link #verify(DataSource)} would report, each {@code [rule-id] description} followed by its fix;
   * empty when the setup is safe.
   *
   * @throws SaasException if the catalog cannot be read (no connection, for example)
   */
  public List<String> problems(DataSource appDataSource) {
    return inspect(appDataSource).problems;
  }

  @Override
  public String toString() {
    return "StartupGuard[tenantColumns=" + tenantColumns + ", schemas=" + (schemas.isEmpty() ? "all non-system" : schemas)
        + (ignoredTables.isEmpty() ? "" : ", ignoreTables=" + ignoredTables) + ", baseline=" + baseline + "]";
  }

  private Findings inspect(DataSource dataSource) {
    Objects.requireNonNull(dataSource, "appDataSource");
    AuditReport report;
    try (Connection connection = dataSource.getConnection()) {
      report = audit.run(connection);
    } catch (SQLException e) {
      throw new SaasException("the start-up guard could not read the PostgreSQL catalog (" + e.getMessage()
          + "); check that the data source connects as the application role", e);
    } catch (SaasException e) {
      throw new SaasException("the start-up guard could not read the PostgreSQL catalog (" + e.getMessage()
          + "); check that the data source connects as the application role", e.getCause() != null ? e.getCause() : e);
    }
    Findings f = new Findings(report.appRole(), report.tenantTables().size());
    for (Finding finding : report.findings()) {
      if (!RULES.contains(finding.ruleId())) {
        continue;
      }
      String text = "[" + finding.ruleId() + "] " + finding.message()
          + finding.fix().map(fix -> "\n   Fix: " + fix.replace("\n", "\n        ")).orElse("");
      if (finding.severity() == Severity.ERROR) {
        f.problems.add(text);
        f.ownsTenantTables |= finding.ruleId().equals(OWNS_TENANT_TABLE);
      } else if (finding.severity() == Severity.WARNING) {
        f.warnings.add(text);
      }
    }
    for (String warning : f.warnings) {
      LOG.warn("start-up guard: {}", warning);
    }
    return f;
  }

  private static final class Findings {
    final String role;
    final int tenantTables;
    final List<String> problems = new ArrayList<>();
    final List<String> warnings = new ArrayList<>();
    boolean ownsTenantTables;

    Findings(String role, int tenantTables) {
      this.role = role;
      this.tenantTables = tenantTables;
    }
  }

  /** Settings of a {@link StartupGuard}. Setters check their values at once and name a bad one. */
  public static final class Builder {
    private final Set<String> tenantColumns = new LinkedHashSet<>(List.of(RlsPolicy.DEFAULT_TENANT_COLUMN));
    private final Set<String> schemas = new LinkedHashSet<>();
    private final Set<String> ignoredTables = new LinkedHashSet<>();
    private Baseline baseline = Baseline.empty();

    private Builder() {}

    /**
     * The names of the columns that mark a tenant table, replacing the default {@code tenant_id}; a table with any
     * one of them is checked.
     *
     * @throws IllegalArgumentException if none is given or a name is invalid
     */
    public Builder tenantColumns(String... columns) {
      Set<String> checked = PolicyNames.requireNames("tenantColumns", "tenant column name", columns, true);
      tenantColumns.clear();
      tenantColumns.addAll(checked);
      return this;
    }

    /**
     * The schemas to check, replacing earlier calls; with none (the default) every schema except {@code pg_*} and
     * {@code information_schema}.
     *
     * @throws IllegalArgumentException if a name is invalid
     */
    public Builder schemas(String... schemaNames) {
      Set<String> checked = PolicyNames.requireNames("schemas", "schema name", schemaNames, false);
      schemas.clear();
      schemas.addAll(checked);
      return this;
    }

    /**
     * Tables with a tenant column that hold no tenant data, as {@code schema.table} (see
     * {@link RlsAudit.Builder#ignoreTables}), replacing earlier calls.
     *
     * @throws IllegalArgumentException if a name is not {@code schema.table}
     */
    public Builder ignoreTables(String... qualifiedNames) {
      Set<String> checked = PolicyNames.requireQualifiedNames("ignoreTables", qualifiedNames);
      ignoredTables.clear();
      ignoredTables.addAll(checked);
      return this;
    }

    /**
     * Findings accepted on purpose, each with a reason, in the audit's baseline format (the same file can serve
     * both); {@link Baseline#empty()} by default. This is the documented way to accept an application role that
     * owns its tenant tables: {@code app-role-owns-tenant-table * -- single-role prototype, RLS forced}.
     */
    public Builder baseline(Baseline baseline) {
      this.baseline = Objects.requireNonNull(baseline, "baseline");
      return this;
    }

    /** The guard. */
    public StartupGuard build() {
      return new StartupGuard(this);
    }
  }
}
