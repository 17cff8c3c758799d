package dev.saaskit.cache.redis;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.cache.Invalidation;
import dev.saaskit.cache.SaasCache;
import dev.saaskit.cache.SharedTier;
import dev.saaskit.cache.redis.internal.TierBinding;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.Await;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * A Redis that is slow but still answers, made by a proxy that holds the commands on their way to it: a lookup does
 * not wait for the invalidations other calls are applying, and a caller still reads its own invalidation.
 */
class RedisSlowDrainTest {
  private static final TenantId ACME = TenantId.of("acme");

  @Test
  void aLookupDoesNotWaitForTheInvalidationsAnotherCallIsApplying() throws Exception {
    ExecutorService pool = Executors.newCachedThreadPool();
    try (RedisSupport support = RedisSupport.connect();
        TcpProxy proxy = TcpProxy.toTestRedis();
        SaasRedis redis = SaasRedis.builder(proxy.uri()).app(support.app).clientName(support.app + "-slow")
            .commandTimeout(Duration.ofMinutes(2)).build()) {
      TierBinding<String> binding = (TierBinding<String>) redis.tier(ValueCodec.json(String.class))
          .bind(new SharedTier.Context("plans", false, Duration.ofMinutes(1), () -> { }));
      assertThat(binding.lookup(ACME, "warm-up").isMiss()).as("connected, server id read").isTrue();
      binding.invalidate(Invalidation.key("plans", ACME, "warm-up")); // its script is loaded

      proxy.hold(); // Redis answers nothing from here on, until released
      List<Future<?>> writers = new ArrayList<>();
      writers.add(pool.submit(() -> binding.invalidate(Invalidation.key("plans", ACME, "written-0"))));
      Await.until("the first invalidation reached the proxy", () -> proxy.received("written-0"));
      for (int i = 1; i <= 5; i++) {
        String key = "written-" + i;
        writers.add(pool.submit(() -> binding.invalidate(Invalidation.key("plans", ACME, key))));
      }
      Await.until("the backlog is queued", () -> binding.pendingInvalidations() == 6);

      // a key being invalidated: the lookup answers at once without Redis (the loader reads the source)
      Future<SharedTier.Lookup<String>> covered = pool.submit(() -> binding.lookup(ACME, "written-3"));
      SharedTier.Lookup<String> bypass = covered.get(30, TimeUnit.SECONDS);
      assertThat(bypass.isHit() || bypass.isMiss()).as("a bypass: no old value from Redis").isFalse();

      // an unrelated key: its command goes to Redis at once, behind no lock the drain holds
      Future<SharedTier.Lookup<String>> unrelated = pool.submit(() -> binding.lookup(ACME, "unrelated-key"));
      Await.until("the unrelated lookup reached Redis while the drain is stuck",
          () -> proxy.received("unrelated-key"));
      assertThat(writers.get(0).isDone()).as("the drain is still stuck").isFalse();
      assertThat(unrelated.isDone()).isFalse(); // it waits for its own reply, which the proxy holds

      proxy.release();
      assertThat(unrelated.get(30, TimeUnit.SECONDS).isMiss()).isTrue();
      for (Future<?> writer : writers) {
        writer.get(30, TimeUnit.SECONDS);
      }
      assertThat(binding.pendingInvalidations()).isZero();
      assertThat(binding.lookup(ACME, "written-3").isMiss()).as("the tier is used again").isTrue();
      binding.close();
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void aCallerReadsItsOwnInvalidationWhileOthersDrainThroughASlowRedis() throws Exception {
    int writers = 4;
    int rounds = 150;
    Map<String, Integer> source = new ConcurrentHashMap<>();
    ExecutorService pool = Executors.newFixedThreadPool(writers + 2);
    AtomicBoolean stop = new AtomicBoolean();
    try (RedisSupport support = RedisSupport.connect();
        TcpProxy proxy = TcpProxy.toTestRedis();
        SaasRedis redis = SaasRedis.builder(proxy.uri()).app(support.app).clientName(support.app + "-ryw")
            .commandTimeout(Duration.ofSeconds(30)).build();
        SaasRedis other = support.redis("ryw-other").commandTimeout(Duration.ofSeconds(30)).build();
        SaasCache<String, Integer> cache = SaasCache.<String, Integer>named("counters").ttl(Duration.ofMinutes(5))
            .sharedTier(redis.tier(ValueCodec.json(Integer.class))).build();
        SaasCache<String, Integer> otherNode = SaasCache.<String, Integer>named("counters")
            .ttl(Duration.ofMinutes(5)).sharedTier(other.tier(ValueCodec.json(Integer.class))).build()) {
      // another node keeps filling Redis with whatever the source holds, so old values are there to be read
      Future<?> filler = pool.submit(() -> {
        while (!stop.get()) {
          for (int w = 0; w < writers; w++) {
            String key = "key-" + w;
            TenantContext.run(ACME, () -> otherNode.get(key, k -> source.getOrDefault(k, 0)));
            otherNode.invalidateAll(); // its local level only matters to it: read Redis again next time
          }
        }
      });
      // a slow Redis: the proxy holds this node's commands for short spells, so drains overlap lookups
      Future<?> slow = pool.submit(() -> {
        while (!stop.get()) {
          proxy.hold();
          Thread.sleep(2); // the length of a spell is not asserted on; any length exercises the same paths
          proxy.release();
          Thread.sleep(1);
        }
        return null;
      });
      CountDownLatch start = new CountDownLatch(1);
      List<Future<?>> runs = new ArrayList<>();
      for (int w = 0; w < writers; w++) {
        String key = "key-" + w;
        runs.add(pool.submit(() -> {
          start.await();
          for (int round = 1; round <= rounds; round++) {
            int written = round;
            TenantContext.run(ACME, () -> {
              cache.get(key, k -> source.getOrDefault(k, 0)); // cached, locally and in Redis
              source.put(key, written);
              cache.invalidate(key);
              assertThat(cache.get(key, k -> source.getOrDefault(k, 0))).as(key + " after its write")
                  .isEqualTo(written);
            });
          }
          return null;
        }));
      }
      start.countDown();
      for (Future<?> run : runs) {
        run.get(5, TimeUnit.MINUTES);
      }
      stop.set(true);
      proxy.release();
      slow.get(1, TimeUnit.MINUTES);
      filler.get(1, TimeUnit.MINUTES);
    } finally {
      stop.set(true);
      pool.shutdownNow();
    }
  }
}
