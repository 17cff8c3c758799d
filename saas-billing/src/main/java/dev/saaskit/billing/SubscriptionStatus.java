package dev.saaskit.billing;

import java.util.Locale;

/** A Stripe subscription's {@code status}, as mirrored. {@link #UNKNOWN} stands for a value this version does not know. */
public enum SubscriptionStatus {
  /** The first payment has not succeeded yet (at most 23 hours): no access. */
  INCOMPLETE,
  /** The first payment never succeeded: final, no access. */
  INCOMPLETE_EXPIRED,
  /** In a trial: access. */
  TRIALING,
  /** Paid and current: access. */
  ACTIVE,
  /** A renewal payment failed and Stripe is retrying: access during the configured grace period. */
  PAST_DUE,
  /** Canceled and ended: final, no access. */
  CANCELED,
  /** Retries exhausted and Stripe left the subscription open: no access. */
  UNPAID,
  /** A trial ended without a payment method: no access until resumed. */
  PAUSED,
  /** A status this library does not know: no access (fail closed). */
  UNKNOWN;

  /** The status Stripe names {@code value} ({@code "past_due"}...); {@link #UNKNOWN} for anything else. */
  public static SubscriptionStatus fromStripe(String value) {
    try {
      return valueOf(value.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      return UNKNOWN;
    }
  }

  /** Stripe's spelling ({@code "past_due"}). */
  public String stripeValue() {
    return name().toLowerCase(Locale.ROOT);
  }
}
