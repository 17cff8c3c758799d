package dev.saaskit.billing;

import dev.saaskit.core.TenantId;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A tenant's subscription as the mirror holds it. Times are Stripe's; {@code null} where Stripe has none.
 *
 * <p>A final class rather than a record, so that a field can be added without breaking callers (docs/architecture.md).
 */
public final class Subscription {
  private final String id;
  private final TenantId tenant;
  private final String customerId;
  private final SubscriptionStatus status;
  private final List<SubscriptionItem> items;
  private final boolean cancelAtPeriodEnd;
  private final @Nullable Instant currentPeriodStart;
  private final @Nullable Instant currentPeriodEnd;
  private final @Nullable Instant trialStart;
  private final @Nullable Instant trialEnd;
  private final @Nullable Instant canceledAt;
  private final @Nullable Instant endedAt;
  private final String collectionMethod;
  private final @Nullable Integer daysUntilDue;
  private final @Nullable String scheduleId;
  private final boolean collectionPaused;
  private final Instant stateAsOf;
  private final @Nullable Instant cancelAt;

  private Subscription(String id, TenantId tenant, String customerId, SubscriptionStatus status,
      List<SubscriptionItem> items, boolean cancelAtPeriodEnd, @Nullable Instant currentPeriodStart,
      @Nullable Instant currentPeriodEnd, @Nullable Instant trialStart, @Nullable Instant trialEnd,
      @Nullable Instant canceledAt, @Nullable Instant endedAt, String collectionMethod,
      @Nullable Integer daysUntilDue, @Nullable String scheduleId, boolean collectionPaused, Instant stateAsOf,
      @Nullable Instant cancelAt) {
    this.id = Objects.requireNonNull(id, "id");
    this.tenant = Objects.requireNonNull(tenant, "tenant");
    this.customerId = Objects.requireNonNull(customerId, "customerId");
    this.status = Objects.requireNonNull(status, "status");
    this.items = List.copyOf(items);
    this.cancelAtPeriodEnd = cancelAtPeriodEnd;
    this.currentPeriodStart = currentPeriodStart;
    this.currentPeriodEnd = currentPeriodEnd;
    this.trialStart = trialStart;
    this.trialEnd = trialEnd;
    this.canceledAt = canceledAt;
    this.endedAt = endedAt;
    this.collectionMethod = Objects.requireNonNull(collectionMethod, "collectionMethod");
    this.daysUntilDue = daysUntilDue;
    this.scheduleId = scheduleId;
    this.collectionPaused = collectionPaused;
    this.stateAsOf = Objects.requireNonNull(stateAsOf, "stateAsOf");
    this.cancelAt = cancelAt;
  }

  /**
   * A subscription as the mirror holds it (the mirror makes these; tests may too).
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
   * @see #withCancelAt(Instant) for a subscription with a scheduled cancellation date ({@code cancel_at})
   */
  public static Subscription of(String id, TenantId tenant, String customerId, SubscriptionStatus status,
      List<SubscriptionItem> items, boolean cancelAtPeriodEnd, @Nullable Instant currentPeriodStart,
      @Nullable Instant currentPeriodEnd, @Nullable Instant trialStart, @Nullable Instant trialEnd,
      @Nullable Instant canceledAt, @Nullable Instant endedAt, String collectionMethod,
      @Nullable Integer daysUntilDue, @Nullable String scheduleId, boolean collectionPaused, Instant stateAsOf) {
    return new Subscription(id, tenant, customerId, status, items, cancelAtPeriodEnd, currentPeriodStart,
        currentPeriodEnd, trialStart, trialEnd, canceledAt, endedAt, collectionMethod, daysUntilDue, scheduleId,
        collectionPaused, stateAsOf, null);
  }

  /**
   * This subscription with {@link #cancelAt()} set to {@code cancelAt} (everything else unchanged), so that {@link
   * #of} keeps its signature while the value gains a field.
   *
   * @param cancelAt when Stripe will cancel it ({@code cancel_at}), or {@code null} for no scheduled cancellation
   * @return a new value; this one is unchanged
   */
  public Subscription withCancelAt(@Nullable Instant cancelAt) {
    return new Subscription(id, tenant, customerId, status, items, cancelAtPeriodEnd, currentPeriodStart,
        currentPeriodEnd, trialStart, trialEnd, canceledAt, endedAt, collectionMethod, daysUntilDue, scheduleId,
        collectionPaused, stateAsOf, cancelAt);
  }

  /** Stripe's id ({@code sub_...}). */
  public String id() {
    return id;
  }

  /** The tenant it bills. */
  public TenantId tenant() {
    return tenant;
  }

  /** The Stripe customer ({@code cus_...}). */
  public String customerId() {
    return customerId;
  }

  /** Its status. */
  public SubscriptionStatus status() {
    return status;
  }

  /** Its lines (price and quantity). */
  public List<SubscriptionItem> items() {
    return items;
  }

  /** Whether it ends at {@code currentPeriodEnd} instead of renewing. */
  public boolean cancelAtPeriodEnd() {
    return cancelAtPeriodEnd;
  }

  /**
   * When Stripe will cancel it ({@code cancel_at}), if a cancellation is scheduled; {@code null} otherwise. Set by a
   * cancellation at a date (the API, the Billing Portal) and, at the pinned API version, also by {@code
   * cancel_at_period_end} (then it is the period end). Access ends at this instant even if the event that cancels
   * the subscription has not arrived yet ({@link AccessState#CANCELING} until then).
   */
  public @Nullable Instant cancelAt() {
    return cancelAt;
  }

  /** The start of the period paid for (or being tried). */
  public @Nullable Instant currentPeriodStart() {
    return currentPeriodStart;
  }

  /** The end of that period. */
  public @Nullable Instant currentPeriodEnd() {
    return currentPeriodEnd;
  }

  /** The start of the trial, if any. */
  public @Nullable Instant trialStart() {
    return trialStart;
  }

  /** The end of the trial, if any. */
  public @Nullable Instant trialEnd() {
    return trialEnd;
  }

  /** When cancellation was asked for, if it was. */
  public @Nullable Instant canceledAt() {
    return canceledAt;
  }

  /** When it ended, if it has. */
  public @Nullable Instant endedAt() {
    return endedAt;
  }

  /** {@code charge_automatically} or {@code send_invoice} (invoice terms). */
  public String collectionMethod() {
    return collectionMethod;
  }

  /** The net terms of {@code send_invoice} subscriptions ({@code 30} for net 30). */
  public @Nullable Integer daysUntilDue() {
    return daysUntilDue;
  }

  /** The subscription schedule driving it (annual contracts billed monthly), if any. */
  public @Nullable String scheduleId() {
    return scheduleId;
  }

  /** Whether Stripe's {@code pause_collection} is set. */
  public boolean collectionPaused() {
    return collectionPaused;
  }

  /** The Stripe time of the newest state the mirror applied. */
  public Instant stateAsOf() {
    return stateAsOf;
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

  @Override
  public boolean equals(@Nullable Object o) {
    if (this == o) {
      return true;
    }
    if (!(o instanceof Subscription)) {
      return false;
    }
    Subscription other = (Subscription) o;
    return Objects.equals(id, other.id) && Objects.equals(tenant, other.tenant)
        && Objects.equals(customerId, other.customerId) && Objects.equals(status, other.status)
        && Objects.equals(items, other.items) && cancelAtPeriodEnd == other.cancelAtPeriodEnd
        && Objects.equals(currentPeriodStart, other.currentPeriodStart)
        && Objects.equals(currentPeriodEnd, other.currentPeriodEnd) && Objects.equals(trialStart, other.trialStart)
        && Objects.equals(trialEnd, other.trialEnd) && Objects.equals(canceledAt, other.canceledAt)
        && Objects.equals(endedAt, other.endedAt) && Objects.equals(collectionMethod, other.collectionMethod)
        && Objects.equals(daysUntilDue, other.daysUntilDue) && Objects.equals(scheduleId, other.scheduleId)
        && collectionPaused == other.collectionPaused && Objects.equals(stateAsOf, other.stateAsOf)
        && Objects.equals(cancelAt, other.cancelAt);
  }

  @Override
  public int hashCode() {
    return Objects.hash(id, tenant, customerId, status, items, cancelAtPeriodEnd, currentPeriodStart,
        currentPeriodEnd, trialStart, trialEnd, canceledAt, endedAt, collectionMethod, daysUntilDue, scheduleId,
        collectionPaused, stateAsOf, cancelAt);
  }

  @Override
  public String toString() {
    return "Subscription[id=" + id + ", tenant=" + tenant + ", customerId=" + customerId + ", status=" + status
        + ", items=" + items + ", cancelAtPeriodEnd=" + cancelAtPeriodEnd + ", cancelAt=" + cancelAt
        + ", currentPeriodStart=" + currentPeriodStart + ", currentPeriodEnd=" + currentPeriodEnd
        + ", trialStart=" + trialStart + ", trialEnd=" + trialEnd + ", canceledAt=" + canceledAt
        + ", endedAt=" + endedAt + ", collectionMethod=" + collectionMethod + ", daysUntilDue=" + daysUntilDue
        + ", scheduleId=" + scheduleId + ", collectionPaused=" + collectionPaused + ", stateAsOf=" + stateAsOf + "]";
  }
}
