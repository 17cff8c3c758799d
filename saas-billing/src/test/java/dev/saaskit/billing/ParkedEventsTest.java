package dev.saaskit.billing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpServer;
import dev.saaskit.billing.BillingWebhooks.InboxEvent;
import dev.saaskit.billing.internal.StripeJson;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.MutableClock;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.StripeEmulator;
import dev.saaskit.testing.TestDatabase;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Events of a Stripe customer that no tenant owns yet (a Payment Link's checkout, a customer made in the dashboard)
 * are acknowledged and parked, never answered 500 for days (Stripe disables an endpoint that keeps failing, and with
 * it every billing update); they are applied once the customer is linked, in an order-safe way, and operators can
 * list, retry and discard them. Deliveries are real: the StripeEmulator signs each event and POSTs it over HTTP to
 * an endpoint that hands the raw body and the {@code Stripe-Signature} header to {@link BillingWebhooks#handle}.
 */
@ExtendWith(PostgresExtension.class)
class ParkedEventsTest {
  static TestDatabase db;
  static MutableClock clock;
  static StripeEmulator emu;
  /** Refetches (the default). */
  static Billing billing;
  /** Applies payloads as they are, dated by the event: the mirror's conditional upserts alone keep the order. */
  static Billing raw;
  static String price;
  static HttpServer endpoint;
  static ExecutorService endpointThreads;
  /** What the endpoint answered for each event id (the last delivery). */
  static final Map<String, WebhookResult.Outcome> outcomes = new ConcurrentHashMap<>();

  @BeforeAll
  static void setUp(TestDatabase database) throws Exception {
    db = database;
    BillingTestSupport.migrate(db);
    clock = MutableClock.atSystemTime();
    emu = StripeEmulator.builder().clock(clock).seed(41).start();
    billing = Billing.create(OperationsTest.config(emu, clock).build(), db.appDataSource());
    raw = Billing.create(OperationsTest.config(emu, clock).refetch(false).build(), db.appDataSource());
    price = OperationsTest.price(billing, "Parked", 2_000, "parked_monthly");
    endpoint = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    endpointThreads = Executors.newFixedThreadPool(2);
    endpoint.setExecutor(endpointThreads);
    route("/hooks", billing);
    route("/hooks-raw", raw);
    endpoint.start();
    emu.webhooks().automatic(false);
  }

  static void route(String path, Billing target) {
    endpoint.createContext(path, exchange -> {
      try {
        String body = new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
        WebhookResult r = target.webhooks().handle(body, exchange.getRequestHeaders().getFirst("Stripe-Signature"));
        if (r.eventId() != null) {
          outcomes.put(r.eventId(), r.outcome());
        }
        byte[] answer = r.message().getBytes(StandardCharsets.UTF_8);
        exchange.sendResponseHeaders(r.status(), answer.length);
        try (OutputStream out = exchange.getResponseBody()) {
          out.write(answer);
        }
      } finally {
        exchange.close();
      }
    });
  }

  static URI url(String path) {
    return URI.create("http://127.0.0.1:" + endpoint.getAddress().getPort() + path);
  }

  @AfterAll
  static void tearDown() {
    endpoint.stop(0);
    endpointThreads.shutdownNow();
    emu.close();
  }

  /** Delivers the pending events over HTTP to {@code path}, oldest first; returns their ids. */
  static List<String> deliverPendingTo(String path) {
    emu.webhooks().deliverTo(url(path));
    List<String> pending = emu.webhooks().pending();
    emu.webhooks().deliverPending();
    return pending;
  }

  static String type(String eventId) {
    return emu.events().stream().filter(e -> e.id().equals(eventId)).findFirst().orElseThrow().type();
  }

  static String firstOfType(List<String> ids, String type) {
    return ids.stream().filter(id -> type(id).equals(type)).findFirst().orElseThrow();
  }

  /** A customer made outside saaskit (no {@code metadata.tenant_id}) with an active subscription. */
  static String[] unlinkedCustomerWithSubscription() {
    String customer = StripeJson.text(billing.stripe().post("/v1/customers", Map.of("email", "x@parked.test"),
        null).json(), "id");
    String sub = StripeJson.text(billing.stripe().post("/v1/subscriptions",
        Map.of("customer", customer, "items", List.of(Map.of("price", price))), null).json(), "id");
    return new String[] {customer, sub};
  }

  static void assertEveryDeliveryAcknowledged(List<String> ids) {
    for (String id : ids) {
      assertThat(emu.webhooks().deliveries().stream().filter(d -> d.eventId().equals(id)))
          .as("deliveries of %s (%s)", id, type(id)).isNotEmpty().allMatch(StripeEmulator.Delivery::succeeded);
    }
  }

  @Test
  void eventsBeforeTheCheckoutThatLinksTheirCustomerAreParkedThenApplied() {
    TenantId tenant = TenantId.of("parked-link1");
    // a session that brings its own new customer (as a Payment Link does): the customer has no tenant metadata,
    // and Stripe sends customer.*, customer.subscription.* and invoice.* before checkout.session.completed
    Map<String, Object> p = new LinkedHashMap<>();
    p.put("mode", "subscription");
    p.put("line_items", List.of(Map.of("price", price, "quantity", 2)));
    p.put("client_reference_id", tenant.value());
    p.put("metadata", Map.of("tenant_id", tenant.value()));
    p.put("success_url", "https://x.test/ok");
    p.put("cancel_url", "https://x.test/no");
    String session = StripeJson.text(billing.stripe().post("/v1/checkout/sessions", p, null).json(), "id");
    emu.webhooks().dropPending();
    emu.completeCheckout(session);

    List<String> ids = deliverPendingTo("/hooks");

    assertEveryDeliveryAcknowledged(ids); // old code: 500 for each event before the checkout's, for days
    String subCreated = firstOfType(ids, "customer.subscription.created");
    assertThat(outcomes.get(subCreated)).isEqualTo(WebhookResult.Outcome.PARKED);
    assertThat(outcomes.get(firstOfType(ids, "checkout.session.completed"))).isEqualTo(WebhookResult.Outcome.APPLIED);
    for (String id : ids) {
      InboxEvent e = billing.webhooks().event(id).orElseThrow();
      assertThat(e.status()).as("%s (%s)", id, e.type()).isIn("applied", "ignored");
    }
    InboxEvent applied = billing.webhooks().event(subCreated).orElseThrow();
    assertThat(applied.tenant()).isEqualTo(tenant.value());
    assertThat(applied.lastError()).isNull();
    TenantBilling status = billing.status(tenant);
    assertThat(status.hasAccess()).isTrue();
    assertThat(status.subscription().quantityOf(price)).isEqualTo(2);
  }

  @Test
  void aParkedOlderEventAppliedLaterNeverOverwritesTheNewerState() {
    TenantId tenant = TenantId.of("parked-order1");
    emu.webhooks().dropPending();
    String[] cs = unlinkedCustomerWithSubscription();
    List<String> first = deliverPendingTo("/hooks-raw");
    assertEveryDeliveryAcknowledged(first);
    String subCreated = firstOfType(first, "customer.subscription.created");
    assertThat(raw.webhooks().event(subCreated).orElseThrow().status()).isEqualTo("parked");

    // later: the customer is linked (its metadata set in the dashboard, no event) and the subscription changes
    clock.advance(Duration.ofSeconds(30));
    emu.silently(() -> billing.stripe().post("/v1/customers/" + cs[0],
        Map.of("metadata", Map.of("tenant_id", tenant.value())), null));
    billing.stripe().post("/v1/subscriptions/" + cs[1], Map.of("cancel_at_period_end", true), null);
    List<String> second = deliverPendingTo("/hooks-raw");
    assertEveryDeliveryAcknowledged(second);

    // the newer event linked the customer, and the older parked ones were applied after it: as of their own time
    InboxEvent released = raw.webhooks().event(subCreated).orElseThrow();
    assertThat(released.status()).isEqualTo("applied");
    assertThat(released.tenant()).isEqualTo(tenant.value());
    for (String id : first) {
      assertThat(raw.webhooks().event(id).orElseThrow().status()).as(type(id)).isIn("applied", "ignored");
    }
    Subscription sub = raw.status(tenant).subscription();
    assertThat(sub.id()).isEqualTo(cs[1]);
    assertThat(sub.cancelAtPeriodEnd()).as("the older created event did not undo the newer update").isTrue();
  }

  @Test
  void operatorsListRetryAndDiscardParkedEventsAndTheReconcilerLinksTheCustomer() {
    TenantId tenant = TenantId.of("parked-ops1");
    emu.webhooks().dropPending();
    String[] cs = unlinkedCustomerWithSubscription();
    List<String> ids = deliverPendingTo("/hooks");
    assertEveryDeliveryAcknowledged(ids);
    String subCreated = firstOfType(ids, "customer.subscription.created");
    String invoiceEvent = ids.stream().filter(id -> type(id).startsWith("invoice.")).findFirst().orElseThrow();

    assertThat(billing.webhooks().inbox("parked", 1000)).extracting(InboxEvent::id).contains(subCreated, invoiceEvent);
    assertThat(billing.webhooks().inboxSummary().parked()).isGreaterThanOrEqualTo(2);
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    BillingMetrics.bind(billing, registry);
    assertThat(registry.get("saaskit.billing.events.parked").gauge().value()).isGreaterThanOrEqualTo(2);
    InboxEvent parked = billing.webhooks().event(subCreated).orElseThrow();
    assertThat(parked.lastError()).contains(cs[0]).contains("not linked to a tenant");

    // retries (the operator's, the periodic one) leave it parked while the customer is nobody's
    assertThat(billing.webhooks().retry(subCreated).status()).isEqualTo("parked");
    billing.webhooks().retryDue();
    assertThat(billing.webhooks().event(subCreated).orElseThrow().status()).isEqualTo("parked");

    // discarding: only parked or failed events; a later delivery of it is a duplicate, never applied
    assertThat(billing.webhooks().discard(invoiceEvent).status()).isEqualTo("discarded");
    emu.webhooks().deliver(invoiceEvent);
    assertThat(outcomes.get(invoiceEvent)).isEqualTo(WebhookResult.Outcome.DUPLICATE);
    assertThat(billing.webhooks().event(invoiceEvent).orElseThrow().status()).isEqualTo("discarded");
    billing.stripe().post("/v1/products", Map.of("name", "Applied"), null);
    String appliedElsewhere = firstOfType(deliverPendingTo("/hooks"), "product.created");
    assertThat(billing.webhooks().event(appliedElsewhere).orElseThrow().status()).isEqualTo("applied");
    assertThatThrownBy(() -> billing.webhooks().discard(appliedElsewhere)).isInstanceOf(BillingException.class)
        .hasMessageContaining("only a parked or failed event");
    assertThat(billing.webhooks().event(appliedElsewhere).orElseThrow().status()).isEqualTo("applied");

    // the customer gets its tenant in Stripe without an event; the reconciler's fix links it and applies the rest
    emu.silently(() -> billing.stripe().post("/v1/customers/" + cs[0],
        Map.of("metadata", Map.of("tenant_id", tenant.value())), null));
    billing.reconciler().sync(true);
    InboxEvent released = billing.webhooks().event(subCreated).orElseThrow();
    assertThat(released.status()).isEqualTo("applied");
    assertThat(released.tenant()).isEqualTo(tenant.value());
    assertThat(billing.webhooks().event(invoiceEvent).orElseThrow().status()).isEqualTo("discarded");
    assertThat(billing.webhooks().inbox("parked", 1000)).extracting(InboxEvent::id).doesNotContainAnyElementsOf(ids);
    assertThat(billing.status(tenant).subscription().id()).isEqualTo(cs[1]);
  }

  @Test
  void aParkedEventIsReleasedByRetryDueOnceAnyPathLinkedItsCustomer() {
    TenantId tenant = TenantId.of("parked-due1");
    emu.webhooks().dropPending();
    String[] cs = unlinkedCustomerWithSubscription();
    List<String> ids = deliverPendingTo("/hooks");
    String subCreated = firstOfType(ids, "customer.subscription.created");
    assertThat(billing.webhooks().event(subCreated).orElseThrow().status()).isEqualTo("parked");
    // linked by a path that does not release (another node's link, a direct write): retryDue finds it
    BillingTestSupport.linkCustomer(billing, tenant, cs[0]);
    BillingWebhooks.RetryReport report = billing.webhooks().retryDue();
    assertThat(report.applied()).isGreaterThanOrEqualTo(1);
    assertThat(billing.webhooks().event(subCreated).orElseThrow().status()).isEqualTo("applied");
    assertThat(billing.status(tenant).subscription().id()).isEqualTo(cs[1]);
  }
}
