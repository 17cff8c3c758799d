package dev.saaskit.benchmarks;

import dev.saaskit.cache.redis.RateLimit;
import dev.saaskit.cache.redis.RateLimitPolicy;
import dev.saaskit.cache.redis.RateLimiter;
import dev.saaskit.cache.redis.SaasRedis;
import dev.saaskit.core.TenantId;
import io.github.bucket4j.BucketConfiguration;
import io.github.bucket4j.distributed.BucketProxy;
import io.github.bucket4j.distributed.ExpirationAfterWriteStrategy;
import io.github.bucket4j.redis.lettuce.Bucket4jLettuce;
import io.github.bucket4j.redis.lettuce.cas.LettuceBasedProxyManager;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.codec.StringCodec;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
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
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Rate limit checks per second against the same Redis in the same run: saaskit's GCRA script (one round trip),
 * saaskit with local leases of 100 tokens, Bucket4j's Lettuce backend (compare-and-swap: a GET, then a CAS
 * script), and saaskit's in-process limiter for scale. 100 tenants with a limit high enough that every check is
 * admitted (denials are cheaper for all of them), 4 threads sharing one connection per library.
 *
 * <p>Needs Redis on 127.0.0.1:6379 (or {@code SAAS_BENCH_REDIS_URL}); writes under a random prefix and deletes
 * only those keys. Run: {@code java -jar benchmarks/target/benchmarks.jar RateLimitBenchmark}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Threads(4)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@Warmup(iterations = 3, time = 3)
@Measurement(iterations = 5, time = 3)
public class RateLimitBenchmark {
  private static final int TENANTS = 100;
  /** High enough that no check is denied during a run: 10 million per hour (one per 360 µs per tenant). */
  private static final RateLimit LIMIT = RateLimit.perHour(10_000_000);

  private final String app = "bench-" + UUID.randomUUID().toString().substring(0, 8);
  private final TenantId[] tenants = new TenantId[TENANTS];
  private final BucketProxy[] buckets = new BucketProxy[TENANTS];
  private SaasRedis redis;
  private RateLimiter saas;
  private RateLimiter leased;
  private RateLimiter inProcess;
  private RedisClient client;
  private StatefulRedisConnection<String, byte[]> connection;

  @Setup(Level.Trial)
  public void setUp() {
    redis = SaasRedis.builder(RedisCacheBenchmark.URI).app(app).commandTimeout(Duration.ofSeconds(5)).build();
    RateLimitPolicy policy = RateLimitPolicy.fixed(LIMIT);
    saas = redis.rateLimiter(policy);
    leased = redis.rateLimiter(policy, 100, Duration.ofSeconds(1));
    inProcess = RateLimiter.inProcess(policy);
    client = RedisClient.create(RedisCacheBenchmark.URI);
    connection = client.connect(RedisCodec.of(StringCodec.UTF8, ByteArrayCodec.INSTANCE));
    LettuceBasedProxyManager<String> proxies = Bucket4jLettuce.casBasedBuilder(connection)
        .expirationAfterWrite(ExpirationAfterWriteStrategy.basedOnTimeForRefillingBucketUpToMax(Duration.ofMinutes(5)))
        .build();
    BucketConfiguration configuration = BucketConfiguration.builder()
        .addLimit(limit -> limit.capacity(LIMIT.limit()).refillGreedy(LIMIT.limit(), LIMIT.period()))
        .build();
    for (int i = 0; i < TENANTS; i++) {
      tenants[i] = TenantId.of("tenant-" + i);
      buckets[i] = proxies.builder().build(app + ":b4j:" + i, () -> configuration);
    }
  }

  private static int tenant() {
    return ThreadLocalRandom.current().nextInt(TENANTS);
  }

  @Benchmark
  public boolean saaskitRedis() {
    return check(saas.tryAcquire(tenants[tenant()]).allowed());
  }

  @Benchmark
  public boolean saaskitRedisLeases() {
    return check(leased.tryAcquire(tenants[tenant()]).allowed());
  }

  @Benchmark
  public boolean bucket4jLettuce() {
    return check(buckets[tenant()].tryConsume(1));
  }

  @Benchmark
  public boolean saaskitInProcess() {
    return check(inProcess.tryAcquire(tenants[tenant()]).allowed());
  }

  private static boolean check(boolean allowed) {
    if (!allowed) {
      throw new IllegalStateException("a check was denied: the limit is meant to admit every check");
    }
    return true;
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    try {
      RedisCacheBenchmark.deleteKeys(connection.sync(), app);
    } finally {
      connection.close();
      client.shutdown();
      redis.close();
    }
  }
}
