package dev.saaskit.billing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
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
 * Checkout: the session names its tenant, the success URL carries the session id, and the success page's sync
 * brings the mirror up to date before any webhook (none is delivered here), only for the tenant the session names.
 */
@ExtendWith(PostgresExtension.class)
class CheckoutTest {
  static TestDatabase db;
  static StripeEmulator emu;
  static Billing billing;
  static String price;

  @BeforeAll
  static void setUp(TestDatabase database) throws Exception {
    db = database;
    BillingTestSupport.migrate(db);
    MutableClock clock = MutableClock.atSystemTime();
    emu = StripeEmulator.builder().clock(clock).seed(7).start();
    billing = Billing.create(OperationsTest.config(emu, clock).build(), db.appDataSource());
    price = OperationsTest.price(billing, "Team", 5_000, "checkout_team");
  }

  @AfterAll
  static void tearDown() {
    emu.close();
  }

  @Test
  void theSessionNamesTheTenantAndTheSuccessUrlCarriesItsId() {
    TenantId tenant = TenantId.of("co-names");
    CheckoutSession session = billing.operations().createCheckoutSession(CheckoutRequest.builder(tenant, price)
        .quantity(3).trialDays(14).email("owner@names.test")
        .successUrl("https://app.example.com/done?from=pricing").cancelUrl("https://app.example.com/back").build());
    assertThat(session.url()).isEqualTo(emu.apiBase() + "/checkout/" + session.id()); // the emulator's page
    JsonNode remote = StripeJson.parseObject(emu.object(session.id()).orElseThrow());
    assertThat(remote.path("client_reference_id").asText()).isEqualTo(tenant.value());
    assertThat(remote.path("metadata").path("tenant_id").asText()).isEqualTo(tenant.value());
    assertThat(remote.path("success_url").asText())
        .isEqualTo("https://app.example.com/done?from=pricing&session_id=" + session.id());
    String customer = billing.operations().ensureCustomer(tenant, null, null);
    assertThat(remote.path("customer").asText()).isEqualTo(customer);
    assertThat(StripeJson.parseObject(emu.object(customer).orElseThrow()).path("email").asText())
        .isEqualTo("owner@names.test");

    emu.completeCheckout(session.id());
    TenantBilling status = billing.operations().syncCheckoutSession(tenant, session.id());
    assertThat(status.state()).isEqualTo(AccessState.TRIALING);
    assertThat(status.subscription().trialEnd()).isNotNull();
    assertThat(status.subscription().quantityOf(price)).isEqualTo(3);
    assertThat(dev.saaskit.core.TenantContext.call(tenant, () -> billing.operations().syncCheckoutSession(
        session.id())).state()).isEqualTo(AccessState.TRIALING);
    assertThat(billing.entitlements(tenant).limitOr("seats", 0)).isEqualTo(3);
  }

  @Test
  void theSuccessPageSyncBeatsTheWebhookAndIsIdempotent() throws Exception {
    TenantId tenant = TenantId.of("co-sync");
    CheckoutSession session = billing.operations().createCheckoutSession(CheckoutRequest.builder(tenant, price)
        .quantity(2).successUrl("https://app.example.com/done").cancelUrl("https://app.example.com/back").build());
    assertThat(billing.status(tenant).state()).isEqualTo(AccessState.NONE);
    assertThat(billing.hasAccess(tenant)).isFalse();
    emu.completeCheckout(session.id()); // the browser is redirected; no webhook has been delivered

    TenantBilling status = billing.operations().syncCheckoutSession(tenant, session.id());
    assertThat(status.state()).isEqualTo(AccessState.ACTIVE);
    assertThat(status.subscription()).isNotNull();
    assertThat(status.subscription().quantityOf(price)).isEqualTo(2);
    assertThat(billing.hasAccess(tenant)).isTrue(); // the cache was invalidated by the sync
    assertThat(BillingTestSupport.count(db, "SELECT count(*) FROM saaskit_billing.checkout_sessions"
        + " WHERE stripe_id = ? AND status = 'complete' AND tenant_id = ?", session.id(), tenant.value())).isEqualTo(1);
    assertThat(BillingTestSupport.count(db, "SELECT count(*) FROM saaskit_billing.invoices WHERE tenant_id = ?"
        + " AND status = 'paid'", tenant.value())).isEqualTo(1);

    TenantBilling again = billing.operations().syncCheckoutSession(tenant, session.id());
    assertThat(again.subscription().id()).isEqualTo(status.subscription().id());
    assertThat(BillingTestSupport.count(db, "SELECT count(*) FROM saaskit_billing.subscriptions WHERE tenant_id = ?",
        tenant.value())).isEqualTo(1);
    // a later webhook carrying an older state of the subscription does not overwrite the synced one
    JsonNode old = StripeJson.parseObject(emu.object(status.subscription().id()).orElseThrow());
    ((com.fasterxml.jackson.databind.node.ObjectNode) old).put("status", "incomplete");
    dev.saaskit.billing.internal.Mirror.Outcome outcome = billing.db().inTransaction(tenant, "t",
        c -> billing.mirror().upsertSubscription(c, tenant, old, status.subscription().stateAsOf().minusSeconds(1)));
    assertThat(outcome).isEqualTo(dev.saaskit.billing.internal.Mirror.Outcome.STALE);
    assertThat(billing.status(tenant).state()).isEqualTo(AccessState.ACTIVE);
  }

  @Test
  void anotherTenantCannotSyncOrSeeTheSession() throws Exception {
    TenantId owner = TenantId.of("co-owner");
    TenantId intruder = TenantId.of("co-intruder");
    CheckoutSession session = billing.operations().createCheckoutSession(CheckoutRequest.builder(owner, price)
        .successUrl("https://app.example.com/done").cancelUrl("https://app.example.com/back").build());
    emu.completeCheckout(session.id());
    assertThatThrownBy(() -> billing.operations().syncCheckoutSession(intruder, session.id()))
        .isInstanceOf(BillingException.class).hasMessageContaining("another tenant");
    assertThat(billing.status(intruder).state()).isEqualTo(AccessState.NONE);
    assertThat(BillingTestSupport.count(db, "SELECT count(*) FROM saaskit_billing.subscriptions WHERE tenant_id = ?",
        intruder.value())).isZero();
    assertThat(BillingTestSupport.count(db, "SELECT count(*) FROM saaskit_billing.subscriptions WHERE tenant_id = ?",
        owner.value())).isZero(); // nothing was written for the owner either: the request failed closed
    assertThatThrownBy(() -> billing.operations().syncCheckoutSession(intruder, "../customers"))
        .isInstanceOf(IllegalArgumentException.class);
    assertThat(billing.operations().syncCheckoutSession(owner, session.id()).hasAccess()).isTrue();
  }

  @Test
  void aSessionThatNamesNoTenantIsRefused() {
    Map<String, Object> p = new LinkedHashMap<>();
    p.put("mode", "subscription");
    p.put("line_items", List.of(Map.of("price", price, "quantity", 1)));
    p.put("success_url", "https://x.test/ok");
    p.put("cancel_url", "https://x.test/no");
    String id = StripeJson.text(billing.stripe().post("/v1/checkout/sessions", p, null).json(), "id");
    emu.completeCheckout(id);
    assertThatThrownBy(() -> billing.operations().syncCheckoutSession(TenantId.of("co-anyone"), id))
        .isInstanceOf(BillingException.class).hasMessageContaining("names no tenant");
  }

  @Test
  void aCustomerCreatedByCheckoutIsLinkedToTheTenantTheSessionNames() {
    TenantId tenant = TenantId.of("co-link");
    Map<String, Object> p = new LinkedHashMap<>();
    p.put("mode", "subscription");
    p.put("line_items", List.of(Map.of("price", price, "quantity", 1)));
    p.put("client_reference_id", tenant.value());
    p.put("customer_email", "new@link.test");
    p.put("success_url", "https://x.test/ok");
    p.put("cancel_url", "https://x.test/no");
    String id = StripeJson.text(billing.stripe().post("/v1/checkout/sessions", p, null).json(), "id");
    emu.completeCheckout(id);
    TenantBilling status = billing.operations().syncCheckoutSession(tenant, id);
    assertThat(status.hasAccess()).isTrue();
    Optional<String> customer = billing.db().inTransaction(tenant, "t",
        c -> billing.mirror().customerOfTenant(c, tenant));
    assertThat(customer).contains(status.subscription().customerId());
    Optional<TenantId> routed =
        billing.db().inTransaction(null, "t", c -> billing.mirror().tenantOfCustomer(c, customer.get()));
    assertThat(routed).contains(tenant);
  }

  @Test
  void theSuccessUrlGetsThePlaceholderOnce() {
    TenantId t = TenantId.of("x");
    assertThat(CheckoutRequest.builder(t, "price_1").successUrl("https://a.test/ok").cancelUrl("https://a.test/no")
        .build().successUrlWithSessionId()).isEqualTo("https://a.test/ok?session_id={CHECKOUT_SESSION_ID}");
    assertThat(CheckoutRequest.builder(t, "price_1").successUrl("https://a.test/ok?s={CHECKOUT_SESSION_ID}")
        .cancelUrl("https://a.test/no").build().successUrlWithSessionId())
        .isEqualTo("https://a.test/ok?s={CHECKOUT_SESSION_ID}");
    assertThat(CheckoutRequest.builder(t, "price_1").successUrl("https://a.test/ok#top")
        .cancelUrl("https://a.test/no").build().successUrlWithSessionId())
        .isEqualTo("https://a.test/ok?session_id={CHECKOUT_SESSION_ID}#top");
    assertThatThrownBy(() -> CheckoutRequest.builder(t, "price_1").quantity(0).successUrl("https://a.test")
        .cancelUrl("https://a.test").build()).isInstanceOf(IllegalArgumentException.class);
  }
}
