package dev.saaskit.billing;

import dev.saaskit.core.TenantId;
import java.time.Instant;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A tenant's invoice as the mirror holds it. Amounts are in the currency's smallest unit (cents).
 *
 * <p>A final class rather than a record, so that a field can be added without breaking callers (docs/architecture.md).
 */
public final class Invoice {
  private final String id;
  private final TenantId tenant;
  private final String customerId;
  private final @Nullable String subscriptionId;
  private final String status;
  private final String collectionMethod;
  private final String currency;
  private final long amountDue;
  private final long amountPaid;
  private final long amountRemaining;
  private final int attemptCount;
  private final @Nullable Instant nextPaymentAttempt;
  private final @Nullable Instant dueDate;
  private final Instant created;
  private final @Nullable String hostedInvoiceUrl;

  private Invoice(String id, TenantId tenant, String customerId, @Nullable String subscriptionId, String status,
      String collectionMethod, String currency, long amountDue, long amountPaid, long amountRemaining,
      int attemptCount, @Nullable Instant nextPaymentAttempt, @Nullable Instant dueDate, Instant created,
      @Nullable String hostedInvoiceUrl) {
    this.id = Objects.requireNonNull(id, "id");
    this.tenant = Objects.requireNonNull(tenant, "tenant");
    this.customerId = Objects.requireNonNull(customerId, "customerId");
    this.subscriptionId = subscriptionId;
    this.status = Objects.requireNonNull(status, "status");
    this.collectionMethod = Objects.requireNonNull(collectionMethod, "collectionMethod");
    this.currency = Objects.requireNonNull(currency, "currency");
    this.amountDue = amountDue;
    this.amountPaid = amountPaid;
    this.amountRemaining = amountRemaining;
    this.attemptCount = attemptCount;
    this.nextPaymentAttempt = nextPaymentAttempt;
    this.dueDate = dueDate;
    this.created = Objects.requireNonNull(created, "created");
    this.hostedInvoiceUrl = hostedInvoiceUrl;
  }

  /**
   * An invoice as the mirror holds it (the mirror makes these; tests may too).
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
  public static Invoice of(String id, TenantId tenant, String customerId, @Nullable String subscriptionId,
      String status, String collectionMethod, String currency, long amountDue, long amountPaid, long amountRemaining,
      int attemptCount, @Nullable Instant nextPaymentAttempt, @Nullable Instant dueDate, Instant created,
      @Nullable String hostedInvoiceUrl) {
    return new Invoice(id, tenant, customerId, subscriptionId, status, collectionMethod, currency, amountDue,
        amountPaid, amountRemaining, attemptCount, nextPaymentAttempt, dueDate, created, hostedInvoiceUrl);
  }

  /** Stripe's id ({@code in_...}). */
  public String id() {
    return id;
  }

  /** The tenant billed. */
  public TenantId tenant() {
    return tenant;
  }

  /** The Stripe customer. */
  public String customerId() {
    return customerId;
  }

  /** The subscription it bills, if any. */
  public @Nullable String subscriptionId() {
    return subscriptionId;
  }

  /** {@code draft}, {@code open}, {@code paid}, {@code void} or {@code uncollectible}. */
  public String status() {
    return status;
  }

  /** {@code charge_automatically} or {@code send_invoice}. */
  public String collectionMethod() {
    return collectionMethod;
  }

  /** The ISO currency, lower case. */
  public String currency() {
    return currency;
  }

  /** The amount due. */
  public long amountDue() {
    return amountDue;
  }

  /** The amount paid. */
  public long amountPaid() {
    return amountPaid;
  }

  /** What is left to pay. */
  public long amountRemaining() {
    return amountRemaining;
  }

  /** Payment attempts so far. */
  public int attemptCount() {
    return attemptCount;
  }

  /** When Stripe retries next, if it will. */
  public @Nullable Instant nextPaymentAttempt() {
    return nextPaymentAttempt;
  }

  /** The due date of {@code send_invoice} invoices. */
  public @Nullable Instant dueDate() {
    return dueDate;
  }

  /** When Stripe created it. */
  public Instant created() {
    return created;
  }

  /** The page where the customer can pay it, if any. */
  public @Nullable String hostedInvoiceUrl() {
    return hostedInvoiceUrl;
  }

  /** Open and not paid, and past its due date at {@code now} ({@code false} without a due date). */
  public boolean overdueAt(Instant now) {
    return "open".equals(status) && dueDate != null && now.isAfter(dueDate);
  }

  @Override
  public boolean equals(@Nullable Object o) {
    if (this == o) {
      return true;
    }
    if (!(o instanceof Invoice)) {
      return false;
    }
    Invoice other = (Invoice) o;
    return Objects.equals(id, other.id) && Objects.equals(tenant, other.tenant)
        && Objects.equals(customerId, other.customerId) && Objects.equals(subscriptionId, other.subscriptionId)
        && Objects.equals(status, other.status) && Objects.equals(collectionMethod, other.collectionMethod)
        && Objects.equals(currency, other.currency) && amountDue == other.amountDue && amountPaid == other.amountPaid
        && amountRemaining == other.amountRemaining && attemptCount == other.attemptCount
        && Objects.equals(nextPaymentAttempt, other.nextPaymentAttempt) && Objects.equals(dueDate, other.dueDate)
        && Objects.equals(created, other.created) && Objects.equals(hostedInvoiceUrl, other.hostedInvoiceUrl);
  }

  @Override
  public int hashCode() {
    return Objects.hash(id, tenant, customerId, subscriptionId, status, collectionMethod, currency, amountDue,
        amountPaid, amountRemaining, attemptCount, nextPaymentAttempt, dueDate, created, hostedInvoiceUrl);
  }

  @Override
  public String toString() {
    return "Invoice[id=" + id + ", tenant=" + tenant + ", customerId=" + customerId
        + ", subscriptionId=" + subscriptionId + ", status=" + status + ", collectionMethod=" + collectionMethod
        + ", currency=" + currency + ", amountDue=" + amountDue + ", amountPaid=" + amountPaid
        + ", amountRemaining=" + amountRemaining + ", attemptCount=" + attemptCount
        + ", nextPaymentAttempt=" + nextPaymentAttempt + ", dueDate=" + dueDate + ", created=" + created
        + ", hostedInvoiceUrl=" + hostedInvoiceUrl + "]";
  }
}
