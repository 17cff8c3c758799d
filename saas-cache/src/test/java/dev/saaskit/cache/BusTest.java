package dev.saaskit.cache;

import static dev.saaskit.cache.Fixtures.ACME;
import static dev.saaskit.cache.Fixtures.GLOBEX;
import static dev.saaskit.cache.Fixtures.as;
import static dev.saaskit.cache.Fixtures.in;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.core.SaasException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Two "nodes" in one JVM: each has its own bus object; both deliver through one in-process bus (the network). */
class BusTest {
  private final InvalidationBus network = InvalidationBus.inProcess();
  private final NodeBus busA = new NodeBus(network);
  private final NodeBus busB = new NodeBus(network);
  private final List<SaasCache<?, ?>> opened = new ArrayList<>();

  @AfterEach
  void tearDown() {
    opened.forEach(SaasCache::close);
    network.close();
  }

  private SaasCache<String, String> node(InvalidationBus bus, String name) {
    SaasCache<String, String> cache = SaasCache.<String, String>named(name).ttl(Duration.ofMinutes(5))
        .executor(Runnable::run).invalidationBus(bus).build();
    opened.add(cache);
    return cache;
  }

  private static void fill(SaasCache<String, String> cache, String node) {
    in(ACME, () -> {
      cache.put("plan", CacheValue.of(node + "-acme-plan").tags("subscription:acme"));
      cache.put("name", node + "-acme-name");
    });
    in(GLOBEX, () -> cache.put("plan", CacheValue.of(node + "-globex-plan").tags("subscription:globex")));
  }

  @Test
  void aListenerThatThrowsOnAnInvalidationIsFlushedInsteadOfKeepingStaleData() {
    List<String> calls = new CopyOnWriteArrayList<>();
    InvalidationListener failing = new InvalidationListener() {
      @Override
      public void onInvalidation(Invalidation invalidation) {
        calls.add("invalidation");
        throw new IllegalStateException("could not apply");
      }

      @Override
      public void onLostInvalidations() {
        calls.add("flush");
      }
    };
    List<String> others = new CopyOnWriteArrayList<>();
    network.subscribe(failing);
    network.subscribe(new InvalidationListener() {
      @Override
      public void onInvalidation(Invalidation invalidation) {
        others.add("invalidation");
      }

      @Override
      public void onLostInvalidations() {
        others.add("flush");
      }
    });
    network.publish(Invalidation.tag("plans"));
    // before: the exception was logged and the invalidation counted as done, so the listener kept what it should
    // have dropped
    assertThat(calls).containsExactly("invalidation", "flush");
    assertThat(others).containsExactly("invalidation");
  }

  @Test
  void keyInvalidationEncodesTheKeyWithTheCachesCodecForPublishingByHand() {
    SaasCache<Long, String> orders = SaasCache.<Long, String>named("orders").ttl(Duration.ofMinutes(5))
        .executor(Runnable::run).keyCodec(id -> "order/" + id).invalidationBus(busB).build();
    opened.add(orders);
    in(ACME, () -> orders.put(42L, "acme-42"));
    in(GLOBEX, () -> orders.put(42L, "globex-42"));
    Invalidation current = as(ACME, () -> orders.keyInvalidation(42L));
    assertThat(current).isEqualTo(Invalidation.key("orders", ACME, "order/42"));
    assertThat(orders.keyInvalidation(GLOBEX, 42L)).isEqualTo(Invalidation.key("orders", GLOBEX, "order/42"));
    assertThatThrownBy(() -> orders.keyInvalidation(42L))
        .isInstanceOf(dev.saaskit.core.MissingTenantException.class);

    busA.publish(current); // as a transactional publish would, from another node
    assertThat(as(ACME, () -> orders.getIfPresent(42L))).isNull();
    assertThat(as(GLOBEX, () -> orders.getIfPresent(42L))).isEqualTo("globex-42");

    SaasCache<String, String> flags = SaasCache.<String, String>named("flags").ttl(Duration.ofMinutes(5)).global()
        .executor(Runnable::run).build();
    opened.add(flags);
    assertThat(flags.keyInvalidation("beta")).isEqualTo(Invalidation.key("flags", null, "beta"));
    assertThatThrownBy(() -> flags.keyInvalidation(ACME, "beta")).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("is global");
  }

  @Test
  void aKeyInvalidatedOnOneNodeIsDroppedOnBoth() {
    SaasCache<String, String> a = node(busA, "plans");
    SaasCache<String, String> b = node(busB, "plans");
    fill(a, "a");
    fill(b, "b");
    in(ACME, () -> a.invalidate("plan"));
    assertThat(as(ACME, () -> a.getIfPresent("plan"))).isNull();
    assertThat(as(ACME, () -> b.getIfPresent("plan"))).isNull();
    // only that key of that tenant
    assertThat(as(ACME, () -> b.getIfPresent("name"))).isEqualTo("b-acme-name");
    assertThat(as(GLOBEX, () -> b.getIfPresent("plan"))).isEqualTo("b-globex-plan");
    assertThat(b.stats().invalidationsReceived()).isEqualTo(1);
    assertThat(a.stats().invalidationsReceived()).as("the bus delivers to the publisher too").isEqualTo(1);
  }

  @Test
  void tagTenantAndAllTravelToo() {
    SaasCache<String, String> a = node(busA, "plans");
    SaasCache<String, String> b = node(busB, "plans");
    fill(a, "a");
    fill(b, "b");
    b.invalidateTag("subscription:acme");
    assertThat(as(ACME, () -> a.getIfPresent("plan"))).isNull();
    assertThat(as(ACME, () -> a.getIfPresent("name"))).isEqualTo("a-acme-name");
    a.invalidateTenant(ACME);
    assertThat(as(ACME, () -> b.getIfPresent("name"))).isNull();
    assertThat(as(GLOBEX, () -> b.getIfPresent("plan"))).isEqualTo("b-globex-plan");
    a.invalidateAll();
    assertThat(b.estimatedSize()).isZero();
    assertThat(a.estimatedSize()).isZero();
  }

  @Test
  void invalidationsReachOnlyTheCacheTheyName() {
    SaasCache<String, String> plans = node(busA, "plans");
    SaasCache<String, String> users = node(busB, "users");
    fill(plans, "a");
    fill(users, "b");
    in(ACME, () -> plans.invalidate("plan"));
    plans.invalidateAll();
    assertThat(as(ACME, () -> users.getIfPresent("plan"))).isEqualTo("b-acme-plan");
    // an invalidation without a cache name reaches every cache
    network.publish(Invalidation.tag("subscription:globex"));
    assertThat(as(GLOBEX, () -> users.getIfPresent("plan"))).isNull();
    network.publish(Invalidation.everything());
    assertThat(users.estimatedSize()).isZero();
  }

  @Test
  void aGlobalCacheAppliesKeyInvalidationsWithoutTenant() {
    SaasCache<String, String> a = SaasCache.<String, String>named("flags").ttl(Duration.ofMinutes(5)).global()
        .invalidationBus(busA).build();
    SaasCache<String, String> b = SaasCache.<String, String>named("flags").ttl(Duration.ofMinutes(5)).global()
        .invalidationBus(busB).build();
    opened.add(a);
    opened.add(b);
    a.put("beta", "on");
    b.put("beta", "on");
    a.invalidate("beta");
    assertThat(b.getIfPresent("beta")).isNull();
  }

  /**
   * A KEY invalidation without a tenant for a tenant-scoped cache (published by hand without one, or by a node where
   * the cache is still global during a rolling deploy) used to be ignored, and every tenant kept its stale entry
   * until the TTL. Whose key it means is unknown: it drops the key in every tenant, and nothing else.
   */
  @Test
  void aKeyInvalidationWithoutTenantDropsTheKeyInEveryTenantOfATenantScopedCache() {
    SaasCache<String, String> b = node(busB, "plans");
    fill(b, "b");
    network.publish(Invalidation.key("plans", null, "plan"));
    assertThat(as(ACME, () -> b.getIfPresent("plan"))).isNull();
    assertThat(as(GLOBEX, () -> b.getIfPresent("plan"))).isNull();
    assertThat(as(ACME, () -> b.getIfPresent("name"))).as("other keys stay").isEqualTo("b-acme-name");
  }

  @Test
  void cacheNamesAreUniquePerBusAndFreedOnClose() {
    SaasCache<String, String> first = node(busA, "plans");
    assertThatThrownBy(() -> node(busA, "plans"))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("a cache named 'plans' is already subscribed to this invalidation bus");
    assertThat(busA.subscribers()).isEqualTo(1);
    node(busB, "plans"); // another bus (another node) is fine
    first.close();
    assertThat(busA.subscribers()).isZero();
    SaasCache<String, String> second = node(busA, "plans");
    assertThat(second.name()).isEqualTo("plans");
  }

  @Test
  void aClosedCacheNoLongerReceivesAndRefusesWork() {
    SaasCache<String, String> a = node(busA, "plans");
    SaasCache<String, String> b = node(busB, "plans");
    fill(a, "a");
    a.close();
    a.close();
    b.invalidateAll();
    assertThat(a.stats().invalidationsReceived()).isZero();
    assertThatThrownBy(() -> in(ACME, () -> a.put("k", "v"))).isInstanceOf(IllegalStateException.class)
        .hasMessage("cache 'plans' is closed");
    assertThatThrownBy(() -> in(ACME, () -> a.get("k", k -> "v"))).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> a.invalidateTag("t")).isInstanceOf(IllegalStateException.class)
        .hasMessage("cache 'plans' is closed");
  }

  @Test
  void lostInvalidationsFlushTheCache() {
    SaasCache<String, String> a = node(busA, "plans");
    fill(a, "a");
    busA.loseInvalidations();
    assertThat(a.estimatedSize()).isZero();
    assertThat(a.stats().lostInvalidations()).isEqualTo(1);
  }

  @Test
  void aFailedPublishStillDropsTheLocalEntryAndSaysSo() {
    InvalidationBus broken = new InvalidationBus() {
      @Override
      public void publish(Invalidation invalidation) {
        throw new SaasException("bus down");
      }

      @Override
      public Subscription subscribe(InvalidationListener listener) {
        return () -> { };
      }

      @Override
      public void close() {}
    };
    SaasCache<String, String> a = node(broken, "plans");
    fill(a, "a");
    assertThatThrownBy(() -> in(ACME, () -> a.invalidate("plan"))).isInstanceOf(SaasException.class)
        .hasMessage("bus down");
    assertThat(as(ACME, () -> a.getIfPresent("plan"))).isNull();
  }

  /** One node's bus: its own object (so cache names are per node) over the shared in-process network. */
  static final class NodeBus implements InvalidationBus {
    private final InvalidationBus network;
    private final List<InvalidationListener> listeners = new CopyOnWriteArrayList<>();

    NodeBus(InvalidationBus network) {
      this.network = network;
    }

    @Override
    public void publish(Invalidation invalidation) {
      network.publish(invalidation);
    }

    @Override
    public Subscription subscribe(InvalidationListener listener) {
      Subscription onNetwork = network.subscribe(listener);
      listeners.add(listener);
      return () -> {
        listeners.remove(listener);
        onNetwork.close();
      };
    }

    int subscribers() {
      return listeners.size();
    }

    void loseInvalidations() {
      listeners.forEach(InvalidationListener::onLostInvalidations);
    }

    @Override
    public void close() {}
  }
}
