package dev.saaskit.billing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.billing.internal.StripeJson;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.MutableClock;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.StripeEmulator;
import dev.saaskit.testing.TestDatabase;
import java.util.ArrayList;
import java.util.List;
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
 * subscription gets no second subscription-mode checkout unless the request allows it, and a new checkout expires
 * the tenant's older open ones, also when two are created at once on two nodes.
 */
@ExtendWith(PostgresExtension.class)
class DoubleCheckoutTest {
  static TestDatabase db;
  static StripeEmulator emu;
  static Billing billing;
  static Billing otherNode;
  static String price;

  @BeforeAll
  static void setUp(TestDatabase database) throws Exception {
    db = database;
    BillingTestSupport.migrate(db);
    MutableClock clock = MutableClock.atSystemTime();
    emu = StripeEmulator.builder().clock(clock).seed(43).start();
    billing = Billing.create(OperationsTest.config(emu, clock).build(), db.appDataSource());
    otherNode = Billing.create(OperationsTest.config(emu, clock).build(), db.appDataSource());
    price = OperationsTest.price(billing, "Double", 3_000, "double_monthly");
    emu.webhooks().automatic(false); // the success page syncs; webhooks would only repeat it
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
    CheckoutSession tab2 = billing.operations().createCheckoutSession(request(tenant).build());

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
        List<String> open = new ArrayList<>();
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
}
