package dev.saaskit.cache.redis;

import dev.saaskit.core.TenantId;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * Which {@link RateLimit} applies to a tenant (and subject: a user, an API key, or {@code ""} for the tenant as a
 * whole). Called on every check, so keep it cheap (read the plan from a cache).
 */
@FunctionalInterface
public interface RateLimitPolicy {

  /** The limit of {@code subject} in {@code tenant}. */
  RateLimit limitFor(TenantId tenant, String subject);

  /** The same limit for everyone. */
  static RateLimitPolicy fixed(RateLimit limit) {
    Objects.requireNonNull(limit, "limit");
    return (tenant, subject) -> limit;
  }

  /**
   * A limit per plan: {@code planOf} names the tenant's plan (with saas-billing, from its entitlements), and
   * {@code limits} maps plan names to limits; a plan not in the map, or no plan ({@code null}), gets
   * {@code fallback}.
   *
   * <pre>{@code
   * RateLimitPolicy policy = RateLimitPolicy.byPlan(tenant -> planOf(tenant),
   *     Map.of("free", RateLimit.perMinute(60), "pro", RateLimit.perMinute(600)), RateLimit.perMinute(60));
   * }</pre>
   */
  static RateLimitPolicy byPlan(Function<TenantId, @Nullable String> planOf, Map<String, RateLimit> limits,
      RateLimit fallback) {
    Objects.requireNonNull(planOf, "planOf");
    Map<String, RateLimit> copy = Map.copyOf(limits);
    Objects.requireNonNull(fallback, "fallback");
    return (tenant, subject) -> {
      String plan = planOf.apply(tenant);
      RateLimit limit = plan == null ? null : copy.get(plan);
      return limit == null ? fallback : limit;
    };
  }
}
