package dev.saaskit.billing;

import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * A plan of the app's own catalog: the features and limits it grants, and the Stripe prices (by id, lookup key or
 * product) that put a tenant on it. Declared in code (or built from configuration) and handed to {@link Plans}.
 *
 * <pre>{@code
 * Plan pro = Plan.builder("pro")
 *     .lookupKeys("pro_monthly", "pro_yearly")
 *     .features("sso", "audit-log")
 *     .limit("projects", 100)
 *     .build();
 * }</pre>
 *
 * @param name the plan's name in the app
 * @param features the features it grants
 * @param limits its limits by name (the largest wins when several plans apply)
 * @param priceIds Stripe price ids that grant it
 * @param lookupKeys Stripe price lookup keys that grant it (stable across environments, unlike ids)
 * @param productIds Stripe product ids whose prices grant it
 */
public record Plan(
    String name,
    Set<String> features,
    Map<String, Long> limits,
    Set<String> priceIds,
    Set<String> lookupKeys,
    Set<String> productIds) {
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_.:-]{1,100}");

  /** Checks names and copies the collections. */
  public Plan {
    requireName("plan name", name);
    features = Set.copyOf(features);
    features.forEach(f -> requireName("feature", f));
    limits = Map.copyOf(limits);
    limits.forEach((k, v) -> {
      requireName("limit", k);
      if (v < 0) {
        throw new IllegalArgumentException("limit " + k + " must be >= 0 but was " + v);
      }
    });
    priceIds = Set.copyOf(priceIds);
    lookupKeys = Set.copyOf(lookupKeys);
    productIds = Set.copyOf(productIds);
  }

  private static void requireName(String what, String value) {
    Objects.requireNonNull(value, what);
    if (!NAME.matcher(value).matches()) {
      throw new IllegalArgumentException(what + " must be 1-100 of [A-Za-z0-9_.:-] but was '" + value + "'");
    }
  }

  /** A builder for the plan named {@code name}. */
  public static Builder builder(String name) {
    return new Builder(name);
  }

  /** Builds a {@link Plan}. Not thread-safe. */
  public static final class Builder {
    private final String name;
    private final Set<String> features = new LinkedHashSet<>();
    private final Map<String, Long> limits = new LinkedHashMap<>();
    private final Set<String> priceIds = new LinkedHashSet<>();
    private final Set<String> lookupKeys = new LinkedHashSet<>();
    private final Set<String> productIds = new LinkedHashSet<>();

    private Builder(String name) {
      requireName("plan name", name);
      this.name = name;
    }

    /** Adds features the plan grants. */
    public Builder features(String... names) {
      features.addAll(Set.of(names));
      return this;
    }

    /** Sets a limit ({@code >= 0}). */
    public Builder limit(String limitName, long value) {
      limits.put(limitName, value);
      return this;
    }

    /** Adds Stripe price ids that grant the plan. */
    public Builder priceIds(String... ids) {
      priceIds.addAll(Set.of(ids));
      return this;
    }

    /** Adds Stripe price lookup keys that grant the plan. */
    public Builder lookupKeys(String... keys) {
      lookupKeys.addAll(Set.of(keys));
      return this;
    }

    /** Adds Stripe product ids whose prices grant the plan. */
    public Builder productIds(String... ids) {
      productIds.addAll(Set.of(ids));
      return this;
    }

    /** The plan. */
    public Plan build() {
      return new Plan(name, features, limits, priceIds, lookupKeys, productIds);
    }
  }
}
