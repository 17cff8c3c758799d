package dev.saaskit.fleet;

import dev.saaskit.core.TenantId;
import java.sql.SQLNonTransientException;

/**
 * A write on a connection of a tenant that is {@code read_only} or being moved. Reads keep working; writes work
 * again once the tenant is active (after a move, on its new database). SQLState {@code 25006}, as PostgreSQL's
 * own read-only error, which is its cause.
 */
public final class TenantReadOnlyException extends SQLNonTransientException {
  private static final long serialVersionUID = 1L;
  private final transient TenantId tenant;
  private final TenantState state;

  /** An exception for a write by {@code tenant} in {@code state}, caused by PostgreSQL's refusal. */
  public TenantReadOnlyException(TenantId tenant, TenantState state, Throwable cause) {
    super(state == TenantState.MOVING
        ? "tenant '" + tenant.value() + "' is being moved to another database: writes are refused until the move "
            + "ends (reads work); retry the write later"
        : "tenant '" + tenant.value() + "' is read_only: writes are refused (reads work)", "25006", cause);
    this.tenant = tenant;
    this.state = state;
  }

  /** The tenant. */
  public TenantId tenant() {
    return tenant;
  }

  /** Its state: {@link TenantState#READ_ONLY} or {@link TenantState#MOVING}. */
  public TenantState state() {
    return state;
  }
}
