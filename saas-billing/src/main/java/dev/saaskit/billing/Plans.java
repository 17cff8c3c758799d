package dev.saaskit.billing;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * The app's plan catalog: which {@link Plan} a Stripe price grants, and the plan of a tenant without a subscription
 * that grants access (the fallback, e.g. "free"; none by default). A price is matched by id first, then lookup key,
 * then product. Immutable and thread-safe.
 */
public final class Plans {
  private static final Plans NONE = new Plans(List.of(), null);

  private final List<Plan> plans;
  private final @Nullable Plan fallback;
  private final Map<String, Plan> byPrice = new HashMap<>();
  private final Map<String, Plan> byLookupKey = new HashMap<>();
  private final Map<String, Plan> byProduct = new HashMap<>();

  private Plans(List<Plan> plans, @Nullable Plan fallback) {
    this.plans = List.copyOf(plans);
    this.fallback = fallback;
    for (Plan plan : this.plans) {
      plan.priceIds().forEach(id -> claim(byPrice, "price id", id, plan));
      plan.lookupKeys().forEach(key -> claim(byLookupKey, "lookup key", key, plan));
      plan.productIds().forEach(id -> claim(byProduct, "product id", id, plan));
    }
  }

  private static void claim(Map<String, Plan> index, String what, String key, Plan plan) {
    Plan before = index.putIfAbsent(key, plan);
    if (before != null && !before.name().equals(plan.name())) {
      throw new IllegalArgumentException(what + " " + key + " is in two plans: " + before.name() + " and " + plan.name());
    }
  }

  /** No plans: every tenant has no features and no limits. */
  public static Plans none() {
    return NONE;
  }

  /** The given plans, no fallback. */
  public static Plans of(Plan... plans) {
    return new Plans(List.of(plans), null);
  }

  /** A builder. */
  public static Builder builder() {
    return new Builder();
  }

  /** The plans, in the order given. */
  public List<Plan> plans() {
    return plans;
  }

  /** The plan of tenants without a subscription that grants access, if any. */
  public Optional<Plan> fallback() {
    return Optional.ofNullable(fallback);
  }

  /** The plan named {@code name}. */
  public Optional<Plan> named(String name) {
    for (Plan plan : plans) {
      if (plan.name().equals(name)) {
        return Optional.of(plan);
      }
    }
    return fallback != null && fallback.name().equals(name) ? Optional.of(fallback) : Optional.empty();
  }

  /** The plan a price grants: by its id, else its lookup key, else its product; empty if none matches. */
  public Optional<Plan> forPrice(String priceId, @Nullable String lookupKey, @Nullable String productId) {
    Plan plan = byPrice.get(Objects.requireNonNull(priceId, "priceId"));
    if (plan == null && lookupKey != null) {
      plan = byLookupKey.get(lookupKey);
    }
    if (plan == null && productId != null) {
      plan = byProduct.get(productId);
    }
    return Optional.ofNullable(plan);
  }

  /** Builds {@link Plans}. Not thread-safe. */
  public static final class Builder {
    private final List<Plan> plans = new ArrayList<>();
    private @Nullable Plan fallback;

    private Builder() {}

    /** Adds a plan. */
    public Builder plan(Plan plan) {
      plans.add(Objects.requireNonNull(plan, "plan"));
      return this;
    }

    /** The plan of tenants without a subscription that grants access ({@code free}); none by default. */
    public Builder fallback(Plan plan) {
      this.fallback = Objects.requireNonNull(plan, "plan");
      return this;
    }

    /**
     * The catalog.
     *
     * @throws IllegalArgumentException if two plans share a name or claim the same price, lookup key or product
     */
    public Plans build() {
      List<String> names = new ArrayList<>();
      for (Plan plan : plans) {
        if (names.contains(plan.name())) {
          throw new IllegalArgumentException("two plans are named " + plan.name());
        }
        names.add(plan.name());
      }
      return new Plans(plans, fallback);
    }
  }
}
