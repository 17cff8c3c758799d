package dev.saaskit.tenancy.internal;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Proxy;

/**
 * Makes proxies of one JDBC interface without {@link Proxy#newProxyInstance}'s per-call work (looking the proxy
 * class up in its cache and checking reflective access to its constructor): a wrapper is made for every connection
 * checkout and every statement, so that work showed as several percent of a point select's client CPU. Not API.
 *
 * @param <T> the interface
 */
final class ProxyConstructor<T> {
  private final Class<T> type;
  private final MethodHandle constructor;

  private ProxyConstructor(Class<T> type, MethodHandle constructor) {
    this.type = type;
    this.constructor = constructor;
  }

  /**
   * The constructor of the proxy class for the public interface {@code type}, defined by {@code loader} exactly as
   * {@link Proxy#newProxyInstance} would define it.
   */
  static <T> ProxyConstructor<T> of(ClassLoader loader, Class<T> type) {
    Class<?> proxyClass = Proxy.newProxyInstance(loader, new Class<?>[] {type}, (proxy, method, args) -> null)
        .getClass();
    try {
      // a proxy of public interfaces is a public class in an exported package: its public constructor is public
      MethodHandle handle = MethodHandles.publicLookup()
          .findConstructor(proxyClass, MethodType.methodType(void.class, InvocationHandler.class))
          .asType(MethodType.methodType(Object.class, InvocationHandler.class));
      return new ProxyConstructor<>(type, handle);
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("no public constructor on the proxy class of " + type.getName(), e);
    }
  }

  /** A new proxy of the interface whose calls go to {@code handler}. */
  T newInstance(InvocationHandler handler) {
    try {
      return type.cast(constructor.invokeExact(handler));
    } catch (RuntimeException | Error e) {
      throw e;
    } catch (Throwable e) {
      throw new IllegalStateException("the proxy constructor of " + type.getName() + " failed", e);
    }
  }
}
