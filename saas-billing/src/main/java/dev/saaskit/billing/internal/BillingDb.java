package dev.saaskit.billing.internal;

import dev.saaskit.billing.BillingException;
import dev.saaskit.core.TenantId;
import dev.saaskit.core.TenantSetting;
import dev.saaskit.core.internal.TenantSettingSql;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Objects;
import java.util.Optional;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;

/** Transactions on the application's data source, with the tenant bound (transaction-local) when one is given. */
public final class BillingDb {
  /** Work inside a transaction. */
  @FunctionalInterface
  public interface Work<T extends @Nullable Object> {
    /** Runs on {@code c}; do not commit, roll back or close it. */
    T run(Connection c) throws SQLException;
  }

  private final DataSource dataSource;
  private final TenantSettingSql setting;

  public BillingDb(DataSource dataSource, TenantSetting tenantSetting) {
    this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
    this.setting = TenantSettingSql.of(tenantSetting);
  }

  public DataSource dataSource() {
    return dataSource;
  }

  /** Binds {@code tenant} to the current transaction of {@code c}. */
  public void bindTenant(Connection c, TenantId tenant) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(setting.separate())) {
      ps.setString(1, tenant.value());
      ps.execute();
    }
  }

  /**
   * Binds the tenant a Stripe customer is routed to (through {@code <schema>.route_customer}) to the current
   * transaction of {@code c} in the same round trip, and returns it; empty (and the empty tenant bound, which sees
   * no row) when the customer has no route.
   *
   * @param quotedSchema the billing schema, quoted
   */
  public Optional<TenantId> bindRoutedTenant(Connection c, String quotedSchema, String customerId) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(
        setting.literalPrefixStart() + "coalesce(" + quotedSchema + ".route_customer(?), ''), true)")) {
      ps.setString(1, customerId);
      try (ResultSet rs = ps.executeQuery()) {
        String tenant = rs.next() ? rs.getString(1) : null;
        return tenant == null || tenant.isEmpty() ? Optional.empty() : Optional.of(TenantId.of(tenant));
      }
    }
  }

  /**
   * An SQL expression of one parameter (a Stripe customer id) that binds the tenant the customer is routed to
   * (through {@code <schema>.route_customer}) to the current transaction, as {@link #bindRoutedTenant} does, and
   * whose value is that tenant, or null (and the empty tenant bound) when the customer has no route: for a
   * statement that needs the routing anyway, so the binding costs no round trip of its own.
   *
   * @param quotedSchema the billing schema, quoted
   */
  public String routedTenantExpression(String quotedSchema) {
    return "nullif(" + setting.expressionStart() + "coalesce(" + quotedSchema + ".route_customer(?), ''), true), '')";
  }

  /**
   * Runs {@code work} in one transaction, as {@code tenant} when not null, committing on success and rolling back
   * on any failure, which is rethrown ({@link SQLException} wrapped in a {@link BillingException} saying {@code what}).
   */
  public <T extends @Nullable Object> T inTransaction(@Nullable TenantId tenant, String what, Work<T> work) {
    try (Connection c = dataSource.getConnection()) {
      boolean autoCommit = c.getAutoCommit();
      c.setAutoCommit(false);
      try {
        if (tenant != null) {
          bindTenant(c, tenant);
        }
        T result = work.run(c);
        c.commit();
        return result;
      } catch (SQLException | RuntimeException | Error e) {
        try {
          c.rollback();
        } catch (SQLException suppressed) {
          e.addSuppressed(suppressed);
        }
        throw e;
      } finally {
        restore(c, autoCommit);
      }
    } catch (SQLException e) {
      throw new BillingException(what + " failed: " + e.getMessage(), e);
    }
  }

  /**
   * Ends a transaction block on {@code c}: rolls back whatever is still open (nothing when it committed) and
   * restores the connection's auto-commit mode. Call it from {@code finally}: {@code setAutoCommit(true)} alone
   * commits an open transaction, so a throwable that passed the catch blocks (an {@link Error}, a checked exception
   * thrown sneakily by a listener) would commit a half-done write, an event marked applied included.
   */
  public static void restore(Connection c, boolean autoCommit) throws SQLException {
    try {
      if (!c.getAutoCommit()) {
        c.rollback();
      }
    } finally {
      c.setAutoCommit(autoCommit);
    }
  }
}
