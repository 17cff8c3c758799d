package dev.saaskit.billing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.billing.internal.StripeJson;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.MutableClock;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.StripeEmulator;
import dev.saaskit.testing.TestDatabase;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Two checkouts must not bill one tenant twice (two browser tabs, a double click): a tenant with a live
 * subscription gets no second subscription-mode checkout unless the request allows it, the same checkout asked for
 * again (also concurrently, on two nodes) gets the same open session, and a different one expires the tenant's older
 * open ones; sessions the mirror does not know yet (paid or open) count too.
 */
@ExtendWith(PostgresExtension.class)
class DoubleCheckoutTest {
  static TestDatabase db;
  static StripeEmulator emu;
  static Billing billing;
  static Billing otherNode;
  static String price;
  static String otherPrice;
  static MutableClock clock;

  @BeforeAll
  static void setUp(TestDatabase database) throws Exception {
    db = database;
    BillingTestSupport.migrate(db);
    clock = MutableClock.atSystemTime();
    emu = StripeEmulator.builder().clock(clock).seed(43).start();
    billing = Billing.create(OperationsTest.config(emu, clock).build(), db.appDataSource());
    otherNode = Billing.create(OperationsTest.config(emu, clock).build(), db.appDataSource());
    price = OperationsTest.price(billing, "Double", 3_000, "double_monthly");
    otherPrice = OperationsTest.price(billing, "Double Plus", 6_000, "double_plus_monthly");
    // the success page syncs; webhooks would only repeat it, except where a test delivers one on purpose
    emu.webhooks().automatic(false)
        .deliverTo((body, signature) -> billing.webhooks().handle(body, signature).status());
  }

  @AfterAll
  static void tearDown() {
    emu.close();
  }

  static CheckoutRequest.Builder request(TenantId tenant) {
    return CheckoutRequest.builder(tenant, price).successUrl("https://app.test/done").cancelUrl("https://app.test/no");
  }

  static String status(String sessionId) {
    return StripeJson.text(StripeJson.parseObject(emu.object(sessionId).orElseThrow()), "status");
  }

  @Test
  void aTenantWithALiveSubscriptionGetsNoSecondCheckoutUnlessAllowed() {
    TenantId tenant = TenantId.of("double-live1");
    Subscription first = OperationsTest.subscribe(billing, emu, tenant, price, 1);

    assertThatThrownBy(() -> billing.operations().createCheckoutSession(request(tenant).build()))
        .isInstanceOfSatisfying(AlreadySubscribedException.class, e -> {
          assertThat(e.subscriptionId()).isEqualTo(first.id());
          assertThat(e.subscriptionStatus()).isEqualTo(SubscriptionStatus.ACTIVE);
          assertThat(e.retryable()).isFalse();
        })
        .hasMessageContaining("already has a live subscription");

    // an add-on sold as its own subscription: allowed on purpose
    CheckoutSession addOn = billing.operations().createCheckoutSession(
        request(tenant).allowAdditionalSubscription(true).build());
    assertThat(status(addOn.id())).isEqualTo("open");

    // once the subscription has ended, a new checkout is fine again
    billing.operations().cancelNow(tenant);
    CheckoutSession again = billing.operations().createCheckoutSession(request(tenant).build());
    assertThat(status(again.id())).isEqualTo("open");
  }

  @Test
  void aNewCheckoutExpiresTheTenantsOlderOpenOneSoOnlyOneTabCanPay() {
    TenantId tenant = TenantId.of("double-tabs1");
    CheckoutSession tab1 = billing.operations().createCheckoutSession(request(tenant).build());
    CheckoutSession tab2 = billing.operations().createCheckoutSession(request(tenant).quantity(2).build());

    assertThat(tab2.id()).isNotEqualTo(tab1.id());
    assertThat(status(tab1.id())).isEqualTo("expired");
    assertThatThrownBy(() -> emu.completeCheckout(tab1.id())).isInstanceOf(IllegalArgumentException.class);
    emu.completeCheckout(tab2.id());
    assertThat(billing.operations().syncCheckoutSession(tenant, tab2.id()).hasAccess()).isTrue();
    // another tenant's open checkout is left alone
    CheckoutSession other = billing.operations().createCheckoutSession(request(TenantId.of("double-tabs2")).build());
    assertThatThrownBy(() -> billing.operations().createCheckoutSession(request(tenant).build()))
        .isInstanceOf(AlreadySubscribedException.class);
    assertThat(status(other.id())).isEqualTo("open");
  }

  @Test
  void anOlderTabPaidBeforeTheMirrorKnowsRefusesTheNewCheckout() {
    TenantId tenant = TenantId.of("double-paid1");
    CheckoutSession tab1 = billing.operations().createCheckoutSession(request(tenant).build());
    emu.completeCheckout(tab1.id()); // paid; no webhook and no success page yet: the mirror still says open
    emu.webhooks().dropPending();

    assertThatThrownBy(() -> billing.operations().createCheckoutSession(request(tenant).build()))
        .isInstanceOf(AlreadySubscribedException.class);
    // the refusal brought the mirror up to date with the paid subscription
    assertThat(billing.status(tenant).hasAccess()).isTrue();
  }

  @Test
  void twoCheckoutsCreatedAtOnceOnTwoNodesLeaveOneOpen() throws Exception {
    for (int round = 0; round < 3; round++) {
      TenantId tenant = TenantId.of("double-race" + round);
      CyclicBarrier start = new CyclicBarrier(2);
      ExecutorService pool = Executors.newFixedThreadPool(2);
      try {
        List<Future<CheckoutSession>> sessions = new ArrayList<>();
        for (Billing node : List.of(billing, otherNode)) {
          sessions.add(pool.submit(() -> {
            start.await(60, TimeUnit.SECONDS);
            return node.operations().createCheckoutSession(request(tenant).build());
          }));
        }
        List<String> ids = new ArrayList<>();
        for (Future<CheckoutSession> f : sessions) {
          ids.add(f.get(120, TimeUnit.SECONDS).id());
        }
        java.util.Set<String> open = new java.util.LinkedHashSet<>();
        for (String id : ids) {
          if ("open".equals(status(id))) {
            open.add(id);
          }
        }
        assertThat(open).as("round %d: %s", round, open).hasSize(1);
      } finally {
        pool.shutdownNow();
      }
    }
  }

  /** Checkout sessions created at the emulator so far (the expiries, posted below a session's path, excluded). */
  static int sessionsCreated() {
    return emu.requestCount("POST", "/v1/checkout/sessions") - emu.requestCount("POST", "/v1/checkout/sessions/");
  }

  @Test
  void concurrentIdenticalCheckoutsOfOneTenantShareOneSession() throws Exception {
    TenantId tenant = TenantId.of("double-burst1");
    billing.operations().ensureCustomer(tenant, null, null); // the race under test is the session's, not this one's
    int threads = 8;
    CyclicBarrier start = new CyclicBarrier(threads);
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    int before = sessionsCreated();
    String sessionId;
    try {
      List<Future<CheckoutSession>> calls = new ArrayList<>();
      for (int i = 0; i < threads; i++) {
        Billing node = i % 2 == 0 ? billing : otherNode;
        calls.add(pool.submit(() -> {
          start.await(60, TimeUnit.SECONDS);
          return node.operations().createCheckoutSession(request(tenant).build());
        }));
      }
      List<CheckoutSession> got = new ArrayList<>();
      for (Future<CheckoutSession> f : calls) {
        got.add(f.get(120, TimeUnit.SECONDS));
      }
      assertThat(sessionsCreated() - before).isEqualTo(1);
      assertThat(got).allSatisfy(s -> assertThat(s).isEqualTo(got.get(0)));
      sessionId = got.get(0).id();
      assertThat(status(sessionId)).isEqualTo("open");
    } finally {
      pool.shutdownNow();
    }
    // paying it gives the tenant its one subscription; the next checkout is refused
    emu.completeCheckout(sessionId);
    emu.webhooks().dropPending();
    assertThat(billing.operations().syncCheckoutSession(tenant, sessionId).hasAccess()).isTrue();
    assertThatThrownBy(() -> billing.operations().createCheckoutSession(request(tenant).build()))
        .isInstanceOf(AlreadySubscribedException.class);
  }

  @Test
  void aCheckoutForAnotherPriceExpiresTheOpenOneAndIsThenReturnedItself() {
    TenantId tenant = TenantId.of("double-price1");
    CheckoutSession first = billing.operations().createCheckoutSession(request(tenant).build());
    int before = sessionsCreated();
    CheckoutSession upgraded = billing.operations().createCheckoutSession(
        CheckoutRequest.builder(tenant, otherPrice).successUrl("https://app.test/done").cancelUrl("https://app.test/no")
            .build());
    CheckoutSession again = billing.operations().createCheckoutSession(
        CheckoutRequest.builder(tenant, otherPrice).successUrl("https://app.test/done").cancelUrl("https://app.test/no")
            .build());

    assertThat(upgraded.id()).isNotEqualTo(first.id());
    assertThat(status(first.id())).isEqualTo("expired");
    assertThat(again).isEqualTo(upgraded);
    assertThat(status(upgraded.id())).isEqualTo("open");
    assertThat(sessionsCreated() - before).isEqualTo(1);
  }

  @Test
  void aSessionExpiredInStripeOrAboutToExpireIsReplacedOnce() {
    TenantId tenant = TenantId.of("double-expired1");
    CheckoutSession first = billing.operations().createCheckoutSession(request(tenant).build());
    // expired in Stripe behind the mirror's back (the dashboard, another process): the mirror still says open
    billing.stripe().post("/v1/checkout/sessions/" + first.id() + "/expire", Map.of(), null);
    emu.webhooks().dropPending();
    int before = sessionsCreated();
    CheckoutSession second = billing.operations().createCheckoutSession(request(tenant).build());
    assertThat(second.id()).isNotEqualTo(first.id());
    assertThat(billing.operations().createCheckoutSession(request(tenant).build())).isEqualTo(second);
    assertThat(sessionsCreated() - before).isEqualTo(1);

    // Stripe's 24 hours are almost over: a payer would not have the time, so it is expired and replaced
    clock.advance(Duration.ofHours(23).plusMinutes(45));
    CheckoutSession third = billing.operations().createCheckoutSession(request(tenant).build());
    assertThat(third.id()).isNotEqualTo(second.id());
    assertThat(status(second.id())).isEqualTo("expired");
    assertThat(status(third.id())).isEqualTo("open");
    assertThat(billing.operations().createCheckoutSession(request(tenant).build())).isEqualTo(third);
    assertThat(sessionsCreated() - before).isEqualTo(2);
  }

  @Test
  void aSessionPaidBeforeTheMirrorKnewItRefusesTheNextCheckout() throws Exception {
    TenantId tenant = TenantId.of("double-unmirrored1");
    // created by a node that stopped before committing its mirror row, then paid; no webhook has arrived yet
    String paid = sessionCreatedBehindTheMirror(tenant);
    emu.completeCheckout(paid);
    emu.webhooks().dropPending();
    assertThat(BillingTestSupport.count(db, "SELECT count(*) FROM saaskit_billing.checkout_sessions"
        + " WHERE tenant_id = ?", tenant.value())).isZero();
    int before = sessionsCreated();

    assertThatThrownBy(() -> billing.operations().createCheckoutSession(request(tenant).build()))
        .isInstanceOf(AlreadySubscribedException.class);
    assertThat(sessionsCreated() - before).isZero();
    assertThat(billing.status(tenant).hasAccess()).isTrue(); // the refusal mirrored the paid subscription
  }

  @Test
  void anOpenSessionTheMirrorMissedIsExpiredBeforeANewOne() {
    TenantId tenant = TenantId.of("double-unmirrored2");
    String lost = sessionCreatedBehindTheMirror(tenant);

    CheckoutSession fresh = billing.operations().createCheckoutSession(request(tenant).build());
    assertThat(fresh.id()).isNotEqualTo(lost);
    assertThat(status(lost)).isEqualTo("expired");
    assertThat(status(fresh.id())).isEqualTo("open");
  }

  /** A subscription-mode session of {@code tenant} created in Stripe as saaskit would, with no mirror row. */
  private String sessionCreatedBehindTheMirror(TenantId tenant) {
    String customer = billing.operations().ensureCustomer(tenant, null, null);
    Map<String, Object> p = new java.util.LinkedHashMap<>();
    p.put("mode", "subscription");
    p.put("customer", customer);
    p.put("client_reference_id", tenant.value());
    p.put("metadata", Map.of("tenant_id", tenant.value()));
    p.put("line_items", List.of(Map.of("price", price, "quantity", 1)));
    p.put("success_url", "https://app.test/done");
    p.put("cancel_url", "https://app.test/no");
    return StripeJson.text(billing.stripe().post("/v1/checkout/sessions", p, null).json(), "id");
  }
}
