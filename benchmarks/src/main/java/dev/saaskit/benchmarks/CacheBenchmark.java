package dev.saaskit.benchmarks;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import dev.saaskit.cache.SaasCache;
import dev.saaskit.core.CheckedFunction;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import java.time.Duration;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Group;
import org.openjdk.jmh.annotations.GroupThreads;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * Cache hits through a tenant-scoped {@link SaasCache} against a raw Caffeine cache of the same size holding the
 * same entries, in the same run.
 *
 * <p>10 tenants x 1,000 keys = 10,000 entries, all present (every get is a hit). An invocation is one "request":
 * it picks a tenant, and does {@value #BATCH} gets of random keys of that tenant. The SaasCache path sets the
 * tenant once per request with {@code TenantContext.run} (as a request filter would) and calls
 * {@code get(key, loader)} with plain keys, so it pays for the tenant lookup, the tenant-scoped internal key, TTL
 * and stats on every get. The raw path calls {@code Caffeine.get(key, loader)} with keys that already hold the
 * tenant ({@code "tenant:key"}, prebuilt, no allocation), which is the fastest one can do by hand. Both caches
 * expire entries after 10 minutes and are bounded to 20,000 entries.
 *
 * <p>{@code pair_*} runs both at once (one thread each), so both meet the same machine; the stand-alone methods
 * run with 2 threads each.
 *
 * <p>Run: {@code java -jar benchmarks/target/benchmarks.jar CacheBenchmark}. Figures: docs/benchmarks.md.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@Warmup(iterations = 3, time = 3)
@Measurement(iterations = 5, time = 3)
@Threads(2)
public class CacheBenchmark {
  static final int TENANTS = 10;
  static final int KEYS_PER_TENANT = 1_000;
  static final int BATCH = 100;
  static final int MAXIMUM_SIZE = 20_000;
  static final Duration TTL = Duration.ofMinutes(10);


  TenantId[] tenants;
  String[] keys;
  /** {@code rawKeys[tenant][key]} = "tenant:key". */
  String[][] rawKeys;
  SaasCache<String, String> saas;
  Cache<String, String> raw;
  /** Raw Caffeine with per-entry (variable) expiry, as SaasCache uses it: the reference for what that costs. */
  Cache<String, String> rawVariable;
  /** Raw Caffeine (fixed expiry) on a millisecond clock like SaasCache's: no {@code System.nanoTime()} per hit. */
  Cache<String, String> rawCoarseClock;

  @Setup(Level.Trial)
  public void setUp() throws Exception {
    tenants = new TenantId[TENANTS];
    keys = new String[KEYS_PER_TENANT];
    rawKeys = new String[TENANTS][KEYS_PER_TENANT];
    for (int k = 0; k < KEYS_PER_TENANT; k++) {
      keys[k] = "plan-" + k;
    }
    saas = SaasCache.<String, String>named("bench").ttl(TTL).maximumSize(MAXIMUM_SIZE).build();
    raw = Caffeine.newBuilder().maximumSize(MAXIMUM_SIZE).expireAfterWrite(TTL).build();
    rawCoarseClock = Caffeine.newBuilder().maximumSize(MAXIMUM_SIZE).expireAfterWrite(TTL)
        .ticker(new MillisecondTicker()).build();
    rawVariable = Caffeine.newBuilder().maximumSize(MAXIMUM_SIZE).expireAfter(new Expiry<String, String>() {
      @Override
      public long expireAfterCreate(String key, String value, long currentTime) {
        return TTL.toNanos();
      }

      @Override
      public long expireAfterUpdate(String key, String value, long currentTime, long currentDuration) {
        return currentDuration;
      }

      @Override
      public long expireAfterRead(String key, String value, long currentTime, long currentDuration) {
        return currentDuration;
      }
    }).build();
    for (int t = 0; t < TENANTS; t++) {
      tenants[t] = TenantId.of("tenant-" + t);
      for (int k = 0; k < KEYS_PER_TENANT; k++) {
        rawKeys[t][k] = tenants[t].value() + ":" + keys[k];
        String key = keys[k];
        String value = "value-" + t + "-" + k;
        TenantContext.run(tenants[t], () -> saas.put(key, value));
        raw.put(rawKeys[t][k], value);
        rawVariable.put(rawKeys[t][k], value);
        rawCoarseClock.put(rawKeys[t][k], value);
      }
    }
    selfCheck();
  }

  private void selfCheck() throws Exception {
    for (int t = 0; t < TENANTS; t++) {
      String expected = "value-" + t + "-7";
      String viaSaas = TenantContext.call(tenants[t], () -> saas.getIfPresent(keys[7]));
      if (!expected.equals(viaSaas) || !expected.equals(raw.getIfPresent(rawKeys[t][7]))) {
        throw new IllegalStateException("the caches do not hold the expected entries");
      }
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    if (saas.stats().misses() > 0) {
      throw new IllegalStateException("the SaasCache path missed " + saas.stats().misses() + " times");
    }
    saas.close();
  }

  /** Per-thread random request stream; both paths draw from the same kind of stream. */
  @State(Scope.Thread)
  public static class Requests {
    private final SplittableRandom random = new SplittableRandom(42);
    final int[] keyIndexes = new int[BATCH];
    int tenant;

    void next() {
      tenant = random.nextInt(TENANTS);
      for (int i = 0; i < BATCH; i++) {
        keyIndexes[i] = random.nextInt(KEYS_PER_TENANT);
      }
    }
  }

  @Benchmark
  @OperationsPerInvocation(BATCH)
  public void saasCache_get(Requests requests, Blackhole blackhole) {
    saasRequest(requests, blackhole);
  }

  @Benchmark
  @OperationsPerInvocation(BATCH)
  public void rawCaffeine_get(Requests requests, Blackhole blackhole) {
    rawRequest(raw, requests, blackhole);
  }

  @Benchmark
  @OperationsPerInvocation(BATCH)
  public void rawCaffeineVariableExpiry_get(Requests requests, Blackhole blackhole) {
    rawRequest(rawVariable, requests, blackhole);
  }

  @Benchmark
  @OperationsPerInvocation(BATCH)
  public void rawCaffeineCoarseClock_get(Requests requests, Blackhole blackhole) {
    rawRequest(rawCoarseClock, requests, blackhole);
  }

  @Benchmark
  @Group("pair")
  @GroupThreads(1)
  @OperationsPerInvocation(BATCH)
  public void pair_saasCache_get(Requests requests, Blackhole blackhole) {
    saasRequest(requests, blackhole);
  }

  @Benchmark
  @Group("pair")
  @GroupThreads(1)
  @OperationsPerInvocation(BATCH)
  public void pair_rawCaffeine_get(Requests requests, Blackhole blackhole) {
    rawRequest(raw, requests, blackhole);
  }

  private void saasRequest(Requests requests, Blackhole blackhole) {
    requests.next();
    TenantContext.run(tenants[requests.tenant], () -> {
      int[] indexes = requests.keyIndexes;
      for (int i = 0; i < BATCH; i++) {
        blackhole.consume(saas.get(keys[indexes[i]], CacheBenchmark::load));
      }
    });
  }

  private void rawRequest(Cache<String, String> cache, Requests requests, Blackhole blackhole) {
    requests.next();
    String[] tenantKeys = rawKeys[requests.tenant];
    int[] indexes = requests.keyIndexes;
    for (int i = 0; i < BATCH; i++) {
      blackhole.consume(cache.get(tenantKeys[indexes[i]], CacheBenchmark::load));
    }
  }

  /** The loader: never called in the measured methods, whose keys are all present. */
  private static String load(String key) {
    return "loaded:" + key;
  }
}
