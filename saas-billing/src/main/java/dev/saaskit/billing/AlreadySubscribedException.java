package dev.saaskit.billing;

/**
 * {@link BillingOperations#createCheckoutSession} refused: the tenant already has a live subscription ({@code
 * active}, {@code trialing} or {@code past_due}), or a checkout of the tenant completed meanwhile, and a second
 * checkout would bill it twice (two browser tabs, a double click, a retried form). Change the live subscription
 * instead ({@link BillingOperations#changePlan}, {@link BillingOperations#setSeats}, {@link
 * BillingOperations#resume}, the customer portal), or allow it on purpose with {@link
 * CheckoutRequest.Builder#allowAdditionalSubscription}. Not retryable; {@link #stripeStatus()} is 0.
 */
public final class AlreadySubscribedException extends BillingException {
  private static final long serialVersionUID = 1L;

  private final String subscriptionId;
  private final SubscriptionStatus subscriptionStatus;

  /** The tenant's live subscription {@code subscriptionId}, in {@code status}. */
  public AlreadySubscribedException(String message, String subscriptionId, SubscriptionStatus status) {
    super(message);
    this.subscriptionId = subscriptionId;
    this.subscriptionStatus = status;
  }

  /** The live subscription ({@code sub_...}). */
  public String subscriptionId() {
    return subscriptionId;
  }

  /** Its status. */
  public SubscriptionStatus subscriptionStatus() {
    return subscriptionStatus;
  }
}
