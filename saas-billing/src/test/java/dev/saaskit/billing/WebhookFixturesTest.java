package dev.saaskit.billing;

import static dev.saaskit.billing.BillingTestSupport.count;
import static dev.saaskit.billing.BillingTestSupport.fixture;
import static dev.saaskit.billing.BillingTestSupport.signature;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.saaskit.billing.internal.StripeJson;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.MutableClock;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Real Stripe payloads (the fixtures, API 2020-08-27 and 2020-03-02) through the endpoint with refetch off and the
 * fixtures' customers linked to tenants beforehand: every handled type is applied once; parallel duplicates are
 * recorded, applied and told to listeners once; the ApplyScheduler path records and schedules in one transaction.
 */
@ExtendWith(PostgresExtension.class)
class WebhookFixturesTest {
  private static final String SECRET = "whsec_fixtures_0123456789";
  private static final Map<String, TenantId> LINKS = Map.of(
      "cus_00000000000000", TenantId.of("t-ruby"),
      "cus_IhGfebO16cMIGN", TenantId.of("t-sync1"),
      "cus_Sll319ReSxCmEi", TenantId.of("t-sync2"),
      "cus_J7Mkgr8mvbl1eK", TenantId.of("t-sync3"),
      "cus_JsuO3bmrj0QlAw", TenantId.of("t-sync4"),
      "cus_JVhbiWW9p3F6wq", TenantId.of("t-sync5"));
  private static final List<String> FIXTURES = List.of(
      "stripe-ruby-mock/product.created.json", "stripe-ruby-mock/price.created.json",
      "stripe-ruby-mock/customer.created.json", "stripe-ruby-mock/customer.updated.json",
      "stripe-ruby-mock/customer.subscription.created.json", "stripe-ruby-mock/customer.subscription.updated.json",
      "stripe-ruby-mock/customer.subscription.trial_will_end.json",
      "stripe-ruby-mock/invoice.finalized.json", "stripe-ruby-mock/invoice.paid.json",
      "stripe-ruby-mock/invoice.payment_succeeded.json", "stripe-ruby-mock/invoice.payment_failed.json",
      "stripe-ruby-mock/invoice.payment_action_required.json", "stripe-ruby-mock/checkout.session.completed.json",
      "stripe-ruby-mock/customer.subscription.deleted.json", "stripe-ruby-mock/customer.deleted.json",
      "stripe-sync-engine/product_created.json", "stripe-sync-engine/price_created.json",
      "stripe-sync-engine/customer_updated.json", "stripe-sync-engine/subscription_created.json",
      "stripe-sync-engine/subscription_updated.json", "stripe-sync-engine/invoice_finalized.json",
      "stripe-sync-engine/invoice_paid.json", "stripe-sync-engine/invoice_updated.json",
      "stripe-sync-engine/invoice_voided.json", "stripe-sync-engine/checkout_session_completed.json",
      "stripe-sync-engine/active_entitlement_summary_updated.json", "stripe-sync-engine/subscription_deleted.json",
      "stripe-sync-engine/customer_deleted.json");

  static TestDatabase db;
  static MutableClock clock = MutableClock.at(Instant.parse("2026-12-01T00:00:00Z"));

  @BeforeAll
  static void setUp(TestDatabase database) throws Exception {
    db = database;
    BillingTestSupport.migrate(db);
  }

  @BeforeEach
  void clean() throws Exception {
    try (var c = db.adminDataSource().getConnection(); var st = c.createStatement()) {
      st.execute("TRUNCATE saaskit_billing.events, saaskit_billing.customers, saaskit_billing.subscriptions,"
          + " saaskit_billing.subscription_items, saaskit_billing.invoices, saaskit_billing.checkout_sessions,"
          + " saaskit_billing.entitlement_summaries, saaskit_billing.products, saaskit_billing.prices,"
          + " saaskit_billing.customer_routes CASCADE");
    }
  }

  private static BillingConfig.Builder config() {
    return BillingConfig.builder().stripeApiKey("sk_test_unused").stripeApiBase("http://127.0.0.1:9")
        .webhookSecrets(SECRET).refetch(false).clock(clock);
  }

  private static void link(Billing billing) {
    LINKS.forEach((customer, tenant) -> billing.db().inTransaction(tenant, "link", c -> billing.mirror()
        .upsertCustomer(c, tenant, StripeJson.parseObject("{\"id\":\"" + customer + "\",\"object\":\"customer\"}"),
            Instant.EPOCH)));
  }

  /** The fixture with a unique event id (the stripe-ruby-mock ones all share one), otherwise unchanged. */
  private static String withId(String fixture, String eventId) {
    ObjectNode event = StripeJson.parseObject(fixture(fixture));
    event.put("id", eventId);
    return StripeJson.write(event);
  }

  private static String sign(String body) {
    return signature(body, SECRET, clock.instant().getEpochSecond());
  }

  private static long rows(String table, String where) throws SQLException {
    return count(db, "SELECT count(*) FROM saaskit_billing." + table + " WHERE " + where);
  }

  @Test
  void everyHandledFixtureTypeIsAppliedOnceToItsTenant() throws Exception {
    Map<String, List<TenantId>> seen = new ConcurrentHashMap<>();
    Billing billing = Billing.create(config().listener("audit", e -> {
      seen.computeIfAbsent(e.id(), k -> new CopyOnWriteArrayList<>()).add(
          TenantContext.currentOrNull() == null ? TenantId.of("none") : TenantContext.require());
      assertThat(TenantContext.currentOrNull()).isEqualTo(e.tenant());
    }).build(), db.appDataSource());
    link(billing);
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < FIXTURES.size(); i++) {
      String id = "evt_fixture" + i;
      ids.add(id);
      String body = withId(FIXTURES.get(i), id);
      WebhookResult r = billing.webhooks().handle(body, sign(body));
      assertThat(r.status()).as(FIXTURES.get(i) + ": " + r.message()).isEqualTo(200);
      assertThat(r.outcome()).as(FIXTURES.get(i)).isEqualTo(WebhookResult.Outcome.APPLIED);
    }
    // each once more: acknowledged, not applied again
    for (int i = 0; i < FIXTURES.size(); i++) {
      String body = withId(FIXTURES.get(i), ids.get(i));
      assertThat(billing.webhooks().handle(body, sign(body)).outcome()).isEqualTo(WebhookResult.Outcome.DUPLICATE);
    }
    assertThat(count(db, "SELECT count(*) FROM saaskit_billing.events")).isEqualTo(FIXTURES.size());
    assertThat(rows("events", "status = 'applied'")).isEqualTo(FIXTURES.size());
    assertThat(seen).hasSize(FIXTURES.size()).allSatisfy((id, calls) -> assertThat(calls).hasSize(1));

    assertThat(rows("products", "stripe_id IN ('prod_00000000000000', 'prod_JdJ6Wt7rsz4EPJ')")).isEqualTo(2);
    assertThat(rows("prices", "stripe_id IN ('price_000000000000000000000000', 'price_1J02UOJDPojXS6LNDao8fiaO')"))
        .isEqualTo(2);
    assertThat(rows("subscriptions", "stripe_id = 'sub_000000000000000000000000' AND tenant_id = 't-ruby'")).isOne();
    assertThat(rows("subscriptions", "stripe_id IN ('sub_JdIzvfy6o5GZRd', 'sub_JLEPMp81LApOJl')"
        + " AND tenant_id = 't-sync1'")).isEqualTo(2);
    assertThat(rows("subscriptions", "stripe_id = 'sub_JdIzvfy6o5GZRd' AND status = 'canceled'")).isOne();
    assertThat(rows("invoices", "stripe_id = 'in_000000000000000000000000' AND tenant_id = 't-ruby'")).isOne();
    assertThat(rows("invoices", "stripe_id = 'in_1KJdKkJDPojXS6LNSwSWkZSN' AND tenant_id = 't-sync3'")).isOne();
    assertThat(rows("invoices", "stripe_id = 'in_1KJqKBJDPojXS6LNJbvLUgEy' AND tenant_id = 't-sync4'")).isOne();
    assertThat(rows("invoices", "stripe_id = 'in_1KJrLsJDPojXS6LN8xJ2QLQt' AND tenant_id = 't-sync5'")).isOne();
    assertThat(rows("checkout_sessions", "tenant_id IN ('t-ruby', 't-sync1')")).isEqualTo(2);
    assertThat(rows("entitlement_summaries", "customer_id = 'cus_Sll319ReSxCmEi' AND tenant_id = 't-sync2'"))
        .isOne();
    assertThat(rows("customers", "deleted AND stripe_id = 'cus_IhGfebO16cMIGN'")).isOne();
    // stripe-ruby-mock's customer.updated was created 149 s after its customer.deleted: the newer state stays
    assertThat(rows("customers", "NOT deleted AND stripe_id = 'cus_00000000000000'")).isOne();
    // nothing of any tenant landed under another
    assertThat(rows("subscriptions", "tenant_id NOT IN ('t-ruby', 't-sync1')")).isZero();
    // the events record which tenant they were applied to
    assertThat(rows("events", "routed_tenant_id IS NULL")).isEqualTo(4); // the catalog events
  }

  @Test
  void aCustomerOfNoTenantFailsTheEventUntilItIsLinked() throws Exception {
    MutableClock local = MutableClock.at(clock.instant());
    Billing billing = Billing.create(config().clock(local).build(), db.appDataSource());
    String body = withId("stripe-ruby-mock/invoice.paid.json", "evt_unlinked1");
    WebhookResult r = billing.webhooks().handle(body, signature(body, SECRET, local.instant().getEpochSecond()));
    // refetch off, and the fixture's customer is unknown: Stripe (unreachable here) is asked for its metadata
    assertThat(r.status()).isEqualTo(500);
    assertThat(r.outcome()).isEqualTo(WebhookResult.Outcome.FAILED);
    BillingWebhooks.InboxEvent failed = billing.webhooks().event("evt_unlinked1").orElseThrow();
    assertThat(failed.status()).isEqualTo("failed");
    assertThat(failed.attempts()).isOne();
    assertThat(failed.lastError()).isNotBlank().doesNotContain(SECRET).doesNotContain("sk_test");
    assertThat(billing.webhooks().inboxSummary().failed()).isOne();
    link(billing);
    // not due yet: the backoff (10 s) has not passed
    assertThat(billing.webhooks().retryDue().due()).isZero();
    local.advance(java.time.Duration.ofSeconds(10));
    BillingWebhooks.RetryReport report = billing.webhooks().retryDue();
    assertThat(report.applied()).isOne();
    assertThat(rows("invoices", "stripe_id = 'in_000000000000000000000000' AND tenant_id = 't-ruby'")).isOne();
    assertThat(billing.webhooks().event("evt_unlinked1").orElseThrow().status()).isEqualTo("applied");
  }

  @Test
  void twentyParallelDeliveriesOfOneEventAreRecordedAppliedAndToldOnce() throws Exception {
    AtomicInteger calls = new AtomicInteger();
    Billing billing = Billing.create(config().listener("count", e -> calls.incrementAndGet(),
        "customer.subscription.updated").build(), db.appDataSource());
    link(billing);
    for (int round = 0; round < 5; round++) {
      String body = withId("stripe-ruby-mock/customer.subscription.updated.json", "evt_parallel" + round);
      String header = sign(body);
      int threads = 20;
      ExecutorService pool = Executors.newFixedThreadPool(threads);
      CountDownLatch go = new CountDownLatch(1);
      List<Future<WebhookResult>> results = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        results.add(pool.submit(() -> {
          go.await();
          return billing.webhooks().handle(body, header);
        }));
      }
      go.countDown();
      List<WebhookResult.Outcome> outcomes = new ArrayList<>();
      for (Future<WebhookResult> f : results) {
        WebhookResult r = f.get(60, TimeUnit.SECONDS);
        assertThat(r.status()).as(r.message()).isEqualTo(200);
        outcomes.add(r.outcome());
      }
      pool.shutdown();
      assertThat(outcomes).containsOnly(WebhookResult.Outcome.APPLIED, WebhookResult.Outcome.DUPLICATE);
      assertThat(outcomes).filteredOn(o -> o == WebhookResult.Outcome.APPLIED).hasSize(1);
      assertThat(rows("events", "id = 'evt_parallel" + round + "'")).isOne();
      assertThat(rows("listener_deliveries", "event_id = 'evt_parallel" + round + "'")).isOne();
      assertThat(calls.get()).isEqualTo(round + 1);
    }
    assertThat(rows("subscriptions", "stripe_id = 'sub_000000000000000000000000'")).isOne();
    assertThat(billing.webhooks().stats().duplicateCount()).isEqualTo(5 * 19);
  }

  @Test
  void aFailingListenerIsRecordedAndNotCalledAgain() throws Exception {
    AtomicInteger calls = new AtomicInteger();
    Billing billing = Billing.create(config().listener("boom", e -> {
      calls.incrementAndGet();
      throw new IllegalStateException("mail server down");
    }, "invoice.*").build(), db.appDataSource());
    link(billing);
    String body = withId("stripe-ruby-mock/invoice.payment_failed.json", "evt_listenerfail");
    assertThat(billing.webhooks().handle(body, sign(body)).outcome()).isEqualTo(WebhookResult.Outcome.APPLIED);
    assertThat(billing.webhooks().handle(body, sign(body)).outcome()).isEqualTo(WebhookResult.Outcome.DUPLICATE);
    billing.webhooks().retry("evt_listenerfail");
    assertThat(calls.get()).isOne();
    assertThat(rows("listener_deliveries", "event_id = 'evt_listenerfail' AND listener = 'boom'"
        + " AND error LIKE '%mail server down%'")).isOne();
    // a listener for other types is not called
    String product = withId("stripe-ruby-mock/product.created.json", "evt_listenerother");
    billing.webhooks().handle(product, sign(product));
    assertThat(calls.get()).isOne();
  }

  @Test
  void withAnApplySchedulerTheEventIsRecordedAndScheduledInOneTransaction() throws Exception {
    Map<String, Long> scheduledInTx = new ConcurrentHashMap<>();
    Billing billing = Billing.create(config().applyScheduler((c, eventId) -> {
      try (var st = c.createStatement(); var rs = st.executeQuery("SELECT txid_current() % 4294967296")) {
        rs.next();
        scheduledInTx.put(eventId, rs.getLong(1));
      }
    }).build(), db.appDataSource());
    link(billing);
    String body = withId("stripe-ruby-mock/customer.subscription.created.json", "evt_queued1");
    WebhookResult r = billing.webhooks().handle(body, sign(body));
    assertThat(r.status()).isEqualTo(200);
    assertThat(r.outcome()).isEqualTo(WebhookResult.Outcome.QUEUED);
    assertThat(count(db, "SELECT count(*) FROM saaskit_billing.events WHERE id = 'evt_queued1'"
        + " AND status = 'received' AND xmin::text::bigint = ?", scheduledInTx.get("evt_queued1"))).isOne();
    assertThat(rows("subscriptions", "true")).isZero();
    // the job
    assertThat(billing.webhooks().apply("evt_queued1").outcome()).isEqualTo(WebhookResult.Outcome.APPLIED);
    assertThat(billing.webhooks().apply("evt_queued1").outcome()).isEqualTo(WebhookResult.Outcome.DUPLICATE);
    assertThat(rows("subscriptions", "tenant_id = 't-ruby'")).isOne();
    assertThatThrownBy(() -> billing.webhooks().apply("evt_nosuchevent")).isInstanceOf(BillingException.class)
        .hasMessageContaining("no event evt_nosuchevent");
    // a duplicate delivery of a queued event is acknowledged and not scheduled twice
    assertThat(billing.webhooks().handle(body, sign(body)).outcome()).isEqualTo(WebhookResult.Outcome.DUPLICATE);
    assertThat(scheduledInTx).hasSize(1);
  }

  @Test
  void aSchedulerThatRefusesMeans500AndNothingStored() throws Exception {
    Billing billing = Billing.create(config().applyScheduler((c, eventId) -> {
      throw new SQLException("job queue full");
    }).build(), db.appDataSource());
    String body = withId("stripe-ruby-mock/customer.subscription.created.json", "evt_refused1");
    WebhookResult r = billing.webhooks().handle(body, sign(body));
    assertThat(r.status()).isEqualTo(500);
    assertThat(r.outcome()).isEqualTo(WebhookResult.Outcome.ERROR);
    assertThat(count(db, "SELECT count(*) FROM saaskit_billing.events")).isZero();
  }

  @Test
  void theChangeListenerRunsInTheTransactionAndAfterTheCommit() throws Exception {
    List<String> inTx = new CopyOnWriteArrayList<>();
    List<TenantId> changed = new CopyOnWriteArrayList<>();
    AtomicInteger refuse = new AtomicInteger(1);
    MutableClock local = MutableClock.at(clock.instant());
    Billing billing = Billing.create(config().clock(local).changeListener(new BillingChangeListener() {
      @Override
      public void billingChanged(TenantId tenant) {
        changed.add(tenant);
      }

      @Override
      public void inTransaction(java.sql.Connection c, TenantId tenant) throws SQLException {
        if (refuse.getAndDecrement() > 0) {
          throw new SQLException("bus unavailable");
        }
        // the change is visible inside the transaction, under the tenant's RLS
        try (var st = c.createStatement(); var rs = st.executeQuery(
            "SELECT count(*) FROM saaskit_billing.subscriptions")) {
          rs.next();
          inTx.add(tenant.value() + ":" + rs.getLong(1));
        }
      }
    }).build(), db.appDataSource());
    link(billing);
    String body = withId("stripe-ruby-mock/customer.subscription.created.json", "evt_changed1");
    WebhookResult r = billing.webhooks().handle(body, signature(body, SECRET, local.instant().getEpochSecond()));
    assertThat(r.outcome()).isEqualTo(WebhookResult.Outcome.FAILED);
    assertThat(r.message()).doesNotContain("bus unavailable");
    assertThat(billing.webhooks().event("evt_changed1").orElseThrow().lastError()).contains("bus unavailable");
    assertThat(rows("subscriptions", "true")).isZero(); // rolled back with the listener's refusal
    assertThat(changed).isEmpty();
    local.advance(java.time.Duration.ofSeconds(10));
    assertThat(billing.webhooks().retryDue().applied()).isOne();
    assertThat(inTx).containsExactly("t-ruby:1");
    assertThat(changed).containsExactly(TenantId.of("t-ruby"));
  }

  @Test
  void operatorCallsOnUnknownEventsSaySo() {
    Billing billing = Billing.create(config().build(), db.appDataSource());
    assertThatThrownBy(() -> billing.webhooks().retry("evt_missing")).isInstanceOf(BillingException.class)
        .hasMessage("no event evt_missing in the inbox");
    assertThatThrownBy(() -> billing.webhooks().inbox("lost", 10)).isInstanceOf(IllegalArgumentException.class);
  }
}
