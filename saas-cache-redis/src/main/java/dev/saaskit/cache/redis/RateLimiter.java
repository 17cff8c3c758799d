package dev.saaskit.cache.redis;

import dev.saaskit.cache.redis.internal.InProcessRateLimiter;
import dev.saaskit.core.TenantId;
import java.time.Clock;

/**
 * Limits requests per tenant, and per subject (user or API key) within a tenant; tenants never share a bucket.
 * {@link SaasRedis#rateLimiter(RateLimitPolicy)} shares the limit across nodes through Redis;
 * {@link #inProcess(RateLimitPolicy)} counts on this node only (single-node apps, tests).
 *
 * <pre>{@code
 * RateLimitDecision d = limiter.tryAcquire(tenant, apiKeyId);
 * d.headers().forEach(response::header);
 * if (!d.allowed()) { response.status(429); return; }
 * }</pre>
 */
public interface RateLimiter {

  /**
   * Takes one request of {@code subject} in {@code tenant} if the limit allows it.
   *
   * @throws IllegalArgumentException if {@code subject} is longer than 1024 characters (hash longer identifiers)
   *     or holds an unpaired surrogate
   * @throws IllegalStateException if the limiter came from a {@link SaasRedis} that was closed
   */
  RateLimitDecision tryAcquire(TenantId tenant, String subject);

  /** Takes one request of {@code tenant} as a whole. */
  default RateLimitDecision tryAcquire(TenantId tenant) {
    return tryAcquire(tenant, "");
  }

  /** A limiter that counts in this JVM, on the system clock. */
  static RateLimiter inProcess(RateLimitPolicy policy) {
    return new InProcessRateLimiter(policy, Clock.systemUTC());
  }

  /** A limiter that counts in this JVM, on {@code clock} (tests pass a mutable one). */
  static RateLimiter inProcess(RateLimitPolicy policy, Clock clock) {
    return new InProcessRateLimiter(policy, clock);
  }
}
