package dev.saaskit.auth;

import dev.saaskit.core.CheckedRunnable;
import dev.saaskit.core.CheckedSupplier;
import dev.saaskit.core.TenantContext;
import java.util.Objects;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * The principal the current thread works for, and with it the tenant: one call at the edge of a request turns a
 * verified principal into the request's {@link TenantContext}, so SQL through saas-tenancy's
 * {@code TenantDataSource} (row-level security), cache keys and enqueued jobs all follow the credential's tenant.
 *
 * <pre>{@code
 * Principal principal = verifier.verify(token);
 * AuthContext.run(principal, () -> handler.handle(request));   // TenantContext = principal's tenant
 * }</pre>
 *
 * <p>Scopes nest and are restored when they end, also when the body throws; threads do not inherit them.
 */
public final class AuthContext {
  private static final ThreadLocal<@Nullable Principal> CURRENT = new ThreadLocal<>();

  private AuthContext() {}

  /**
   * Runs {@code body} with {@code principal} as the current principal and its tenant as the current tenant.
   *
   * @throws AccessDeniedException (reason {@code NO_TENANT}) if the principal acts for no tenant
   */
  public static <E extends Exception> void run(Principal principal, CheckedRunnable<E> body) throws E {
    Objects.requireNonNull(principal, "principal");
    Objects.requireNonNull(body, "body");
    TenantContext.run(principal.requireTenant(), () -> {
      Principal previous = CURRENT.get();
      CURRENT.set(principal);
      try {
        body.run();
      } finally {
        restore(previous);
      }
    });
  }

  /**
   * Calls {@code body} with {@code principal} as the current principal and its tenant as the current tenant.
   *
   * @throws AccessDeniedException (reason {@code NO_TENANT}) if the principal acts for no tenant
   */
  public static <T extends @Nullable Object, E extends Exception> T call(Principal principal,
      CheckedSupplier<T, E> body) throws E {
    Objects.requireNonNull(principal, "principal");
    Objects.requireNonNull(body, "body");
    return TenantContext.call(principal.requireTenant(), () -> {
      Principal previous = CURRENT.get();
      CURRENT.set(principal);
      try {
        return body.get();
      } finally {
        restore(previous);
      }
    });
  }

  private static void restore(@Nullable Principal previous) {
    if (previous == null) {
      CURRENT.remove();
    } else {
      CURRENT.set(previous);
    }
  }

  /** The current principal, or empty outside any scope. */
  public static Optional<Principal> current() {
    return Optional.ofNullable(CURRENT.get());
  }

  /**
   * The current principal.
   *
   * @throws IllegalStateException outside any scope
   */
  public static Principal require() {
    Principal p = CURRENT.get();
    if (p == null) {
      throw new IllegalStateException("no principal: call this inside AuthContext.run(principal, ...)");
    }
    return p;
  }
}
