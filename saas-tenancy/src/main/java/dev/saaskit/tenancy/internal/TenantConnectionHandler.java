package dev.saaskit.tenancy.internal;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.sql.CallableStatement;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Objects;
import java.util.concurrent.Executor;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;
import org.postgresql.PGConnection;
import org.postgresql.core.BaseConnection;
import org.postgresql.core.TransactionState;
import org.postgresql.jdbc.PgConnection;
import org.postgresql.jdbc.PreferQueryMode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The connection handed out by {@code TenantDataSource}: statements it creates carry the tenant; the rest is
 * passed to the pooled connection as it is.
 *
 * <p>JDBC connections may be shared by threads, and pgjdbc serialises their messages, but a statement that sets the
 * tenant in one round trip and runs in the next (batches, callable statements, generated keys), or that runs in a
 * short transaction of its own, spans several driver calls. Every tenant-bound step, and every change of the
 * transaction (commit, rollback, auto-commit, savepoints, close), therefore holds this connection's lock, so no
 * other thread's statement runs between a tenant being set and the statement it was set for. Not API.
 */
public final class TenantConnectionHandler implements InvocationHandler {
  private static final Logger LOG = LoggerFactory.getLogger("dev.saaskit.tenancy.TenantDataSource");

  private static final Object[] NO_ARGS = {};
  private static final ProxyConstructor<Connection> CONNECTIONS =
      ProxyConstructor.of(TenantConnectionHandler.class.getClassLoader(), Connection.class);

  private final Connection real;
  private final TenantBinding binding;
  private final ReentrantLock lock = new ReentrantLock();
  private @Nullable Connection self;
  private volatile boolean closed;
  private @Nullable Boolean simpleQueryMode;
  private @Nullable BaseConnection driver;
  private boolean driverLookedUp;

  private TenantConnectionHandler(Connection real, TenantBinding binding) {
    this.real = real;
    this.binding = binding;
  }

  public static Connection wrap(Connection real, TenantBinding binding) {
    TenantConnectionHandler handler = new TenantConnectionHandler(real, binding);
    Connection proxy = CONNECTIONS.newInstance(handler);
    handler.self = proxy;
    return proxy;
  }

  Connection real() {
    return real;
  }

  Connection self() {
    return Objects.requireNonNull(self, "wrap(..) sets self before the proxy is handed out");
  }

  TenantBinding binding() {
    return binding;
  }

  /** Runs {@code call} holding this connection's lock (reentrant: a locked step may call another). */
  @Nullable Object locked(SqlCall call) throws Throwable {
    lock.lock();
    try {
      return call.run();
    } finally {
      lock.unlock();
    }
  }

  /**
   * Whether the driver sends queries with the simple protocol ({@code preferQueryMode=simple}): it then sends
   * each part of a multi-statement as a message of its own, each its own transaction in autocommit mode, so the
   * setting and the statement must share an explicit transaction.
   */
  boolean simpleQueryMode() throws SQLException {
    if (simpleQueryMode == null) {
      simpleQueryMode = real.isWrapperFor(PGConnection.class)
          && real.unwrap(PGConnection.class).getPreferQueryMode() == PreferQueryMode.SIMPLE;
    }
    return simpleQueryMode;
  }

  /**
   * Whether the driver forces binary transfer ({@code prepareThreshold=-1}, or {@code setForceBinary(true)} on the
   * driver's connection): it then describes every statement, plain ones included, in a round trip of its own before
   * its first execution, and a described part after the first that returns columns of unbounded size makes it put a
   * Sync between the setting and the statement ({@link dev.saaskit.core.internal.PipelineSplit}), so they must share
   * an explicit transaction. Read on every execution (a field of the driver's connection, no round trip): code
   * holding the driver's connection can switch it at any time.
   */
  boolean forceBinary() throws SQLException {
    return driver() instanceof PgConnection pg && pg.getForceBinary();
  }

  /**
   * Whether a step that needs a transaction must open one of its own: the connection is in autocommit mode and the
   * server is not already in a transaction. App SQL can open one ({@code BEGIN}) without JDBC knowing, and a short
   * transaction of ours would then commit the app's work early; the driver's view of the server's state says.
   */
  boolean needsOwnTransaction() throws SQLException {
    return real.getAutoCommit() && !serverInTransaction();
  }

  /** The server's transaction state as pgjdbc last saw it (no round trip): open or failed means in a transaction. */
  private boolean serverInTransaction() throws SQLException {
    BaseConnection pg = driver();
    if (pg == null) {
      return !real.getAutoCommit();
    }
    return pg.getTransactionState() != TransactionState.IDLE;
  }

  private @Nullable BaseConnection driver() throws SQLException {
    if (!driverLookedUp) {
      driver = real.isWrapperFor(BaseConnection.class) ? real.unwrap(BaseConnection.class) : null;
      driverLookedUp = true;
    }
    return driver;
  }

  @Override
  public @Nullable Object invoke(Object proxy, Method method, Object @Nullable [] rawArgs) throws Throwable {
    // the proxy passes null for methods without parameters
    Object[] args = rawArgs == null ? NO_ARGS : rawArgs;
    String name = method.getName();
    switch (name) {
      case "equals":
        return proxy == args[0];
      case "hashCode":
        return System.identityHashCode(proxy);
      case "toString":
        return "TenantConnection[" + real + "]";
      case "close":
        locked(() -> {
          close();
          return null;
        });
        return null;
      case "abort":
        abort(method, args);
        return null;
      case "isClosed":
        return closed || real.isClosed();
      case "unwrap":
        return ((Class<?>) args[0]).isInstance(proxy) ? proxy : real.unwrap((Class<?>) args[0]);
      case "isWrapperFor":
        return ((Class<?>) args[0]).isInstance(proxy) || real.isWrapperFor((Class<?>) args[0]);
      case "createStatement":
        return TenantStatementHandler.plain(this, (Statement) invokeReal(method, args));
      case "prepareStatement":
        return prepare(method, args);
      case "prepareCall":
        return TenantStatementHandler.separate(this, (CallableStatement) invokeReal(method, args),
            CallableStatement.class);
      case "getMetaData":
        return metaData((DatabaseMetaData) invokeReal(method, args));
      case "commit":
      case "rollback":
      case "setAutoCommit":
      case "setSavepoint":
      case "releaseSavepoint":
        return locked(() -> invokeReal(method, args));
      default:
        return invokeReal(method, args);
    }
  }

  private Object prepare(Method method, Object[] args) throws Throwable {
    // prepareStatement(sql, autoGeneratedKeys | int[] columnIndexes | String[] columnNames): the driver appends
    // RETURNING to a single statement only, so these cannot carry the prefix and bind in a separate round trip.
    boolean generatedKeys = args.length == 2;
    if (generatedKeys) {
      return TenantStatementHandler.separate(this, (PreparedStatement) invokeReal(method, args),
          PreparedStatement.class);
    }
    return TenantStatementHandler.prepared(this, method, args);
  }

  /** The driver's metadata, except that its {@code getConnection()} answers this wrapper, not the raw connection. */
  private DatabaseMetaData metaData(DatabaseMetaData real) {
    return (DatabaseMetaData) Proxy.newProxyInstance(TenantConnectionHandler.class.getClassLoader(),
        new Class<?>[] {DatabaseMetaData.class}, (proxy, method, args) -> {
          if (method.getName().equals("getConnection")) {
            return self;
          }
          try {
            return method.invoke(real, args);
          } catch (InvocationTargetException e) {
            throw e.getCause();
          }
        });
  }

  Object invokeReal(Method method, Object[] args) throws Throwable {
    try {
      return method.invoke(real, args);
    } catch (InvocationTargetException e) {
      throw e.getCause();
    }
  }

  /**
   * JDBC counts an aborted connection as closed, so a later {@code close()} (try-with-resources after a watchdog's
   * abort) must do nothing rather than fail on the dead connection. The pool's connection is closed after the abort,
   * on the caller's executor as JDBC intends, so that the pool drops it even if the application never closes this
   * one; that close takes the lock, which a statement in flight gives up as soon as the abort ends it. Not locked
   * itself: ending a statement that holds the lock is what abort is for.
   */
  private void abort(Method method, Object[] args) throws Throwable {
    if (closed) {
      return;
    }
    invokeReal(method, args); // the driver checks the executor and the permission, and ends a statement in flight
    closed = true;
    ((Executor) args[0]).execute(() -> {
      lock.lock();
      try {
        real.close();
      } catch (SQLException expected) {
        // the physical connection is gone: the pool notices on this close and drops it, which is the point
        LOG.debug("closing the pooled connection of an aborted TenantDataSource connection reported", expected);
      } finally {
        lock.unlock();
      }
    });
  }

  private void close() throws SQLException {
    if (closed) {
      return;
    }
    closed = true;
    try {
      // An open transaction must not reach the next borrower, whatever the pool does on return. Pools look at the
      // JDBC auto-commit flag only; a transaction begun in SQL on an auto-commit connection is visible only in the
      // server's transaction state.
      if (!real.isClosed()) {
        if (!real.getAutoCommit()) {
          real.rollback();
        } else if (serverInTransaction()) {
          LOG.warn("A connection of a TenantDataSource was closed inside a transaction that application SQL opened "
              + "(BEGIN or START TRANSACTION on an auto-commit connection) and did not end; it was rolled back so "
              + "that neither its work nor its tenant reaches the next borrower of the connection. End such "
              + "transactions in SQL, or use setAutoCommit(false) and commit().");
          try (Statement rollback = real.createStatement()) {
            rollback.execute("ROLLBACK");
          }
        }
      }
    } catch (SQLException e) {
      // The transaction may still be open: a pool must not hand this connection out again.
      try {
        real.abort(Runnable::run);
      } catch (SQLException | RuntimeException suppressed) {
        e.addSuppressed(suppressed);
      }
      try {
        real.close();
      } catch (SQLException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
    real.close();
  }
}
