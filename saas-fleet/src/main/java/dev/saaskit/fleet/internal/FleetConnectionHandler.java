package dev.saaskit.fleet.internal;

import dev.saaskit.core.TenantId;
import dev.saaskit.fleet.TenantReadOnlyException;
import dev.saaskit.fleet.TenantState;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.sql.CallableStatement;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jspecify.annotations.Nullable;

/**
 * The connection the fleet hands out: the tenant connection of saas-tenancy, plus the return of the budget
 * permits exactly once on close, and for a read-only tenant a read-only transaction with a clear error on write.
 * Not API.
 */
public final class FleetConnectionHandler implements InvocationHandler {
  private static final Object[] NO_ARGS = {};

  private final Connection inner;
  private final Runnable release;
  private final @Nullable TenantState readOnlyState;
  private final TenantId tenant;
  private final AtomicBoolean closed = new AtomicBoolean();
  private boolean virtualAutoCommit = true;

  private FleetConnectionHandler(Connection inner, Runnable release, TenantId tenant,
      @Nullable TenantState readOnlyState) {
    this.inner = inner;
    this.release = release;
    this.tenant = tenant;
    this.readOnlyState = readOnlyState;
  }

  /**
   * Wraps {@code inner}. For a read-only tenant ({@code readOnlyState} not null) the caller has put the real
   * connection in a read-only transaction (auto-commit off, read-only on: {@code BEGIN READ ONLY}, which is
   * transaction-scoped and so safe behind PgBouncer); the wrapper keeps it there and reports the auto-commit mode
   * the application asked for.
   */
  public static Connection wrap(Connection inner, Runnable release, TenantId tenant,
      @Nullable TenantState readOnlyState) {
    return (Connection) Proxy.newProxyInstance(FleetConnectionHandler.class.getClassLoader(),
        new Class<?>[] {Connection.class}, new FleetConnectionHandler(inner, release, tenant, readOnlyState));
  }

  @Override
  public @Nullable Object invoke(Object proxy, Method method, Object @Nullable [] rawArgs) throws Throwable {
    Object[] args = rawArgs == null ? NO_ARGS : rawArgs;
    switch (method.getName()) {
      case "equals":
        return proxy == args[0];
      case "hashCode":
        return System.identityHashCode(proxy);
      case "toString":
        return "FleetConnection[" + tenant.value() + (readOnlyState != null ? ", read-only" : "") + "]";
      case "close":
        if (closed.compareAndSet(false, true)) {
          try {
            inner.close();
          } finally {
            release.run();
          }
        }
        return null;
      case "isClosed":
        return closed.get() || inner.isClosed();
      case "unwrap":
        return ((Class<?>) args[0]).isInstance(proxy) ? proxy : inner.unwrap((Class<?>) args[0]);
      case "isWrapperFor":
        return ((Class<?>) args[0]).isInstance(proxy) || inner.isWrapperFor((Class<?>) args[0]);
      default:
        break;
    }
    if (closed.get()) {
      throw new SQLException("connection is closed", "08003");
    }
    if (readOnlyState != null) {
      switch (method.getName()) {
        case "setAutoCommit":
          virtualAutoCommit = (Boolean) args[0];
          return null;
        case "getAutoCommit":
          return virtualAutoCommit;
        case "setReadOnly":
          return null;
        case "createStatement":
        case "prepareStatement":
        case "prepareCall":
          return statement(method.getReturnType(), call(method, args));
        default:
          break;
      }
    }
    return call(method, args);
  }

  private Object call(Method method, Object[] args) throws Throwable {
    try {
      return method.invoke(inner, args);
    } catch (InvocationTargetException e) {
      throw translate(e.getCause());
    }
  }

  private Throwable translate(@Nullable Throwable cause) {
    Throwable failure = cause == null ? new SQLException("unknown failure") : cause;
    if (readOnlyState != null && failure instanceof SQLException sql && "25006".equals(sql.getSQLState())) {
      return new TenantReadOnlyException(tenant, readOnlyState, sql);
    }
    return failure;
  }

  private Object statement(Class<?> type, Object real) {
    Class<?> iface = CallableStatement.class.isAssignableFrom(type) ? CallableStatement.class
        : PreparedStatement.class.isAssignableFrom(type) ? PreparedStatement.class : Statement.class;
    return Proxy.newProxyInstance(FleetConnectionHandler.class.getClassLoader(), new Class<?>[] {iface},
        (proxy, method, args) -> {
          try {
            return method.invoke(real, args);
          } catch (InvocationTargetException e) {
            throw translate(e.getCause());
          }
        });
  }
}
