package dev.saaskit.fleet.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.core.TenantId;
import dev.saaskit.fleet.TenantReadOnlyException;
import dev.saaskit.fleet.TenantState;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The hand-written wrappers that replaced the fleet's reflection proxies: every {@link Connection} method reaches
 * the wrapped connection with its arguments, and the fleet's own rules (permits back once, closed means closed,
 * read-only tenants) hold. The wrapped connection is a recording stand-in: what is checked is the forwarding.
 */
class DelegatingConnectionTest {
  private final List<String> calls = new ArrayList<>();

  private Connection recorder() {
    return (Connection) Proxy.newProxyInstance(getClass().getClassLoader(), new Class<?>[] {Connection.class},
        (proxy, method, args) -> {
          if (method.getDeclaringClass() == Object.class) {
            return method.getName().equals("equals") ? proxy == args[0]
                : method.getName().equals("hashCode") ? System.identityHashCode(proxy) : "recorder";
          }
          calls.add(signature(method) + (args == null ? "" : " " + java.util.Arrays.deepToString(args)));
          return defaultValue(method.getReturnType());
        });
  }

  @Test
  void everyConnectionMethodReachesTheWrappedConnectionWithItsArguments() throws Exception {
    ConnectionBudget budget = new ConnectionBudget(1);
    assertThat(budget.tryOpen()).isTrue();
    Connection wrapper = new BudgetedConnection(recorder(), budget);
    int checked = 0;
    for (Method method : Connection.class.getMethods()) {
      if (method.isDefault() || Modifier.isStatic(method.getModifiers()) || method.getName().equals("unwrap")
          || method.getName().equals("isWrapperFor")) {
        continue;
      }
      calls.clear();
      Object[] args = sampleArguments(method);
      method.invoke(wrapper, args);
      assertThat(calls).as(signature(method))
          .containsExactly(signature(method) + (args.length == 0 ? "" : " " + java.util.Arrays.deepToString(args)));
      checked++;
    }
    assertThat(checked).isGreaterThan(50);
  }

  @Test
  void aBudgetedConnectionGivesItsPermitBackOnceWhetherClosedOrAborted() throws SQLException {
    ConnectionBudget budget = new ConnectionBudget(1);
    assertThat(budget.tryOpen()).isTrue();
    Connection wrapper = new BudgetedConnection(recorder(), budget);
    wrapper.abort(Runnable::run);
    wrapper.close();
    wrapper.close();
    assertThat(budget.tryOpen()).isTrue();
    assertThat(budget.tryOpen()).as("only one permit came back").isFalse();
  }

  @Test
  void aFleetConnectionReleasesOnceAndRefusesUseAfterClose() throws SQLException {
    AtomicInteger released = new AtomicInteger();
    Connection connection = FleetConnection.wrap(recorder(), released::incrementAndGet, TenantId.of("acme"), null);
    connection.prepareStatement("SELECT 1");
    connection.close();
    connection.close();
    assertThat(released).hasValue(1);
    assertThat(connection.isClosed()).isTrue();
    assertThatThrownBy(() -> connection.prepareStatement("SELECT 1")).isInstanceOf(SQLException.class)
        .extracting(e -> ((SQLException) e).getSQLState()).isEqualTo("08003");
    assertThat(connection.unwrap(FleetConnection.class)).isSameAs(connection);
    assertThat(connection.isWrapperFor(Connection.class)).isTrue();
  }

  @Test
  void aReadOnlyTenantKeepsItsTransactionAndGetsTheTenantErrorOnWrite() throws SQLException {
    Connection failing = (Connection) Proxy.newProxyInstance(getClass().getClassLoader(),
        new Class<?>[] {Connection.class}, (proxy, method, args) -> {
          if (method.getName().equals("prepareStatement")) {
            return Proxy.newProxyInstance(getClass().getClassLoader(), new Class<?>[] {PreparedStatement.class},
                (p, m, a) -> {
                  if (m.getName().equals("executeUpdate")) {
                    throw new SQLException("cannot execute INSERT in a read-only transaction", "25006");
                  }
                  return defaultValue(m.getReturnType());
                });
          }
          calls.add(method.getName());
          return defaultValue(method.getReturnType());
        });
    Connection connection = FleetConnection.wrap(failing, () -> { }, TenantId.of("acme"), TenantState.MOVING);
    connection.setAutoCommit(true);
    connection.setReadOnly(false);
    assertThat(connection.getAutoCommit()).isTrue();
    assertThat(calls).as("the real connection stays in its read-only transaction").isEmpty();
    PreparedStatement insert = connection.prepareStatement("INSERT INTO t VALUES (1)");
    assertThatThrownBy(insert::executeUpdate).isInstanceOf(TenantReadOnlyException.class);
  }

  private static String signature(Method method) {
    StringBuilder s = new StringBuilder(method.getName()).append('(');
    for (Class<?> type : method.getParameterTypes()) {
      s.append(type.getSimpleName()).append(',');
    }
    return s.append(')').toString();
  }

  private static Object[] sampleArguments(Method method) {
    Class<?>[] types = method.getParameterTypes();
    Object[] args = new Object[types.length];
    for (int i = 0; i < types.length; i++) {
      Class<?> type = types[i];
      args[i] = type == int.class ? 7 + i : type == boolean.class ? (Object) true : type == String.class ? "s" + i
          : type == int[].class ? new int[] {i} : type == String[].class ? new String[] {"c" + i}
          : type == Object[].class ? new Object[] {"o" + i} : null;
    }
    return args;
  }

  private static Object defaultValue(Class<?> type) {
    if (type == boolean.class) {
      return false;
    }
    if (type == int.class) {
      return 0;
    }
    return null;
  }
}
