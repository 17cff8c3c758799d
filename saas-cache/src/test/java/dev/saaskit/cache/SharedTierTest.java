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
    /** Run inside each invalidation before the tier applies it (a get racing it, for example). */
    volatile @Nullable Runnable beforeInvalidate;
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
          Runnable before = beforeInvalidate;
          if (before != null) {
            before.run();
          }
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
    // the cache's own delivery (subscribed after the recorder) applies each to the tier again: harmless
    assertThat(tier.events).containsExactly("tier KEY", "bus KEY", "tier KEY", "tier TAG", "bus TAG", "tier TAG",
        "tier TENANT", "bus TENANT", "tier TENANT", "tier ALL", "bus ALL", "tier ALL", "closed");
  }

  /**
   * A get on this node while an invalidation is on its way must not read the old value back from the tier and keep
   * it: the local entries used to be dropped before the tier was invalidated, so a get in between missed locally,
   * hit the old tier entry and stored it here, where it stayed after the invalidation returned.
   */
  @Test
  void aGetRacingAnInvalidationDoesNotKeepTheTiersOldValue() throws Exception {
    for (String kind : List.of("key", "tag", "tenant", "all", "bus key", "bus tag", "bus tenant", "bus all")) {
      MapTier tier = new MapTier();
      // no bus for the local calls: the bus's delivery back to this node would hide the race by dropping the key again
      SaasCache.Builder<String, String> builder = SaasCache.<String, String>named("plans").ttl(Duration.ofMinutes(10))
          .sharedTier(tier);
      try (InvalidationBus bus = InvalidationBus.inProcess();
          SaasCache<String, String> cache = (kind.startsWith("bus") ? builder.invalidationBus(bus) : builder).build()) {
        assertThat(as(ACME, () -> cache.getWith("k", k -> CacheValue.of("old").tags("t")))).isEqualTo("old");
        assertThat(tier.values).containsEntry("acme/k", "old");
        AtomicReference<@Nullable String> racing = new AtomicReference<>();
        tier.beforeInvalidate = () -> {
          tier.beforeInvalidate = null;
          // another request of this node, while the invalidation is under way (the data already changed)
          Thread get = new Thread(() -> racing.set(as(ACME, () -> cache.getWith("k",
              k -> CacheValue.of("new").tags("t")))));
          get.start();
          try {
            get.join(60_000);
          } catch (InterruptedException e) {
            throw new IllegalStateException(e);
          }
        };
        switch (kind) {
          case "key" -> in(ACME, () -> cache.invalidate("k"));
          case "tag" -> cache.invalidateTag("t");
          case "tenant" -> cache.invalidateTenant(ACME);
          case "all" -> cache.invalidateAll();
          case "bus key" -> bus.publish(Invalidation.key("plans", ACME, "k"));
          case "bus tag" -> bus.publish(Invalidation.tag("plans", "t"));
          case "bus tenant" -> bus.publish(Invalidation.tenant("plans", ACME));
          default -> bus.publish(Invalidation.all("plans"));
        }
        assertThat(racing.get()).as(kind + ": the racing get returned").isNotNull();
        assertThat(as(ACME, () -> cache.getIfPresent("k")))
            .as(kind + ": the old value is not cached after the invalidation returned").isNotEqualTo("old");
        assertThat(as(ACME, () -> cache.getWith("k", k -> CacheValue.of("new").tags("t")))).as(kind)
            .isEqualTo("new");
      }
    }
  }

  /**
   * An invalidation that reaches this node through the bus only (published in a transaction, written by the SQL
   * trigger, or by a node without the tier) reaches the tier too; it used to drop only the local entry, and the next
   * miss read the old value back from the tier.
   */
  @Test
  void invalidationsDeliveredByTheBusReachTheTier() {
    MapTier tier = new MapTier();
    try (InvalidationBus bus = InvalidationBus.inProcess();
        SaasCache<String, String> cache = SaasCache.<String, String>named("plans").ttl(Duration.ofMinutes(10))
            .sharedTier(tier).invalidationBus(bus).build()) {
      assertThat(as(ACME, () -> cache.get("k", k -> "old"))).isEqualTo("old");
      bus.publish(Invalidation.key("plans", ACME, "k"));
      assertThat(tier.values).as("the tier dropped the key").isEmpty();
      assertThat(as(ACME, () -> cache.get("k", k -> "new"))).isEqualTo("new");

      bus.publish(Invalidation.key("other-cache", ACME, "k"));
      assertThat(tier.values).as("another cache's invalidation is not applied").containsEntry("acme/k", "new");
      assertThat(tier.events).containsExactly("tier KEY");
    }
  }

  /** Invalidations the bus lost may have been meant for the tier too: its entries are dropped with the local ones. */
  @Test
  void lostInvalidationsFlushTheTierToo() {
    MapTier tier = new MapTier();
    InvalidationListener[] listener = new InvalidationListener[1];
    InvalidationBus bus = new InvalidationBus() {
      @Override
      public void publish(Invalidation invalidation) {}

      @Override
      public Subscription subscribe(InvalidationListener l) {
        listener[0] = l;
        return () -> {};
      }

      @Override
      public void close() {}
    };
    try (SaasCache<String, String> cache = SaasCache.<String, String>named("plans").ttl(Duration.ofMinutes(10))
        .sharedTier(tier).invalidationBus(bus).build()) {
      assertThat(as(ACME, () -> cache.get("k", k -> "old"))).isEqualTo("old");
      listener[0].onLostInvalidations();
      assertThat(tier.events).containsExactly("tier ALL");
      assertThat(as(ACME, () -> cache.get("k", k -> "new"))).isEqualTo("new");
    }
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
