package dev.saaskit.cache.redis.docs;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.cache.InvalidationBus;
import dev.saaskit.cache.SaasCache;
import dev.saaskit.cache.redis.RateLimit;
import dev.saaskit.cache.redis.RateLimitDecision;
import dev.saaskit.cache.redis.RateLimitPolicy;
import dev.saaskit.cache.redis.RateLimiter;
import dev.saaskit.cache.redis.RedisSupport;
import dev.saaskit.cache.redis.SaasRedis;
import dev.saaskit.cache.redis.ValueCodec;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The code of docs/cache-redis.md and the README's Redis section, run against the shared Redis. */
class CacheRedisDocsTest {
  /** What the docs cache. */
  public record Plan(String name, int seats) {}

  private RedisSupport support;
  private final Map<String, Plan> planRepository = new HashMap<>();

  @BeforeEach
  void connect() {
    support = RedisSupport.connect();
    planRepository.put("current", new Plan("pro", 10));
  }

  @AfterEach
  void close() {
    support.close();
  }

  @Test
  void aCacheWithTheRedisTier() {
    String redisUrl = RedisSupport.URI;
    String app = support.app;
    TenantId tenant = TenantId.of("acme");
    try (InvalidationBus bus = InvalidationBus.inProcess()) {
      // snippet: setup
      SaasRedis redis = SaasRedis.builder(redisUrl)      // redis://host:6379, rediss:// for TLS
          .app(app)                                      // the first part of every key
          .build();                                      // connects at the first call
      SaasCache<String, Plan> plans = SaasCache.<String, Plan>named("plans")
          .ttl(Duration.ofMinutes(5))
          .sharedTier(redis.tier(ValueCodec.json(Plan.class)))
          .invalidationBus(bus)                          // PostgresInvalidationBus across nodes
          .build();
      Plan plan = TenantContext.call(tenant, () -> plans.get("current", key -> planRepository.get(key)));
      // end snippet
      assertThat(plan).isEqualTo(new Plan("pro", 10));
      assertThat(redis.stats().tierStores()).isEqualTo(1);
      assertThat(support.keys()).contains(app + ":{plans}:e:4:acme:current");
      // snippet: invalidate
      TenantContext.run(tenant, () -> plans.invalidate("current"));   // Redis, local, then the bus
      // end snippet
      assertThat(support.keys()).doesNotContain(app + ":{plans}:e:4:acme:current");
      plans.close();
      redis.close();
    }
  }

  @Test
  void singleFlightAndCodecVersions() {
    try (SaasRedis redis = support.redis("docs").build()) {
      // snippet: single-flight
      SaasCache<String, Plan> reports = SaasCache.<String, Plan>named("reports")
          .ttl(Duration.ofMinutes(10))
          .sharedTier(redis.tier(ValueCodec.json(Plan.class).version(2))     // bump after a change of Plan
              .singleFlight(Duration.ofSeconds(5), Duration.ofMillis(500)))  // lock TTL, longest wait
          .build();
      // end snippet
      assertThat(TenantContext.call(TenantId.of("acme"), () -> reports.get("r", k -> new Plan("r", 1))))
          .isEqualTo(new Plan("r", 1));
      reports.close();
    }
  }

  @Test
  void rateLimits() {
    Map<TenantId, String> planNames = Map.of(TenantId.of("acme"), "pro");
    try (SaasRedis redis = support.redis("docs").build()) {
      TenantId tenant = TenantId.of("acme");
      String apiKeyId = "key-1";
      Map<String, String> responseHeaders = new HashMap<>();
      // snippet: rate-limit
      RateLimitPolicy policy = RateLimitPolicy.byPlan(
          t -> planNames.get(t),                                  // e.g. from saas-billing's entitlements
          Map.of("free", RateLimit.perMinute(60), "pro", RateLimit.perMinute(600)),
          RateLimit.perMinute(60));                               // no plan, or an unknown one
      RateLimiter limiter = redis.rateLimiter(policy);            // RateLimiter.inProcess(policy) on one node

      RateLimitDecision decision = limiter.tryAcquire(tenant, apiKeyId);
      responseHeaders.putAll(decision.headers());                 // RateLimit-Limit, -Remaining, -Reset
      if (!decision.allowed()) {
        // answer 429 Too Many Requests; headers() then holds Retry-After too
      }
      // end snippet
      assertThat(decision.allowed()).isTrue();
      assertThat(responseHeaders).containsEntry("RateLimit-Limit", "600").containsEntry("RateLimit-Remaining",
          "599");
      // snippet: leases
      RateLimiter hot = redis.rateLimiter(policy, 50, Duration.ofMillis(500));   // 50 tokens a call, for 0.5 s
      // end snippet
      assertThat(hot.tryAcquire(TenantId.of("globex")).allowed()).isTrue();
    }
  }
}
