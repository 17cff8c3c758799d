package dev.saaskit.cache.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.cache.CacheStats;
import dev.saaskit.cache.Invalidation;
import dev.saaskit.cache.InvalidationBus;
import dev.saaskit.cache.InvalidationListener;
import dev.saaskit.cache.SaasCache;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.MutableClock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The shared expiry clock of caches without an injected clock: it must move while a cache is open, never move
 * backwards, start from the present, stop its thread with the last cache, and leave load times exact.
 */
class CoarseTickerTest {
  private static final long WAIT_NANOS = TimeUnit.SECONDS.toNanos(20);

  @Test
  void aLeasedClockFollowsNanoTimeAndNeverGoesBackwards() throws Exception {
    CoarseTicker ticker = new CoarseTicker(Duration.ofMillis(1), Duration.ZERO);
    CoarseTicker.Lease lease = ticker.lease();
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      CountDownLatch start = new CountDownLatch(1);
      List<Future<Long>> readers = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        boolean advancing = t % 2 == 0;
        readers.add(pool.submit(() -> {
          start.await();
          long previous = ticker.read();
          long backwards = 0;
          for (int i = 0; i < 200_000; i++) {
            if (advancing && i % 64 == 0) {
              ticker.advance(); // writers racing the ticking thread
            }
            long reading = ticker.read();
            if (reading - previous < 0) {
              backwards++;
            }
            previous = reading;
          }
          return backwards;
        }));
      }
      start.countDown();
      for (Future<Long> reader : readers) {
        assertThat(reader.get(60, TimeUnit.SECONDS)).as("readings that went backwards").isZero();
      }
      // the ticking thread alone moves it past a nanoTime reading taken now
      long before = System.nanoTime();
      awaitTrue(() -> ticker.read() - before >= 0);
      long reading = ticker.read(); // first: nanoTime read after it can only be later
      assertThat(System.nanoTime() - reading).as("a reading is never ahead of nanoTime").isNotNegative();
    } finally {
      pool.shutdownNow();
      lease.release();
    }
  }

  @Test
  void theThreadRunsWhileALeaseIsHeldAndAReleaseCountsOnce() throws Exception {
    CoarseTicker ticker = new CoarseTicker(Duration.ofMillis(1), Duration.ZERO);
    assertThat(ticker.isTicking()).isFalse();
    CoarseTicker.Lease first = ticker.lease();
    CoarseTicker.Lease second = ticker.lease();
    Thread thread = ticker.thread();
    assertThat(thread).isNotNull();
    assertThat(thread.isDaemon()).isTrue();
    assertThat(thread.getName()).isEqualTo(CoarseTicker.THREAD_NAME);
    assertThat(thread.getContextClassLoader()).isNull();

    first.release();
    first.release(); // a second release of the same lease must not release the other one
    assertThat(ticker.isTicking()).isTrue();
    assertThat(ticker.leases()).isEqualTo(1);
    long before = System.nanoTime();
    awaitTrue(() -> ticker.read() - before >= 0);

    second.release();
    thread.join(TimeUnit.NANOSECONDS.toMillis(WAIT_NANOS));
    assertThat(thread.isAlive()).as("the ticking thread ends after the last lease").isFalse();
    assertThat(ticker.isTicking()).isFalse();

    CoarseTicker.Lease again = ticker.lease();
    try {
      assertThat(ticker.thread()).as("a lease after the end starts a new thread").isNotNull().isNotSameAs(thread);
    } finally {
      again.release();
    }
  }

  @Test
  void aLeaseWithinTheLingerTimeKeepsTheSameThread() {
    CoarseTicker ticker = new CoarseTicker(Duration.ofMillis(1), Duration.ofMinutes(1));
    CoarseTicker.Lease first = ticker.lease();
    Thread thread = ticker.thread();
    first.release();
    assertThat(ticker.isTicking()).as("lingers after the last release").isTrue();
    CoarseTicker.Lease second = ticker.lease();
    try {
      assertThat(ticker.thread()).as("building and closing caches in turn starts no thread each time")
          .isSameAs(thread);
    } finally {
      second.release();
    }
  }

  @Test
  void leasesChurnedFromManyThreadsBalanceAndTheClockNeverGoesBack() throws Exception {
    // linger zero: threads end and start again all the time while leases come and go
    CoarseTicker ticker = new CoarseTicker(Duration.ofMillis(1), Duration.ZERO);
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try {
      CountDownLatch start = new CountDownLatch(1);
      List<Future<Long>> churners = new ArrayList<>();
      for (int t = 0; t < 8; t++) {
        churners.add(pool.submit(() -> {
          start.await();
          long backwards = 0;
          long previous = ticker.read();
          for (int i = 0; i < 2_000; i++) {
            CoarseTicker.Lease lease = ticker.lease();
            long reading = ticker.read();
            if (reading - previous < 0) {
              backwards++;
            }
            previous = reading;
            lease.release();
            if (i % 100 == 0) {
              Thread.sleep(2); // let the thread see no lease now and then, and end
            }
          }
          return backwards;
        }));
      }
      start.countDown();
      for (Future<Long> churner : churners) {
        assertThat(churner.get(60, TimeUnit.SECONDS)).as("readings that went backwards").isZero();
      }
      assertThat(ticker.leases()).isZero();
      awaitTrue(() -> !ticker.isTicking());
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void aLeaseTakenAfterAPauseStartsFromThePresent() throws Exception {
    // the thread alone would not move it for an hour
    CoarseTicker ticker = new CoarseTicker(Duration.ofHours(1), Duration.ZERO);
    ticker.lease().release();
    long stoppedAt = ticker.read();
    Thread.sleep(5);
    long beforeLease = System.nanoTime();
    CoarseTicker.Lease lease = ticker.lease();
    try {
      assertThat(ticker.read()).isGreaterThanOrEqualTo(beforeLease).isGreaterThan(stoppedAt);
    } finally {
      lease.release();
    }
  }

  @Test
  void aCacheHoldsOneLeaseFromBuildToCloseAndACacheWithItsOwnClockNone() {
    int before = CoarseTicker.SHARED.leases();
    SaasCache<String, String> cache = SaasCache.<String, String>named("coarse-lease").ttl(Duration.ofMinutes(1))
        .build();
    assertThat(CoarseTicker.SHARED.leases()).isEqualTo(before + 1);
    assertThat(CoarseTicker.SHARED.isTicking()).isTrue();
    cache.close();
    cache.close();
    assertThat(CoarseTicker.SHARED.leases()).isEqualTo(before);

    SaasCache<String, String> ownClock = SaasCache.<String, String>named("own-clock").ttl(Duration.ofMinutes(1))
        .clock(MutableClock.at(Instant.parse("2026-01-01T00:00:00Z")))
        .build();
    try {
      assertThat(CoarseTicker.SHARED.leases()).isEqualTo(before);
    } finally {
      ownClock.close();
    }
  }

  @Test
  void aCacheWhoseConstructionFailsHoldsNoLease() {
    int before = CoarseTicker.SHARED.leases();
    InvalidationBus refusing = new InvalidationBus() {
      @Override
      public void publish(Invalidation invalidation) {}

      @Override
      public Subscription subscribe(InvalidationListener listener) {
        throw new IllegalStateException("bus closed");
      }

      @Override
      public void close() {}
    };
    assertThatThrownBy(() -> SaasCache.<String, String>named("refused").ttl(Duration.ofMinutes(1))
        .invalidationBus(refusing).build()).hasMessage("bus closed");
    assertThat(CoarseTicker.SHARED.leases()).isEqualTo(before);
  }

  @Test
  void loadTimesAreMeasuredExactlyNotInClockTicks() {
    // 200 µs loads: on the 1 ms clock most would measure 0 and the rest a whole millisecond
    long loadNanos = TimeUnit.MICROSECONDS.toNanos(200);
    try (SaasCache<String, String> cache = SaasCache.<String, String>named("exact-loads")
        .ttl(Duration.ofMinutes(1)).executor(Runnable::run).build()) {
      TenantContext.run(TenantId.of("acme"), () -> {
        for (int i = 0; i < 10; i++) {
          CacheStats before = cache.stats();
          cache.get("k" + i, k -> {
            long end = System.nanoTime() + loadNanos;
            while (System.nanoTime() - end < 0) {
              Thread.onSpinWait();
            }
            return "v";
          });
          Duration took = cache.stats().minus(before).totalLoadTime();
          assertThat(took.toNanos()).as("load %d", i).isGreaterThanOrEqualTo(loadNanos);
        }
      });
    }
  }

  @Test
  void anEntryExpiresOnTheSharedClock() throws Exception {
    try (SaasCache<String, String> cache = SaasCache.<String, String>named("coarse-expiry")
        .ttl(Duration.ofMillis(30)).jitter(0).executor(Runnable::run).build()) {
      TenantId acme = TenantId.of("acme");
      // the entry's lifetime starts at the shared clock's reading during the put, which is not before this one
      // (the clock only moves forward) and never ahead of nanoTime; so both bounds below hold however late the
      // ticking thread runs
      long clockBeforePut = CoarseTicker.SHARED.read();
      TenantContext.run(acme, () -> cache.put("k", "v"));
      String right = TenantContext.call(acme, () -> cache.getIfPresent("k"));
      if (System.nanoTime() - clockBeforePut < TimeUnit.MILLISECONDS.toNanos(30)) {
        assertThat(right).isEqualTo("v"); // asserted only when the read surely came before the ttl ended
      }
      awaitTrue(() -> TenantContext.call(acme, () -> cache.getIfPresent("k")) == null);
      assertThat(System.nanoTime() - clockBeforePut).as("not gone before its ttl")
          .isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(30));
    }
  }

  private interface Condition {
    boolean holds() throws Exception;
  }

  private static void awaitTrue(Condition condition) throws Exception {
    long deadline = System.nanoTime() + WAIT_NANOS;
    while (!condition.holds()) {
      assertThat(System.nanoTime() - deadline).as("waited 20 s").isNegative();
      Thread.sleep(1);
    }
  }
}
