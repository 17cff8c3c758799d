package dev.saaskit.cache;

import static dev.saaskit.cache.Fixtures.ACME;
import static dev.saaskit.cache.Fixtures.in;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.cache.Fixtures.ScriptedRandom;
import dev.saaskit.testing.MutableClock;
import java.time.Duration;
import java.util.HashSet;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class TtlTest {
  private final MutableClock clock = Fixtures.clock();

  private SaasCache.Builder<String, String> cache(Duration ttl) {
    return SaasCache.<String, String>named("ttl").ttl(ttl).clock(clock).executor(Runnable::run);
  }

  @Test
  void withoutJitterAnEntryLivesExactlyItsTtl() {
    try (SaasCache<String, String> c = cache(Duration.ofMinutes(5)).jitter(0).build()) {
      in(ACME, () -> {
        c.put("k", "v");
        clock.advance(Duration.ofMinutes(5).minusNanos(1));
        assertThat(c.getIfPresent("k")).isEqualTo("v");
        clock.advance(Duration.ofNanos(1));
        assertThat(c.getIfPresent("k")).isNull();
      });
    }
  }

  @Test
  void jitterStaysWithinTheConfiguredFractionAtBothEnds() {
    // the lowest draw (0.0) gives 0.9 x ttl, the highest (just under 1.0) just under 1.1 x ttl
    try (SaasCache<String, String> c =
        cache(Duration.ofSeconds(100)).random(new ScriptedRandom(0.0, 0.999_999_999)).build()) {
      in(ACME, () -> {
        c.put("low", "v");
        c.put("high", "v");
        clock.advance(Duration.ofSeconds(90).minusMillis(1));
        assertThat(c.getIfPresent("low")).isEqualTo("v");
        clock.advance(Duration.ofMillis(1));
        assertThat(c.getIfPresent("low")).isNull();
        assertThat(c.getIfPresent("high")).isEqualTo("v");
        clock.advance(Duration.ofSeconds(20).minusMillis(1));
        assertThat(c.getIfPresent("high")).isEqualTo("v");
        clock.advance(Duration.ofMillis(1));
        assertThat(c.getIfPresent("high")).isNull();
      });
    }
  }

  @Test
  void entriesWrittenTogetherExpireSpreadOutAndInsideTheBounds() {
    int entries = 200;
    try (SaasCache<String, String> c =
        cache(Duration.ofSeconds(100)).jitter(0.2).random(new Random(7)).maximumSize(1_000).build()) {
      in(ACME, () -> {
        for (int i = 0; i < entries; i++) {
          c.put("k" + i, "v");
        }
        Set<Long> expirySeconds = new HashSet<>();
        Set<String> alive = new HashSet<>();
        for (int i = 0; i < entries; i++) {
          alive.add("k" + i);
        }
        // walk the clock one second at a time; record when each entry disappears
        for (int second = 1; second <= 130; second++) {
          clock.advance(Duration.ofSeconds(1));
          for (String key : Set.copyOf(alive)) {
            if (c.getIfPresent(key) == null) {
              alive.remove(key);
              expirySeconds.add((long) second);
              assertThat(second).as("expiry second of " + key).isBetween(80, 121);
            }
          }
        }
        assertThat(alive).isEmpty();
        // 200 entries over a 40 s window: they did not all expire in a handful of seconds
        assertThat(expirySeconds.size()).isGreaterThan(25);
      });
    }
  }

  @Test
  void perEntryTtlIsHonouredAndClampedToMaxTtl() {
    try (SaasCache<String, String> c =
        cache(Duration.ofMinutes(5)).jitter(0).maxTtl(Duration.ofMinutes(20)).build()) {
      in(ACME, () -> {
        c.put("short", "v", Duration.ofMinutes(1));
        c.put("long", "v", Duration.ofMinutes(15));
        c.put("tooLong", "v", Duration.ofDays(30)); // clamped to 20 minutes
        clock.advance(Duration.ofMinutes(1));
        assertThat(c.getIfPresent("short")).isNull();
        clock.advance(Duration.ofMinutes(10));
        assertThat(c.getIfPresent("long")).isEqualTo("v");
        clock.advance(Duration.ofMinutes(4));
        assertThat(c.getIfPresent("long")).isNull();
        assertThat(c.getIfPresent("tooLong")).isEqualTo("v");
        clock.advance(Duration.ofMinutes(5).minusNanos(1));
        assertThat(c.getIfPresent("tooLong")).isEqualTo("v");
        clock.advance(Duration.ofNanos(1));
        assertThat(c.getIfPresent("tooLong")).isNull();
      });
    }
  }

  @Test
  void jitterNeverTakesAnEntryPastMaxTtl() {
    try (SaasCache<String, String> c = cache(Duration.ofMinutes(10)).jitter(0.5)
        .random(new ScriptedRandom(0.999_999)).build()) {
      in(ACME, () -> {
        c.put("k", "v"); // 10 min x ~1.5 = 15 min, but maxTtl defaults to 100 min: not clamped
        c.put("atMax", "v", Duration.ofHours(5)); // clamped to 100 min; +50% jitter clamped again
        clock.advance(Duration.ofMinutes(15).minusSeconds(1));
        assertThat(c.getIfPresent("k")).isEqualTo("v");
        clock.advance(Duration.ofSeconds(1));
        assertThat(c.getIfPresent("k")).isNull();
        clock.advance(Duration.ofMinutes(85).minusNanos(1));
        assertThat(c.getIfPresent("atMax")).isEqualTo("v");
        clock.advance(Duration.ofNanos(1));
        assertThat(c.getIfPresent("atMax")).isNull();
      });
    }
  }

  @Test
  void aLoaderChoosesItsEntrysTtl() {
    AtomicInteger loads = new AtomicInteger();
    try (SaasCache<String, String> c = cache(Duration.ofMinutes(5)).jitter(0).build()) {
      in(ACME, () -> {
        assertThat(c.getWith("k", k -> CacheValue.of("v" + loads.incrementAndGet()).ttl(Duration.ofSeconds(30))))
            .isEqualTo("v1");
        clock.advance(Duration.ofSeconds(29));
        assertThat(c.getWith("k", k -> CacheValue.of("v" + loads.incrementAndGet()))).isEqualTo("v1");
        clock.advance(Duration.ofSeconds(1));
        assertThat(c.getWith("k", k -> CacheValue.of("v" + loads.incrementAndGet()))).isEqualTo("v2");
      });
    }
  }

  @Test
  void absencesAreCachedForTheNegativeTtl() {
    AtomicInteger loads = new AtomicInteger();
    try (SaasCache<String, String> c =
        cache(Duration.ofMinutes(5)).jitter(0).negativeTtl(Duration.ofSeconds(10)).build()) {
      in(ACME, () -> {
        assertThat(c.get("missing", k -> { loads.incrementAndGet(); return null; })).isNull();
        clock.advance(Duration.ofSeconds(9));
        assertThat(c.get("missing", k -> { loads.incrementAndGet(); return "found"; })).isNull();
        assertThat(loads).hasValue(1);
        assertThat(c.stats().hits()).isEqualTo(1);
        clock.advance(Duration.ofSeconds(1));
        assertThat(c.get("missing", k -> { loads.incrementAndGet(); return "found"; })).isEqualTo("found");
        assertThat(loads).hasValue(2);
        // a present value gets the full ttl, not the negative one
        clock.advance(Duration.ofMinutes(4));
        assertThat(c.getIfPresent("missing")).isEqualTo("found");
      });
    }
  }

  @Test
  void theDefaultNegativeTtlIsATenthOfTheTtl() {
    AtomicInteger loads = new AtomicInteger();
    try (SaasCache<String, String> c = cache(Duration.ofMinutes(5)).jitter(0).build()) {
      in(ACME, () -> {
        c.getWith("missing", k -> { loads.incrementAndGet(); return CacheValue.absent(); });
        clock.advance(Duration.ofSeconds(29));
        c.getWith("missing", k -> { loads.incrementAndGet(); return CacheValue.absent(); });
        assertThat(loads).hasValue(1);
        clock.advance(Duration.ofSeconds(1));
        c.getWith("missing", k -> { loads.incrementAndGet(); return CacheValue.absent(); });
        assertThat(loads).hasValue(2);
      });
    }
  }

  @Test
  void negativeCachingCanBeTurnedOff() {
    AtomicInteger loads = new AtomicInteger();
    try (SaasCache<String, String> c = cache(Duration.ofMinutes(5)).negativeTtl(Duration.ZERO).build()) {
      in(ACME, () -> {
        c.get("missing", k -> { loads.incrementAndGet(); return null; });
        c.get("missing", k -> { loads.incrementAndGet(); return null; });
        assertThat(loads).hasValue(2);
        assertThat(c.estimatedSize()).isZero();
        assertThatThrownBy(() -> c.put("missing", CacheValue.absent()))
            .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("negative caching is off");
      });
    }
  }

  @Test
  void cacheValueRejectsBadTtlsAndTags() {
    assertThatThrownBy(() -> CacheValue.of("v").ttl(Duration.ZERO)).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("ttl must be positive but was PT0S");
    assertThatThrownBy(() -> CacheValue.of("v").tags("")).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("a tag must be 1 to 1024 characters but was 0");
    assertThat(CacheValue.of("v").tags("a", "b").tags("a").tags()).containsExactly("a", "b");
  }
}
