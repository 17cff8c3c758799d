package dev.saaskit.examples.saasapp;

import dev.saaskit.auth.InvalidTokenException;
import dev.saaskit.auth.Principal;
import dev.saaskit.cache.redis.RateLimitDecision;
import dev.saaskit.cache.redis.RateLimitPolicy;
import dev.saaskit.cache.redis.RateLimiter;
import dev.saaskit.cache.redis.SaasRedis;
import dev.saaskit.core.TenantId;
import io.javalin.http.Context;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;

/**
 * The app's rate limits, with saas-cache-redis's limiter: each tenant on {@code /api} as a whole, and each client IP
 * on what anyone can reach without a valid credential ({@code /dev/login}, {@code /api/invitations/accept}, and
 * refused credentials on {@code /api}). On Redis when {@code SAAS_REDIS_URL} is set (the nodes share the limits; if
 * Redis is unreachable each node counts alone meanwhile), in this process otherwise. Over a limit: 429 with
 * {@code Retry-After} and the usual JSON error.
 *
 * <p>The client IP is the address of the TCP peer: behind a load balancer that is the balancer's, and every client
 * shares one bucket. Take it from the balancer's header there (only from a proxy you trust: a client can send any
 * {@code X-Forwarded-For}).
 */
final class RateLimits implements AutoCloseable {
  /** The owner of the IP-keyed buckets: each named limiter has buckets of its own, so no tenant can meet them. */
  private static final TenantId BY_IP = TenantId.of("client-ip");
  /** Above this many IPs kept as over the refused-credential limit, the ones whose wait ended are dropped. */
  private static final int PENALTY_SWEEP_ABOVE = 10_000;

  private final @Nullable SaasRedis redis;
  private final RateLimiter api;
  private final RateLimiter login;
  private final RateLimiter invitations;
  private final RateLimiter refusedCredentials;
  /** IPs over the refused-credential limit, and until when (System.nanoTime): refused before any verification. */
  private final ConcurrentHashMap<String, Long> penalized = new ConcurrentHashMap<>();

  RateLimits(AppConfig config) {
    RateLimitPolicy perTenant = RateLimitPolicy.fixed(config.apiRateLimit());
    RateLimitPolicy perIp = RateLimitPolicy.fixed(config.ipRateLimit());
    String url = config.redisUrl();
    if (url == null) {
      this.redis = null;
      this.api = RateLimiter.inProcess(perTenant);
      this.login = RateLimiter.inProcess(perIp);
      this.invitations = RateLimiter.inProcess(perIp);
      this.refusedCredentials = RateLimiter.inProcess(perIp);
    } else {
      SaasRedis shared = SaasRedis.builder(url).app("saas-app").clientName("saas-app").build();
      this.redis = shared;
      this.api = shared.rateLimiter("api", perTenant);
      this.login = shared.rateLimiter("login-ip", perIp);
      this.invitations = shared.rateLimiter("invitation-ip", perIp);
      this.refusedCredentials = shared.rateLimiter("refused-credential-ip", perIp);
    }
  }

  /** The limits of surfaces anyone can reach, checked before the request is read. */
  void beforeRequest(Context ctx, String path) {
    if (path.equals("/dev/login")) {
      enforce(ctx, login.tryAcquire(BY_IP, clientIp(ctx)));
    } else if (path.equals("/api/invitations/accept")) {
      enforce(ctx, invitations.tryAcquire(BY_IP, clientIp(ctx)));
    }
    if (path.startsWith("/api/")) {
      // an IP over the refused-credential limit is refused before its credential costs a verification
      Long until = penalized.get(clientIp(ctx));
      if (until != null) {
        long left = until - System.nanoTime();
        if (left > 0) {
          throw refused(ctx, Duration.ofNanos(left));
        }
        penalized.remove(clientIp(ctx), until);
      }
    }
  }

  /** The tenant's limit on {@code /api}, once its credential is verified. */
  void authenticated(Context ctx, Principal principal) {
    TenantId tenant = principal.tenant().orElse(null);
    if (tenant == null) {
      return;
    }
    RateLimitDecision decision = api.tryAcquire(tenant);
    decision.headers().forEach(ctx::header);
    enforce(ctx, decision);
  }

  /**
   * Counts a credential the API refused (not a missing one: the dashboard asks before sign-in). Over the limit the
   * answer is 429 instead of 401, and the IP is refused before verification until its wait ends.
   */
  void authenticationFailed(Context ctx, Exception e) {
    boolean refusedCredential = e instanceof InvalidTokenException
        || e instanceof ApiError a && a.status() == 401 && !a.code().equals("unauthenticated");
    if (!refusedCredential) {
      return;
    }
    String ip = clientIp(ctx);
    RateLimitDecision decision = refusedCredentials.tryAcquire(BY_IP, ip);
    if (!decision.allowed()) {
      if (penalized.size() > PENALTY_SWEEP_ABOVE) {
        long now = System.nanoTime();
        penalized.values().removeIf(until -> until - now <= 0);
      }
      penalized.put(ip, System.nanoTime() + decision.retryAfter().toNanos());
      enforce(ctx, decision);
    }
  }

  private static void enforce(Context ctx, RateLimitDecision decision) {
    if (!decision.allowed()) {
      throw refused(ctx, decision.retryAfter());
    }
  }

  private static ApiError refused(Context ctx, Duration retryAfter) {
    long seconds = Math.max(1, (retryAfter.toMillis() + 999) / 1000);
    ctx.header("Retry-After", Long.toString(seconds));
    return new ApiError(429, "rate_limited", "too many requests: retry in " + seconds + " s");
  }

  private static String clientIp(Context ctx) {
    String ip = ctx.req().getRemoteAddr();
    return ip == null ? "unknown" : ip;
  }

  @Override
  public void close() {
    if (redis != null) {
      redis.close();
    }
  }

}
