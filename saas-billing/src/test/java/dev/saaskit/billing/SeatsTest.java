package dev.saaskit.billing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.billing.internal.SeatCoalescer;
import dev.saaskit.billing.internal.StripeJson;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.MutableClock;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.StripeEmulator;
import dev.saaskit.testing.TestDatabase;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Seat changes: a burst of 20 concurrent changes is one (at most two) Stripe update(s); the last asked wins. */
@ExtendWith(PostgresExtension.class)
class SeatsTest {
  static TestDatabase db;
  static StripeEmulator emu;
  static Billing billing;
  static String price;

  @BeforeAll
  static void setUp(TestDatabase database) throws Exception {
    db = database;
    BillingTestSupport.migrate(db);
    MutableClock clock = MutableClock.atSystemTime();
    emu = StripeEmulator.builder().clock(clock).seed(21).start();
    billing = Billing.create(OperationsTest.config(emu, clock).seatCoalesceWindow(Duration.ofMillis(300)).build(),
        db.appDataSource());
    price = OperationsTest.price(billing, "Seats", 1_000, "seats_monthly");
  }

  @AfterAll
  static void tearDown() {
    emu.close();
  }

  @Test
  void twentyConcurrentSeatChangesAreOneStripeUpdate() throws Exception {
    TenantId tenant = TenantId.of("seats-burst");
    Subscription sub = OperationsTest.subscribe(billing, emu, tenant, price, 1);
    int before = emu.requestCount("POST", "/v1/subscriptions/");
    ExecutorService pool = Executors.newFixedThreadPool(20);
    CountDownLatch go = new CountDownLatch(1);
    List<Future<Subscription>> futures = new ArrayList<>();
    try {
      for (int i = 0; i < 20; i++) {
        long quantity = 10L + i;
        futures.add(pool.submit(() -> {
          go.await();
          return billing.operations().setSeats(tenant, quantity);
        }));
      }
      go.countDown();
      Set<Long> answered = ConcurrentHashMap.newKeySet();
      for (Future<Subscription> f : futures) {
        answered.add(f.get().quantityOf(price));
      }
      int updates = emu.requestCount("POST", "/v1/subscriptions/") - before;
      assertThat(updates).isBetween(1, 2);
      assertThat(answered).hasSizeLessThanOrEqualTo(updates);
      long remote = StripeJson.parseObject(emu.object(sub.id()).orElseThrow())
          .path("items").path("data").get(0).path("quantity").asLong();
      assertThat(remote).isBetween(10L, 29L);
      assertThat(answered).contains(remote); // the callers of the last update got what Stripe holds
      Subscription mirrored = billing.status(tenant).subscription();
      assertThat(mirrored.quantityOf(price)).isEqualTo(remote);
      assertThat(billing.entitlements(tenant).limitOr("seats", 0)).isEqualTo(remote);
    } finally {
      pool.shutdownNow();
    }
    // alone, the last quantity asked is the one sent
    assertThat(billing.operations().setSeats(tenant, 3).quantityOf(price)).isEqualTo(3);
    assertThat(StripeJson.parseObject(emu.object(sub.id()).orElseThrow())
        .path("items").path("data").get(0).path("quantity").asLong()).isEqualTo(3);
    assertThatThrownBy(() -> billing.operations().setSeats(tenant, 0)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void theCoalescerSendsTheLatestQuantityOfABatchAndSharesItsResultAndFailure() throws Exception {
    SeatCoalescer<Long> coalescer = new SeatCoalescer<>();
    List<Long> sent = new CopyOnWriteArrayList<>();
    ExecutorService pool = Executors.newFixedThreadPool(20);
    CountDownLatch go = new CountDownLatch(1);
    try {
      List<Future<Long>> futures = new ArrayList<>();
      for (int i = 0; i < 20; i++) {
        long q = i + 1L;
        futures.add(pool.submit(() -> {
          go.await();
          return coalescer.submit("sub_x", q, Duration.ofMillis(200), n -> {
            sent.add(n);
            return n;
          });
        }));
      }
      go.countDown();
      List<Long> results = new ArrayList<>();
      for (Future<Long> f : futures) {
        results.add(f.get());
      }
      assertThat(sent).hasSizeBetween(1, 2);
      assertThat(results).allMatch(sent::contains); // every caller got the result of a sent update
    } finally {
      pool.shutdownNow();
    }
    // a failure reaches the caller
    assertThatThrownBy(() -> coalescer.submit("sub_y", 5, Duration.ZERO, n -> {
      throw new BillingException("Stripe said no");
    })).isInstanceOf(BillingException.class).hasMessageContaining("Stripe said no");
    // keys are independent
    assertThat(coalescer.submit("sub_z", 9, Duration.ZERO, n -> n * 2)).isEqualTo(18);
    // joiners of a failing batch see the failure too
    ExecutorService two = Executors.newFixedThreadPool(5);
    CountDownLatch start = new CountDownLatch(1);
    try {
      List<Future<Long>> fs = new ArrayList<>();
      for (int i = 0; i < 5; i++) {
        fs.add(two.submit(() -> {
          start.await();
          return coalescer.submit("sub_f", 1, Duration.ofMillis(100), n -> {
            throw new BillingException("down");
          });
        }));
      }
      start.countDown();
      for (Future<Long> f : fs) {
        assertThatThrownBy(f::get).isInstanceOf(ExecutionException.class).hasRootCauseMessage("down");
      }
    } finally {
      two.shutdownNow();
    }
  }
  /** Whether {@code t} is parked in the coalescer, waiting for the previous seat update of its key. */
  private static boolean waitingItsTurn(Thread t) {
    if (t.getState() != Thread.State.WAITING) {
      return false;
    }
    for (StackTraceElement e : t.getStackTrace()) {
      if (e.getClassName().equals(SeatCoalescer.class.getName())) {
        return true;
      }
    }
    return false;
  }

  @Test
  void aSlowUpdateNeverLandsAfterALaterBatchsUpdate() throws Exception {
    SeatCoalescer<Long> coalescer = new SeatCoalescer<>();
    List<Long> landed = new CopyOnWriteArrayList<>();
    CountDownLatch firstOnTheWire = new CountDownLatch(1);
    CountDownLatch releaseFirst = new CountDownLatch(1);
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      // the first batch's update is slow (Stripe answers 429, the gateway waits, retries)
      Future<Long> first = pool.submit(() -> coalescer.submit("sub_slow", 5, Duration.ZERO, n -> {
        firstOnTheWire.countDown();
        try {
          releaseFirst.await(30, java.util.concurrent.TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        landed.add(n);
        return n;
      }));
      assertThat(firstOnTheWire.await(30, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
      // the first batch is closed: a later change opens the next batch, with the quantity asked last
      Thread[] second = new Thread[1];
      Future<Long> later = pool.submit(() -> {
        second[0] = Thread.currentThread();
        return coalescer.submit("sub_slow", 6, Duration.ZERO, n -> {
          landed.add(n);
          return n;
        });
      });
      dev.saaskit.testing.Await.until("the later update sent or waiting its turn", Duration.ofSeconds(30),
          () -> later.isDone() || (second[0] != null && waitingItsTurn(second[0])));
      releaseFirst.countDown();
      assertThat(first.get(30, java.util.concurrent.TimeUnit.SECONDS)).isEqualTo(5);
      assertThat(later.get(30, java.util.concurrent.TimeUnit.SECONDS)).isEqualTo(6);
      // Stripe keeps the update that lands last: it must be the quantity asked last
      assertThat(landed).containsExactly(5L, 6L);
    } finally {
      releaseFirst.countDown();
      pool.shutdownNow();
    }
  }

  @Test
  void aSeatUpdateRetriedAfterARateLimitDoesNotUndoALaterOne() throws Exception {
    MutableClock clock = MutableClock.atSystemTime();
    CountDownLatch retrying = new CountDownLatch(1);
    CountDownLatch releaseRetry = new CountDownLatch(1);
    BillingConfig config = OperationsTest.config(emu, clock).seatCoalesceWindow(Duration.ZERO).build();
    // the gateway's wait before a retry blocks until the test lets it go
    Billing node = new Billing(config, db.appDataSource(), new dev.saaskit.billing.internal.StripeGateway(config, d -> {
      retrying.countDown();
      releaseRetry.await(30, java.util.concurrent.TimeUnit.SECONDS);
    }));
    TenantId tenant = TenantId.of("seats-slow");
    Subscription sub = OperationsTest.subscribe(node, emu, tenant, price, 1);
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      emu.failNextRequests(1, 429, null);
      Future<Subscription> first = pool.submit(() -> node.operations().setSeats(tenant, 5));
      assertThat(retrying.await(30, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
      Thread[] second = new Thread[1];
      Future<Subscription> later = pool.submit(() -> {
        second[0] = Thread.currentThread();
        return node.operations().setSeats(tenant, 6);
      });
      dev.saaskit.testing.Await.until("the later update sent or waiting its turn", Duration.ofSeconds(30),
          () -> later.isDone() || (second[0] != null && waitingItsTurn(second[0])));
      releaseRetry.countDown();
      first.get(30, java.util.concurrent.TimeUnit.SECONDS);
      assertThat(later.get(30, java.util.concurrent.TimeUnit.SECONDS).quantityOf(price)).isEqualTo(6);
      long remote = StripeJson.parseObject(emu.object(sub.id()).orElseThrow())
          .path("items").path("data").get(0).path("quantity").asLong();
      assertThat(remote).isEqualTo(6); // the quantity asked last
      assertThat(node.status(tenant).subscription().quantityOf(price)).isEqualTo(6);
    } finally {
      releaseRetry.countDown();
      pool.shutdownNow();
    }
  }
}
