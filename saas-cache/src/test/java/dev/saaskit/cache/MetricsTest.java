package dev.saaskit.cache;

import static dev.saaskit.cache.Fixtures.ACME;
import static dev.saaskit.cache.Fixtures.as;
import static dev.saaskit.cache.Fixtures.in;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.github.benmanes.caffeine.cache.Caffeine;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.MutableClock;
import io.micrometer.core.instrument.FunctionTimer;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.URL;
import java.net.URLClassLoader;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.jspecify.annotations.NullMarked;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

class MetricsTest {
  private final MutableClock clock = Fixtures.clock();

  @Test
  void statsCountWithoutAnyRegistry() {
    try (SaasCache<String, String> c = SaasCache.<String, String>named("stats").ttl(Duration.ofMinutes(5))
        .jitter(0).clock(clock).executor(Runnable::run).build()) {
      in(ACME, () -> {
        c.get("a", k -> {
          clock.advance(Duration.ofMillis(30));
          return "1";
        });
        c.get("a", k -> "never");
        c.getIfPresent("b");
        assertThatThrownBy(() -> c.get("c", k -> {
          throw new IllegalStateException("x");
        })).isInstanceOf(CacheLoadException.class);
        c.invalidate("a");
      });
      CacheStats stats = c.stats();
      assertThat(stats.hits()).isEqualTo(1);
      assertThat(stats.misses()).isEqualTo(3);
      assertThat(stats.loadSuccesses()).isEqualTo(1);
      assertThat(stats.loadFailures()).isEqualTo(1);
      assertThat(stats.loads()).isEqualTo(2);
      assertThat(stats.totalLoadTime()).isEqualTo(Duration.ofMillis(30));
      assertThat(stats.invalidationsApplied()).isEqualTo(1);
      assertThat(stats.hitRate()).isEqualTo(0.25);
    }
  }

  @Test
  void metersShowUpInARegistryAndLeaveOnClose() {
    MeterRegistry registry = new SimpleMeterRegistry();
    SaasCache<String, String> c = SaasCache.<String, String>named("plans").ttl(Duration.ofMinutes(5)).jitter(0)
        .clock(clock).executor(Runnable::run).maximumSize(1_000).maximumSizePerTenant(2).meterRegistry(registry).build();
    in(ACME, () -> {
      c.get("a", k -> {
        clock.advance(Duration.ofMillis(20));
        return "1";
      });
      c.get("a", k -> "never");
      c.get("a", k -> "never");
      c.put("b", "2");
      c.put("c", "3"); // over the tenant budget of 2: evicts a
      c.invalidateTag("t");
    });
    assertThat(registry.get("saaskit.cache.gets").tags("cache", "plans", "result", "hit").functionCounter()
        .count()).isEqualTo(2);
    assertThat(registry.get("saaskit.cache.gets").tags("cache", "plans", "result", "miss").functionCounter()
        .count()).isEqualTo(1);
    assertThat(registry.get("saaskit.cache.loads").tags("result", "success").functionCounter().count())
        .isEqualTo(1);
    assertThat(registry.get("saaskit.cache.loads").tags("result", "failure").functionCounter().count()).isZero();
    FunctionTimer loadTime = registry.get("saaskit.cache.load.duration").functionTimer();
    assertThat(loadTime.count()).isEqualTo(1);
    assertThat(loadTime.totalTime(TimeUnit.MILLISECONDS)).isEqualTo(20);
    assertThat(registry.get("saaskit.cache.evictions").tags("cause", "size").functionCounter().count())
        .isEqualTo(1);
    assertThat(registry.get("saaskit.cache.invalidations.applied").functionCounter().count()).isEqualTo(1);
    assertThat(registry.get("saaskit.cache.invalidations.received").functionCounter().count()).isZero();
    assertThat(registry.get("saaskit.cache.size").gauge().value()).isEqualTo(2);
    c.close();
    assertThat(registry.find("saaskit.cache.gets").meters()).isEmpty();
    assertThat(registry.getMeters()).isEmpty();
  }

  @Test
  void theModuleWorksWithoutMicrometerOnTheClassPath() throws Exception {
    URL[] withoutMicrometer = {
        location(SaasCache.class), location(TenantId.class), location(Caffeine.class),
        location(LoggerFactory.class), location(NullMarked.class), location(NoMicrometerProbe.class)};
    try (URLClassLoader isolated = new URLClassLoader(withoutMicrometer, ClassLoader.getPlatformClassLoader())) {
      assertThatThrownBy(() -> isolated.loadClass("io.micrometer.core.instrument.MeterRegistry"))
          .isInstanceOf(ClassNotFoundException.class);
      Class<?> probe = isolated.loadClass(NoMicrometerProbe.class.getName());
      assertThat(probe.getClassLoader()).isSameAs(isolated);
      @SuppressWarnings("unchecked")
      Supplier<String> run = (Supplier<String>) probe.getDeclaredConstructor().newInstance();
      assertThat(run.get()).isEqualTo("1,loaded,1,1,1");
    }
  }

  private static URL location(Class<?> type) {
    return type.getProtectionDomain().getCodeSource().getLocation();
  }

  @Test
  void statsOfAnotherTenantsUseCountInTheSameCache() {
    try (SaasCache<String, String> c = SaasCache.<String, String>named("stats").ttl(Duration.ofMinutes(5))
        .clock(clock).executor(Runnable::run).build()) {
      in(ACME, () -> c.put("a", "1"));
      assertThat(as(TenantId.of("other"), () -> c.getIfPresent("a"))).isNull();
      assertThat(c.stats().misses()).isEqualTo(1);
      assertThat(c.stats().hits()).isZero();
    }
  }

  @Test
  void statsAreValuesWithFactoriesAndArithmetic() {
    CacheStats a = CacheStats.of(3, 1, 1, 0, java.time.Duration.ofMillis(5), 0, 0, 0, 0, 2, 1, 0);
    CacheStats b = CacheStats.of(7, 3, 2, 1, java.time.Duration.ofMillis(9), 1, 1, 0, 1, 4, 2, 1);
    assertThat(a).isEqualTo(CacheStats.of(3, 1, 1, 0, java.time.Duration.ofMillis(5), 0, 0, 0, 0, 2, 1, 0))
        .hasSameHashCodeAs(CacheStats.of(3, 1, 1, 0, java.time.Duration.ofMillis(5), 0, 0, 0, 0, 2, 1, 0))
        .isNotEqualTo(b);
    assertThat(a.hitRate()).isEqualTo(0.75);
    assertThat(b.minus(a)).isEqualTo(CacheStats.of(4, 2, 1, 1, java.time.Duration.ofMillis(4), 1, 1, 0, 1, 2, 1, 1));
    assertThat(a.minus(b)).isEqualTo(CacheStats.empty());
    assertThat(a.plus(b).hits()).isEqualTo(10);
    assertThat(a.toString()).contains("hits=3", "lostInvalidations=0");
    assertThatThrownBy(() -> CacheStats.of(-1, 0, 0, 0, java.time.Duration.ZERO, 0, 0, 0, 0, 0, 0, 0))
        .hasMessage("hits must be >= 0 but was -1");
  }
}
