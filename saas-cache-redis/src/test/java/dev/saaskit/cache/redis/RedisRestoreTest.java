package dev.saaskit.cache.redis;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.cache.InvalidationBus;
import dev.saaskit.cache.SaasCache;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.Await;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * A Redis that comes back with older data than it had: restarted from a snapshot taken before the last
 * invalidations, or a replica promoted before they reached it (replication is asynchronous). The generations and
 * key versions those invalidations moved are back at their old values, so the entries they had retired match them
 * again; none of them may be served.
 */
class RedisRestoreTest {
  private static final TenantId ACME = TenantId.of("acme");

  @Test
  void entriesRetiredBeforeARestartFromAnOlderSnapshotAreNotServedAgain() throws Exception {
    try (RedisSupport.OwnServer server = new RedisSupport.OwnServer();
        SaasRedis redisA = SaasRedis.builder(server.uri()).app("restore").clientName("restore-a")
            .commandTimeout(Duration.ofSeconds(2)).breaker(1_000, Duration.ofMillis(1)).build();
        SaasRedis redisB = SaasRedis.builder(server.uri()).app("restore").clientName("restore-b")
            .commandTimeout(Duration.ofSeconds(2)).breaker(1_000, Duration.ofMillis(1)).build();
        SaasCache<String, String> a = SaasCache.<String, String>named("plans").ttl(Duration.ofMinutes(10))
            .sharedTier(redisA.tier(ValueCodec.json(String.class))).invalidationBus(InvalidationBus.inProcess())
            .build();
        SaasCache<String, String> b = SaasCache.<String, String>named("plans").ttl(Duration.ofMinutes(10))
            .sharedTier(redisB.tier(ValueCodec.json(String.class))).invalidationBus(InvalidationBus.inProcess())
            .build()) {
      TenantContext.run(ACME, () -> {
        // the first calls connect and load the scripts: on a loaded machine they may time out, so wait for stores
        Await.until("A stores both entries in Redis", () -> {
          a.invalidate("key");
          a.invalidateTag("plans:acme");
          a.get("key", k -> "old");
          a.getWith("tagged", k -> dev.saaskit.cache.CacheValue.of("old").tags("plans:acme"));
          return redisA.stats().tierStores() >= 2;
        });
        a.invalidate("key");
        a.invalidateTag("plans:acme");
        a.get("key", k -> "old");
        a.getWith("tagged", k -> dev.saaskit.cache.CacheValue.of("old").tags("plans:acme"));
      });
      assertThat(TenantContext.call(ACME, () -> b.get("key", k -> "unexpected"))).as("a Redis hit on B")
          .isEqualTo("old");
      save(server);

      // the data changes and the entries are invalidated; Redis then dies and restarts from the snapshot above
      TenantContext.run(ACME, () -> {
        a.invalidate("key");
        a.invalidateTag("plans:acme");
      });
      long flushesBefore = redisB.stats().reconnectFlushes();
      server.stop();
      server.start();

      // B never saw the invalidations locally (no bus between A and B here): drop its local copy the way its
      // reconnection does, and read through Redis
      Await.until("B is connected again", () -> {
        TenantContext.run(ACME, () -> b.get("probe-" + System.nanoTime(), k -> "p"));
        return redisB.stats().reconnectFlushes() > flushesBefore;
      });
      TenantContext.run(ACME, () -> {
        assertThat(b.get("key", k -> "new")).as("the entry a key invalidation deleted").isEqualTo("new");
        assertThat(b.get("tagged", k -> "new")).as("the entry a tag invalidation retired").isEqualTo("new");
      });
    }
  }

  private static void save(RedisSupport.OwnServer server) {
    RedisClient client = RedisClient.create(server.uri());
    try (StatefulRedisConnection<String, String> connection = client.connect()) {
      assertThat(connection.sync().save()).isEqualTo("OK");
    } finally {
      client.shutdown();
    }
  }
}
