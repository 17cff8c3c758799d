package dev.saaskit.benchmarks;

import dev.saaskit.cache.CacheValue;
import dev.saaskit.cache.SaasCache;
import dev.saaskit.cache.SharedTier;
import dev.saaskit.cache.redis.SaasRedis;
import dev.saaskit.cache.redis.ValueCodec;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import io.lettuce.core.KeyScanCursor;
import io.lettuce.core.RedisClient;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.ScanCursor;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.codec.StringCodec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The Redis tier's hit over loopback against a plain Lettuce {@code GET} of the same value, one thread, as latency
 * samples (p50/p99 from JMH's SampleTime): {@code tierHit} is what a SaasCache does on a local miss that Redis
 * answers (one Lua call: the entry, its generations, its TTL; then the codec), {@code lettuceGet} one {@code GET}
 * of the same JSON bytes. {@code localHitWithTier} is a local hit of a cache that has the tier, to show the tier
 * costs a local hit nothing (compare with CacheBenchmark).
 *
 * <p>Needs Redis on 127.0.0.1:6379 (or {@code SAAS_BENCH_REDIS_URL}); writes under a random {@code bench-*} prefix
 * and deletes only those keys. Run: {@code java -jar benchmarks/target/benchmarks.jar RedisCacheBenchmark}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@Warmup(iterations = 3, time = 3)
@Measurement(iterations = 5, time = 3)
public class RedisCacheBenchmark {
  static final String URI = System.getenv().getOrDefault("SAAS_BENCH_REDIS_URL", "redis://127.0.0.1:6379");
  private static final TenantId TENANT = TenantId.of("tenant-1");
  private static final int KEYS = 1_000;

  /** A plan-sized value: what a tier holds for subscription status or permissions. */
  public record Plan(String id, String name, int seats, List<String> features) {}

  private final String app = "bench-" + UUID.randomUUID().toString().substring(0, 8);
  private final String[] keys = new String[KEYS];
  private final String[] plainKeys = new String[KEYS];
  private final AtomicInteger next = new AtomicInteger();
  private SaasRedis redis;
  private SharedTier.Binding<Plan> binding;
  private SaasCache<String, Plan> cache;
  private RedisClient client;
  private StatefulRedisConnection<String, byte[]> connection;
  private RedisCommands<String, byte[]> commands;
  private long misses;

  @Setup(Level.Trial)
  public void setUp() {
    redis = SaasRedis.builder(URI).app(app).commandTimeout(Duration.ofSeconds(5)).build();
    ValueCodec<Plan> codec = ValueCodec.json(Plan.class);
    binding = redis.tier(codec).bind(new SharedTier.Context("plans", false, Duration.ofHours(1), () -> { }));
    cache = SaasCache.<String, Plan>named("plans").ttl(Duration.ofMinutes(30)).sharedTier(redis.tier(codec))
        .build();
    client = RedisClient.create(URI);
    connection = client.connect(RedisCodec.of(StringCodec.UTF8, ByteArrayCodec.INSTANCE));
    commands = connection.sync();
    for (int i = 0; i < KEYS; i++) {
      keys[i] = "plan-" + i;
      plainKeys[i] = app + ":plain:" + i;
      Plan plan = new Plan("plan-" + i, "Pro " + i, 10 + i, List.of("sso", "audit", "api"));
      SharedTier.Lookup<Plan> miss = binding.lookup(TENANT, keys[i]);
      if (!miss.isMiss()) {
        throw new IllegalStateException("expected a miss while filling, got " + miss);
      }
      binding.store(miss, CacheValue.of(plan), Duration.ofMinutes(30));
      commands.set(plainKeys[i], codec.encode(plan));
      commands.pexpire(plainKeys[i], Duration.ofMinutes(30).toMillis());
      String key = keys[i];
      TenantContext.run(TENANT, () -> cache.get(key, k -> plan));
    }
  }

  private int index() {
    return (next.getAndIncrement() & Integer.MAX_VALUE) % KEYS;
  }

  @Benchmark
  public Object tierHit() {
    SharedTier.Lookup<Plan> hit = binding.lookup(TENANT, keys[index()]);
    if (!hit.isHit()) {
      misses++;
    }
    return hit.value();
  }

  @Benchmark
  public Object lettuceGet() {
    return commands.get(plainKeys[index()]);
  }

  @Benchmark
  public Object localHitWithTier() {
    String key = keys[index()];
    return TenantContext.call(TENANT, () -> cache.get(key, k -> {
      throw new IllegalStateException("the benchmark's local cache missed");
    }));
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    try {
      if (misses > 0) {
        throw new IllegalStateException(misses + " tier lookups missed: the figures are not hits");
      }
    } finally {
      cache.close();
      binding.close();
      deleteKeys(commands, app);
      connection.close();
      client.shutdown();
      redis.close();
    }
  }

  /** Deletes the keys under {@code app}: never FLUSHALL on a Redis that others may use. */
  static void deleteKeys(RedisCommands<String, byte[]> commands, String app) {
    ScanCursor cursor = ScanCursor.INITIAL;
    List<String> keys = new ArrayList<>();
    do {
      KeyScanCursor<String> page = commands.scan(cursor, ScanArgs.Builder.matches(app + ":*").limit(1000));
      keys.addAll(page.getKeys());
      cursor = page;
    } while (!cursor.isFinished());
    for (int i = 0; i < keys.size(); i += 500) {
      commands.del(keys.subList(i, Math.min(keys.size(), i + 500)).toArray(new String[0]));
    }
  }
}
