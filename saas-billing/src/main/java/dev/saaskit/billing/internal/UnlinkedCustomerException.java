package dev.saaskit.billing.internal;

import dev.saaskit.billing.BillingException;

/**
 * An event names a Stripe customer that no tenant owns (no route, no {@code metadata.tenant_id}, or Stripe has no
 * such customer): the event cannot be applied now but may be once the customer is linked, so the inbox parks it
 * instead of failing it (a failing endpoint is eventually disabled by Stripe, stopping every billing update).
 */
public final class UnlinkedCustomerException extends BillingException {
  private static final long serialVersionUID = 1L;

  private final String customer;

  /** {@code customer} is linked to no tenant; {@code message} says so. */
  public UnlinkedCustomerException(String customer, String message) {
    super(message);
    this.customer = customer;
  }

  /** The Stripe customer id the event waits for. */
  public String customer() {
    return customer;
  }
}
