package dev.saaskit.testing;

import dev.saaskit.core.CheckedSupplier;
import dev.saaskit.core.MissingTenantException;
import dev.saaskit.core.SaasException;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.internal.Sql;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;
import org.opentest4j.AssertionFailedError;

/**
 * Assertions that one tenant can neither see nor change another tenant's rows, checked through the same
 * tenant-aware {@link DataSource} the application uses (one that applies {@link TenantContext#current()} to each
 * connection, such as saas-tenancy's {@code TenantDataSource}). They exist so that every table holding tenant data
 * gets the same adversarial check in one line, instead of a hand-written query that quietly proves nothing.
 *
 * <p>Each assertion sets the tenant itself with {@link TenantContext}; write checks run in a transaction that is
 * always rolled back, so no assertion changes data. A violation throws {@link AssertionFailedError} naming the
 * table, the tenants and what leaked. A check that cannot run at all (a missing table, a broken SQL template)
 * throws {@link SaasException} instead.
 *
 * <p>{@code table} is raw SQL text from the test author, used as written (e.g. {@code invoices} or
 * {@code billing."Invoices"}); never pass untrusted input. {@code tenantColumn} is a column name and is quoted.
 * The tenant column is compared as {@code column::text}, so {@code text}, {@code uuid} and numeric tenant columns
 * all work.
 */
public final class IsolationAssertions {
  /** insufficient_privilege, which is also what a violated row-level security policy raises. */
  private static final String INSUFFICIENT_PRIVILEGE = "42501";
  /** What a fail-closed policy raises with no tenant: missing setting, or '' cast to uuid/int. */
  private static final Set<String> REFUSED_WITHOUT_TENANT = Set.of(INSUFFICIENT_PRIVILEGE, "42704", "22P02");

  private IsolationAssertions() {}

  /**
   * Asserts that, working as tenant {@code self}, no row of tenant {@code other} in {@code table} can be read,
   * updated or deleted: {@code SELECT count(*) ... WHERE col::text = other} returns 0, and
   * {@code UPDATE ... SET col = col WHERE ...} and {@code DELETE ... WHERE ...} each affect 0 rows (or are refused
   * with {@code insufficient_privilege}); the writes are rolled back.
   *
   * <p>So that the assertion cannot pass vacuously, it first checks that working as {@code other}, at least one
   * row of {@code other} is visible: seed rows for both tenants before calling it.
   *
   * @throws AssertionFailedError if {@code self} can see, update or delete a row of {@code other}, or if
   *     {@code other} has no visible rows (seed data first)
   * @throws IllegalArgumentException if {@code self} equals {@code other}
   */
  public static void assertTenantIsolated(DataSource tenantAwareDataSource, String table, String tenantColumn,
      TenantId self, TenantId other) {
    Objects.requireNonNull(tenantAwareDataSource, "tenantAwareDataSource");
    Objects.requireNonNull(table, "table");
    Objects.requireNonNull(tenantColumn, "tenantColumn");
    requireDistinct(self, other);
    String column = Sql.ident(tenantColumn);
    String where = " WHERE " + column + "::text = ?";
    String select = "SELECT count(*) FROM " + table + where;

    long seeded = count(tenantAwareDataSource, other, select, other.value());
    if (seeded == 0) {
      throw new AssertionFailedError("assertTenantIsolated on " + table + " would prove nothing: working as tenant '"
          + other + "', no row with " + tenantColumn + " = '" + other + "' is visible. Insert rows for tenant '"
          + other + "' (and '" + self + "') first, and check that the DataSource applies TenantContext.");
    }

    List<String> violations = new ArrayList<>();
    long visible = count(tenantAwareDataSource, self, select, other.value());
    if (visible != 0) {
      violations.add(visible + " row(s) visible to SELECT");
    }
    Outcome update = rolledBack(tenantAwareDataSource, self,
        "UPDATE " + table + " SET " + column + " = " + column + where, other.value());
    if (update.rows > 0) {
      violations.add(update.rows + " row(s) changed by UPDATE");
    } else if (update.error != null && !INSUFFICIENT_PRIVILEGE.equals(update.error.getSQLState())) {
      throw cannotRun("assertTenantIsolated", update.sql, self, update.error);
    }
    Outcome delete = rolledBack(tenantAwareDataSource, self, "DELETE FROM " + table + where, other.value());
    if (delete.rows > 0) {
      violations.add(delete.rows + " row(s) removed by DELETE");
    } else if (delete.error != null && !INSUFFICIENT_PRIVILEGE.equals(delete.error.getSQLState())) {
      throw cannotRun("assertTenantIsolated", delete.sql, self, delete.error);
    }
    if (!violations.isEmpty()) {
      throw new AssertionFailedError("Tenant isolation broken on " + table + ": working as tenant '" + self
          + "', rows of tenant '" + other + "' (" + tenantColumn + ") are reachable: " + String.join(", ", violations)
          + " (writes were rolled back). Enable and FORCE row level security on " + table
          + " with a policy on " + tenantColumn + ", query it as a role that is neither superuser nor BYPASSRLS, "
          + "and check that the DataSource applies TenantContext.");
    }
  }

  /**
   * Asserts that, working as tenant {@code self}, {@code insertSql} cannot write a row for tenant {@code other}.
   * The SQL has exactly one {@code ?} parameter, which receives {@code other.value()}, e.g.
   * {@code "INSERT INTO invoices(tenant_id, amount) VALUES (?, 10)"}. It runs in a transaction that is rolled back.
   *
   * <p>It passes when the insert is refused with {@code insufficient_privilege} (a row-level security
   * {@code WITH CHECK} violation) or writes no row. If it fails for another reason, the same SQL is tried for
   * {@code self}: if that fails too, the SQL is broken and proves nothing, and a SaasException says so.
   *
   * @throws AssertionFailedError if the row for {@code other} was written
   * @throws IllegalArgumentException if {@code self} equals {@code other}
   */
  public static void assertCannotInsertAs(DataSource tenantAwareDataSource, TenantId self, String insertSql,
      TenantId other) {
    Objects.requireNonNull(tenantAwareDataSource, "tenantAwareDataSource");
    Objects.requireNonNull(insertSql, "insertSql");
    requireDistinct(self, other);
    Outcome asOther = rolledBack(tenantAwareDataSource, self, insertSql, other.value());
    if (asOther.rows > 0) {
      throw new AssertionFailedError("Tenant isolation broken: working as tenant '" + self + "', an INSERT naming "
          + "tenant '" + other + "' wrote " + asOther.rows + " row(s) (rolled back): " + insertSql
          + ". Add a row level security policy WITH CHECK on the tenant column, and FORCE row level security.");
    }
    if (asOther.error == null || INSUFFICIENT_PRIVILEGE.equals(asOther.error.getSQLState())) {
      return;
    }
    Outcome asSelf = rolledBack(tenantAwareDataSource, self, insertSql, self.value());
    if (asSelf.error != null) {
      throw new SaasException("assertCannotInsertAs proves nothing: the INSERT fails also for the own tenant '"
          + self + "' (" + asSelf.error.getSQLState() + ": " + asSelf.error.getMessage() + "), so its failure for '"
          + other + "' says nothing about isolation. Fix the SQL so it succeeds for the own tenant: " + insertSql,
          asSelf.error);
    }
  }

  /**
   * Asserts that with no tenant set ({@link TenantContext#runWithoutTenant(dev.saaskit.core.CheckedRunnable)}),
   * {@code SELECT count(*) FROM table} through the DataSource sees no row: tenant-aware access fails closed. It also
   * passes when the DataSource refuses to work without a tenant ({@link MissingTenantException}) or the database
   * refuses the query (insufficient_privilege, an unset setting, or an empty setting cast to uuid/int).
   *
   * @throws AssertionFailedError if any row is visible
   */
  public static void assertNoRowsWithoutTenant(DataSource tenantAwareDataSource, String table) {
    Objects.requireNonNull(tenantAwareDataSource, "tenantAwareDataSource");
    Objects.requireNonNull(table, "table");
    String sql = "SELECT count(*) FROM " + table;
    long visible;
    try {
      visible = withTenant(null, () -> {
        try (Connection c = tenantAwareDataSource.getConnection();
            PreparedStatement ps = c.prepareStatement(sql);
            ResultSet rs = ps.executeQuery()) {
          rs.next();
          return rs.getLong(1);
        }
      });
    } catch (MissingTenantException refused) {
      return;
    } catch (SQLException e) {
      if (REFUSED_WITHOUT_TENANT.contains(e.getSQLState())) {
        return;
      }
      throw cannotRun("assertNoRowsWithoutTenant", sql, null, e);
    }
    if (visible != 0) {
      throw new AssertionFailedError("Tenant isolation broken on " + table + ": with no tenant set, " + visible
          + " row(s) are visible. A session without a tenant must see nothing: write policies that compare with "
          + "current_setting(..., true) so an unset tenant matches no row, and FORCE row level security.");
    }
  }

  private static void requireDistinct(TenantId self, TenantId other) {
    Objects.requireNonNull(self, "self");
    Objects.requireNonNull(other, "other");
    if (self.equals(other)) {
      throw new IllegalArgumentException("self and other must be different tenants but both were '" + self + "'");
    }
  }

  private static long count(DataSource ds, TenantId tenant, String sql, String parameter) {
    try {
      return withTenant(tenant, () -> {
        try (Connection c = ds.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
          ps.setString(1, parameter);
          try (ResultSet rs = ps.executeQuery()) {
            rs.next();
            return rs.getLong(1);
          }
        }
      });
    } catch (SQLException e) {
      throw cannotRun("assertTenantIsolated", sql, tenant, e);
    }
  }

  /** The result of a write that was rolled back: rows affected, or the error that stopped it. */
  private static final class Outcome {
    final String sql;
    final int rows;
    final @Nullable SQLException error;

    Outcome(String sql, int rows, @Nullable SQLException error) {
      this.sql = sql;
      this.rows = rows;
      this.error = error;
    }
  }

  private static Outcome rolledBack(DataSource ds, TenantId tenant, String sql, String parameter) {
    try {
      return withTenant(tenant, () -> {
        try (Connection c = ds.getConnection()) {
          boolean autoCommit = c.getAutoCommit();
          c.setAutoCommit(false);
          try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setString(1, parameter);
            return new Outcome(sql, ps.executeUpdate(), null);
          } catch (SQLException e) {
            return new Outcome(sql, 0, e);
          } finally {
            c.rollback();
            c.setAutoCommit(autoCommit);
          }
        }
      });
    } catch (SQLException e) {
      throw cannotRun("a rolled-back write", sql, tenant, e);
    }
  }

  private static SaasException cannotRun(String assertion, String sql, @Nullable TenantId tenant, SQLException e) {
    return new SaasException(assertion + " could not run `" + sql + "`" + (tenant == null ? " with no tenant"
        : " as tenant '" + tenant + "'") + ": " + e.getSQLState() + " " + e.getMessage(), e);
  }

  /** Runs {@code body} as {@code tenant}, or with no tenant. */
  private static <T> T withTenant(@Nullable TenantId tenant, CheckedSupplier<T, SQLException> body)
      throws SQLException {
    if (tenant != null) {
      return TenantContext.call(tenant, body);
    }
    AtomicReference<@Nullable T> result = new AtomicReference<>();
    TenantContext.runWithoutTenant(() -> result.set(body.get()));
    return Objects.requireNonNull(result.get());
  }
}
