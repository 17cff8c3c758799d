package dev.saaskit.benchmarks.scaling;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.saaskit.cache.SaasCache;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import java.nio.file.Path;
import java.time.Duration;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
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
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;
import org.openjdk.jmh.results.BenchmarkResult;
import org.openjdk.jmh.results.IterationResult;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * Cache hit cost against the cache's size and its number of tenants: {@code SaasCache.get} on a present key and,
 * at the same time in the same JVM (a JMH group, one thread each), raw Caffeine on a key that already holds the
 * tenant. {@code entries} keys are spread evenly over {@code tenants} tenants; every get is a hit. An invocation is
 * one "request" of {@value #BATCH} gets of random keys of one random tenant, the tenant set once per request as a
 * request filter would.
 *
 * <p>Keys are {@code Long}s (a string key of 10M entries would double the heap for no insight): SaasCache gets the
 * tenant's key index and scopes it by the current tenant itself; raw Caffeine gets {@code tenant * keysPerTenant +
 * index}, prebuilt, the cheapest tenant-scoped key one can write by hand. Both are bounded to twice the entries and
 * expire after 10 minutes (so neither evicts during the run). Run by {@link Scaling} ({@code cache}).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms2g", "-Xmx8g"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 8, time = 1)
public class CacheScaling {
  static final int BATCH = 1_000;
  static final Duration TTL = Duration.ofMinutes(10);

  /** The shape of one point: how many entries over how many tenants. */
  @State(Scope.Benchmark)
  public static class Shape {
    @Param("100000")
    public int entries;

    @Param("10")
    public int tenants;

    int keysPerTenant;
    TenantId[] tenantIds;
    /** {@code keys[i]}: the key of index i in every tenant (SaasCache scopes it by tenant itself). */
    Long[] keys;

    @Setup(Level.Trial)
    public void setUp() {
      if (entries % tenants != 0) {
        throw new IllegalArgumentException(entries + " entries do not spread evenly over " + tenants + " tenants");
      }
      keysPerTenant = entries / tenants;
      tenantIds = new TenantId[tenants];
      for (int t = 0; t < tenants; t++) {
        tenantIds[t] = TenantId.of(String.format("tenant-%05d", t));
      }
      keys = new Long[keysPerTenant];
      for (int k = 0; k < keysPerTenant; k++) {
        keys[k] = (long) k;
      }
    }
  }

  /** The SaasCache, filled tenant by tenant. */
  @State(Scope.Benchmark)
  public static class Saas {
    SaasCache<Long, Long> cache;

    @Setup(Level.Trial)
    public void setUp(Shape shape) {
      cache = SaasCache.<Long, Long>named("scaling").ttl(TTL).maximumSize(2L * shape.entries).build();
      for (int t = 0; t < shape.tenants; t++) {
        TenantContext.run(shape.tenantIds[t], () -> {
          for (Long key : shape.keys) {
            cache.put(key, key);
          }
        });
      }
      TenantId last = shape.tenantIds[shape.tenants - 1];
      Long lastKey = shape.keys[shape.keysPerTenant - 1];
      if (!lastKey.equals(TenantContext.call(last, () -> cache.getIfPresent(lastKey)))) {
        throw new IllegalStateException("the SaasCache does not hold its entries");
      }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
      long misses = cache.stats().misses();
      cache.close();
      if (misses > 0) {
        throw new IllegalStateException("the SaasCache path missed " + misses + " times: not a hit benchmark");
      }
    }
  }

  /** Raw Caffeine holding the same entries under prebuilt composite keys. */
  @State(Scope.Benchmark)
  public static class Raw {
    Cache<Long, Long> cache;
    /** {@code keys[t * keysPerTenant + k]}. */
    Long[] keys;

    @Setup(Level.Trial)
    public void setUp(Shape shape) {
      cache = Caffeine.newBuilder().maximumSize(2L * shape.entries).expireAfterWrite(TTL).build();
      keys = new Long[shape.entries];
      for (int i = 0; i < shape.entries; i++) {
        keys[i] = (long) i;
        cache.put(keys[i], keys[i]);
      }
      if (cache.estimatedSize() != shape.entries) {
        throw new IllegalStateException("raw Caffeine holds " + cache.estimatedSize() + " entries");
      }
    }
  }

  /**
   * CPU time of the SaasCache thread's gets (JMH secondary results, summed per iteration). On a host shared with
   * other work a thread waits for a core for much of the wall time, and that wait lands in the wall-clock average;
   * the thread's own CPU time does not contain it.
   */
  @State(Scope.Thread)
  @AuxCounters(AuxCounters.Type.EVENTS)
  public static class SaasCpu {
    public long saasCpuNanos;
    public long saasHits;

    @Setup(Level.Iteration)
    public void reset() {
      saasCpuNanos = 0;
      saasHits = 0;
    }
  }

  /** CPU time of the raw Caffeine thread's gets, as {@link SaasCpu}. */
  @State(Scope.Thread)
  @AuxCounters(AuxCounters.Type.EVENTS)
  public static class RawCpu {
    public long rawCpuNanos;
    public long rawHits;

    @Setup(Level.Iteration)
    public void reset() {
      rawCpuNanos = 0;
      rawHits = 0;
    }
  }

  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

  /** Per-thread request stream: a tenant and {@value #BATCH} key indexes of it. */
  @State(Scope.Thread)
  public static class Requests {
    private final SplittableRandom random = new SplittableRandom(42);
    final int[] keyIndexes = new int[BATCH];
    int tenant;

    void next(Shape shape) {
      tenant = random.nextInt(shape.tenants);
      for (int i = 0; i < BATCH; i++) {
        keyIndexes[i] = random.nextInt(shape.keysPerTenant);
      }
    }
  }

  @Benchmark
  @Group("pair")
  @GroupThreads(1)
  @OperationsPerInvocation(BATCH)
  public void saasCache(Shape shape, Saas saas, Requests requests, SaasCpu cpu, Blackhole blackhole) {
    requests.next(shape);
    long started = THREADS.getCurrentThreadCpuTime();
    TenantContext.run(shape.tenantIds[requests.tenant], () -> {
      int[] indexes = requests.keyIndexes;
      for (int i = 0; i < BATCH; i++) {
        blackhole.consume(saas.cache.get(shape.keys[indexes[i]], CacheScaling::load));
      }
    });
    cpu.saasCpuNanos += THREADS.getCurrentThreadCpuTime() - started;
    cpu.saasHits += BATCH;
  }

  @Benchmark
  @Group("pair")
  @GroupThreads(1)
  @OperationsPerInvocation(BATCH)
  public void rawCaffeine(Shape shape, Raw raw, Requests requests, RawCpu cpu, Blackhole blackhole) {
    requests.next(shape);
    long started = THREADS.getCurrentThreadCpuTime();
    int base = requests.tenant * shape.keysPerTenant;
    int[] indexes = requests.keyIndexes;
    for (int i = 0; i < BATCH; i++) {
      blackhole.consume(raw.cache.get(raw.keys[base + indexes[i]], CacheScaling::load));
    }
    cpu.rawCpuNanos += THREADS.getCurrentThreadCpuTime() - started;
    cpu.rawHits += BATCH;
  }

  /** Never called: every key is present. */
  private static Long load(Long key) {
    return -key;
  }

  /** Both series: entries at 10 tenants, and tenants at {@code tenantAxisEntries} entries. */
  static void run(Path dataDir, Path imageDir, List<Integer> entrySizes, List<Integer> tenantCounts,
      int tenantAxisEntries) throws Exception {
    Series byEntries = new Series("cache-entries", "saas-cache: hit cost vs entries (10 tenants)",
        "entries in the cache", columns("entries"));
    for (RunResult r : runJmh(entrySizes.stream().map(String::valueOf).toList(), List.of("10"))) {
      addRow(byEntries, r, Integer.parseInt(r.getParams().getParam("entries")));
    }
    byEntries.write(dataDir, imageDir, "CPU ns per hit", true, 1, 2);
    Series byTenants = new Series("cache-tenants",
        "saas-cache: hit cost vs tenants (" + Series.count(tenantAxisEntries) + " entries)",
        "tenants (keys spread evenly)", columns("tenants"));
    for (RunResult r : runJmh(List.of(String.valueOf(tenantAxisEntries)),
        tenantCounts.stream().map(String::valueOf).toList())) {
      addRow(byTenants, r, Integer.parseInt(r.getParams().getParam("tenants")));
    }
    byTenants.write(dataDir, imageDir, "CPU ns per hit", true, 1, 2);
  }

  private static List<String> columns(String x) {
    return List.of(x, "SaasCache CPU ns/hit", "raw Caffeine CPU ns/hit", "SaasCache wall ns/hit",
        "raw Caffeine wall ns/hit", "ratio raw/SaasCache (CPU)");
  }

  private static Collection<RunResult> runJmh(List<String> entries, List<String> tenants) throws RunnerException {
    Options options = new OptionsBuilder()
        .include(CacheScaling.class.getName() + ".pair")
        .param("entries", entries.toArray(String[]::new))
        .param("tenants", tenants.toArray(String[]::new))
        .warmupIterations(3).warmupTime(TimeValue.seconds(2))
        .measurementIterations(8).measurementTime(TimeValue.seconds(1))
        .build();
    return new Runner(options).run();
  }

  /**
   * A row: CPU ns per hit of each path (the median over the iterations of the thread's CPU time over its hits), then
   * the wall-clock means with JMH's error. The plot shows CPU time: on this shared host the wall clock mostly
   * measured how long a thread waited for a core. The ratio is of the CPU times.
   */
  private static void addRow(Series series, RunResult r, int x) {
    Result<?> saas = r.getSecondaryResults().get("saasCache");
    Result<?> raw = r.getSecondaryResults().get("rawCaffeine");
    List<Double> saasCpu = new ArrayList<>();
    List<Double> rawCpu = new ArrayList<>();
    for (BenchmarkResult b : r.getBenchmarkResults()) {
      for (IterationResult i : b.getIterationResults()) {
        var aux = i.getSecondaryResults();
        saasCpu.add(aux.get("saasCpuNanos").getScore() / aux.get("saasHits").getScore());
        rawCpu.add(aux.get("rawCpuNanos").getScore() / aux.get("rawHits").getScore());
      }
    }
    double s = median(saasCpu);
    double c = median(rawCpu);
    series.add(new double[] {x, s, c, saas.getScore(), raw.getScore(), c / s},
        Series.count(x), Series.fixed(s, 1), Series.fixed(c, 1),
        Series.fixed(saas.getScore(), 0) + " ± " + Series.fixed(saas.getScoreError(), 0),
        Series.fixed(raw.getScore(), 0) + " ± " + Series.fixed(raw.getScoreError(), 0),
        Series.fixed(c / s, 2));
  }

  private static double median(List<Double> values) {
    List<Double> sorted = new ArrayList<>(values);
    Collections.sort(sorted);
    int n = sorted.size();
    return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
  }
}
