package dev.saaskit.billing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.billing.internal.StripeJson;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.MutableClock;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.StripeEmulator;
import dev.saaskit.testing.TestDatabase;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A Stripe customer not linked in the mirror yet is linked to the tenant a checkout session names, but never when
 * the customer itself says (its {@code metadata.tenant_id}, set by saaskit when it created the customer for a tenant)
 * that it is another tenant's: the session's say-so does not move another tenant's customer, on the success page
 * or by the webhook.
 */
@ExtendWith(PostgresExtension.class)
class CheckoutCustomerClaimTest {
  static TestDatabase db;
  static StripeEmulator emu;
  static Billing billing;
  static String price;

  @BeforeAll
  static void setUp(TestDatabase database) throws Exception {
    db = database;
    BillingTestSupport.migrate(db);
    MutableClock clock = MutableClock.atSystemTime();
    emu = StripeEmulator.builder().clock(clock).seed(17).start();
    billing = Billing.create(OperationsTest.config(emu, clock).build(), db.appDataSource());
    price = OperationsTest.price(billing, "Team", 5_000, "claim_team");
    emu.webhooks().automatic(false)
        .deliverTo((body, signature) -> billing.webhooks().handle(body, signature).status());
  }

  @AfterAll
  static void tearDown() {
    emu.close();
  }

  /** A customer saaskit created for {@code owner} (its metadata), not in this mirror, in a session naming {@code claimer}. */
  static String sessionClaimingAnotherTenantsCustomer(TenantId owner, TenantId claimer) {
    String customer = StripeJson.text(billing.stripe().post("/v1/customers",
        Map.of("metadata", Map.of("tenant_id", owner.value())), null).json(), "id");
    Map<String, Object> p = new LinkedHashMap<>();
    p.put("mode", "subscription");
    p.put("customer", customer);
    p.put("line_items", List.of(Map.of("price", price, "quantity", 1)));
    p.put("client_reference_id", claimer.value());
    p.put("success_url", "https://x.test/ok");
    p.put("cancel_url", "https://x.test/no");
    String id = StripeJson.text(billing.stripe().post("/v1/checkout/sessions", p, null).json(), "id");
    emu.completeCheckout(id);
    return id;
  }

  static Optional<TenantId> routeOf(String session) {
    String customer = StripeJson.text(StripeJson.parseObject(emu.object(session).orElseThrow()), "customer");
    return billing.db().inTransaction(null, "t", c -> billing.mirror().tenantOfCustomer(c, customer));
  }

  @Test
  void theSuccessPageDoesNotLinkAnotherTenantsCustomer() {
    TenantId owner = TenantId.of("claim-owner1");
    TenantId claimer = TenantId.of("claim-claimer1");
    String session = sessionClaimingAnotherTenantsCustomer(owner, claimer);
    emu.webhooks().dropPending();
    assertThatThrownBy(() -> billing.operations().syncCheckoutSession(claimer, session))
        .isInstanceOf(BillingException.class).hasMessageContaining("another tenant");
    assertThat(routeOf(session)).isEmpty();
    assertThat(billing.status(claimer).hasAccess()).isFalse();
  }

  @Test
  void theWebhookDoesNotLinkAnotherTenantsCustomer() throws Exception {
    TenantId owner = TenantId.of("claim-owner2");
    TenantId claimer = TenantId.of("claim-claimer2");
    String session = sessionClaimingAnotherTenantsCustomer(owner, claimer);
    String completed = emu.events().stream()
        .filter(e -> "checkout.session.completed".equals(e.type()) && session.equals(e.objectId()))
        .findFirst().orElseThrow().id();
    emu.webhooks().dropPending();
    emu.webhooks().deliver(completed);
    assertThat(routeOf(session)).isEmpty();
    assertThat(billing.status(claimer).hasAccess()).isFalse();
    assertThat(BillingTestSupport.count(db, "SELECT count(*) FROM saaskit_billing.events WHERE id = ?"
        + " AND status = 'failed' AND last_error LIKE '%another tenant%'", completed)).isOne();
  }
}
