package dev.saaskit.cache;

import dev.saaskit.core.SaasException;

/**
 * A loader passed to {@link SaasCache#get(Object, java.util.function.Function)} failed. Nothing was cached: the next
 * get of the key calls a loader again. {@link #getCause()} is the loader's own exception; every caller that waited
 * for the same load receives an exception with that same cause.
 */
public class CacheLoadException extends SaasException {
  private static final long serialVersionUID = 1L;

  /** An exception for a failed load of an entry of cache {@code cacheName}. */
  public CacheLoadException(String cacheName, Throwable cause) {
    super("loading an entry of cache '" + cacheName + "' failed (" + cause + "); nothing was cached and the next"
        + " get loads again: see the cause", cause);
  }
}
