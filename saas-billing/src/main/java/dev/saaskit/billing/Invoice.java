package dev.saaskit.billing;

import dev.saaskit.core.TenantId;
import java.time.Instant;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A tenant's invoice as the mirror holds it. Amounts are in the currency's smallest unit (cents).
 *
 * @param id Stripe's id ({@code in_...})
 * @param tenant the tenant billed
 * @param customerId the Stripe customer
 * @param subscriptionId the subscription it bills, if any
 * @param status {@code draft}, {@code open}, {@code paid}, {@code void} or {@code uncollectible}
 * @param collectionMethod {@code charge_automatically} or {@code send_invoice}
 * @param currency the ISO currency, lower case
 * @param amountDue the amount due
 * @param amountPaid the amount paid
 * @param amountRemaining what is left to pay
 * @param attemptCount payment attempts so far
 * @param nextPaymentAttempt when Stripe retries next, if it will
 * @param dueDate the due date of {@code send_invoice} invoices
 * @param created when Stripe created it
 * @param hostedInvoiceUrl the page where the customer can pay it, if any
 */
public record Invoice(
    String id,
    TenantId tenant,
    String customerId,
    @Nullable String subscriptionId,
    String status,
    String collectionMethod,
    String currency,
    long amountDue,
    long amountPaid,
    long amountRemaining,
    int attemptCount,
    @Nullable Instant nextPaymentAttempt,
    @Nullable Instant dueDate,
    Instant created,
    @Nullable String hostedInvoiceUrl) {

  /** Checks the required fields. */
  public Invoice {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(tenant, "tenant");
    Objects.requireNonNull(customerId, "customerId");
    Objects.requireNonNull(status, "status");
    Objects.requireNonNull(collectionMethod, "collectionMethod");
    Objects.requireNonNull(currency, "currency");
    Objects.requireNonNull(created, "created");
  }

  /** Open and not paid, and past its due date at {@code now} ({@code false} without a due date). */
  public boolean overdueAt(Instant now) {
    return "open".equals(status) && dueDate != null && now.isAfter(dueDate);
  }
}
