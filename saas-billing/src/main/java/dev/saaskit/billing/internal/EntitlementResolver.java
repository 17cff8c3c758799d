package dev.saaskit.billing.internal;

import dev.saaskit.billing.Plan;
import dev.saaskit.billing.Plans;
import dev.saaskit.billing.Subscription;
import dev.saaskit.billing.SubscriptionItem;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Resolves features and limits from the subscriptions that grant access (see {@code Entitlements} for the rules):
 * plans by price id, lookup key or product; features = union (plus Stripe Entitlements lookup keys); limits = max
 * per name; {@code seats} = the largest item quantity when no plan declares it; no access: the fallback plan.
 */
public final class EntitlementResolver {
  /** The limit name that carries the seat count when no plan declares it. */
  public static final String SEATS = "seats";

  /** The outcome. */
  public record Resolved(Set<String> features, Map<String, Long> limits, List<String> plans) {}

  private EntitlementResolver() {}

  /** The price ids of the items of {@code subscriptions}. */
  public static List<String> priceIds(List<Subscription> subscriptions) {
    Set<String> ids = new LinkedHashSet<>();
    for (Subscription sub : subscriptions) {
      for (SubscriptionItem item : sub.items()) {
        ids.add(item.priceId());
      }
    }
    return new ArrayList<>(ids);
  }

  /**
   * Resolves.
   *
   * @param granting the subscriptions that grant access now (empty: no access)
   * @param priceKeys lookup keys and products of their prices, as mirrored
   * @param stripeEntitlements lookup keys of the customer's Stripe Entitlements summary
   */
  public static Resolved resolve(Plans plans, List<Subscription> granting, Map<String, Mirror.PriceKeys> priceKeys,
      List<String> stripeEntitlements) {
    Set<String> features = new LinkedHashSet<>();
    Map<String, Long> limits = new LinkedHashMap<>();
    List<String> names = new ArrayList<>();
    if (granting.isEmpty()) {
      Optional<Plan> fallback = plans.fallback();
      fallback.ifPresent(p -> add(p, features, limits, names));
      return new Resolved(features, limits, names);
    }
    long maxQuantity = 0;
    for (Subscription sub : granting) {
      for (SubscriptionItem item : sub.items()) {
        Mirror.PriceKeys keys = priceKeys.get(item.priceId());
        String lookupKey = keys == null ? null : keys.lookupKey();
        String product = item.productId() != null ? item.productId() : keys == null ? null : keys.productId();
        plans.forPrice(item.priceId(), lookupKey, product).ifPresent(p -> add(p, features, limits, names));
        maxQuantity = Math.max(maxQuantity, item.quantity());
      }
    }
    if (!limits.containsKey(SEATS) && maxQuantity > 0) {
      limits.put(SEATS, maxQuantity);
    }
    features.addAll(stripeEntitlements);
    return new Resolved(features, limits, names);
  }

  private static void add(Plan plan, Set<String> features, Map<String, Long> limits, List<String> names) {
    if (!names.contains(plan.name())) {
      names.add(plan.name());
    }
    features.addAll(plan.features());
    plan.limits().forEach((k, v) -> limits.merge(k, v, Math::max));
  }
}
