package dev.saaskit.billing;

import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * One line of a subscription: a price and its quantity (seats, for per-seat prices).
 *
 * @param id Stripe's subscription item id ({@code si_...})
 * @param priceId the price ({@code price_...})
 * @param productId the price's product, when known
 * @param quantity the quantity (0 for metered prices, which have none)
 */
public record SubscriptionItem(String id, String priceId, @Nullable String productId, long quantity) {
  /** Checks the ids are present. */
  public SubscriptionItem {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(priceId, "priceId");
  }
}
