package dev.saaskit.cache;

import static dev.saaskit.cache.Fixtures.ACME;
import static dev.saaskit.cache.Fixtures.as;
import static dev.saaskit.cache.Fixtures.in;
import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.core.TenantId;
import dev.saaskit.testing.MutableClock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;

/**
 * The {@link SharedTier} contract as the cache keeps it, with a map as the tier: a local miss asks the tier, then
 * the loader, and fills both; a local hit never asks; what comes from the tier lives no longer than the tier says;
 * invalidations reach the tier before the bus; a failing tier means loading, not failing; a flush from the tier
 * drops the local entries.
 */
class SharedTierTest {

  /** A tier over a map, recording what the cache asked of it. */
  static final class MapTier implements SharedTier<String> {
    final Map<String, String> values = new ConcurrentHashMap<>();
    final AtomicInteger lookups = new AtomicInteger();
    final List<String> events = Collections.synchronizedList(new ArrayList<>());
    final List<Duration> lifetimes = Collections.synchronizedList(new ArrayList<>());
    Duration remaining = Duration.ofMinutes(1);
    volatile boolean failing;
    final AtomicReference<@Nullable Runnable> flush = new AtomicReference<>();

    @Override
    public Binding<String> bind(Context context) {
      flush.set(context.flushLocal());
      return new Binding<>() {
        @Override
        public Lookup<String> lookup(@Nullable TenantId tenant, String key) {
          lookups.incrementAndGet();
          if (failing) {
            throw new IllegalStateException("tier down");
          }
          String value = values.get(tenant + "/" + key);
          return value == null ? Lookup.miss(tenant + "/" + key) : Lookup.hit(value, remaining, List.of());
        }

        @Override
        public void store(Lookup<String> miss, CacheValue<String> value, Duration lifetime) {
          lifetimes.add(lifetime);
          values.put((String) miss.token(), value.value());
        }

        @Override
        public void invalidate(Invalidation invalidation) {
          events.add("tier " + invalidation.scope());
          values.clear();
        }

        @Override
        public void close() {
          events.add("closed");
        }
      };
    }
  }

  @Test
  void aLocalMissAsksTheTierThenTheLoaderAndFillsBoth() {
    MapTier tier = new MapTier();
    MutableClock clock = Fixtures.clock();
    try (SaasCache<String, String> cache = SaasCache.<String, String>named("plans").ttl(Duration.ofMinutes(10))
        .jitter(0).clock(clock).sharedTier(tier).build()) {
      AtomicInteger loads = new AtomicInteger();
      assertThat(as(ACME, () -> cache.get("k", k -> "v" + loads.incrementAndGet()))).isEqualTo("v1");
      assertThat(tier.values).containsEntry("acme/k", "v1");
      assertThat(tier.lifetimes).containsExactly(Duration.ofMinutes(10));
      assertThat(as(ACME, () -> cache.get("k", k -> "v" + loads.incrementAndGet()))).isEqualTo("v1");
      assertThat(tier.lookups).as("a local hit does not ask the tier").hasValue(1);

      tier.values.put("acme/other", "from tier");
      assertThat(as(ACME, () -> cache.get("other", k -> "loaded"))).isEqualTo("from tier");
      assertThat(loads).hasValue(1);
      clock.advance(Duration.ofSeconds(61));
      tier.values.put("acme/other", "newer");
      assertThat(as(ACME, () -> cache.get("other", k -> "loaded")))
          .as("the local copy lived only as long as the tier said").isEqualTo("newer");
    }
    assertThat(tier.events).endsWith("closed");
  }

  @Test
  void invalidationsReachTheTierBeforeTheBus() {
    MapTier tier = new MapTier();
    try (InvalidationBus bus = InvalidationBus.inProcess()) {
      bus.subscribe(new InvalidationListener() {
        @Override
        public void onInvalidation(Invalidation invalidation) {
          tier.events.add("bus " + invalidation.scope());
        }

        @Override
        public void onLostInvalidations() {}
      });
      try (SaasCache<String, String> cache = SaasCache.<String, String>named("plans").ttl(Duration.ofMinutes(10))
          .sharedTier(tier).invalidationBus(bus).build()) {
        in(ACME, () -> cache.invalidate("k"));
        cache.invalidateTag("t");
        cache.invalidateTenant(ACME);
        cache.invalidateAll();
      }
    }
    assertThat(tier.events).containsExactly("tier KEY", "bus KEY", "tier TAG", "bus TAG", "tier TENANT",
        "bus TENANT", "tier ALL", "bus ALL", "closed");
  }

  @Test
  void aFailingTierMeansLoadingAndAFlushDropsLocalEntries() {
    MapTier tier = new MapTier();
    try (SaasCache<String, String> cache = SaasCache.<String, String>named("plans").ttl(Duration.ofMinutes(10))
        .sharedTier(tier).build()) {
      tier.failing = true;
      assertThat(as(ACME, () -> cache.get("k", k -> "loaded"))).isEqualTo("loaded");
      assertThat(tier.values).as("a bypass is not stored in the tier").isEmpty();
      assertThat(as(ACME, () -> cache.getIfPresent("k"))).isEqualTo("loaded");
      Runnable flush = tier.flush.get();
      assertThat(flush).isNotNull();
      flush.run();
      assertThat(as(ACME, () -> cache.getIfPresent("k"))).isNull();
      assertThat(cache.stats().lostInvalidations()).isEqualTo(1);
    }
  }
}
