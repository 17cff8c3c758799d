package dev.saaskit.billing;

import java.util.Locale;

/** How Stripe bills a mid-period change of price or quantity (Stripe's {@code proration_behavior}). */
public enum ProrationBehavior {
  /** Prorate, and add the prorations to the next invoice (Stripe's default). */
  CREATE_PRORATIONS,
  /** Prorate and invoice the prorations at once. */
  ALWAYS_INVOICE,
  /** No proration: the new price applies from the next period. */
  NONE;

  /** Stripe's spelling ({@code create_prorations}...). */
  public String stripeValue() {
    return name().toLowerCase(Locale.ROOT);
  }
}
