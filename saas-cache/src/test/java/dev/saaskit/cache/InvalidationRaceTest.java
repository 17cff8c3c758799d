package dev.saaskit.cache;

import static dev.saaskit.cache.Fixtures.ACME;
import static dev.saaskit.cache.Fixtures.GLOBEX;
import static dev.saaskit.cache.Fixtures.as;
import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.cache.internal.DefaultSaasCache;
import dev.saaskit.core.TenantContext;
import dev.saaskit.testing.Await;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A load reads the database, then an update commits and invalidates while the load is still running: the load's
 * (now stale) result must not be stored, whichever way the invalidation addresses the entry.
 */
class InvalidationRaceTest {
  private final ExecutorService pool = TenantContext.wrap(Executors.newFixedThreadPool(2));
  private final AtomicReference<String> database = new AtomicReference<>("v1");
  private final AtomicInteger loads = new AtomicInteger();
  private final CountDownLatch loaderHasRead = new CountDownLatch(1);
  private final CountDownLatch release = new CountDownLatch(1);
  private final SaasCache<String, String> cache = SaasCache.<String, String>named("race")
      .ttl(Duration.ofMinutes(5)).clock(Fixtures.clock()).executor(Runnable::run).build();

  @AfterEach
  void tearDown() {
    pool.shutdownNow();
    cache.close();
  }

  /** A loader that reads the database, then waits until the test lets it return what it read. */
  private CacheValue<String> blockingLoad(String key) {
    String read = database.get();
    if (loads.incrementAndGet() == 1) {
      loaderHasRead.countDown();
      SingleFlightTest.await(release);
    }
    return CacheValue.of(read).tags("plan:" + key, "tenant-tag");
  }

  private void raceWith(Consumer<SaasCache<String, String>> invalidation) throws Exception {
    Future<String> first = pool.submit(() -> as(ACME, () -> cache.getWith("k", this::blockingLoad)));
    SingleFlightTest.await(loaderHasRead);
    database.set("v2"); // the write commits...
    invalidation.accept(cache); // ...and invalidates while the load of v1 is still running
    release.countDown();
    // the caller that started before the invalidation may get v1: its read is ordered before the write
    assertThat(first.get(10, TimeUnit.SECONDS)).isEqualTo("v1");
    assertThat(as(ACME, () -> cache.getIfPresent("k"))).as("the stale v1 must not be stored").isNull();
    assertThat(as(ACME, () -> cache.getWith("k", this::blockingLoad))).isEqualTo("v2");
    assertThat(loads).hasValue(2);
    assertThat(cache.stats().discardedLoads()).isEqualTo(1);
    assertThat(((DefaultSaasCache<String, String>) cache).loadsInFlight()).isZero();
  }

  @Test
  void invalidateKeyDuringLoad() throws Exception {
    raceWith(c -> TenantContext.run(ACME, () -> c.invalidate("k")));
  }

  @Test
  void invalidateTagDuringLoad() throws Exception {
    raceWith(c -> c.invalidateTag("plan:k"));
  }

  @Test
  void invalidateTenantDuringLoad() throws Exception {
    raceWith(c -> c.invalidateTenant(ACME));
  }

  @Test
  void invalidateAllDuringLoad() throws Exception {
    raceWith(SaasCache::invalidateAll);
  }

  @Test
  void aLostInvalidationsFlushDuringLoad() throws Exception {
    InvalidationBus bus = InvalidationBus.inProcess();
    AtomicReference<InvalidationListener> listener = new AtomicReference<>();
    InvalidationBus spy = new InvalidationBus() {
      @Override
      public void publish(Invalidation invalidation) {
        bus.publish(invalidation);
      }

      @Override
      public Subscription subscribe(InvalidationListener l) {
        listener.set(l);
        return bus.subscribe(l);
      }

      @Override
      public void close() {
        bus.close();
      }
    };
    try (SaasCache<String, String> onBus = SaasCache.<String, String>named("race").ttl(Duration.ofMinutes(5))
        .executor(Runnable::run).invalidationBus(spy).build()) {
      Future<String> first = pool.submit(() -> as(ACME, () -> onBus.getWith("k", this::blockingLoad)));
      SingleFlightTest.await(loaderHasRead);
      database.set("v2");
      listener.get().onLostInvalidations();
      release.countDown();
      assertThat(first.get(10, TimeUnit.SECONDS)).isEqualTo("v1");
      assertThat(as(ACME, () -> onBus.getIfPresent("k"))).isNull();
      assertThat(onBus.stats().lostInvalidations()).isEqualTo(1);
    }
  }

  @Test
  void aPutDuringLoadWinsOverTheLoad() throws Exception {
    Future<String> first = pool.submit(() -> as(ACME, () -> cache.getWith("k", this::blockingLoad)));
    SingleFlightTest.await(loaderHasRead);
    TenantContext.run(ACME, () -> cache.put("k", "put"));
    release.countDown();
    assertThat(first.get(10, TimeUnit.SECONDS)).isEqualTo("v1");
    assertThat(as(ACME, () -> cache.getIfPresent("k"))).isEqualTo("put");
  }

  @Test
  void unrelatedInvalidationsDuringLoadDoNotDiscardIt() throws Exception {
    Future<String> first = pool.submit(() -> as(ACME, () -> cache.getWith("k", this::blockingLoad)));
    SingleFlightTest.await(loaderHasRead);
    cache.invalidateTag("plan:other");
    cache.invalidateTenant(GLOBEX);
    TenantContext.run(ACME, () -> cache.invalidate("other"));
    TenantContext.run(GLOBEX, () -> cache.invalidate("k"));
    release.countDown();
    assertThat(first.get(10, TimeUnit.SECONDS)).isEqualTo("v1");
    assertThat(as(ACME, () -> cache.getIfPresent("k"))).isEqualTo("v1");
    assertThat(cache.stats().discardedLoads()).isZero();
  }

  @Test
  void aGetStartedAfterAKeyInvalidationDoesNotJoinTheStaleLoad() throws Exception {
    Future<String> first = pool.submit(() -> as(ACME, () -> cache.getWith("k", this::blockingLoad)));
    SingleFlightTest.await(loaderHasRead);
    database.set("v2");
    TenantContext.run(ACME, () -> cache.invalidate("k"));
    // started after the invalidation: loads v2 itself instead of waiting for the stale v1
    assertThat(as(ACME, () -> cache.getWith("k", this::blockingLoad))).isEqualTo("v2");
    release.countDown();
    assertThat(first.get(10, TimeUnit.SECONDS)).isEqualTo("v1");
    assertThat(as(ACME, () -> cache.getIfPresent("k"))).isEqualTo("v2");
  }

  @Test
  void aGetThatJoinedTheLoadAfterATagInvalidationLoadsAgain() throws Exception {
    Future<String> first = pool.submit(() -> as(ACME, () -> cache.getWith("k", this::blockingLoad)));
    SingleFlightTest.await(loaderHasRead);
    database.set("v2");
    cache.invalidateTag("plan:k");
    // tags are known only when the load returns, so this get joins the load, sees it discarded, and loads again
    Future<String> second = pool.submit(() -> as(ACME, () -> cache.getWith("k", this::blockingLoad)));
    Await.until("the second get to miss", () -> cache.stats().misses() == 2);
    release.countDown();
    assertThat(first.get(10, TimeUnit.SECONDS)).isEqualTo("v1");
    assertThat(second.get(10, TimeUnit.SECONDS)).isEqualTo("v2");
    assertThat(as(ACME, () -> cache.getIfPresent("k"))).isEqualTo("v2");
  }
}
