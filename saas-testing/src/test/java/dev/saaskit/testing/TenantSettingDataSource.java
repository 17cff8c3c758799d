package dev.saaskit.testing;

import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.util.logging.Logger;
import javax.sql.DataSource;

/**
 * Test-only tenant-aware DataSource: on every borrowed connection, sets {@code app.tenant_id} for the session to
 * the current tenant, or to '' when there is none. Just enough to exercise {@link IsolationAssertions}; the real
 * one lives in saas-tenancy.
 */
final class TenantSettingDataSource implements DataSource {
  private final DataSource delegate;

  TenantSettingDataSource(DataSource delegate) {
    this.delegate = delegate;
  }

  @Override
  public Connection getConnection() throws SQLException {
    Connection c = delegate.getConnection();
    try (PreparedStatement ps = c.prepareStatement("select set_config('app.tenant_id', ?, false)")) {
      ps.setString(1, TenantContext.current().map(TenantId::value).orElse(""));
      ps.execute();
    } catch (SQLException | RuntimeException e) {
      c.close();
      throw e;
    }
    return c;
  }

  @Override
  public Connection getConnection(String username, String password) throws SQLException {
    throw new SQLFeatureNotSupportedException();
  }

  @Override
  public PrintWriter getLogWriter() throws SQLException {
    return delegate.getLogWriter();
  }

  @Override
  public void setLogWriter(PrintWriter out) throws SQLException {
    delegate.setLogWriter(out);
  }

  @Override
  public void setLoginTimeout(int seconds) throws SQLException {
    delegate.setLoginTimeout(seconds);
  }

  @Override
  public int getLoginTimeout() throws SQLException {
    return delegate.getLoginTimeout();
  }

  @Override
  public Logger getParentLogger() throws SQLFeatureNotSupportedException {
    return delegate.getParentLogger();
  }

  @Override
  public <T> T unwrap(Class<T> iface) throws SQLException {
    return delegate.unwrap(iface);
  }

  @Override
  public boolean isWrapperFor(Class<?> iface) throws SQLException {
    return delegate.isWrapperFor(iface);
  }
}
