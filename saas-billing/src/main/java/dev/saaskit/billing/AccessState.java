package dev.saaskit.billing;

/**
 * Where a tenant stands with its billing, as {@link BillingOperations#status} derives it from the mirror and the
 * configured clock. {@link #grantsAccess()} says whether the state lets the tenant use the product.
 */
public enum AccessState {
  /** No subscription at all: no access (the fallback plan may still apply to entitlements). */
  NONE(false),
  /** In a trial: access. */
  TRIALING(true),
  /** Paid and current: access. */
  ACTIVE(true),
  /** A payment failed; within {@link BillingConfig#pastDueGrace()} of the oldest open invoice: access. */
  PAST_DUE_IN_GRACE(true),
  /** A payment failed and the grace period is over (or Stripe gave up: {@code unpaid}): no access. */
  PAST_DUE_LOCKED(false),
  /**
   * A cancellation is scheduled and not reached yet ({@code cancel_at_period_end} before {@code current_period_end},
   * or a {@code cancel_at} date in the future): access until then (the earlier of the two).
   */
  CANCELING(true),
  /**
   * Canceled (or a scheduled cancellation reached: canceled at period end and the period is over, or {@code
   * cancel_at} passed; or never paid: incomplete_expired): no access.
   */
  ENDED(false),
  /** The first payment has not succeeded yet: no access. */
  INCOMPLETE(false),
  /** Paused by Stripe (a trial ended without a payment method): no access until resumed. */
  PAUSED(false),
  /** On invoice terms ({@code send_invoice}) with an open invoice that is not overdue yet: access. */
  INVOICE_OPEN(true),
  /** On invoice terms with an overdue invoice, within the grace period after its due date: access. */
  INVOICE_OVERDUE_IN_GRACE(true),
  /** On invoice terms with an invoice overdue for longer than the grace period: no access. */
  INVOICE_OVERDUE_LOCKED(false),
  /** A subscription status this version does not know: no access (fail closed). */
  UNKNOWN(false);

  private final boolean access;

  AccessState(boolean access) {
    this.access = access;
  }

  /** Whether a tenant in this state may use the product. */
  public boolean grantsAccess() {
    return access;
  }
}
