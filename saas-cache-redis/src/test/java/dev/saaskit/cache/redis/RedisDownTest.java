package dev.saaskit.cache.redis;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.cache.SaasCache;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.Await;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Redis stopped mid-test (a redis-server of the test's own, so the shared one is never touched): requests keep
 * succeeding through the loader, invalidations made meanwhile are applied once it is back, and the node drops its
 * local entries when its connection returns.
 */
class RedisDownTest {
  private static final TenantId ACME = TenantId.of("acme");

  @Test
  void requestsKeepSucceedingThroughTheLoaderWhileRedisIsDown() throws Exception {
    AtomicInteger loads = new AtomicInteger();
    try (RedisSupport.OwnServer server = new RedisSupport.OwnServer();
        SaasRedis redis = SaasRedis.builder(server.uri()).app("down").commandTimeout(Duration.ofSeconds(2))
            .breaker(2, Duration.ofMillis(200)).build();
        SaasCache<String, String> cache = SaasCache.<String, String>named("plans").ttl(Duration.ofMinutes(10))
            .sharedTier(redis.tier(ValueCodec.json(String.class))).build()) {
      TenantContext.run(ACME, () -> {
        // the first calls connect and load the scripts: on a loaded machine they may time out, so wait for a store
        Await.until("the tier stores a value", () -> {
          cache.invalidate("before");
          cache.get("before", k -> "v-" + k + "-" + loads.incrementAndGet());
          return redis.stats().tierStores() >= 1;
        });
        long storesBefore = redis.stats().tierStores();
        String before = cache.get("before", k -> "unexpected");

        server.stop();
        for (int i = 0; i < 50; i++) {
          String key = "during-" + i;
          assertThat(cache.get(key, k -> "v-" + k)).isEqualTo("v-" + key);
        }
        assertThat(cache.get("before", k -> "reloaded")).as("the local entry still serves").isEqualTo(before);
        cache.invalidate("before"); // cannot reach Redis: kept, and the node stops using the tier
        assertThat(cache.get("before", k -> "v2")).isEqualTo("v2");
        assertThat(redis.stats().tierBypasses()).isPositive();
        assertThat(redis.stats().errors()).isPositive();

        server.start();
        Await.until("the connection is back and the local entries were flushed",
            () -> redis.stats().reconnectFlushes() >= 1 || probe(cache));
        Await.until("the pending invalidation reached Redis and the tier serves again",
            () -> TenantContext.call(ACME, () -> cache.get("after-" + System.nanoTime(), k -> "a")) != null
                && redis.stats().tierStores() > storesBefore);
      });
    }
  }

  private static boolean probe(SaasCache<String, String> cache) {
    TenantContext.run(ACME, () -> cache.get("probe-" + System.nanoTime(), k -> "p"));
    return false;
  }
}
