package dev.saaskit.cache;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.MutableClock;
import dev.saaskit.testing.PropertySamples;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.random.RandomGenerator;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Random interleavings of database writes, invalidations, reads and clock moves, including writes that land while
 * a load is running (the loader itself writes and invalidates after it has read). Whatever the order, a read never
 * returns a version older than the one current when the key was last invalidated, nor older than the version
 * current a TTL (with jitter) ago. Seeded samples ({@link PropertySamples}).
 */
class StalenessPropertyTest {
  private static final TenantId[] TENANTS = {TenantId.of("acme"), TenantId.of("globex")};
  private static final String[] KEYS = {"k0", "k1", "k2"};
  private static final Duration TTL = Duration.ofSeconds(60);
  private static final long MAX_LIFE_MILLIS = (long) (TTL.toMillis() * 1.1) + 1;

  enum Kind { READ, PEEK, WRITE_INVALIDATE, SILENT_WRITE, ADVANCE, READ_RACING_WRITE }

  enum Scope { KEY, TAG, TENANT, ALL }

  record Step(Kind kind, int tenant, int key, Scope scope, int seconds) {}

  /** A script of 1 to 80 steps, the cache's random seed, and whether it refreshes ahead. */
  record Script(List<Step> steps, long seed, boolean refreshAhead) {}

  static Script script(RandomGenerator r) {
    List<Step> steps = new ArrayList<>();
    int n = r.nextInt(1, 81);
    for (int i = 0; i < n; i++) {
      steps.add(new Step(Kind.values()[r.nextInt(Kind.values().length)], r.nextInt(TENANTS.length),
          r.nextInt(KEYS.length), Scope.values()[r.nextInt(Scope.values().length)], r.nextInt(1, 41)));
    }
    return new Script(steps, r.nextLong(), r.nextBoolean());
  }

  @TestFactory
  Stream<DynamicTest> aReadIsNeverOlderThanTheLastInvalidationNorThanItsTtl() {
    return PropertySamples.check(300, StalenessPropertyTest::script,
        s -> neverStale(s.steps(), s.seed(), s.refreshAhead()));
  }

  static void neverStale(List<Step> steps, long seed, boolean refreshAhead) {
    MutableClock clock = Fixtures.clock();
    SaasCache.Builder<String, Integer> builder = SaasCache.<String, Integer>named("property").ttl(TTL)
        .jitter(0.1).random(new Random(seed)).clock(clock).executor(Runnable::run);
    if (refreshAhead) {
      builder.refreshAfter(Duration.ofSeconds(40));
    }
    World world = new World(clock);
    try (SaasCache<String, Integer> cache = builder.build()) {
      for (Step step : steps) {
        TenantId tenant = TENANTS[step.tenant()];
        String key = KEYS[step.key()];
        switch (step.kind()) {
          case READ -> world.check(tenant, key, TenantContext.call(tenant, () ->
              cache.getWith(key, k -> CacheValue.of(world.version(tenant, k)).tags(World.tag(tenant, k)))));
          case PEEK -> {
            Integer seen = TenantContext.call(tenant, () -> cache.getIfPresent(key));
            if (seen != null) {
              world.check(tenant, key, seen);
            }
          }
          case WRITE_INVALIDATE -> {
            world.write(tenant, key);
            world.invalidate(cache, step.scope(), tenant, key);
          }
          case SILENT_WRITE -> world.write(tenant, key); // a write nobody invalidated: only the TTL bounds it
          case ADVANCE -> clock.advance(Duration.ofSeconds(step.seconds()));
          case READ_RACING_WRITE -> {
            Integer first = TenantContext.call(tenant, () -> cache.getWith(key, k -> {
              int read = world.version(tenant, k);
              world.write(tenant, k); // lands after the loader read, before it returns
              world.invalidate(cache, step.scope(), tenant, k);
              return CacheValue.of(read).tags(World.tag(tenant, k));
            }));
            // this caller's own result may predate the write; it must merely not be older than what came before
            assertThat(first).isNotNull();
          }
        }
      }
      for (TenantId tenant : TENANTS) {
        for (String key : KEYS) {
          Integer seen = TenantContext.call(tenant, () -> cache.getIfPresent(key));
          if (seen != null) {
            world.check(tenant, key, seen);
          }
        }
      }
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  /** The "database": a version per (tenant, key), its write history, and what the last invalidation covered. */
  static final class World {
    private final MutableClock clock;
    private final Map<String, Integer> versions = new HashMap<>();
    private final Map<String, List<long[]>> history = new HashMap<>();
    private final Map<String, Integer> invalidatedAt = new HashMap<>();

    World(MutableClock clock) {
      this.clock = clock;
    }

    static String tag(TenantId tenant, String key) {
      return "row:" + tenant + ":" + key;
    }

    private static String id(TenantId tenant, String key) {
      return tenant + "/" + key;
    }

    int version(TenantId tenant, String key) {
      return versions.getOrDefault(id(tenant, key), 0);
    }

    void write(TenantId tenant, String key) {
      int next = version(tenant, key) + 1;
      versions.put(id(tenant, key), next);
      history.computeIfAbsent(id(tenant, key), i -> new ArrayList<>()).add(new long[] {clock.millis(), next});
    }

    void invalidate(SaasCache<String, Integer> cache, Scope scope, TenantId tenant, String key) {
      switch (scope) {
        case KEY -> {
          TenantContext.run(tenant, () -> cache.invalidate(key));
          covered(tenant, key);
        }
        case TAG -> {
          cache.invalidateTag(tag(tenant, key));
          covered(tenant, key);
        }
        case TENANT -> {
          cache.invalidateTenant(tenant);
          for (String k : KEYS) {
            covered(tenant, k);
          }
        }
        case ALL -> {
          cache.invalidateAll();
          for (TenantId t : TENANTS) {
            for (String k : KEYS) {
              covered(t, k);
            }
          }
        }
      }
    }

    private void covered(TenantId tenant, String key) {
      invalidatedAt.put(id(tenant, key), version(tenant, key));
    }

    private int versionAt(TenantId tenant, String key, long millis) {
      int version = 0;
      for (long[] write : history.getOrDefault(id(tenant, key), List.of())) {
        if (write[0] <= millis) {
          version = (int) write[1];
        }
      }
      return version;
    }

    void check(TenantId tenant, String key, Integer seen) {
      assertThat(seen).isNotNull();
      String what = tenant + "/" + key + " at " + clock.instant();
      assertThat(seen).as(what + ": newer than the database").isLessThanOrEqualTo(version(tenant, key));
      assertThat(seen).as(what + ": older than the last invalidation")
          .isGreaterThanOrEqualTo(invalidatedAt.getOrDefault(id(tenant, key), 0));
      assertThat(seen).as(what + ": older than the TTL allows")
          .isGreaterThanOrEqualTo(versionAt(tenant, key, clock.millis() - MAX_LIFE_MILLIS));
    }
  }
}
