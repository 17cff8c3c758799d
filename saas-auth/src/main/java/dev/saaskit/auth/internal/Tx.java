package dev.saaskit.auth.internal;

import dev.saaskit.core.SaasException;
import dev.saaskit.core.TenantId;
import dev.saaskit.core.TenantSetting;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;

/**
 * One transaction on the caller's DataSource (the application role), with the tenant setting set for it alone
 * ({@code set_config(..., true)}), retried a few times on a serialization failure or deadlock.
 */
public final class Tx {
  private static final int ATTEMPTS = 5;

  /** Work inside the transaction. */
  @FunctionalInterface
  public interface Work<T> {
    /** Runs on {@code c}, which is in a transaction; do not commit. */
    T run(Connection c) throws SQLException;
  }

  private Tx() {}

  /**
   * Runs {@code work} in one transaction with the tenant setting set to {@code tenant} (not set when
   * {@code null}), commits, and returns its result; rolls back on any failure. {@link RuntimeException}s of the
   * work pass through; SQL failures become {@link SaasException}s saying {@code what} failed.
   */
  public static <T> T run(DataSource dataSource, TenantSetting setting, @Nullable TenantId tenant, String what,
      Work<T> work) {
    for (int attempt = 1; ; attempt++) {
      try {
        return once(dataSource, setting, tenant, work);
      } catch (SQLException e) {
        String state = e.getSQLState();
        boolean retry = ("40001".equals(state) || "40P01".equals(state)) && attempt < ATTEMPTS;
        if (!retry) {
          throw new SaasException(what + " failed: " + e.getMessage()
              + ". Check that AuthSchema.migrate ran and that this role has AuthSchema.grantApp.", e);
        }
      }
    }
  }

  /**
   * Runs {@code work} in one transaction with the tenant setting set to {@code tenant} (not set when
   * {@code null}), commits and returns its result; rolls back on any failure and rethrows it as it is, so callers
   * can tell SQL states apart (a unique violation, say). No retry.
   */
  public static <T> T once(DataSource dataSource, TenantSetting setting, @Nullable TenantId tenant, Work<T> work)
      throws SQLException {
    try (Connection c = dataSource.getConnection()) {
      boolean autoCommit = c.getAutoCommit();
      c.setAutoCommit(false);
      try {
        if (tenant != null) {
          setTenant(c, setting, tenant);
        }
        T result = work.run(c);
        c.commit();
        return result;
      } catch (SQLException | RuntimeException e) {
        rollbackQuietly(c, e);
        throw e;
      } finally {
        try {
          c.setAutoCommit(autoCommit);
        } catch (SQLException e) {
          // the pool will find out; the transaction outcome is already decided
        }
      }
    }
  }

  /** Sets the tenant setting for the current transaction of {@code c}. */
  public static void setTenant(Connection c, TenantSetting setting, TenantId tenant) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT set_config(?, ?, true)")) {
      ps.setString(1, setting.name());
      ps.setString(2, tenant.value());
      ps.execute();
    }
  }

  private static void rollbackQuietly(Connection c, Exception cause) {
    try {
      c.rollback();
    } catch (SQLException e) {
      cause.addSuppressed(e);
    }
  }
}
