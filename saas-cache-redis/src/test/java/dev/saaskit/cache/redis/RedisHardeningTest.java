package dev.saaskit.cache.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.cache.CacheValue;
import dev.saaskit.cache.Invalidation;
import dev.saaskit.cache.SaasCache;
import dev.saaskit.cache.SharedTier;
import dev.saaskit.cache.redis.internal.TierBinding;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.MutableClock;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Hostile settings and inputs: a URI whose password must not reach an exception, durations Redis or a long cannot
 * hold, single-flight locks below Redis's millisecond, invalidations piling up while Redis is down, rate limit
 * state ahead of the clock (a clock stepped back, a shorter period), subjects that would grow memory without bound.
 */
class RedisHardeningTest {
  private static final TenantId ACME = TenantId.of("acme");

  @Test
  void aMalformedUriDoesNotPutItsPasswordInTheException() {
    for (String uri : List.of("redis://:s3cret-pw@[bad", "redis://user:s3cret-pw@host:6379/notanumber")) {
      assertThatThrownBy(() -> SaasRedis.builder(uri).build())
          .isInstanceOf(IllegalArgumentException.class)
          .satisfies(e -> {
            for (Throwable t = e; t != null; t = t.getCause()) {
              assertThat(String.valueOf(t.getMessage())).doesNotContain("s3cret-pw");
              assertThat(t.toString()).doesNotContain("s3cret-pw");
            }
          });
    }
  }

  @Test
  void buildingStartsNoThreadTheFirstCallDoesAndCloseStopsThem() throws Exception {
    // issue 11's lifecycle: build() never starts threads (Lettuce starts a timer as soon as a client exists)
    try (RedisSupport support = RedisSupport.connect()) {
      Set<Thread> before = Thread.getAllStackTraces().keySet(); // the support's own client runs already
      SaasRedis redis = support.redis("threads").build();
      assertThat(newLettuceThreads(before)).as("threads started by build()").isEmpty();
      RateLimiter limiter = redis.rateLimiter("threads", RateLimitPolicy.fixed(RateLimit.perHour(3)));
      assertThat(limiter.tryAcquire(ACME).allowed()).isTrue();
      assertThat(redis.stats().rateLimitFallbacks()).as("answered by Redis").isZero();
      List<Thread> started = newLettuceThreads(before);
      assertThat(started).as("the first call connects").isNotEmpty();
      redis.close();
      for (Thread thread : started) {
        thread.join(TimeUnit.SECONDS.toMillis(30));
        assertThat(thread.isAlive()).as(thread.getName() + " after close()").isFalse();
      }
    }
    Set<Thread> before = Thread.getAllStackTraces().keySet();
    try (SaasRedis unused = SaasRedis.builder("redis://127.0.0.1:1").build()) {
      assertThat(newLettuceThreads(before)).as("a SaasRedis never used starts nothing").isEmpty();
    }
  }

  private static List<Thread> newLettuceThreads(Set<Thread> before) {
    List<Thread> started = new ArrayList<>();
    for (Thread thread : Thread.getAllStackTraces().keySet()) {
      if (!before.contains(thread) && thread.getName().startsWith("lettuce-")) {
        started.add(thread);
      }
    }
    return started;
  }

  @Test
  void statsAreAClassWithAFactorySoCountersCanBeAddedLater() {
    // issue 11: wide public records cannot gain a field without breaking users (CacheStats is the model)
    assertThat(SaasRedis.Stats.class.isRecord()).isFalse();
    SaasRedis.Stats stats = SaasRedis.Stats.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, true);
    assertThat(stats.tierHits()).isEqualTo(1);
    assertThat(stats.lockTimeouts()).isEqualTo(10);
    assertThat(stats.rateLimitFallbacks()).isEqualTo(11);
    assertThat(stats.breakerOpen()).isTrue();
    assertThat(stats).isEqualTo(SaasRedis.Stats.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, true))
        .hasSameHashCodeAs(SaasRedis.Stats.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, true))
        .isNotEqualTo(SaasRedis.Stats.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, false));
    assertThat(stats.toString()).contains("tierHits=1", "lockTimeouts=10", "rateLimitFallbacks=11", "breakerOpen=true");
    assertThatThrownBy(() -> SaasRedis.Stats.of(0, 0, 0, 0, 0, 0, -1, 0, 0, 0, 0, false))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("errors");
    try (SaasRedis redis = SaasRedis.builder("redis://127.0.0.1:1").build()) {
      assertThat(redis.stats()).isEqualTo(SaasRedis.Stats.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, false));
    }
  }

  @Test
  void durationsBeyondWhatALongOrRedisHoldsAreRefusedByTheBuilders() {
    Duration huge = Duration.ofSeconds(Long.MAX_VALUE);
    assertThatThrownBy(() -> new RateLimit(10, huge)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("period");
    assertThatThrownBy(() -> SaasRedis.builder("redis://127.0.0.1:1").breaker(5, huge))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("breaker open");
    assertThatThrownBy(() -> SaasRedis.builder("redis://127.0.0.1:1").commandTimeout(huge))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("commandTimeout");
    assertThatThrownBy(() -> SaasRedis.builder("redis://127.0.0.1:1").storeGrace(Duration.ofDays(365L * 400)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("storeGrace");
    try (SaasRedis redis = SaasRedis.builder("redis://127.0.0.1:1").build()) {
      RateLimitPolicy policy = RateLimitPolicy.fixed(RateLimit.perMinute(10));
      assertThatThrownBy(() -> redis.rateLimiter(policy, 5, Duration.ofDays(365L * 300)))
          .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("lease ttl");
    }
  }

  @Test
  void singleFlightLocksShorterThanAMillisecondAreRefused() {
    try (SaasRedis redis = SaasRedis.builder("redis://127.0.0.1:1").build()) {
      RedisTier<String> tier = redis.tier(ValueCodec.json(String.class));
      // PX 0 is an error in Redis: every lookup would fail and open the breaker
      assertThatThrownBy(() -> tier.singleFlight(Duration.ofNanos(900_000), Duration.ofNanos(100_000)))
          .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("lockTtl");
      assertThatThrownBy(() -> tier.singleFlight(Duration.ofSeconds(Long.MAX_VALUE), Duration.ofSeconds(1)))
          .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("lockTtl");
      assertThat(tier.singleFlight(Duration.ofMillis(1), Duration.ofMillis(1))).isNotNull();
    }
  }

  @Test
  void invalidationsThatCannotReachRedisDoNotPileUpWithoutBound() throws Exception {
    int port = RedisSupport.freePort(); // nothing listens there
    try (SaasRedis redis = SaasRedis.builder("redis://127.0.0.1:" + port).app("pending")
        .breaker(1, Duration.ofHours(1)).build()) {
      TierBinding<String> binding = (TierBinding<String>) redis.tier(ValueCodec.json(String.class))
          .bind(new SharedTier.Context("plans", false, Duration.ofMinutes(1), () -> { }));
      for (int i = 0; i < TierBinding.MAX_PENDING + 1_000; i++) {
        binding.invalidate(Invalidation.key("plans", ACME, "k" + i));
      }
      assertThat(binding.pendingInvalidations()).isLessThanOrEqualTo(TierBinding.MAX_PENDING);
      assertThat(binding.lookup(ACME, "k1").isMiss()).as("the node still does not use the tier").isFalse();
      binding.close();
    }
  }

  @Test
  void anEntryWithThousandsOfTagsIsStoredAndServedAndDoesNotOpenTheBreaker() {
    try (RedisSupport support = RedisSupport.connect();
        SaasRedis redisA = support.redis("tags-a").commandTimeout(Duration.ofSeconds(5)).breaker(1,
            Duration.ofMinutes(1)).build();
        SaasRedis redisB = support.redis("tags-b").commandTimeout(Duration.ofSeconds(5)).build();
        SaasCache<String, String> a = SaasCache.<String, String>named("lists").ttl(Duration.ofMinutes(5))
            .sharedTier(redisA.tier(ValueCodec.json(String.class))).build();
        SaasCache<String, String> b = SaasCache.<String, String>named("lists").ttl(Duration.ofMinutes(5))
            .sharedTier(redisB.tier(ValueCodec.json(String.class))).build()) {
      // a list cached with one tag per item it holds, so that a change of any item drops it
      List<String> tags = new ArrayList<>();
      for (int i = 0; i < 10_000; i++) {
        tags.add("product:" + i);
      }
      TenantContext.run(ACME, () -> a.getWith("catalog", k -> CacheValue.of("all products").tags(tags)));
      assertThat(redisA.stats().errors()).as("a store Redis refused counts as a failure").isZero();
      assertThat(redisA.stats().breakerOpen()).isFalse();
      assertThat(redisA.stats().tierStores()).isEqualTo(1);
      assertThat(TenantContext.call(ACME, () -> b.get("catalog", k -> "loaded again"))).isEqualTo("all products");
      b.invalidateTag("product:9999");
      assertThat(TenantContext.call(ACME, () -> b.get("catalog", k -> "after the change")))
          .isEqualTo("after the change");
      assertThat(redisB.stats().errors()).isZero();
    }
  }

  @Test
  void aBurstOfRequestsWhileRedisCannotBeConnectedToDoesNotQueueBehindOneConnectAttemptEach() throws Exception {
    // a server that accepts connections and never answers: each connect attempt lasts one command timeout
    try (ServerSocket silent = new ServerSocket(0)) {
      List<Socket> accepted = new CopyOnWriteArrayList<>();
      Thread acceptor = new Thread(() -> {
        try {
          while (true) {
            accepted.add(silent.accept());
          }
        } catch (IOException e) {
          // closed at the end of the test
        }
      });
      acceptor.setDaemon(true);
      acceptor.start();
      try (SaasRedis redis = SaasRedis.builder("redis://127.0.0.1:" + silent.getLocalPort()).app("silent")
          .commandTimeout(Duration.ofMillis(400)).breaker(1000, Duration.ofSeconds(1)).build()) {
        RateLimiter limiter = redis.rateLimiter(RateLimitPolicy.fixed(RateLimit.perMinute(10)));
        limiter.tryAcquire(ACME); // warms the client up
        int threads = 16;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
          CountDownLatch start = new CountDownLatch(1);
          List<Future<Long>> took = new ArrayList<>();
          for (int i = 0; i < threads; i++) {
            took.add(pool.submit(() -> {
              start.await();
              long begin = System.nanoTime();
              assertThat(limiter.tryAcquire(ACME, "burst").limit()).isEqualTo(10);
              return (System.nanoTime() - begin) / 1_000_000;
            }));
          }
          start.countDown();
          long longest = 0;
          for (Future<Long> f : took) {
            longest = Math.max(longest, f.get(60, TimeUnit.SECONDS));
          }
          // one after the other they would take 16 connect attempts, over 6.4 s; the bound leaves room for a
          // loaded machine (a late thread may start a second attempt) while failing the queue by far
          assertThat(longest).as("the longest request, ms").isLessThan(4_000);
        } finally {
          pool.shutdownNow();
        }
      }
      assertThat(accepted).isNotEmpty();
    }
  }

  @Test
  void aWallClockSteppedBackDeniesForAtMostOnePeriod() {
    MutableClock clock = MutableClock.at(Instant.parse("2026-12-04T10:00:00Z"));
    RateLimiter limiter = RateLimiter.inProcess(RateLimitPolicy.fixed(RateLimit.perMinute(10)), clock);
    for (int i = 0; i < 10; i++) {
      assertThat(limiter.tryAcquire(ACME).allowed()).isTrue();
    }
    clock.set(Instant.parse("2026-12-04T09:00:00Z")); // NTP steps the clock back an hour
    RateLimitDecision denied = limiter.tryAcquire(ACME);
    assertThat(denied.allowed()).isFalse();
    assertThat(denied.retryAfter()).isLessThanOrEqualTo(Duration.ofMinutes(1));
    assertThat(denied.resetAfter()).isLessThanOrEqualTo(Duration.ofMinutes(1));
    clock.advance(Duration.ofMinutes(1));
    assertThat(limiter.tryAcquire(ACME).allowed()).as("one period later the tenant is served again").isTrue();
  }

  @Test
  void aRedisBucketAheadOfRedisTimeDeniesForAtMostOnePeriod() {
    try (RedisSupport support = RedisSupport.connect();
        SaasRedis redis = support.redis("ahead").commandTimeout(Duration.ofSeconds(5)).build()) {
      // the state a bucket is left in when Redis's clock steps back an hour (a failover to a replica whose clock
      // is slow), or when a tenant moves from an hourly limit to a per-minute one: an hour ahead of TIME
      List<String> time = support.admin.time();
      long nowMicros = Long.parseLong(time.get(0)) * 1_000_000L + Long.parseLong(time.get(1));
      String key = support.app + ":rl:{4:acme:}";
      support.admin.set(key, Long.toString(nowMicros + 3_600_000_000L), io.lettuce.core.SetArgs.Builder.px(3_600_000));
      RateLimiter limiter = redis.rateLimiter(RateLimitPolicy.fixed(RateLimit.perMinute(10)));
      RateLimitDecision denied = limiter.tryAcquire(ACME);
      assertThat(redis.core().breakerOpen()).isFalse();
      assertThat(denied.allowed()).isFalse();
      assertThat(denied.retryAfter()).isLessThanOrEqualTo(Duration.ofMinutes(1));
      assertThat(denied.resetAfter()).isLessThanOrEqualTo(Duration.ofMinutes(1));
      assertThat(support.admin.pttl(key)).isBetween(1L, 61_000L);
    }
  }

  @Test
  void subjectsThatWouldGrowMemoryOrCollideInRedisAreRefused() {
    RateLimiter limiter = RateLimiter.inProcess(RateLimitPolicy.fixed(RateLimit.perMinute(10)));
    String huge = "k".repeat(1_000_000);
    assertThatThrownBy(() -> limiter.tryAcquire(ACME, huge)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("subject");
    // UTF-8 has no form for it: Redis would see "a?", another subject's bucket
    assertThatThrownBy(() -> limiter.tryAcquire(ACME, "a\uD800")).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("subject");
    assertThat(limiter.tryAcquire(ACME, "k".repeat(1024)).allowed()).isTrue();
    assertThat(limiter.tryAcquire(ACME, "a\uD83D\uDE00").allowed()).isTrue();
  }
}
