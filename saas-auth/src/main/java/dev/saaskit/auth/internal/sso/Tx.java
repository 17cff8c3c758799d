package dev.saaskit.auth.internal.sso;

import dev.saaskit.core.SaasException;
import dev.saaskit.core.TenantId;
import dev.saaskit.core.TenantSetting;
import java.sql.Connection;
import java.sql.SQLException;
import javax.sql.DataSource;

/** Runs work in one transaction of the application role, with the tenant setting set for it. Not API. */
public final class Tx {
  /** Work on a connection. */
  @FunctionalInterface
  public interface Work<T> {
    /** Does the work. */
    T run(Connection c) throws SQLException;
  }

  private final DataSource dataSource;
  private final TenantSetting setting;

  /** Transactions on {@code dataSource}, tenant in {@code setting}. */
  public Tx(DataSource dataSource, TenantSetting setting) {
    this.dataSource = dataSource;
    this.setting = setting;
  }

  /**
   * Runs {@code work} in a transaction for {@code tenant} (null: no tenant set), committing on success.
   *
   * @throws SQLException from the work or the connection (rolled back)
   */
  public <T> T inTenant(TenantId tenant, Work<T> work) throws SQLException {
    return dev.saaskit.auth.internal.Tx.once(dataSource, setting, tenant, work::run);
  }

  /** Runs {@code work} in a transaction without a tenant (autocommit off, committed on success). */
  public <T> T noTenant(Work<T> work) throws SQLException {
    return dev.saaskit.auth.internal.Tx.once(dataSource, setting, null, work::run);
  }

  /** A SaasException for a failed database call, without parameters in the message. */
  public static SaasException failure(String what, SQLException e) {
    return new SaasException(what + " failed: " + e.getMessage(), e);
  }
}
