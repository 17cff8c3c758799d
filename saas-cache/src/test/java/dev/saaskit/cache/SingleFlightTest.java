package dev.saaskit.cache;

import static dev.saaskit.cache.Fixtures.ACME;
import static dev.saaskit.cache.Fixtures.as;
import static dev.saaskit.cache.Fixtures.in;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.cache.internal.DefaultSaasCache;
import dev.saaskit.core.TenantContext;
import dev.saaskit.testing.Await;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class SingleFlightTest {
  private static final int THREADS = 100;

  private static SaasCache<String, String> cache() {
    return SaasCache.<String, String>named("flight").ttl(Duration.ofMinutes(5)).clock(Fixtures.clock())
        .executor(Runnable::run).build();
  }

  @Test
  void aHundredConcurrentMissesOfOneKeyLoadOnce() throws Exception {
    AtomicInteger loads = new AtomicInteger();
    CountDownLatch release = new CountDownLatch(1);
    ExecutorService pool = TenantContext.wrap(Executors.newFixedThreadPool(THREADS));
    try (SaasCache<String, String> c = cache()) {
      List<Future<String>> results = new ArrayList<>();
      TenantContext.run(ACME, () -> {
        for (int i = 0; i < THREADS; i++) {
          results.add(pool.submit(() -> c.get("hot", k -> {
            loads.incrementAndGet();
            await(release);
            return "value";
          })));
        }
      });
      // every thread has missed (and joined the one load) before the loader may return
      Await.until("100 misses", () -> c.stats().misses() == THREADS);
      release.countDown();
      for (Future<String> result : results) {
        assertThat(result.get(10, TimeUnit.SECONDS)).isEqualTo("value");
      }
      assertThat(loads).hasValue(1);
      assertThat(c.stats().loadSuccesses()).isEqualTo(1);
      assertThat(((DefaultSaasCache<String, String>) c).loadsInFlight()).isZero();
      assertThat(as(ACME, () -> c.getIfPresent("hot"))).isEqualTo("value");
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void differentKeysLoadInParallel() throws Exception {
    CountDownLatch bothLoading = new CountDownLatch(2);
    ExecutorService pool = TenantContext.wrap(Executors.newFixedThreadPool(2));
    try (SaasCache<String, String> c = cache()) {
      List<Future<String>> results = new ArrayList<>();
      TenantContext.run(ACME, () -> {
        for (String key : List.of("a", "b")) {
          results.add(pool.submit(() -> c.get(key, k -> {
            bothLoading.countDown();
            await(bothLoading); // would dead-lock if one load blocked the other
            return k;
          })));
        }
      });
      assertThat(results.get(0).get(10, TimeUnit.SECONDS)).isEqualTo("a");
      assertThat(results.get(1).get(10, TimeUnit.SECONDS)).isEqualTo("b");
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void aFailedLoadIsNotCachedAndEveryWaiterSeesTheCause() throws Exception {
    AtomicInteger loads = new AtomicInteger();
    CountDownLatch release = new CountDownLatch(1);
    IllegalStateException boom = new IllegalStateException("database down");
    ExecutorService pool = TenantContext.wrap(Executors.newFixedThreadPool(10));
    try (SaasCache<String, String> c = cache()) {
      List<Future<String>> results = new ArrayList<>();
      TenantContext.run(ACME, () -> {
        for (int i = 0; i < 10; i++) {
          results.add(pool.submit(() -> c.get("k", k -> {
            loads.incrementAndGet();
            await(release);
            throw boom;
          })));
        }
      });
      Await.until("10 misses", () -> c.stats().misses() == 10);
      release.countDown();
      for (Future<String> result : results) {
        assertThatThrownBy(() -> result.get(10, TimeUnit.SECONDS))
            .cause().isInstanceOf(CacheLoadException.class)
            .hasMessageContaining("loading an entry of cache 'flight' failed")
            .cause().isSameAs(boom);
      }
      assertThat(loads).hasValue(1);
      assertThat(c.stats().loadFailures()).isEqualTo(1);
      // nothing cached: the next get loads again and succeeds
      assertThat(as(ACME, () -> c.get("k", k -> "recovered"))).isEqualTo("recovered");
      assertThat(c.stats().loadSuccesses()).isEqualTo(1);
    } finally {
      pool.shutdownNow();
    }
  }

  /**
   * Callers waiting for another caller's load have no timeout (a hung loader holds them all), so they must at least
   * answer an interrupt: a request cancelled, or a pool stopped with shutdownNow, used to stay parked in the wait
   * until the loader returned, possibly never.
   */
  @Test
  void aCallerWaitingForAnotherLoadStopsWhenInterruptedAndTheLoadGoesOn() throws Exception {
    CountDownLatch loading = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    AtomicInteger loads = new AtomicInteger();
    ExecutorService pool = TenantContext.wrap(Executors.newFixedThreadPool(1));
    try (SaasCache<String, String> c = cache()) {
      Future<String> holder = TenantContext.call(ACME, () -> pool.submit(() -> c.get("hung", k -> {
        loads.incrementAndGet();
        loading.countDown();
        await(release);
        return "value";
      })));
      await(loading);
      AtomicReference<Throwable> thrown = new AtomicReference<>();
      AtomicBoolean flagSet = new AtomicBoolean();
      CountDownLatch waiterDone = new CountDownLatch(1);
      Thread waiter = new Thread(() -> {
        try {
          TenantContext.run(ACME, () -> c.get("hung", k -> "second load"));
        } catch (RuntimeException e) {
          thrown.set(e);
          flagSet.set(Thread.currentThread().isInterrupted());
        } finally {
          waiterDone.countDown();
        }
      });
      waiter.start();
      Await.until("the second caller waits for the load", () -> c.stats().misses() == 2);
      waiter.interrupt();
      assertThat(waiterDone.await(10, TimeUnit.SECONDS)).as("the interrupted caller stopped waiting").isTrue();
      assertThat(thrown.get()).isInstanceOf(CacheLoadException.class)
          .cause().isInstanceOf(InterruptedException.class);
      assertThat(flagSet).as("its interrupt flag is set again").isTrue();

      release.countDown();
      assertThat(holder.get(10, TimeUnit.SECONDS)).isEqualTo("value");
      assertThat(loads).hasValue(1);
      assertThat(as(ACME, () -> c.getIfPresent("hung"))).as("the load was stored").isEqualTo("value");
    } finally {
      release.countDown();
      pool.shutdownNow();
    }
  }

  @Test
  void aLoaderThatReadsItsOwnKeyFailsInsteadOfWaitingForever() {
    try (SaasCache<String, String> c = cache()) {
      in(ACME, () -> assertThatThrownBy(() -> c.get("k", k -> c.get("k", k2 -> "inner")))
          .isInstanceOf(CacheLoadException.class)
          .cause().isInstanceOf(IllegalStateException.class).hasMessageContaining("the key it is loading"));
      assertThat(((DefaultSaasCache<String, String>) c).loadsInFlight()).isZero();
    }
  }

  @Test
  void errorsPassThroughUnwrapped() {
    try (SaasCache<String, String> c = cache()) {
      in(ACME, () -> assertThatThrownBy(() -> c.get("k", k -> {
        throw new AssertionError("an Error");
      })).isInstanceOf(AssertionError.class).hasMessage("an Error"));
    }
  }

  static void await(CountDownLatch latch) {
    try {
      if (!latch.await(10, TimeUnit.SECONDS)) {
        throw new AssertionError("latch not released in 10 s");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }
}
