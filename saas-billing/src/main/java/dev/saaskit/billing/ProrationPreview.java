package dev.saaskit.billing;

import java.time.Instant;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * What a plan change would cost, from Stripe's invoice preview ({@code POST /v1/invoices/create_preview}). Amounts
 * are in the currency's smallest unit (cents).
 *
 * @param amountDue the amount due of the previewed invoice: with {@link ProrationBehavior#ALWAYS_INVOICE} the
 *     invoice made at once for the prorations; otherwise the next invoice (prorations plus the next period)
 * @param currency the ISO currency, lower case
 * @param prorationAmount the sum of the proration lines (negative when the change credits the customer)
 * @param nextPaymentAt when Stripe would try to collect the previewed invoice, if it says
 * @param prorationDate the instant the prorations were computed for (the config clock's now); {@link
 *     BillingOperations#changePlan} sends the same instant when called with the preview
 */
public record ProrationPreview(
    long amountDue, String currency, long prorationAmount, @Nullable Instant nextPaymentAt, Instant prorationDate) {
  /** Checks the required fields. */
  public ProrationPreview {
    Objects.requireNonNull(currency, "currency");
    Objects.requireNonNull(prorationDate, "prorationDate");
  }
}
