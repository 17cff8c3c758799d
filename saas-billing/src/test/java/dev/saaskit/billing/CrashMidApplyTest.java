package dev.saaskit.billing;

import static dev.saaskit.billing.BillingTestSupport.count;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.core.TenantId;
import dev.saaskit.testing.MutableClock;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A throwable the apply's catch blocks do not name (an {@link Error} such as an {@code AssertionError} or an
 * {@code OutOfMemoryError} in a change listener, or a checked exception thrown sneakily) halfway through applying
 * an event, after rows were written: nothing of the apply may commit (no mirror row, no event marked applied), and
 * the next delivery or apply applies the event cleanly.
 */
@ExtendWith(PostgresExtension.class)
class CrashMidApplyTest {
  private static final String SECRET = "whsec_crash_mid_apply";
  static TestDatabase db;
  MutableClock clock;

  @BeforeAll
  static void setUp(TestDatabase database) throws Exception {
    db = database;
    BillingTestSupport.migrate(db);
  }

  @BeforeEach
  void clean() throws Exception {
    try (Connection c = db.adminDataSource().getConnection(); var st = c.createStatement()) {
      st.execute("TRUNCATE saaskit_billing.events, saaskit_billing.customers, saaskit_billing.subscriptions,"
          + " saaskit_billing.subscription_items, saaskit_billing.invoices, saaskit_billing.prices,"
          + " saaskit_billing.customer_routes CASCADE");
    }
    clock = MutableClock.at(Instant.now().truncatedTo(ChronoUnit.SECONDS));
  }

  /** A change listener that throws {@code AssertionError} inside the apply's transaction while {@code armed}. */
  private static BillingChangeListener crashing(AtomicBoolean armed) {
    return new BillingChangeListener() {
      @Override
      public void billingChanged(TenantId tenant) {}

      @Override
      public void inTransaction(Connection connection, TenantId tenant) {
        if (armed.get()) {
          throw new AssertionError("listener crashed mid-apply");
        }
      }
    };
  }

  private static String subscription(String id, String customer) {
    return "{\"id\":\"" + id + "\",\"object\":\"subscription\",\"customer\":\"" + customer + "\",\"status\":\"active\","
        + "\"items\":{\"object\":\"list\",\"data\":[{\"id\":\"si_" + id + "\",\"object\":\"subscription_item\","
        + "\"quantity\":3,\"price\":{\"id\":\"price_crash\",\"object\":\"price\",\"product\":\"prod_crash\","
        + "\"currency\":\"usd\",\"unit_amount\":1000,\"recurring\":{\"interval\":\"month\"}}}]}}";
  }

  @Test
  void anErrorMidApplyOfADeliveryCommitsNothingAndTheRedeliveryApplies() throws Exception {
    AtomicBoolean armed = new AtomicBoolean(true);
    Billing billing = Billing.create(BillingTestSupport.offline(SECRET, clock).changeListener(crashing(armed)).build(),
        db.appDataSource());
    TenantId acme = TenantId.of("crash-acme");
    BillingTestSupport.linkCustomer(billing, acme, "cus_crash1");
    long created = clock.instant().getEpochSecond();
    String object = subscription("sub_crash1", "cus_crash1");

    assertThatThrownBy(() -> BillingTestSupport.deliver(billing, SECRET, clock, "evt_crash1",
        "customer.subscription.created", created, object)).isInstanceOf(AssertionError.class);

    // the subscription, its items and price were written before the listener threw: all rolled back
    assertThat(count(db, "SELECT count(*) FROM saaskit_billing.subscriptions WHERE stripe_id = 'sub_crash1'")).isZero();
    assertThat(count(db, "SELECT count(*) FROM saaskit_billing.subscription_items")).isZero();
    assertThat(count(db, "SELECT count(*) FROM saaskit_billing.prices")).isZero();
    // and the event is not recorded as applied (not recorded at all: Stripe was not answered 2xx and delivers again)
    assertThat(count(db, "SELECT count(*) FROM saaskit_billing.events WHERE status = 'applied'")).isZero();
    assertThat(billing.status(acme).hasAccess()).isFalse();

    armed.set(false);
    WebhookResult again = BillingTestSupport.deliver(billing, SECRET, clock, "evt_crash1",
        "customer.subscription.created", created, object);
    assertThat(again.outcome()).isEqualTo(WebhookResult.Outcome.APPLIED);
    assertThat(count(db, "SELECT count(*) FROM saaskit_billing.subscription_items")).isEqualTo(1);
    assertThat(billing.status(acme).hasAccess()).isTrue();
  }

  @Test
  void anErrorMidApplyOfAQueuedEventCommitsNothingAndTheEventStaysDue() throws Exception {
    AtomicBoolean armed = new AtomicBoolean(true);
    Billing billing = Billing.create(BillingTestSupport.offline(SECRET, clock).changeListener(crashing(armed))
        .applyScheduler((c, eventId) -> { }).build(), db.appDataSource());
    TenantId acme = TenantId.of("crash-queued");
    BillingTestSupport.linkCustomer(billing, acme, "cus_crash2");
    WebhookResult queued = BillingTestSupport.deliver(billing, SECRET, clock, "evt_crash2",
        "customer.subscription.created", clock.instant().getEpochSecond(), subscription("sub_crash2", "cus_crash2"));
    assertThat(queued.outcome()).isEqualTo(WebhookResult.Outcome.QUEUED);

    assertThatThrownBy(() -> billing.webhooks().apply("evt_crash2")).isInstanceOf(AssertionError.class);

    assertThat(count(db, "SELECT count(*) FROM saaskit_billing.subscriptions WHERE stripe_id = 'sub_crash2'")).isZero();
    assertThat(billing.webhooks().event("evt_crash2").orElseThrow().status()).isEqualTo("received");

    armed.set(false);
    BillingWebhooks.RetryReport retried = billing.webhooks().retryDue(); // still due
    assertThat(retried.due()).isEqualTo(1);
    assertThat(retried.applied()).isEqualTo(1);
    assertThat(billing.webhooks().event("evt_crash2").orElseThrow().status()).isEqualTo("applied");
    assertThat(billing.status(acme).hasAccess()).isTrue();
  }
}
