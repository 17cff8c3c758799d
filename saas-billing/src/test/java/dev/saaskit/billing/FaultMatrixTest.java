package dev.saaskit.billing;

import static dev.saaskit.billing.BillingTestSupport.count;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.saaskit.billing.internal.EventApplier;
import dev.saaskit.billing.internal.StripeJson;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.MutableClock;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.StripeEmulator;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.UnaryOperator;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The issue's fault matrix against real PostgreSQL and the StripeEmulator over HTTP: the emulator's own events
 * (checkout, subscription, invoices, renewals) delivered in order, twice in parallel, reversed, shuffled, with an
 * old API version, while Stripe is down, not at all (replay), and for 50 tenants at once.
 */
@ExtendWith(PostgresExtension.class)
class FaultMatrixTest {
  static TestDatabase db;
  MutableClock clock;
  StripeEmulator emu;
  Billing billing;
  final Map<String, AtomicInteger> listenerCalls = new ConcurrentHashMap<>();

  @BeforeAll
  static void setUp(TestDatabase database) throws Exception {
    db = database;
    BillingTestSupport.migrate(db);
  }

  @BeforeEach
  void start() throws Exception {
    try (Connection c = db.adminDataSource().getConnection(); var st = c.createStatement()) {
      st.execute("TRUNCATE saaskit_billing.events, saaskit_billing.customers, saaskit_billing.subscriptions,"
          + " saaskit_billing.subscription_items, saaskit_billing.invoices, saaskit_billing.checkout_sessions,"
          + " saaskit_billing.entitlement_summaries, saaskit_billing.products, saaskit_billing.prices,"
          + " saaskit_billing.customer_routes CASCADE");
    }
    clock = MutableClock.at(Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS));
    emu = StripeEmulator.builder().clock(clock).seed(7).start();
    billing = billing(b -> b);
    emu.webhooks().deliverTo((body, signature) -> billing.webhooks().handle(body, signature).status());
  }

  @AfterEach
  void stop() {
    emu.close();
  }

  Billing billing(UnaryOperator<BillingConfig.Builder> tweak) {
    return Billing.create(tweak.apply(BillingConfig.builder().stripeApiKey(emu.apiKey()).stripeApiBase(emu.apiBase())
        .webhookSecrets(emu.webhookSecret()).clock(clock).stripeMaxRetryWait(Duration.ZERO)
        .listener("count", e -> listenerCalls.computeIfAbsent(e.id(), k -> new AtomicInteger()).incrementAndGet()))
        .build(), db.appDataSource());
  }

  // ------------------------------------------------------------------------------------------------ Stripe set-up

  String price() {
    String product = billing.stripe().post("/v1/products", Map.of("name", "Pro"), null).json().get("id").asText();
    return billing.stripe().post("/v1/prices", Map.of("product", product, "unit_amount", 1500, "currency", "usd",
        "recurring", Map.of("interval", "month"), "lookup_key", "pro_monthly_" + product), null).json()
        .get("id").asText();
  }

  String customer(TenantId tenant) {
    return billing.stripe().post("/v1/customers", Map.of("email", tenant.value() + "@example.com",
        "metadata", Map.of("tenant_id", tenant.value())), null).json().get("id").asText();
  }

  /** A checkout session of {@code tenant} (its customer when given, else one made at checkout from the email). */
  String session(TenantId tenant, @Nullable String customer, String price) {
    Map<String, Object> p = new java.util.LinkedHashMap<>();
    p.put("mode", "subscription");
    p.put("line_items", List.of(Map.of("price", price, "quantity", 3)));
    p.put("success_url", "https://app.example.com/billing/done?session={CHECKOUT_SESSION_ID}");
    p.put("cancel_url", "https://app.example.com/billing");
    p.put("client_reference_id", tenant.value());
    if (customer != null) {
      p.put("customer", customer);
    } else {
      p.put("customer_email", tenant.value() + "@example.com");
    }
    return billing.stripe().post("/v1/checkout/sessions", p, null).json().get("id").asText();
  }

  /** The subscription the emulator made for a completed session. */
  String subscriptionOf(String session) {
    return StripeJson.parseObject(emu.object(session).orElseThrow()).get("subscription").asText();
  }

  ObjectNode emuObject(String id) {
    return StripeJson.parseObject(emu.object(id).orElseThrow());
  }

  // ------------------------------------------------------------------------------------------------ assertions

  @Nullable String one(String sql, Object... args) throws Exception {
    try (Connection c = db.adminDataSource().getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
      for (int i = 0; i < args.length; i++) {
        ps.setObject(i + 1, args[i]);
      }
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? rs.getString(1) : null;
      }
    }
  }

  /** Every event the emulator created is in the inbox, applied (or ignored when of an unused type). */
  void assertEveryEventAppliedOnce() throws Exception {
    List<StripeEmulator.Event> events = emu.events();
    assertThat(events).isNotEmpty();
    for (StripeEmulator.Event e : events) {
      String expected = EventApplier.kind(e.type()) == EventApplier.Kind.NONE ? "ignored" : "applied";
      assertThat(one("SELECT status || ' ' || coalesce(last_error, '') FROM saaskit_billing.events WHERE id = ?",
          e.id())).as(e.type() + " " + e.id()).isEqualTo(expected + " ");
    }
    assertThat(count(db, "SELECT count(*) FROM saaskit_billing.events")).isEqualTo(events.size());
  }

  /** The mirror holds the emulator's current state of the subscription and its invoices, under {@code tenant}. */
  void assertMirrorMatchesEmulator(TenantId tenant, String subscription) throws Exception {
    ObjectNode sub = emuObject(subscription);
    assertThat(one("SELECT tenant_id FROM saaskit_billing.subscriptions WHERE stripe_id = ?", subscription))
        .isEqualTo(tenant.value());
    assertThat(one("SELECT status FROM saaskit_billing.subscriptions WHERE stripe_id = ?", subscription))
        .isEqualTo(sub.get("status").asText());
    assertThat(one("SELECT quantity::text FROM saaskit_billing.subscription_items WHERE subscription_id = ?",
        subscription)).isEqualTo(sub.get("items").get("data").get(0).get("quantity").asText());
    assertThat(one("SELECT (raw->'items'->'data'->0->>'current_period_end') FROM saaskit_billing.subscriptions"
        + " WHERE stripe_id = ?", subscription))
        .isEqualTo(sub.get("items").get("data").get(0).get("current_period_end").asText());
    String customer = sub.get("customer").asText();
    assertThat(one("SELECT tenant_id FROM saaskit_billing.customers WHERE stripe_id = ?", customer))
        .isEqualTo(tenant.value());
    int invoices = 0;
    for (JsonNode inv : billing.stripe().get("/v1/invoices", Map.of("customer", customer, "limit", 100)).json()
        .get("data")) {
      invoices++;
      assertThat(one("SELECT status FROM saaskit_billing.invoices WHERE stripe_id = ? AND tenant_id = ?",
          inv.get("id").asText(), tenant.value())).as(inv.get("id").asText()).isEqualTo(inv.get("status").asText());
    }
    assertThat(invoices).isPositive();
    assertThat(count(db, "SELECT count(*) FROM saaskit_billing.invoices WHERE customer_id = ?", customer))
        .isEqualTo(invoices);
  }

  // ------------------------------------------------------------------------------------------------ the matrix

  @Test
  void theEmulatorsEventsAreAppliedOnceInOrder() throws Exception {
    TenantId acme = TenantId.of("acme");
    String price = price();
    String session = session(acme, customer(acme), price);
    emu.completeCheckout(session);
    String sub = subscriptionOf(session);
    emu.advanceClock(Duration.ofDays(31)); // renewal: a second paid invoice
    emu.failPayments(emuObject(sub).get("customer").asText(), true);
    emu.advanceClock(Duration.ofDays(31)); // failed renewal: past_due
    assertThat(emu.webhooks().deliveries()).allSatisfy(d -> assertThat(d.succeeded()).as(d.type()).isTrue());
    assertEveryEventAppliedOnce();
    assertMirrorMatchesEmulator(acme, sub);
    assertThat(emuObject(sub).get("status").asText()).isEqualTo("past_due");
    assertThat(listenerCalls).allSatisfy((id, n) -> assertThat(n.get()).isOne());
    assertThat(listenerCalls).hasSize((int) count(db, "SELECT count(*) FROM saaskit_billing.events"
        + " WHERE status = 'applied'"));
    assertThat(billing.webhooks().stats().lastApplyLagMillis()).isGreaterThanOrEqualTo(0);
    // the inbox names the tenant each event was applied to: routed by the recording statement (subscriptions,
    // invoices), found by the apply (the customer's first event, through its metadata; the checkout session,
    // through its reference), or none (the catalog)
    List<String> types = new ArrayList<>();
    for (StripeEmulator.Event e : emu.events()) {
      if (EventApplier.kind(e.type()) == EventApplier.Kind.NONE) {
        continue;
      }
      types.add(e.type());
      BillingWebhooks.InboxEvent row = billing.webhooks().event(e.id()).orElseThrow();
      boolean catalog = e.type().startsWith("product.") || e.type().startsWith("price.");
      assertThat(row.tenant()).as(e.type()).isEqualTo(catalog ? null : acme.value());
      assertThat(row.attempts()).as(e.type()).isOne();
      assertThat(row.appliedAt()).as(e.type()).isNotNull();
    }
    assertThat(types).contains("customer.created", "checkout.session.completed", "customer.subscription.created",
        "invoice.paid", "product.created", "price.created");
  }

  @Test
  void everyTypeTheIssueNamesIsAppliedFromTheEmulatorsOwnEvents() throws Exception {
    String price = price();
    TenantId trial = TenantId.of("trial");
    Map<String, Object> trialSession = new java.util.LinkedHashMap<>();
    trialSession.put("mode", "subscription");
    trialSession.put("line_items", List.of(Map.of("price", price, "quantity", 1)));
    trialSession.put("success_url", "https://app.example.com/done");
    trialSession.put("client_reference_id", trial.value());
    trialSession.put("customer", customer(trial));
    trialSession.put("subscription_data", Map.of("trial_period_days", 14));
    String s1 = billing.stripe().post("/v1/checkout/sessions", trialSession, null).json().get("id").asText();
    emu.completeCheckout(s1);
    String trialSub = subscriptionOf(s1);
    emu.advanceClock(Duration.ofDays(12)); // trial_will_end
    emu.pauseSubscription(trialSub);
    billing.stripe().post("/v1/subscriptions/" + trialSub + "/resume", Map.of(), null);
    billing.stripe().post("/v1/customers/" + emuObject(trialSub).get("customer").asText(), Map.of("name", "Trial Inc"),
        null);

    TenantId asyncOk = TenantId.of("async-ok");
    String s2 = session(asyncOk, customer(asyncOk), price);
    emu.completeCheckoutAsync(s2);
    emu.settleAsyncPayment(s2, true);
    TenantId asyncFail = TenantId.of("async-fail");
    String s3 = session(asyncFail, customer(asyncFail), price);
    emu.completeCheckoutAsync(s3);
    emu.settleAsyncPayment(s3, false);

    TenantId dunned = TenantId.of("dunned");
    String s4 = session(dunned, customer(dunned), price);
    emu.completeCheckout(s4);
    String dunnedSub = subscriptionOf(s4);
    emu.failPayments(emuObject(dunnedSub).get("customer").asText(), true);
    emu.advanceClock(Duration.ofDays(31)); // renewal fails
    emu.advanceClock(Duration.ofDays(8)); // retries fail; uncollectible, canceled

    TenantId gone = TenantId.of("gone");
    String goneCustomer = customer(gone);
    String s5 = session(gone, goneCustomer, price);
    billing.stripe().post("/v1/checkout/sessions/" + s5 + "/expire", Map.of(), null);
    emu.deleteObject(goneCustomer);

    assertThat(emu.eventTypes()).contains("product.created", "price.created", "customer.created", "customer.updated",
        "customer.deleted", "checkout.session.completed", "checkout.session.async_payment_succeeded",
        "checkout.session.async_payment_failed", "checkout.session.expired", "customer.subscription.created",
        "customer.subscription.updated", "customer.subscription.deleted", "customer.subscription.paused",
        "customer.subscription.resumed", "customer.subscription.trial_will_end", "invoice.created",
        "invoice.finalized", "invoice.paid", "invoice.payment_succeeded", "invoice.payment_failed", "invoice.voided",
        "invoice.marked_uncollectible");
    assertThat(emu.webhooks().deliveries()).allSatisfy(d -> assertThat(d.succeeded()).as(d.type()).isTrue());
    assertEveryEventAppliedOnce();
    assertMirrorMatchesEmulator(trial, trialSub);
    assertMirrorMatchesEmulator(asyncOk, subscriptionOf(s2));
    assertMirrorMatchesEmulator(asyncFail, subscriptionOf(s3));
    assertMirrorMatchesEmulator(dunned, dunnedSub);
    assertThat(one("SELECT status FROM saaskit_billing.subscriptions WHERE stripe_id = ?", dunnedSub))
        .isEqualTo("canceled");
    assertThat(one("SELECT status FROM saaskit_billing.checkout_sessions WHERE stripe_id = ?", s5))
        .isEqualTo("expired");
    assertThat(one("SELECT deleted::text FROM saaskit_billing.customers WHERE stripe_id = ?", goneCustomer))
        .isEqualTo("true");
    assertThat(one("SELECT name FROM saaskit_billing.customers WHERE tenant_id = 'trial'")).isEqualTo("Trial Inc");
  }

  @Test
  void eachEventDeliveredTwiceInParallelIsRecordedAppliedAndToldOnce() throws Exception {
    emu.webhooks().automatic(false);
    TenantId acme = TenantId.of("acme");
    String session = session(acme, customer(acme), price());
    emu.completeCheckout(session);
    emu.webhooks().deliverPendingTwiceInParallel();
    emu.advanceClock(Duration.ofDays(31));
    emu.webhooks().deliverPendingTwiceInParallel();
    assertThat(emu.webhooks().deliveries()).allSatisfy(d -> assertThat(d.succeeded()).as(d.type()).isTrue());
    assertEveryEventAppliedOnce();
    assertMirrorMatchesEmulator(acme, subscriptionOf(session));
    assertThat(listenerCalls).allSatisfy((id, n) -> assertThat(n.get()).as(id).isOne());
    assertThat(count(db, "SELECT count(*) FROM saaskit_billing.listener_deliveries"))
        .isEqualTo(count(db, "SELECT count(*) FROM saaskit_billing.events WHERE status = 'applied'"));
  }

  @Test
  void listenersRunAfterTheCommitWithTheTenantSetAndSeeWhatTheEventApplied() throws Exception {
    AtomicReference<@Nullable Billing> self = new AtomicReference<>();
    List<String> seen = new CopyOnWriteArrayList<>();
    Billing withListener = billing(b -> b.listener("provision", e -> {
      // another connection, after the commit: the subscription the event brought is already in the mirror
      TenantId current = TenantContext.require();
      TenantBilling status = Objects.requireNonNull(self.get()).status(current);
      Subscription sub = status.subscription();
      seen.add(current.value() + " " + (sub == null ? "none" : sub.id()) + " " + status.hasAccess());
    }, "customer.subscription.created"));
    self.set(withListener);
    emu.webhooks().deliverTo((body, signature) -> withListener.webhooks().handle(body, signature).status());
    TenantId acme = TenantId.of("acme");
    String session = withListener.operations().createCheckoutSession(CheckoutRequest.builder(acme, price())
        .successUrl("https://app.example.com/done").cancelUrl("https://app.example.com/pricing").build()).id();
    emu.completeCheckout(session);
    assertThat(seen).containsExactly("acme " + subscriptionOf(session) + " true");
  }

  @Test
  void reversedDeliveryEndsAtTheNewestState() throws Exception {
    emu.webhooks().automatic(false);
    TenantId acme = TenantId.of("acme");
    String session = session(acme, customer(acme), price());
    emu.completeCheckout(session);
    String sub = subscriptionOf(session);
    billing.stripe().post("/v1/subscriptions/" + sub, Map.of("cancel_at_period_end", true), null);
    emu.advanceClock(Duration.ofDays(10));
    billing.stripe().post("/v1/subscriptions/" + sub, Map.of("cancel_at_period_end", false), null);
    emu.webhooks().deliverPendingReversed();
    assertEveryEventAppliedOnce();
    assertMirrorMatchesEmulator(acme, sub);
    assertThat(one("SELECT cancel_at_period_end::text FROM saaskit_billing.subscriptions WHERE stripe_id = ?", sub))
        .isEqualTo("false");
  }

  @Test
  void shuffledDeliveryEndsAtTheNewestState() throws Exception {
    emu.webhooks().automatic(false);
    TenantId acme = TenantId.of("acme");
    String session = session(acme, customer(acme), price());
    emu.completeCheckout(session);
    String sub = subscriptionOf(session);
    emu.advanceClock(Duration.ofDays(31));
    emu.failPayments(emuObject(sub).get("customer").asText(), true);
    emu.advanceClock(Duration.ofDays(31));
    emu.webhooks().deliverPendingShuffled(20261204L);
    assertEveryEventAppliedOnce();
    assertMirrorMatchesEmulator(acme, sub);
  }

  @Test
  void oldApiVersionPayloadsAreRefetchedNotEmpty() throws Exception {
    emu.webhooks().withApiVersion("2020-08-27");
    TenantId acme = TenantId.of("acme");
    String session = session(acme, customer(acme), price());
    emu.completeCheckout(session);
    String sub = subscriptionOf(session);
    assertEveryEventAppliedOnce();
    assertMirrorMatchesEmulator(acme, sub);
    // the mirror holds the current shape (periods on the items), not the old payload (plan at the top)
    assertThat(one("SELECT ((raw->'plan') IS NOT NULL)::text FROM saaskit_billing.subscriptions WHERE stripe_id = ?", sub))
        .isEqualTo("false");
    assertThat(emu.requestCount("GET", "/v1/subscriptions/" + sub)).isPositive();
  }

  @Test
  void aRealOldFixtureWithRefetchOnIsReplacedByStripesCurrentObject() throws Exception {
    TenantId acme = TenantId.of("acme");
    String session = session(acme, customer(acme), price());
    emu.completeCheckout(session);
    String sub = subscriptionOf(session);
    String customer = emuObject(sub).get("customer").asText();
    emu.silently(() -> emu.setSubscriptionStatus(sub, "past_due"));
    ObjectNode event = StripeJson.parseObject(BillingTestSupport.fixture(
        "stripe-ruby-mock/customer.subscription.updated.json"));
    event.put("id", "evt_oldfixture1");
    event.put("created", emu.now().getEpochSecond());
    ObjectNode object = (ObjectNode) event.get("data").get("object");
    object.put("id", sub).put("customer", customer);
    assertThat(object.get("status").asText()).isNotEqualTo("past_due");
    String body = StripeJson.write(event);
    WebhookResult r = billing.webhooks().handle(body,
        BillingTestSupport.signature(body, emu.webhookSecret(), clock.instant().getEpochSecond()));
    assertThat(r.outcome()).as(r.message()).isEqualTo(WebhookResult.Outcome.APPLIED);
    assertThat(one("SELECT status FROM saaskit_billing.subscriptions WHERE stripe_id = ?", sub)).isEqualTo("past_due");
    assertThat(one("SELECT raw->>'id' FROM saaskit_billing.subscriptions WHERE stripe_id = ?", sub)).isEqualTo(sub);
    assertThat(one("SELECT ((raw->'plan') IS NOT NULL)::text FROM saaskit_billing.subscriptions WHERE stripe_id = ?", sub))
        .isEqualTo("false");
  }

  @Test
  void stripeDownDuringARefetchLeavesTheEventFailedUntilRetryDueAfterTheBackoff() throws Exception {
    TenantId acme = TenantId.of("acme");
    String session = session(acme, customer(acme), price());
    emu.webhooks().automatic(false).withApiVersion("2020-08-27"); // every subscription event needs a refetch
    emu.completeCheckout(session);
    String sub = subscriptionOf(session);
    emu.down(true);
    emu.webhooks().deliverPending();
    assertThat(emu.webhooks().deliveries()).anySatisfy(d -> assertThat(d.status()).isEqualTo(500));
    String failedSubEvent = one("SELECT id FROM saaskit_billing.events WHERE type = 'customer.subscription.created'");
    BillingWebhooks.InboxEvent failed = billing.webhooks().event(failedSubEvent).orElseThrow();
    assertThat(failed.status()).isEqualTo("failed");
    assertThat(failed.attempts()).isOne();
    assertThat(failed.lastError()).contains("503").doesNotContain(emu.apiKey()).doesNotContain("\tat ");
    assertThat(count(db, "SELECT count(*) FROM saaskit_billing.subscriptions")).isZero();
    emu.down(false);
    // Stripe is back, but the backoff (10 s) has not passed: nothing is due
    assertThat(billing.webhooks().retryDue().due()).isZero();
    clock.advance(Duration.ofSeconds(10));
    BillingWebhooks.RetryReport report = billing.webhooks().retryDue();
    assertThat(report.failed()).isZero();
    assertThat(report.applied()).isPositive().isEqualTo(report.due());
    assertEveryEventAppliedOnce();
    assertMirrorMatchesEmulator(acme, sub);
  }

  @Test
  void retryDueRespectsAttemptsAndBackoff() throws Exception {
    billing = billing(b -> b.eventMaxAttempts(3).eventRetryBackoff(Duration.ofSeconds(10)));
    TenantId acme = TenantId.of("acme");
    String session = session(acme, customer(acme), price());
    emu.webhooks().automatic(false).withApiVersion("2020-08-27");
    emu.completeCheckout(session);
    String id = emu.webhooks().pending().stream().filter(e -> emu.events().stream()
        .anyMatch(ev -> ev.id().equals(e) && ev.type().equals("customer.subscription.created"))).findFirst()
        .orElseThrow();
    emu.webhooks().dropPending();
    emu.down(true);
    emu.webhooks().deliver(id);
    assertThat(billing.webhooks().event(id).orElseThrow().attempts()).isOne();
    Instant first = billing.webhooks().event(id).orElseThrow().nextAttemptAt();
    assertThat(first).isEqualTo(clock.instant().plusSeconds(10));
    clock.advance(Duration.ofSeconds(9));
    assertThat(billing.webhooks().retryDue().due()).isZero();
    clock.advance(Duration.ofSeconds(1));
    assertThat(billing.webhooks().retryDue().failed()).isOne();
    BillingWebhooks.InboxEvent second = billing.webhooks().event(id).orElseThrow();
    assertThat(second.attempts()).isEqualTo(2);
    assertThat(second.nextAttemptAt()).isEqualTo(clock.instant().plusSeconds(20)); // doubled
    clock.advance(Duration.ofSeconds(20));
    assertThat(billing.webhooks().retryDue().failed()).isOne();
    assertThat(billing.webhooks().event(id).orElseThrow().attempts()).isEqualTo(3);
    clock.advance(Duration.ofHours(2));
    // attempts used up: only an operator retries it
    assertThat(billing.webhooks().retryDue().due()).isZero();
    assertThat(billing.webhooks().inboxSummary().exhausted()).isOne();
    assertThat(billing.webhooks().inbox("failed", 10)).extracting(BillingWebhooks.InboxEvent::id).containsExactly(id);
    emu.down(false);
    assertThat(billing.webhooks().retry(id).status()).isEqualTo("applied");
    assertThat(one("SELECT tenant_id FROM saaskit_billing.subscriptions WHERE stripe_id = ?", subscriptionOf(session)))
        .isEqualTo("acme");
  }

  @Test
  void checkoutCompletedBeforeCustomerAndSubscriptionCreatedStillEndsConsistent() throws Exception {
    emu.webhooks().automatic(false);
    TenantId acme = TenantId.of("acme");
    String session = session(acme, null, price()); // the customer is made at checkout, no metadata
    emu.completeCheckout(session);
    String sub = subscriptionOf(session);
    emu.webhooks().deliverPendingReversed(); // checkout.session.completed first
    assertThat(emu.webhooks().deliveries()).allSatisfy(d -> assertThat(d.succeeded()).as(d.type()).isTrue());
    assertEveryEventAppliedOnce();
    assertMirrorMatchesEmulator(acme, sub);
    assertThat(one("SELECT tenant_id FROM saaskit_billing.checkout_sessions WHERE stripe_id = ?", session))
        .isEqualTo("acme");
  }

  @Test
  void inOrderWithoutALinkedCustomerTheEarlyEventsAreParkedThenAppliedWhenCheckoutLinksIt() throws Exception {
    TenantId acme = TenantId.of("acme");
    String session = session(acme, null, price());
    emu.completeCheckout(session); // customer.created ... come before checkout.session.completed
    String sub = subscriptionOf(session);
    // parked (200: Stripe does not retry them, nor disable the endpoint), then applied by the checkout's link
    assertThat(emu.webhooks().deliveries()).allSatisfy(d -> assertThat(d.succeeded()).as(d.type()).isTrue());
    assertThat(count(db, "SELECT count(*) FROM saaskit_billing.events WHERE attempts > 1")).isPositive();
    BillingWebhooks.InboxSummary summary = billing.webhooks().inboxSummary();
    assertThat(summary.failed()).isZero();
    assertThat(summary.parked()).isZero();
    assertEveryEventAppliedOnce();
    assertMirrorMatchesEmulator(acme, sub);
  }

  @Test
  void fiftyTenantsInParallelNeverCross() throws Exception {
    emu.webhooks().automatic(false);
    String price = price();
    Map<TenantId, String> subs = new java.util.HashMap<>();
    for (int i = 0; i < 50; i++) {
      TenantId tenant = TenantId.of("tenant-" + i);
      String session = session(tenant, i % 2 == 0 ? customer(tenant) : null, price);
      emu.completeCheckout(session);
      subs.put(tenant, subscriptionOf(session));
    }
    List<StripeEmulator.Event> events = new ArrayList<>(emu.events());
    emu.webhooks().dropPending();
    java.util.Collections.shuffle(events, new java.util.Random(50));
    ExecutorService pool = Executors.newFixedThreadPool(16);
    CountDownLatch go = new CountDownLatch(1);
    List<Future<WebhookResult>> results = new ArrayList<>();
    for (StripeEmulator.Event e : events) {
      results.add(pool.submit(() -> {
        go.await();
        return billing.webhooks().handle(e.json(),
            BillingTestSupport.signature(e.json(), emu.webhookSecret(), clock.instant().getEpochSecond()));
      }));
    }
    go.countDown();
    for (Future<WebhookResult> f : results) {
      WebhookResult r = f.get(120, TimeUnit.SECONDS);
      // applied, parked (a customer linked by a checkout not applied yet), or failed and recorded: never lost
      assertThat(r.outcome()).as(r.message()).isIn(WebhookResult.Outcome.APPLIED, WebhookResult.Outcome.DUPLICATE,
          WebhookResult.Outcome.IGNORED, WebhookResult.Outcome.PARKED, WebhookResult.Outcome.FAILED);
    }
    pool.shutdown();
    // events of customers linked only by the checkout were parked (and applied by its link); retry any failure
    clock.advance(Duration.ofSeconds(10));
    billing.webhooks().retryDue();
    assertEveryEventAppliedOnce();
    for (Map.Entry<TenantId, String> e : subs.entrySet()) {
      TenantId tenant = e.getKey();
      List<Subscription> seen = billing.db().inTransaction(tenant, "read", c -> billing.mirror().subscriptions(c, tenant));
      assertThat(seen).as(tenant.value()).singleElement().satisfies(s -> {
        assertThat(s.id()).isEqualTo(e.getValue());
        assertThat(s.status()).isEqualTo(SubscriptionStatus.ACTIVE);
      });
      assertThat(one("SELECT count(*)::text FROM saaskit_billing.events WHERE routed_tenant_id = ?"
          + " AND object_id = ?", tenant.value(), e.getValue())).isNotEqualTo("0");
    }
    assertThat(count(db, "SELECT count(*) FROM saaskit_billing.subscriptions")).isEqualTo(50);
  }

  @Test
  void aCustomerLinkedToOneTenantIsNeverReRouted() throws Exception {
    TenantId acme = TenantId.of("acme");
    TenantId evil = TenantId.of("evil");
    String price = price();
    String acmeCustomer = customer(acme);
    String acmeSession = session(acme, acmeCustomer, price);
    emu.completeCheckout(acmeSession);
    // the customer's metadata now names another tenant: the route stays
    billing.stripe().post("/v1/customers/" + acmeCustomer, Map.of("metadata", Map.of("tenant_id", "evil")), null);
    // a checkout of another tenant naming acme's customer
    String evilSession = session(evil, acmeCustomer, price);
    emu.completeCheckout(evilSession);
    String failed = one("SELECT id FROM saaskit_billing.events WHERE type = 'checkout.session.completed'"
        + " AND object_id = ?", evilSession);
    BillingWebhooks.InboxEvent event = billing.webhooks().event(failed).orElseThrow();
    assertThat(event.status()).isEqualTo("failed");
    assertThat(event.lastError()).contains("linked to another tenant");
    assertThat(count(db, "SELECT count(*) FROM saaskit_billing.customers WHERE tenant_id = 'evil'")).isZero();
    assertThat(count(db, "SELECT count(*) FROM saaskit_billing.checkout_sessions WHERE tenant_id = 'evil'")).isZero();
    assertThat(count(db, "SELECT count(*) FROM saaskit_billing.subscriptions WHERE tenant_id = 'evil'")).isZero();
    assertThat(count(db, "SELECT count(*) FROM saaskit_billing.events WHERE routed_tenant_id = 'evil'")).isZero();
    assertThat(one("SELECT tenant_id FROM saaskit_billing.customers WHERE stripe_id = ?", acmeCustomer))
        .isEqualTo("acme");
    List<Subscription> evilSees = billing.db().inTransaction(evil, "read", c -> billing.mirror().subscriptions(c, evil));
    assertThat(evilSees).isEmpty();
  }

  @Test
  void rateLimitedRefetchesAreRetriedByTheGatewayWithinTheApply() throws Exception {
    TenantId acme = TenantId.of("acme");
    String session = session(acme, customer(acme), price());
    emu.webhooks().automatic(false).withApiVersion("2020-08-27");
    emu.completeCheckout(session);
    emu.failNextRequests(2, 429, Duration.ofSeconds(1)); // the gateway waits at most stripeMaxRetryWait (zero here)
    emu.webhooks().deliverPending();
    assertThat(emu.webhooks().deliveries()).allSatisfy(d -> assertThat(d.succeeded()).as(d.type()).isTrue());
    assertEveryEventAppliedOnce();
    assertMirrorMatchesEmulator(acme, subscriptionOf(session));
  }

  @Test
  void replayFetchesAndAppliesEventsThatNeverArrived() throws Exception {
    Instant since = emu.now();
    emu.webhooks().automatic(false);
    TenantId acme = TenantId.of("acme");
    String session = session(acme, customer(acme), price());
    emu.completeCheckout(session);
    String sub = subscriptionOf(session);
    int dropped = emu.webhooks().dropPending();
    assertThat(dropped).isPositive();
    assertThat(count(db, "SELECT count(*) FROM saaskit_billing.events")).isZero();
    BillingWebhooks.ReplayReport report = billing.webhooks().replay(since);
    assertThat(report.listed()).isEqualTo(emu.events().size());
    assertThat(report.recorded()).isEqualTo(emu.events().size());
    assertThat(report.failed()).isZero();
    assertEveryEventAppliedOnce();
    assertMirrorMatchesEmulator(acme, sub);
    assertThat(billing.webhooks().replay(since).recorded()).isZero();
  }
}
