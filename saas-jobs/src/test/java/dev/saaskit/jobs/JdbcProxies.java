package dev.saaskit.jobs;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;

/**
 * Wraps a JDBC object so that a test can act on each call's result after the real call ran: how the lost-answer
 * tests let a statement commit for real and then lose its answer.
 */
final class JdbcProxies {
  private JdbcProxies() {}

  /** What to return instead of a call's result (the real call has already run). */
  interface After {
    Object apply(Method method, Object[] args, Object result) throws Throwable;
  }

  static <T> T proxy(Class<T> type, T target, After after) {
    InvocationHandler h = (p, method, args) -> {
      Object result;
      try {
        result = method.invoke(target, args);
      } catch (InvocationTargetException e) {
        throw e.getCause();
      }
      return after.apply(method, args, result);
    };
    return type.cast(Proxy.newProxyInstance(JdbcProxies.class.getClassLoader(), new Class<?>[] {type}, h));
  }
}
