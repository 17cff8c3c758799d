package dev.saaskit.billing;

import static dev.saaskit.billing.BillingTestSupport.count;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.saaskit.billing.internal.Mirror;
import dev.saaskit.billing.internal.StripeJson;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.MutableClock;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.time.Instant;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Stripe's times are whole seconds, so two states of one subscription can carry the same time. A canceled (or
 * incomplete_expired) subscription never becomes live again in Stripe: a write of the same second that would take
 * it back to a live status is the older one and must not win (a webhook with refetch off, or a reconcile whose list
 * answer has the same Date as the webhook that canceled it). And one odd field of Stripe's JSON must not make the
 * tenant's billing unreadable.
 */
@ExtendWith(PostgresExtension.class)
class SubscriptionTieTest {
  private static final String SECRET = "whsec_tie_0123456789";
  private static final TenantId TENANT = TenantId.of("tie-acme");

  static TestDatabase db;
  static MutableClock clock = MutableClock.at(Instant.parse("2026-12-01T00:00:00Z"));
  static Billing billing;

  @BeforeAll
  static void setUp(TestDatabase database) throws Exception {
    db = database;
    BillingTestSupport.migrate(db);
    billing = Billing.create(BillingTestSupport.offline(SECRET, clock).build(), db.appDataSource());
    BillingTestSupport.linkCustomer(billing, TENANT, "cus_tie");
  }

  @BeforeEach
  void clean() throws Exception {
    try (var c = db.adminDataSource().getConnection(); var st = c.createStatement()) {
      st.execute("TRUNCATE saaskit_billing.events CASCADE");
      st.execute("DELETE FROM saaskit_billing.subscriptions");
    }
    billing.invalidate(TENANT);
  }

  private static String subscription(String sub, String status, String created) {
    return "{\"id\":\"" + sub + "\",\"object\":\"subscription\",\"customer\":\"cus_tie\",\"status\":\"" + status
        + "\",\"created\":" + created + ",\"items\":{\"object\":\"list\",\"data\":[{\"id\":\"si_" + sub + "_" + status
        + "\",\"object\":\"subscription_item\",\"quantity\":3,\"price\":{\"id\":\"price_tie\",\"object\":\"price\","
        + "\"product\":\"prod_tie\",\"currency\":\"usd\",\"unit_amount\":1000,"
        + "\"recurring\":{\"interval\":\"month\"}}}]}}";
  }

  private static WebhookResult deliver(String eventId, String type, long created, String object) {
    return BillingTestSupport.deliver(billing, SECRET, clock, eventId, type, created, object);
  }

  private static Mirror.Outcome write(ObjectNode sub, Instant asOf) {
    Mirror.Outcome outcome =
        billing.db().inTransaction(TENANT, "t", c -> billing.mirror().upsertSubscription(c, TENANT, sub, asOf));
    return outcome;
  }

  @Test
  void deletedThenAnUpdatedOfTheSameSecondLeavesTheSubscriptionCanceled() throws Exception {
    long t = clock.instant().getEpochSecond() - 60;
    String canceled = subscription("sub_tie1", "canceled", "1764500000");
    String active = subscription("sub_tie1", "active", "1764500000");
    assertThat(deliver("evt_tie1", "customer.subscription.deleted", t, canceled).outcome())
        .isEqualTo(WebhookResult.Outcome.APPLIED);
    assertThat(deliver("evt_tie2", "customer.subscription.updated", t, active).status()).isEqualTo(200);
    assertThat(billing.status(TENANT).state()).isEqualTo(AccessState.ENDED);
    assertThat(billing.hasAccess(TENANT)).isFalse();
    // the items stay those of the state that won
    assertThat(count(db, "SELECT count(*) FROM saaskit_billing.subscription_items"
        + " WHERE stripe_id = 'si_sub_tie1_canceled'")).isOne();
    assertThat(count(db, "SELECT count(*) FROM saaskit_billing.subscription_items WHERE subscription_id = 'sub_tie1'"))
        .isOne();
  }

  @Test
  void aReconcileWriteOfTheSameSecondDoesNotReviveACanceledSubscription() throws Exception {
    Instant t = Instant.parse("2026-11-30T12:00:00Z");
    ObjectNode canceled = StripeJson.parseObject(subscription("sub_tie2", "incomplete_expired", "1764500000"));
    ObjectNode live = StripeJson.parseObject(subscription("sub_tie2", "incomplete", "1764500000"));
    assertThat(write(canceled, t))
        .isEqualTo(Mirror.Outcome.APPLIED);
    assertThat(write(live, t))
        .isEqualTo(Mirror.Outcome.STALE);
    assertThat(billing.status(TENANT).subscription().status()).isEqualTo(SubscriptionStatus.INCOMPLETE_EXPIRED);
    // a state of the same second between two live statuses still goes to the later writer, and a newer one wins
    ObjectNode active = StripeJson.parseObject(subscription("sub_tie3", "active", "1764500000"));
    ObjectNode pastDue = StripeJson.parseObject(subscription("sub_tie3", "past_due", "1764500000"));
    assertThat(write(active, t))
        .isEqualTo(Mirror.Outcome.APPLIED);
    assertThat(write(pastDue, t))
        .isEqualTo(Mirror.Outcome.APPLIED);
    assertThat(write(StripeJson.parseObject(subscription("sub_tie2", "active", "1764500000")), t.plusSeconds(1)))
        .isEqualTo(Mirror.Outcome.APPLIED);
  }

  @Test
  void aSubscriptionWhoseCreatedIsNotAWholeNumberDoesNotMakeTheTenantsBillingUnreadable() throws Exception {
    long t = clock.instant().getEpochSecond() - 60;
    assertThat(deliver("evt_tie3", "customer.subscription.updated", t, subscription("sub_tie4", "active", "1.5"))
        .outcome()).isEqualTo(WebhookResult.Outcome.APPLIED);
    assertThat(deliver("evt_tie4", "customer.subscription.created", t, subscription("sub_tie5", "trialing", "\"x\""))
        .outcome()).isEqualTo(WebhookResult.Outcome.APPLIED);
    assertThat(billing.status(TENANT).state()).isEqualTo(AccessState.ACTIVE);
    assertThat(billing.entitlements(TENANT).hasAccess()).isTrue();
  }
}
