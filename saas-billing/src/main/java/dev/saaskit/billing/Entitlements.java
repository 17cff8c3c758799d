package dev.saaskit.billing;

import dev.saaskit.core.TenantId;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.Set;

/**
 * What a tenant may use now: an immutable snapshot of its features and limits, resolved from the subscriptions that
 * grant access through the app's {@link Plans}. Get it from {@link Billing#entitlements(TenantId)} (or {@link
 * Billing#entitlements()} for the current {@code TenantContext}); the snapshot is cached per tenant, so a check is a
 * map lookup and a clock read.
 *
 * <pre>{@code
 * Entitlements e = billing.entitlements(tenant);
 * if (!e.has("sso")) throw new Forbidden("SSO needs the Pro plan");
 * if (projects >= e.limitOr("projects", 0)) throw new Forbidden("project limit reached");
 * }</pre>
 *
 * <p><b>Resolution</b> (see {@link BillingOperations#entitlements(TenantId)}): every item of every subscription
 * that grants access now ({@link TenantBilling#hasAccess()}) is mapped to a plan by {@link Plans#forPrice} (price
 * id, then lookup key, then product); features are the union of those plans' features plus the lookup keys of the
 * customer's Stripe Entitlements summary (when mirrored); a limit is the largest value any of those plans declares.
 * When no such plan declares a {@code seats} limit, {@code seats} is the largest quantity of an item of a granting
 * subscription. Without access, the {@linkplain Plans#fallback() fallback plan} applies if configured, else the
 * tenant has no feature and no limit.
 *
 * <p><b>Freshness</b>: a snapshot is valid until {@link #validUntil()}: the next instant its answer can change by
 * time alone (a grace period ending, a canceling subscription's end, a trial end, an invoice due date), and
 * at most five minutes. Changes in the mirror reach it through {@link BillingOperations#invalidate(TenantId)}, which
 * the webhook handler and every operation call on this node; wire {@link BillingChangeListener} to your bus to
 * invalidate the other nodes.
 */
public final class Entitlements {
  private final TenantId tenant;
  private final AccessState state;
  private final Set<String> features;
  private final Map<String, Long> limits;
  private final List<String> plans;
  private final long validUntilMillis;

  Entitlements(TenantId tenant, AccessState state, Set<String> features, Map<String, Long> limits,
      List<String> plans, long validUntilMillis) {
    this.tenant = Objects.requireNonNull(tenant, "tenant");
    this.state = Objects.requireNonNull(state, "state");
    this.features = Set.copyOf(features);
    this.limits = Map.copyOf(limits);
    this.plans = List.copyOf(plans);
    this.validUntilMillis = validUntilMillis;
  }

  /**
   * A snapshot built by hand: for tests of the app's own code (a fake billing), never cached.
   *
   * @param tenant the tenant
   * @param state its access state ({@link #hasAccess()} follows it)
   * @param features the features granted
   * @param limits the limits by name
   * @param plans the names of the plans in effect
   */
  public static Entitlements of(TenantId tenant, AccessState state, Set<String> features, Map<String, Long> limits,
      List<String> plans) {
    return new Entitlements(tenant, state, features, limits, plans, Long.MAX_VALUE);
  }

  /** The tenant. */
  public TenantId tenant() {
    return tenant;
  }

  /** The access state the snapshot was resolved in. */
  public AccessState state() {
    return state;
  }

  /** Whether the tenant may use the product ({@link AccessState#grantsAccess()}). */
  public boolean hasAccess() {
    return state.grantsAccess();
  }

  /** Whether the tenant has {@code feature} (from its plans or its Stripe Entitlements). */
  public boolean has(String feature) {
    return features.contains(feature);
  }

  /** The limit named {@code name}, empty when no plan in effect declares it. */
  public OptionalLong limit(String name) {
    Long v = limits.get(name);
    return v == null ? OptionalLong.empty() : OptionalLong.of(v);
  }

  /** The limit named {@code name}, {@code otherwise} when no plan in effect declares it (allocation-free). */
  public long limitOr(String name, long otherwise) {
    Long v = limits.get(name);
    return v == null ? otherwise : v;
  }

  /** The features granted. */
  public Set<String> features() {
    return features;
  }

  /** The limits by name. */
  public Map<String, Long> limits() {
    return limits;
  }

  /** The names of the plans in effect (the fallback plan's when it applies), in catalog order of discovery. */
  public List<String> plans() {
    return plans;
  }

  /** Until when this snapshot is valid (the cache reloads after it). */
  public Instant validUntil() {
    return Instant.ofEpochMilli(validUntilMillis);
  }

  long validUntilMillis() {
    return validUntilMillis;
  }

  @Override
  public String toString() {
    return "Entitlements[" + tenant.value() + ", " + state + ", plans=" + plans + ", features=" + features
        + ", limits=" + limits + "]";
  }
}
