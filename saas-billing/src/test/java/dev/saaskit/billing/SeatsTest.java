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
}
