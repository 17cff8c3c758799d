package dev.saaskit.fleet.internal;

import dev.saaskit.core.TenantId;
import dev.saaskit.fleet.TenantReadOnlyException;
import dev.saaskit.fleet.TenantState;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.sql.CallableStatement;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The connection the fleet hands out: the tenant connection of saas-tenancy, plus the return of the budget
 * permits exactly once on close, and for a read-only tenant a read-only transaction with a clear error on write.
 * Not API.
 */
public final class FleetConnection extends DelegatingConnection {
  private static final Logger LOG = LoggerFactory.getLogger(FleetConnection.class);
  /**
   * A statement that sets transaction modes and asks for writes ({@code SET TRANSACTION READ WRITE},
   * {@code START TRANSACTION ... READ WRITE}, {@code BEGIN READ WRITE}). The tenancy wrapper sends such a text without
   * the tenant setting (PostgreSQL refuses transaction modes after any query), so it is the first statement of the
   * read-only transaction, where PostgreSQL still lets it turn the transaction read-write. Broader than the wrapper's
   * own test on purpose: a false match on a read-only tenant only refuses a text that asked for writes.
   */
  private static final Pattern READ_WRITE_MODE = Pattern.compile(
      "\\s*(?:begin|start\\s+transaction|set\\s+transaction)\\b.*\\bwrite\\b.*",
      Pattern.CASE_INSENSITIVE | Pattern.DOTALL);

  private final Connection inner;
  private final Runnable release;
  private final @Nullable TenantState readOnlyState;
  private final TenantId tenant;
  private final AtomicBoolean closed = new AtomicBoolean();
  private volatile boolean virtualAutoCommit = true;

  private FleetConnection(Connection inner, Runnable release, TenantId tenant, @Nullable TenantState readOnlyState) {
    this.inner = inner;
    this.release = release;
    this.tenant = tenant;
    this.readOnlyState = readOnlyState;
  }

  /**
   * Wraps {@code inner}; {@code release} runs once, after the first close. For a read-only tenant
   * ({@code readOnlyState} not null) the caller has put the real connection in a read-only transaction (auto-commit
   * off, read-only on: {@code BEGIN READ ONLY}, which is transaction-scoped and so safe behind PgBouncer); the
   * wrapper keeps it there and reports the auto-commit mode the application asked for.
   */
  public static Connection wrap(Connection inner, Runnable release, TenantId tenant,
      @Nullable TenantState readOnlyState) {
    return new FleetConnection(inner, release, tenant, readOnlyState);
  }

  @Override
  protected Connection target() throws SQLException {
    if (closed.get()) {
      throw new SQLException("connection is closed", "08003");
    }
    return inner;
  }

  @Override
  public void close() throws SQLException {
    if (closed.compareAndSet(false, true)) {
      try {
        inner.close();
      } finally {
        release.run();
      }
    }
  }

  /**
   * Aborts the physical connection and then ends this one as {@link #close()} does, giving the permits back once:
   * JDBC counts an aborted connection as closed, and a watchdog that aborts a hung request's connection does not
   * close it afterwards, so permits kept until a {@code close()} would be lost to the tenant and the budget for good.
   * Closing the pool's connection after the abort makes the pool drop the dead physical connection instead of
   * handing it out again. Aborting a closed connection does nothing, as JDBC says.
   */
  @Override
  public void abort(Executor executor) throws SQLException {
    if (executor == null) {
      throw new SQLException("abort needs an executor", "22004");
    }
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    try {
      inner.abort(executor);
    } finally {
      try {
        inner.close();
      } catch (SQLException expected) {
        // the physical connection is gone: the pool notices on this close and evicts it, which is the point
        LOG.debug("closing an aborted fleet connection reported", expected);
      } finally {
        release.run();
      }
    }
  }

  @Override
  public boolean isClosed() throws SQLException {
    return closed.get() || inner.isClosed();
  }

  @Override
  public <T> T unwrap(Class<T> iface) throws SQLException {
    return iface.isInstance(this) ? iface.cast(this) : inner.unwrap(iface);
  }

  @Override
  public boolean isWrapperFor(Class<?> iface) throws SQLException {
    return iface.isInstance(this) || inner.isWrapperFor(iface);
  }

  @Override
  public void setAutoCommit(boolean autoCommit) throws SQLException {
    if (readOnlyState == null) {
      super.setAutoCommit(autoCommit);
    } else {
      target();
      virtualAutoCommit = autoCommit;
    }
  }

  @Override
  public boolean getAutoCommit() throws SQLException {
    if (readOnlyState == null) {
      return super.getAutoCommit();
    }
    target();
    return virtualAutoCommit;
  }

  @Override
  public void setReadOnly(boolean readOnly) throws SQLException {
    if (readOnlyState == null) {
      super.setReadOnly(readOnly);
    } else {
      target();
    }
  }

  @Override
  public void commit() throws SQLException {
    try {
      super.commit();
    } catch (SQLException e) {
      throw translate(e);
    }
  }

  @Override
  public Statement createStatement() throws SQLException {
    return readOnly(super.createStatement(), Statement.class);
  }

  @Override
  public Statement createStatement(int resultSetType, int resultSetConcurrency) throws SQLException {
    return readOnly(super.createStatement(resultSetType, resultSetConcurrency), Statement.class);
  }

  @Override
  public Statement createStatement(int resultSetType, int resultSetConcurrency, int resultSetHoldability)
      throws SQLException {
    return readOnly(super.createStatement(resultSetType, resultSetConcurrency, resultSetHoldability),
        Statement.class);
  }

  @Override
  public PreparedStatement prepareStatement(String sql) throws SQLException {
    refuseReadWriteMode(sql);
    return readOnly(super.prepareStatement(sql), PreparedStatement.class);
  }

  @Override
  public PreparedStatement prepareStatement(String sql, int resultSetType, int resultSetConcurrency)
      throws SQLException {
    refuseReadWriteMode(sql);
    return readOnly(super.prepareStatement(sql, resultSetType, resultSetConcurrency), PreparedStatement.class);
  }

  @Override
  public PreparedStatement prepareStatement(String sql, int resultSetType, int resultSetConcurrency,
      int resultSetHoldability) throws SQLException {
    refuseReadWriteMode(sql);
    return readOnly(super.prepareStatement(sql, resultSetType, resultSetConcurrency, resultSetHoldability),
        PreparedStatement.class);
  }

  @Override
  public PreparedStatement prepareStatement(String sql, int autoGeneratedKeys) throws SQLException {
    refuseReadWriteMode(sql);
    return readOnly(super.prepareStatement(sql, autoGeneratedKeys), PreparedStatement.class);
  }

  @Override
  public PreparedStatement prepareStatement(String sql, int[] columnIndexes) throws SQLException {
    refuseReadWriteMode(sql);
    return readOnly(super.prepareStatement(sql, columnIndexes), PreparedStatement.class);
  }

  @Override
  public PreparedStatement prepareStatement(String sql, String[] columnNames) throws SQLException {
    refuseReadWriteMode(sql);
    return readOnly(super.prepareStatement(sql, columnNames), PreparedStatement.class);
  }

  @Override
  public CallableStatement prepareCall(String sql) throws SQLException {
    refuseReadWriteMode(sql);
    return readOnly(super.prepareCall(sql), CallableStatement.class);
  }

  @Override
  public CallableStatement prepareCall(String sql, int resultSetType, int resultSetConcurrency)
      throws SQLException {
    refuseReadWriteMode(sql);
    return readOnly(super.prepareCall(sql, resultSetType, resultSetConcurrency), CallableStatement.class);
  }

  @Override
  public CallableStatement prepareCall(String sql, int resultSetType, int resultSetConcurrency,
      int resultSetHoldability) throws SQLException {
    refuseReadWriteMode(sql);
    return readOnly(super.prepareCall(sql, resultSetType, resultSetConcurrency, resultSetHoldability),
        CallableStatement.class);
  }

  @Override
  public String toString() {
    return "FleetConnection[" + tenant.value() + (readOnlyState != null ? ", read-only" : "") + "]";
  }

  /**
   * Refuses, on a read-only tenant's connection, SQL text that would turn its read-only transaction read-write
   * ({@link #READ_WRITE_MODE}): writes during a move would land on the source after its copy and be lost.
   */
  private void refuseReadWriteMode(String sql) throws SQLException {
    TenantState state = readOnlyState;
    if (state != null && READ_WRITE_MODE.matcher(sql).matches()) {
      throw new TenantReadOnlyException(tenant, state, new SQLException("a read-write transaction mode ("
          + sql.strip() + ") was refused on a connection of a tenant that is " + state.sqlName(), "25006"));
    }
  }

  private SQLException translate(SQLException failure) {
    if (readOnlyState != null && "25006".equals(failure.getSQLState())) {
      return new TenantReadOnlyException(tenant, readOnlyState, failure);
    }
    return failure;
  }

  /**
   * For a read-only tenant, the statement with the server's "read-only transaction" error turned into a
   * {@link TenantReadOnlyException}; otherwise the statement itself. A proxy is fine here: read-only is the rare
   * state of a tenant being moved or frozen, not the hot path.
   */
  private <S extends Statement> S readOnly(S real, Class<S> type) {
    if (readOnlyState == null) {
      return real;
    }
    return type.cast(Proxy.newProxyInstance(FleetConnection.class.getClassLoader(), new Class<?>[] {type},
        (proxy, method, args) -> {
          String name = method.getName();
          if (args != null && args.length >= 1 && args[0] instanceof String sql
              && (name.startsWith("execute") || name.equals("addBatch"))) {
            refuseReadWriteMode(sql);
          }
          try {
            return method.invoke(real, args);
          } catch (InvocationTargetException e) {
            Throwable cause = e.getCause();
            if (cause instanceof SQLException sql) {
              if (name.startsWith("execute")) {
                endFailedTransaction(sql);
              }
              throw translate(sql);
            }
            throw cause;
          }
        }));
  }

  /**
   * After a statement failed in the auto-commit mode the application sees: the read-only transaction behind it is
   * aborted, and since the application believes each statement ends its own transaction it will not roll back, so
   * every later statement on the connection would fail ("current transaction is aborted"). Rolled back here, the
   * next statement starts a new read-only transaction, as it would in real auto-commit mode.
   */
  private void endFailedTransaction(SQLException failure) {
    if (!virtualAutoCommit) {
      return;
    }
    try {
      inner.rollback();
    } catch (SQLException e) {
      failure.addSuppressed(e);
    }
  }
}
