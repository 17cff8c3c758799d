package dev.saaskit.cache.redis;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.cache.CacheValue;
import dev.saaskit.cache.SaasCache;
import dev.saaskit.cache.redis.internal.TierBinding;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The tier against the shared Redis, with nodes that share no bus (so what one node sees of another's work went
 * through Redis): hits across nodes, TTLs in Redis, invalidation by key, tag, tenant and all, the compare-and-set
 * that keeps a racing load out, codec versions, and tenant separation.
 */
class RedisTierTest {
  private static final TenantId ACME = TenantId.of("acme");
  private static final TenantId GLOBEX = TenantId.of("globex");

  private RedisSupport redisSupport;
  private final List<AutoCloseable> open = new ArrayList<>();
  private final ConcurrentHashMap<String, String> source = new ConcurrentHashMap<>();
  private final AtomicInteger loads = new AtomicInteger();

  @BeforeEach
  void connect() {
    redisSupport = RedisSupport.connect();
  }

  @AfterEach
  void close() throws Exception {
    for (int i = open.size() - 1; i >= 0; i--) {
      open.get(i).close();
    }
    redisSupport.close();
  }

  private SaasRedis redis(String node) {
    SaasRedis redis = redisSupport.redis(node).build();
    open.add(redis);
    return redis;
  }

  private SaasCache<String, String> cache(SaasRedis redis, ValueCodec<String> codec) {
    SaasCache<String, String> cache = SaasCache.<String, String>named("plans").ttl(Duration.ofMinutes(10))
        .sharedTier(redis.tier(codec)).build();
    open.add(cache);
    return cache;
  }

  private SaasCache<String, String> cache(SaasRedis redis) {
    return cache(redis, ValueCodec.json(String.class));
  }

  private String read(SaasCache<String, String> cache, TenantId tenant, String key) {
    return TenantContext.call(tenant, () -> cache.get(key, k -> {
      loads.incrementAndGet();
      return source.get(tenant + "/" + k);
    }));
  }

  @Test
  void aValueLoadedOnOneNodeIsARedisHitOnAnother() {
    SaasRedis redisA = redis("a");
    SaasRedis redisB = redis("b");
    SaasCache<String, String> a = cache(redisA);
    SaasCache<String, String> b = cache(redisB);
    source.put("acme/k1", "v1");

    assertThat(read(a, ACME, "k1")).isEqualTo("v1");
    assertThat(loads).hasValue(1);
    assertThat(read(b, ACME, "k1")).isEqualTo("v1");
    assertThat(loads).as("B found it in Redis").hasValue(1);
    assertThat(redisB.stats().tierHits()).isEqualTo(1);
    assertThat(redisA.stats().tierStores()).isEqualTo(1);
  }

  @Test
  void everyKeyWrittenHasATtlAndTheEntryKeepsItsLifetime() {
    SaasRedis redis = redis("a");
    SaasCache<String, String> a = cache(redis);
    source.put("acme/k1", "v1");
    read(a, ACME, "k1");
    read(a, ACME, "missing"); // a cached absence
    TenantContext.run(ACME, () -> a.getWith("tagged", k -> CacheValue.of("t").tags("plan:acme")
        .ttl(Duration.ofSeconds(30))));
    TenantContext.run(ACME, () -> a.invalidate("k1"));
    a.invalidateTag("plan:acme");
    a.invalidateTenant(GLOBEX);
    a.invalidateAll();

    List<String> keys = redisSupport.keys();
    assertThat(keys).hasSizeGreaterThanOrEqualTo(6);
    for (String key : keys) {
      assertThat(redisSupport.admin.pttl(key)).as("PTTL of " + key).isPositive();
    }
    String tagged = redisSupport.app + ":{plans}:e:4:acme:tagged";
    assertThat(redisSupport.admin.exists(tagged)).isEqualTo(1);
    assertThat(redisSupport.admin.pttl(tagged)).as("own TTL 30 s with at most 10% jitter")
        .isBetween(1L, 33_000L);
  }

  @Test
  void aKeyInvalidationReachesRedisAtOnce() {
    SaasCache<String, String> a = cache(redis("a"));
    SaasCache<String, String> b = cache(redis("b"));
    source.put("acme/k1", "v1");
    read(a, ACME, "k1");
    source.put("acme/k1", "v2");
    TenantContext.run(ACME, () -> a.invalidate("k1"));

    assertThat(read(b, ACME, "k1")).as("B has no local copy and Redis lost its entry").isEqualTo("v2");
    assertThat(loads).hasValue(2);
  }

  @Test
  void tagTenantAndAllInvalidationsMakeRedisEntriesMisses() {
    SaasCache<String, String> a = cache(redis("a"));
    SaasRedis redisB = redis("b");
    source.put("acme/k1", "v1");
    source.put("globex/k1", "g1");
    TenantContext.run(ACME, () -> a.getWith("tagged", k -> CacheValue.of("t1").tags("x")));
    read(a, ACME, "k1");
    read(a, GLOBEX, "k1");

    a.invalidateTag("x");
    SaasCache<String, String> b1 = cache(redisB);
    assertThat(TenantContext.call(ACME, () -> b1.getWith("tagged", k -> CacheValue.of("t2").tags("x"))))
        .as("the tag invalidation made the Redis entry a miss").isEqualTo("t2");
    assertThat(read(b1, ACME, "k1")).as("untagged entries stay").isEqualTo("v1");
    assertThat(loads).hasValue(2);

    source.put("acme/k1", "v2");
    a.invalidateTenant(ACME);
    SaasCache<String, String> b2 = cacheNamed(redisB, "plans");
    assertThat(read(b2, ACME, "k1")).isEqualTo("v2");
    assertThat(read(b2, GLOBEX, "k1")).as("another tenant's entry stays").isEqualTo("g1");
    assertThat(loads).hasValue(3);

    source.put("globex/k1", "g2");
    a.invalidateAll();
    SaasCache<String, String> b3 = cacheNamed(redisB, "plans");
    assertThat(read(b3, GLOBEX, "k1")).isEqualTo("g2");
    assertThat(loads).hasValue(4);
  }

  /** A fresh node's cache: the previous one of that name is closed first (names are free without a bus anyway). */
  private SaasCache<String, String> cacheNamed(SaasRedis redis, String name) {
    SaasCache<String, String> cache = SaasCache.<String, String>named(name).ttl(Duration.ofMinutes(10))
        .sharedTier(redis.tier(ValueCodec.json(String.class))).build();
    open.add(cache);
    return cache;
  }

  @Test
  void tenantsDoNotShareEntries() {
    SaasCache<String, String> a = cache(redis("a"));
    SaasCache<String, String> b = cache(redis("b"));
    source.put("acme/k1", "acme's");
    source.put("globex/k1", "globex's");
    assertThat(read(a, ACME, "k1")).isEqualTo("acme's");
    assertThat(read(b, GLOBEX, "k1")).isEqualTo("globex's");
    assertThat(read(b, ACME, "k1")).isEqualTo("acme's");
    assertThat(loads).hasValue(2);
  }

  @Test
  void aLoadThatRacesAnInvalidationDoesNotWriteRedis() throws Exception {
    SaasRedis redisA = redis("a");
    SaasCache<String, String> a = cache(redisA);
    SaasCache<String, String> b = cache(redis("b"));
    CountDownLatch loading = new CountDownLatch(1);
    CountDownLatch invalidated = new CountDownLatch(1);
    Thread loader = new Thread(() -> TenantContext.run(ACME, () -> a.get("k1", k -> {
      loading.countDown();
      invalidated.await(30, TimeUnit.SECONDS);
      return "old";
    })));
    loader.start();
    assertThat(loading.await(30, TimeUnit.SECONDS)).isTrue();
    TenantContext.run(ACME, () -> b.invalidate("k1")); // another node, so A's own flight is not marked
    invalidated.countDown();
    loader.join(30_000);

    assertThat(redisSupport.admin.exists(redisSupport.app + ":{plans}:e:4:acme:k1")).isZero();
    assertThat(redisA.stats().tierStoresRejected()).isEqualTo(1);
    source.put("acme/k1", "new");
    SaasCache<String, String> c = cache(redis("c"));
    assertThat(read(c, ACME, "k1")).isEqualTo("new");
  }

  /**
   * An operator clears Redis ({@code FLUSHDB}) while a load that raced an invalidation is still running. The flush
   * also wiped the key version the invalidation had moved, so the store's compare-and-set found everything back at
   * its absent value and wrote the old value, which every node then read until its TTL. The lookup now creates the
   * cache generation it read, which the flush removes, so the store writes nothing.
   */
  @Test
  void aFlushOfRedisDuringARacingLoadDoesNotLetItWriteTheOldValue() throws Exception {
    try (RedisSupport.OwnServer server = new RedisSupport.OwnServer()) {
      io.lettuce.core.RedisClient adminClient = io.lettuce.core.RedisClient.create(server.uri());
      open.add(adminClient::shutdown);
      io.lettuce.core.api.StatefulRedisConnection<String, String> admin = adminClient.connect();
      SaasRedis redisA = SaasRedis.builder(server.uri()).app("flush").commandTimeout(Duration.ofSeconds(5)).build();
      open.add(redisA);
      SaasRedis redisB = SaasRedis.builder(server.uri()).app("flush").commandTimeout(Duration.ofSeconds(5)).build();
      open.add(redisB);
      SaasCache<String, String> a = cache(redisA);
      SaasCache<String, String> b = cache(redisB);
      CountDownLatch loading = new CountDownLatch(1);
      CountDownLatch flushed = new CountDownLatch(1);
      Thread loader = new Thread(() -> TenantContext.run(ACME, () -> a.get("k1", k -> {
        loading.countDown();
        flushed.await(60, TimeUnit.SECONDS);
        return "old";
      })));
      loader.start();
      assertThat(loading.await(60, TimeUnit.SECONDS)).isTrue();
      TenantContext.run(ACME, () -> b.invalidate("k1")); // the data changed: another node invalidates
      assertThat(admin.sync().flushdb()).isEqualTo("OK");  // and an operator clears Redis
      flushed.countDown();
      loader.join(60_000);

      assertThat(admin.sync().exists("flush:{plans}:e:4:acme:k1")).as("the old value was not written").isZero();
      assertThat(redisA.stats().tierStoresRejected()).isEqualTo(1);
      source.put("acme/k1", "new");
      assertThat(read(b, ACME, "k1")).isEqualTo("new");
    }
  }

  @Test
  void anEntryOfAnotherCodecVersionOrUndecodableIsAMiss() {
    SaasCache<String, String> v1 = cache(redis("a"), ValueCodec.json(String.class).version(1));
    source.put("acme/k1", "v1");
    read(v1, ACME, "k1");
    SaasRedis redisB = redis("b");
    SaasCache<String, String> v2 = cache(redisB, ValueCodec.json(String.class).version(2));
    source.put("acme/k1", "v2");
    assertThat(read(v2, ACME, "k1")).isEqualTo("v2");
    assertThat(redisB.stats().tierUndecodable()).isEqualTo(1);

    ValueCodec<String> broken = new ValueCodec<>() {
      @Override
      public byte[] encode(String value) {
        return new byte[] {'{'};
      }

      @Override
      public String decode(byte[] bytes) {
        throw new IllegalStateException("cannot decode");
      }
    };
    SaasRedis redisC = redis("c");
    SaasCache<String, String> writer = cache(redisC, broken);
    source.put("acme/k2", "x");
    assertThat(read(writer, ACME, "k2")).isEqualTo("x");
    SaasCache<String, String> reader = cache(redis("d"), broken);
    assertThat(read(reader, ACME, "k2")).as("undecodable: loaded again, no exception").isEqualTo("x");
  }

  @Test
  void cacheNamesWithBracesAreRefused() {
    SaasRedis redis = redis("a");
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> SaasCache.<String, String>named("a{b}")
            .ttl(Duration.ofMinutes(1)).sharedTier(redis.tier(ValueCodec.json(String.class))).build())
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("must not contain '{' or '}'");
  }

  @Test
  void theKeyLayoutIsTheDocumentedOne() {
    SaasRedis redis = redis("a");
    TierBinding<String> binding = (TierBinding<String>) redis.tier(ValueCodec.json(String.class))
        .bind(new dev.saaskit.cache.SharedTier.Context("plans", false, Duration.ofMinutes(1), () -> { }));
    assertThat(binding.entryKey(TenantId.of("a:b"), "c")).isEqualTo(redisSupport.app + ":{plans}:e:3:a:b:c");
    assertThat(binding.entryKey(TenantId.of("a"), "b:c")).isEqualTo(redisSupport.app + ":{plans}:e:1:a:b:c");
    binding.close();
  }
}
