package dev.saaskit.cache;

import dev.saaskit.core.SaasException;

/**
 * A loader passed to {@link SaasCache#get(Object, dev.saaskit.core.CheckedFunction)} (or {@code getWith}) threw.
 * Nothing was cached: the next get of the key calls a loader again. {@link #getCause()} is exactly the loader's own
 * exception, checked (an {@link java.sql.SQLException}, say) or unchecked; every caller that waited for the same
 * load receives an exception with that same cause.
 *
 * <pre>{@code
 * try {
 *   plans.get("current", key -> planRepository.load());
 * } catch (CacheLoadException e) {
 *   if (e.getCause() instanceof SQLException sql) { ... }
 * }
 * }</pre>
 */
public class CacheLoadException extends SaasException {
  private static final long serialVersionUID = 1L;

  /** An exception for a failed load of an entry of cache {@code cacheName}. */
  public CacheLoadException(String cacheName, Throwable cause) {
    super("loading an entry of cache '" + cacheName + "' failed (" + cause + "); nothing was cached and the next"
        + " get loads again: see the cause", cause);
  }
}
