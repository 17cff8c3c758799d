package dev.saaskit.benchmarks;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.saaskit.cache.SaasCache;
import dev.saaskit.core.CheckedFunction;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Function;

/**
 * The cost of one cache hit, single-threaded, with the variants measured in alternating blocks so that a shared,
 * drifting host affects them alike (JMH runs them minutes apart). Prints the median ns per hit of each variant over
 * 20 rounds and its ratio to raw Caffeine. Same data as {@link CacheBenchmark}: 10 tenants x 1,000 keys.
 *
 * <ul>
 *   <li>{@code raw}: Caffeine keyed by prebuilt {@code "tenant:key"} strings (the lookup finds the very same
 *       String instance, so the map's equality check is an identity check);</li>
 *   <li>{@code rawCompositeKey}: Caffeine keyed by a (tenant, key) object built per lookup, with the tenant from
 *       {@link TenantContext}: what a hand-written tenant-scoped Caffeine cache costs;</li>
 *   <li>{@code rawCoarseClock}: {@code raw} on a millisecond clock like SaasCache's expiry clock
 *       ({@link MillisecondTicker}), so without a {@code System.nanoTime()} call per hit;</li>
 *   <li>{@code saasCache}: {@link SaasCache#get(Object, CheckedFunction)}, tenant-scoped.</li>
 * </ul>
 *
 * <p>Run: {@code java -cp benchmarks/target/benchmarks.jar dev.saaskit.benchmarks.CacheInterleaved}.
 */
public final class CacheInterleaved {
  private static final int TENANTS = 10;
  private static final int KEYS = 1_000;
  private static final int OPS = 2_000_000;
  private static final int ROUNDS = 25;
  private static final int WARM_UP_ROUNDS = 5;

  private static long sink;

  private CacheInterleaved() {}

  /** A hand-made composite key with a well-mixed hash. */
  private record TenantKey(TenantId tenant, String key) {
    @Override
    public int hashCode() {
      return tenant.hashCode() * 0x9E3779B1 + key.hashCode();
    }

    @Override
    public boolean equals(Object other) {
      return other instanceof TenantKey that && key.equals(that.key) && tenant.equals(that.tenant);
    }
  }

  public static void main(String[] args) {
    String[] keys = new String[KEYS];
    String[][] rawKeys = new String[TENANTS][KEYS];
    TenantId[] tenants = new TenantId[TENANTS];
    SaasCache<String, String> saas = SaasCache.<String, String>named("bench").ttl(Duration.ofMinutes(10))
        .maximumSize(20_000).build();
    Cache<String, String> raw = Caffeine.newBuilder().maximumSize(20_000).expireAfterWrite(Duration.ofMinutes(10))
        .build();
    Cache<String, String> rawCoarseClock = Caffeine.newBuilder().maximumSize(20_000)
        .expireAfterWrite(Duration.ofMinutes(10)).ticker(new MillisecondTicker()).build();
    Cache<Object, String> composite = Caffeine.newBuilder().maximumSize(20_000)
        .expireAfterWrite(Duration.ofMinutes(10)).build();
    for (int k = 0; k < KEYS; k++) {
      keys[k] = "plan-" + k;
    }
    for (int t = 0; t < TENANTS; t++) {
      tenants[t] = TenantId.of("tenant-" + t);
      for (int k = 0; k < KEYS; k++) {
        String key = keys[k];
        rawKeys[t][k] = tenants[t].value() + ":" + key;
        TenantContext.run(tenants[t], () -> saas.put(key, "v"));
        raw.put(rawKeys[t][k], "v");
        rawCoarseClock.put(rawKeys[t][k], "v");
        composite.put(new TenantKey(tenants[t], key), "v");
      }
    }
    int[] indexes = new int[1 << 16];
    SplittableRandom random = new SplittableRandom(42);
    for (int i = 0; i < indexes.length; i++) {
      indexes[i] = random.nextInt(KEYS);
    }
    Map<String, List<Double>> nanosPerHit = new LinkedHashMap<>();
    for (int round = 0; round < ROUNDS; round++) {
      TenantId tenant = tenants[round % TENANTS];
      String[] tenantKeys = rawKeys[round % TENANTS];
      for (String variant : List.of("raw", "rawCoarseClock", "rawCompositeKey", "saasCache")) {
        long start = System.nanoTime();
        switch (variant) {
          case "raw" -> {
            for (int i = 0; i < OPS; i++) {
              sink += raw.get(tenantKeys[indexes[i & 0xffff]], CacheInterleaved::load).length();
            }
          }
          case "rawCoarseClock" -> {
            for (int i = 0; i < OPS; i++) {
              sink += rawCoarseClock.get(tenantKeys[indexes[i & 0xffff]], CacheInterleaved::load).length();
            }
          }
          case "rawCompositeKey" -> TenantContext.run(tenant, () -> {
            for (int i = 0; i < OPS; i++) {
              TenantKey key = new TenantKey(TenantContext.current().orElseThrow(), keys[indexes[i & 0xffff]]);
              sink += composite.get(key, CacheInterleaved::load).length();
            }
          });
          default -> TenantContext.run(tenant, () -> {
            for (int i = 0; i < OPS; i++) {
              sink += saas.get(keys[indexes[i & 0xffff]], CacheInterleaved::load).length();
            }
          });
        }
        double nanos = (System.nanoTime() - start) / (double) OPS;
        if (round >= WARM_UP_ROUNDS) {
          nanosPerHit.computeIfAbsent(variant, v -> new ArrayList<>()).add(nanos);
        }
      }
    }
    double rawMedian = median(nanosPerHit.get("raw"));
    for (Map.Entry<String, List<Double>> variant : nanosPerHit.entrySet()) {
      double median = median(variant.getValue());
      System.out.printf("%-16s %7.1f ns/hit (median of %d blocks)   raw / this = %.2f%n", variant.getKey(), median,
          variant.getValue().size(), rawMedian / median);
    }
    if (saas.stats().misses() > 0 || sink == 0) {
      throw new IllegalStateException("the SaasCache path missed");
    }
    saas.close();
  }

  private static double median(List<Double> values) {
    List<Double> sorted = new ArrayList<>(values);
    Collections.sort(sorted);
    return sorted.get(sorted.size() / 2);
  }

  /** The loader: never called in the measured loops, whose keys are all present. */
  private static String load(Object key) {
    return "loaded";
  }
}
