package dev.saaskit.fleet;

import dev.saaskit.core.TenantId;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * No connection for this tenant: it is suspended, deleted, or not in the directory. Map it to a clear response
 * (for example HTTP 403 or 404), never to a retry.
 */
public final class TenantUnavailableException extends FleetException {
  private static final long serialVersionUID = 1L;
  private final TenantId tenant;
  private final @Nullable TenantState state;

  /** An exception for {@code tenant} in {@code state} (null: not in the directory). */
  public TenantUnavailableException(TenantId tenant, @Nullable TenantState state) {
    super(message(tenant, state));
    this.tenant = tenant;
    this.state = state;
  }

  private static String message(TenantId tenant, @Nullable TenantState state) {
    if (state == null) {
      return "tenant '" + tenant.value() + "' is not in the tenant directory: register or onboard it first";
    }
    return "tenant '" + tenant.value() + "' is " + state.sqlName() + ": it gets no database connection until an "
        + "operator makes it active again";
  }

  /** The tenant. */
  public TenantId tenant() {
    return tenant;
  }

  /** Its state, empty when the directory does not know the tenant. */
  public Optional<TenantState> state() {
    return Optional.ofNullable(state);
  }
}
