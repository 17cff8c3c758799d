package dev.saaskit.billing;

import dev.saaskit.core.TenantId;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A tenant's subscription as the mirror holds it. Times are Stripe's; {@code null} where Stripe has none.
 *
 * @param id Stripe's id ({@code sub_...})
 * @param tenant the tenant it bills
 * @param customerId the Stripe customer ({@code cus_...})
 * @param status its status
 * @param items its lines (price and quantity)
 * @param cancelAtPeriodEnd whether it ends at {@code currentPeriodEnd} instead of renewing
 * @param currentPeriodStart the start of the period paid for (or being tried)
 * @param currentPeriodEnd the end of that period
 * @param trialStart the start of the trial, if any
 * @param trialEnd the end of the trial, if any
 * @param canceledAt when cancellation was asked for, if it was
 * @param endedAt when it ended, if it has
 * @param collectionMethod {@code charge_automatically} or {@code send_invoice} (invoice terms)
 * @param daysUntilDue the net terms of {@code send_invoice} subscriptions ({@code 30} for net 30)
 * @param scheduleId the subscription schedule driving it (annual contracts billed monthly), if any
 * @param collectionPaused whether Stripe's {@code pause_collection} is set
 * @param stateAsOf the Stripe time of the newest state the mirror applied
 */
public record Subscription(
    String id,
    TenantId tenant,
    String customerId,
    SubscriptionStatus status,
    List<SubscriptionItem> items,
    boolean cancelAtPeriodEnd,
    @Nullable Instant currentPeriodStart,
    @Nullable Instant currentPeriodEnd,
    @Nullable Instant trialStart,
    @Nullable Instant trialEnd,
    @Nullable Instant canceledAt,
    @Nullable Instant endedAt,
    String collectionMethod,
    @Nullable Integer daysUntilDue,
    @Nullable String scheduleId,
    boolean collectionPaused,
    Instant stateAsOf) {

  /** Copies the item list. */
  public Subscription {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(tenant, "tenant");
    Objects.requireNonNull(customerId, "customerId");
    Objects.requireNonNull(status, "status");
    items = List.copyOf(items);
    Objects.requireNonNull(collectionMethod, "collectionMethod");
    Objects.requireNonNull(stateAsOf, "stateAsOf");
  }

  /** Whether it is billed by invoice with payment terms ({@code collection_method=send_invoice}). */
  public boolean invoiceTerms() {
    return "send_invoice".equals(collectionMethod);
  }

  /** The quantity of the item with {@code priceId}, 0 if the subscription has no such item. */
  public long quantityOf(String priceId) {
    long total = 0;
    for (SubscriptionItem item : items) {
      if (item.priceId().equals(priceId)) {
        total += item.quantity();
      }
    }
    return total;
  }
}
