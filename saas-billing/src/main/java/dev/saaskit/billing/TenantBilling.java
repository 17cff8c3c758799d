package dev.saaskit.billing;

import dev.saaskit.core.TenantId;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A tenant's billing status at one instant: the answer to "may this tenant use the product now, and why".
 * Computed from the mirror by {@link BillingOperations#status(TenantId)} with {@link BillingConfig#clock()}.
 *
 * @param tenant the tenant
 * @param state where it stands; the best state wins when it has several subscriptions
 * @param accessUntil when access ends if nothing changes in Stripe: the scheduled end of a canceling subscription
 *     (its period end, or its {@code cancel_at} if earlier), the end of the grace period of a past-due one (oldest
 *     open invoice's due date, or its creation, plus {@link BillingConfig#pastDueGrace()}), the due date plus grace of an open invoice on invoice terms; {@code null} when
 *     access does not end by time alone (active, trialing) or when there is no access
 * @param subscription the subscription that governs {@code state}, {@code null} when the tenant has none
 * @param subscriptions all the tenant's mirrored subscriptions, newest first
 * @param at the instant the status was computed for
 */
public record TenantBilling(
    TenantId tenant,
    AccessState state,
    @Nullable Instant accessUntil,
    @Nullable Subscription subscription,
    List<Subscription> subscriptions,
    Instant at) {

  /** Checks and copies. */
  public TenantBilling {
    Objects.requireNonNull(tenant, "tenant");
    Objects.requireNonNull(state, "state");
    subscriptions = List.copyOf(subscriptions);
    Objects.requireNonNull(at, "at");
  }

  /** Whether the tenant may use the product now ({@link AccessState#grantsAccess()}). */
  public boolean hasAccess() {
    return state.grantsAccess();
  }
}
