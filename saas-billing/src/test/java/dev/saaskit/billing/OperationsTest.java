package dev.saaskit.billing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.saaskit.billing.internal.StripeJson;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.MutableClock;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.StripeEmulator;
import dev.saaskit.testing.TestDatabase;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Operations against the Stripe emulator (real HTTP) and real PostgreSQL: the customer link (one customer for
 * concurrent callers), portal, cancel at period end, resume, cancel now, pause and resume, invoice terms and annual
 * contracts. Webhooks are not delivered here: every state comes from the operations' own answers.
 */
@ExtendWith(PostgresExtension.class)
class OperationsTest {
  static TestDatabase db;
  static MutableClock clock;
  static StripeEmulator emu;
  static Billing billing;
  static String monthly;

  @BeforeAll
  static void setUp(TestDatabase database) throws Exception {
    db = database;
    BillingTestSupport.migrate(db);
    clock = MutableClock.atSystemTime();
    emu = StripeEmulator.builder().clock(clock).seed(13).start();
    billing = Billing.create(config(emu, clock).build(), db.appDataSource());
    monthly = price(billing, "Pro", 2_000, "ops_pro_monthly");
  }

  @AfterAll
  static void tearDown() {
    emu.close();
  }

  /** The test config for {@code emu}. */
  static BillingConfig.Builder config(StripeEmulator emu, MutableClock clock) {
    return BillingConfig.builder().stripeApiKey(emu.apiKey()).stripeApiBase(emu.apiBase())
        .webhookSecrets(emu.webhookSecret()).clock(clock).stripeMaxRetryWait(Duration.ZERO);
  }

  /** Creates a product and a monthly price in the emulator; returns the price id. */
  static String price(Billing billing, String product, long cents, String lookupKey) {
    String productId = StripeJson.text(
        billing.stripe().post("/v1/products", Map.of("name", product), null).json(), "id");
    Map<String, Object> p = new LinkedHashMap<>();
    p.put("product", productId);
    p.put("unit_amount", cents);
    p.put("currency", "usd");
    p.put("recurring", Map.of("interval", "month"));
    p.put("lookup_key", lookupKey);
    return StripeJson.text(billing.stripe().post("/v1/prices", p, null).json(), "id");
  }

  /** A tenant subscribed through checkout (completed in the emulator, synced from the success page). */
  static Subscription subscribe(Billing billing, StripeEmulator emu, TenantId tenant, String priceId, long seats) {
    CheckoutSession session = billing.operations().createCheckoutSession(CheckoutRequest.builder(tenant, priceId)
        .quantity(seats).successUrl("https://app.example.com/done").cancelUrl("https://app.example.com/back")
        .build());
    emu.completeCheckout(session.id());
    TenantBilling status = billing.operations().syncCheckoutSession(tenant, session.id());
    assertThat(status.subscription()).isNotNull();
    return status.subscription();
  }

  @Test
  void tenConcurrentCallersOnTwoNodesCreateOneStripeCustomer() throws Exception {
    TenantId tenant = TenantId.of("ops-customer");
    List<TenantId> committed = new java.util.concurrent.CopyOnWriteArrayList<>();
    List<TenantId> announced = new java.util.concurrent.CopyOnWriteArrayList<>();
    BillingChangeListener listener = new BillingChangeListener() {
      @Override
      public void billingChanged(TenantId t) {
        announced.add(t);
      }

      @Override
      public void inTransaction(java.sql.Connection connection, TenantId t) {
        committed.add(t);
      }
    };
    Billing otherNode = Billing.create(config(emu, clock).changeListener(listener).build(), db.appDataSource());
    int before = emu.requestCount("POST", "/v1/customers");
    ExecutorService pool = Executors.newFixedThreadPool(10);
    CountDownLatch go = new CountDownLatch(1);
    Set<String> ids = ConcurrentHashMap.newKeySet();
    try {
      List<Future<?>> futures = new ArrayList<>();
      for (int i = 0; i < 10; i++) {
        int n = i;
        futures.add(pool.submit(() -> {
          go.await();
          Billing node = n % 2 == 0 ? billing : otherNode;
          ids.add(node.operations().ensureCustomer(tenant, "billing+" + n + "@acme.test", "Acme"));
          return null;
        }));
      }
      go.countDown();
      for (Future<?> f : futures) {
        f.get();
      }
    } finally {
      pool.shutdownNow();
    }
    assertThat(ids).hasSize(1);
    String id = ids.iterator().next();
    int tenantCustomers = 0;
    for (ObjectNode c : billing.stripe().list("/v1/customers", Map.of())) {
      if (tenant.value().equals(c.path("metadata").path("tenant_id").asText(null))) {
        tenantCustomers++;
      }
    }
    assertThat(tenantCustomers).isEqualTo(1);
    assertThat(emu.requestCount("POST", "/v1/customers") - before).isEqualTo(2); // one create, one update
    assertThat(StripeJson.parseObject(emu.object(id).orElseThrow()).path("email").asText())
        .matches("billing\\+\\d@acme\\.test");
    assertThat(BillingTestSupport.count(db, "SELECT count(*) FROM saaskit_billing.customers WHERE tenant_id = ?",
        tenant.value())).isEqualTo(1);
    assertThat(billing.operations().ensureCustomer(tenant, null, null)).isEqualTo(id);
    // the node that created it told its change listener, in the transaction and after the commit
    if (!announced.isEmpty()) {
      assertThat(announced).containsExactly(tenant);
      assertThat(committed).containsExactly(tenant);
    } else {
      assertThat(committed).isEmpty();
      Billing third = Billing.create(config(emu, clock).changeListener(listener).build(), db.appDataSource());
      third.operations().ensureCustomer(TenantId.of("ops-customer-2"), null, null);
      assertThat(announced).containsExactly(TenantId.of("ops-customer-2"));
      assertThat(committed).containsExactly(TenantId.of("ops-customer-2"));
    }
  }

  @Test
  void aCreateThatReachedStripeButNotTheMirrorIsReplayedNotDuplicated() throws Exception {
    TenantId tenant = TenantId.of("ops-crash");
    // a previous attempt created the customer in Stripe and died before its commit
    String key = "saaskit-customer-" + java.util.HexFormat.of().formatHex(java.security.MessageDigest
        .getInstance("SHA-256").digest(tenant.value().getBytes(java.nio.charset.StandardCharsets.UTF_8)), 0, 16)
        + "-0";
    String orphan = StripeJson.text(billing.stripe().post("/v1/customers",
        Map.of("metadata", Map.of("tenant_id", tenant.value())), key).json(), "id");
    String id = billing.operations().ensureCustomer(tenant, "later@crash.test", "Crash Ltd");
    assertThat(id).isEqualTo(orphan);
    assertThat(StripeJson.parseObject(emu.object(id).orElseThrow()).path("email").asText())
        .isEqualTo("later@crash.test");
    assertThat(BillingTestSupport.count(db, "SELECT count(*) FROM saaskit_billing.customers WHERE tenant_id = ?"
        + " AND email = 'later@crash.test'", tenant.value())).isEqualTo(1);
  }

  @Test
  void portalSessionForTheTenantsCustomer() {
    TenantId tenant = TenantId.of("ops-portal");
    String url = billing.operations().createPortalSession(tenant, "https://app.example.com/billing");
    assertThat(url).startsWith("https://billing.stripe.com/");
    assertThatThrownBy(() -> billing.operations().createPortalSession(tenant, "javascript:alert(1)"))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void cancelAtPeriodEndThenResumeThenCancelNow() {
    TenantId tenant = TenantId.of("ops-cancel");
    Subscription sub = subscribe(billing, emu, tenant, monthly, 1);
    assertThat(billing.status(tenant).state()).isEqualTo(AccessState.ACTIVE);

    Subscription canceling = billing.operations().cancelAtPeriodEnd(tenant);
    assertThat(canceling.cancelAtPeriodEnd()).isTrue();
    TenantBilling status = billing.status(tenant);
    assertThat(status.state()).isEqualTo(AccessState.CANCELING);
    assertThat(status.accessUntil()).isEqualTo(sub.currentPeriodEnd());
    assertThat(billing.hasAccess(tenant)).isTrue();

    Subscription resumed = billing.operations().resume(tenant);
    assertThat(resumed.cancelAtPeriodEnd()).isFalse();
    assertThat(billing.status(tenant).state()).isEqualTo(AccessState.ACTIVE);
    assertThat(emu.object(sub.id()).orElseThrow()).contains("\"cancel_at_period_end\":false");
    assertThatThrownBy(() -> billing.operations().resume(tenant)).isInstanceOf(IllegalStateException.class);

    Subscription ended = billing.operations().cancelNow(tenant);
    assertThat(ended.status()).isEqualTo(SubscriptionStatus.CANCELED);
    assertThat(billing.status(tenant).state()).isEqualTo(AccessState.ENDED);
    assertThat(billing.hasAccess(tenant)).isFalse();
    assertThatThrownBy(() -> billing.operations().cancelNow(tenant)).isInstanceOf(BillingException.class)
        .hasMessageContaining("no current subscription");
  }

  @Test
  void aPausedSubscriptionIsResumed() {
    TenantId tenant = TenantId.of("ops-pause");
    Subscription sub = subscribe(billing, emu, tenant, monthly, 1);
    emu.pauseSubscription(sub.id());
    // the mirror learns it from Stripe (here: a refetch the way syncCheckoutSession does it)
    var paused = billing.stripe().fetch("/v1/subscriptions/" + sub.id());
    dev.saaskit.billing.internal.Mirror.Outcome outcome = billing.db().inTransaction(tenant, "t",
        c -> billing.mirror().upsertSubscription(c, tenant, paused.json(), paused.date()));
    assertThat(outcome).isEqualTo(dev.saaskit.billing.internal.Mirror.Outcome.APPLIED);
    billing.operations().invalidate(tenant);
    assertThat(billing.status(tenant).state()).isEqualTo(AccessState.PAUSED);
    assertThat(billing.hasAccess(tenant)).isFalse();

    Subscription resumed = billing.operations().resume(tenant);
    assertThat(resumed.status()).isEqualTo(SubscriptionStatus.ACTIVE);
    assertThat(billing.hasAccess(tenant)).isTrue();
  }

  @Test
  void invoiceTermsKeepAccessWhileTheInvoiceIsOpen() {
    TenantId tenant = TenantId.of("ops-terms");
    Subscription sub = billing.operations().subscribeOnInvoiceTerms(tenant, monthly, 4, 30);
    assertThat(sub.invoiceTerms()).isTrue();
    assertThat(sub.daysUntilDue()).isEqualTo(30);
    assertThat(sub.quantityOf(monthly)).isEqualTo(4);
    JsonNode remote = StripeJson.parseObject(emu.object(sub.id()).orElseThrow());
    assertThat(remote.path("collection_method").asText()).isEqualTo("send_invoice");
    TenantBilling status = billing.status(tenant);
    List<Invoice> invoices = billing.db().inTransaction(tenant, "t", c -> billing.mirror().invoices(c, tenant, 10));
    assertThat(invoices).isNotEmpty();
    Invoice first = invoices.get(0);
    assertThat(first.status()).isEqualTo("open"); // sent, waiting for a bank transfer within 30 days
    assertThat(first.dueDate()).isNotNull();
    assertThat(status.state()).isEqualTo(AccessState.INVOICE_OPEN);
    assertThat(status.accessUntil()).isEqualTo(first.dueDate().plus(billing.config().pastDueGrace()));
    assertThat(status.hasAccess()).isTrue();
    // time alone moves the tenant through the terms (the config clock; no webhook, no invalidation)
    java.time.Instant start = clock.instant();
    try {
      clock.set(first.dueDate().plusSeconds(1));
      assertThat(billing.status(tenant).state()).isEqualTo(AccessState.INVOICE_OVERDUE_IN_GRACE);
      assertThat(billing.hasAccess(tenant)).isTrue();
      clock.set(first.dueDate().plus(billing.config().pastDueGrace()));
      assertThat(billing.status(tenant).state()).isEqualTo(AccessState.INVOICE_OVERDUE_LOCKED);
      assertThat(billing.hasAccess(tenant)).isFalse();
    } finally {
      clock.set(start);
    }
    assertThatThrownBy(() -> billing.operations().subscribeOnInvoiceTerms(tenant, monthly, 0, 30))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void anAnnualContractBilledMonthlyIsAScheduleOfTwelveMonths() {
    TenantId tenant = TenantId.of("ops-annual");
    Subscription sub = billing.operations().subscribeAnnualContract(tenant, monthly, 7, 12);
    assertThat(sub.scheduleId()).isNotNull();
    assertThat(sub.quantityOf(monthly)).isEqualTo(7);
    assertThat(sub.tenant()).isEqualTo(tenant);
    JsonNode schedule = StripeJson.parseObject(emu.object(sub.scheduleId()).orElseThrow());
    assertThat(schedule.path("end_behavior").asText()).isEqualTo("release");
    assertThat(schedule.path("subscription").asText()).isEqualTo(sub.id());
    JsonNode phase = schedule.path("phases").get(0);
    java.time.ZonedDateTime start = java.time.Instant.ofEpochSecond(phase.path("start_date").asLong())
        .atZone(java.time.ZoneOffset.UTC);
    assertThat(phase.path("end_date").asLong()).isEqualTo(start.plusMonths(12).toEpochSecond());
    assertThat(sub.currentPeriodEnd()).isEqualTo(start.plusMonths(1).toInstant()); // billed monthly
    assertThat(billing.status(tenant).hasAccess()).isTrue();
  }

  @Test
  void stripeDownFailsTheOperationVisiblyAndChangesNothing() {
    TenantId tenant = TenantId.of("ops-down");
    Subscription sub = subscribe(billing, emu, tenant, monthly, 1);
    emu.down(true);
    try {
      assertThatThrownBy(() -> billing.operations().cancelAtPeriodEnd(tenant))
          .isInstanceOfSatisfying(BillingException.class, e -> assertThat(e.retryable()).isTrue());
    } finally {
      emu.down(false);
    }
    assertThat(billing.status(tenant).state()).isEqualTo(AccessState.ACTIVE);
    assertThat(emu.object(sub.id()).orElseThrow()).contains("\"cancel_at_period_end\":false");
    // a rate limit is retried (Retry-After honoured, capped by stripeMaxRetryWait) and the call succeeds
    emu.failNextRequests(1, 429, Duration.ofSeconds(1));
    assertThat(billing.operations().cancelAtPeriodEnd(tenant).cancelAtPeriodEnd()).isTrue();
    assertThat(billing.status(tenant).state()).isEqualTo(AccessState.CANCELING);
  }

  @Test
  void operationsWithoutASubscriptionFail() {
    TenantId tenant = TenantId.of("ops-nothing");
    assertThatThrownBy(() -> billing.operations().cancelAtPeriodEnd(tenant)).isInstanceOf(BillingException.class);
    assertThatThrownBy(() -> billing.operations().setSeats(tenant, 0)).isInstanceOf(IllegalArgumentException.class);
    assertThat(billing.status(tenant).state()).isEqualTo(AccessState.NONE);
  }
}
