package dev.saaskit.billing;

import dev.saaskit.core.TenantId;
import java.sql.Connection;
import java.sql.SQLException;

/**
 * Told when a tenant's billing state in the mirror changed, so that every node forgets what it cached about the
 * tenant ({@link Entitlements}). The usual implementation publishes on a bus that reaches every node (saas-cache's
 * {@code PostgresInvalidationBus}, see docs/billing.md); {@link Billing} always invalidates its own node.
 *
 * <p>{@link #inTransaction} runs inside the change's transaction, on its connection, just before {@code COMMIT}:
 * publish there and the invalidation commits with the change or not at all. {@link #billingChanged} runs after the
 * commit; an exception there is logged and does not undo the change.
 */
@FunctionalInterface
public interface BillingChangeListener {
  /** Does nothing. */
  BillingChangeListener NONE = tenant -> { };

  /** The billing state of {@code tenant} changed and is committed. */
  void billingChanged(TenantId tenant);

  /**
   * The billing state of {@code tenant} is changing in the transaction of {@code connection} (default: nothing). Do
   * not commit, roll back or close it.
   *
   * @throws SQLException to fail the change (it is rolled back and retried later)
   */
  default void inTransaction(Connection connection, TenantId tenant) throws SQLException {}
}
