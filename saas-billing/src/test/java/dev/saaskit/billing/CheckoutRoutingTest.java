package dev.saaskit.billing;

import static dev.saaskit.billing.BillingTestSupport.count;
import static dev.saaskit.billing.BillingTestSupport.signature;
import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.testing.MutableClock;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.time.Instant;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Whose checkout session a webhook says it is. saaskit's sessions name the tenant twice ({@code client_reference_id}
 * and {@code metadata.tenant_id}); a visitor of a Stripe Payment Link can set the first to anything. A session
 * whose two names disagree is refused by the webhook, as {@code syncCheckoutSession} refuses it.
 */
@ExtendWith(PostgresExtension.class)
class CheckoutRoutingTest {
  private static final String SECRET = "whsec_routing_0123456789";

  static TestDatabase db;
  static MutableClock clock = MutableClock.at(Instant.parse("2026-12-01T00:00:00Z"));
  static Billing billing;

  @BeforeAll
  static void setUp(TestDatabase database) throws Exception {
    db = database;
    BillingTestSupport.migrate(db);
    billing = Billing.create(BillingConfig.builder().stripeApiKey("sk_test_unused").stripeApiBase("http://127.0.0.1:9")
        .webhookSecrets(SECRET).refetch(false).clock(clock).build(), db.appDataSource());
  }

  private static WebhookResult deliver(String eventId, String session) {
    long created = clock.instant().getEpochSecond() - 30;
    String body = "{\"id\":\"" + eventId + "\",\"object\":\"event\",\"type\":\"checkout.session.completed\","
        + "\"created\":" + created + ",\"api_version\":\"2026-07-29.dahlia\",\"livemode\":false,"
        + "\"data\":{\"object\":" + session + "}}";
    return billing.webhooks().handle(body, signature(body, SECRET, clock.instant().getEpochSecond()));
  }

  private static String session(String id, String customer, String reference, String metadataTenant) {
    return "{\"id\":\"" + id + "\",\"object\":\"checkout.session\",\"mode\":\"subscription\",\"status\":\"complete\","
        + "\"customer\":\"" + customer + "\",\"client_reference_id\":\"" + reference + "\","
        + "\"metadata\":{\"tenant_id\":\"" + metadataTenant + "\"}}";
  }

  @Test
  void aSessionNamingTwoTenantsIsRefusedAndLinksNoCustomer() throws Exception {
    WebhookResult result = deliver("evt_route_two", session("cs_route_two", "cus_route_two", "victim", "attacker"));

    assertThat(result.outcome()).isEqualTo(WebhookResult.Outcome.FAILED);
    assertThat(count(db, "SELECT count(*) FROM saaskit_billing.checkout_sessions WHERE stripe_id = 'cs_route_two'"))
        .isZero();
    assertThat(count(db, "SELECT count(*) FROM saaskit_billing.customers WHERE stripe_id = 'cus_route_two'")).isZero();
    assertThat(count(db, "SELECT count(*) FROM saaskit_billing.events WHERE id = 'evt_route_two'"
        + " AND status = 'failed' AND last_error LIKE '%names two tenants%'")).isOne();
  }

  @Test
  void aSessionNamingOneTenantTwiceIsApplied() throws Exception {
    WebhookResult result = deliver("evt_route_one", session("cs_route_one", "cus_route_one", "acme", "acme"));

    assertThat(result.outcome()).isEqualTo(WebhookResult.Outcome.APPLIED);
    assertThat(count(db, "SELECT count(*) FROM saaskit_billing.checkout_sessions WHERE stripe_id = 'cs_route_one'"
        + " AND tenant_id = 'acme'")).isOne();
  }
}
