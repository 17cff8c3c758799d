package dev.saaskit.jobs;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Predicate;
import javax.sql.DataSource;

/**
 * A DataSource that passes everything to another and records the SQL text of every statement prepared on its
 * connections, so a test can tell which of the worker's statements ran.
 */
final class RecordingDataSource {
  private final List<String> prepared = new CopyOnWriteArrayList<>();
  private final DataSource dataSource;

  RecordingDataSource(DataSource target) {
    this.dataSource = (DataSource) Proxy.newProxyInstance(getClass().getClassLoader(),
        new Class<?>[] {DataSource.class}, (proxy, method, args) -> {
          Object result = invoke(target, method, args);
          if (result instanceof Connection c) {
            return Proxy.newProxyInstance(getClass().getClassLoader(), new Class<?>[] {Connection.class},
                recording(c));
          }
          return result;
        });
  }

  DataSource dataSource() {
    return dataSource;
  }

  /** How many statements prepared so far match {@code which}. */
  long count(Predicate<String> which) {
    return prepared.stream().filter(which).count();
  }

  private InvocationHandler recording(Connection c) {
    return (proxy, method, args) -> {
      if (method.getName().equals("prepareStatement") && args != null && args[0] instanceof String sql) {
        prepared.add(sql);
      }
      return invoke(c, method, args);
    };
  }

  private static Object invoke(Object target, Method method, Object[] args) throws Throwable {
    try {
      return method.invoke(target, args);
    } catch (InvocationTargetException e) {
      throw e.getCause();
    }
  }
}
