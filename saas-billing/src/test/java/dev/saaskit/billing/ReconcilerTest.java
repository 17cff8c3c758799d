package dev.saaskit.billing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;

import dev.saaskit.billing.internal.StripeJson;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.MutableClock;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.StripeEmulator;
import dev.saaskit.testing.TestDatabase;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Reconcile: drift made on purpose in Stripe (the emulator) and in the mirror is found object by object and fixed. */
@ExtendWith(PostgresExtension.class)
class ReconcilerTest {
  static TestDatabase db;
  MutableClock clock = MutableClock.at(Instant.parse("2026-04-01T09:00:00Z"));
  StripeEmulator emu;
  Billing billing;

  @BeforeAll
  static void setUp(TestDatabase database) throws Exception {
    db = database;
    BillingTestSupport.migrate(db);
  }

  @BeforeEach
  void start() {
    emu = StripeEmulator.builder().clock(clock).seed(99).start();
    billing = Billing.create(BillingConfig.builder().stripeApiKey(emu.apiKey()).stripeApiBase(emu.apiBase())
        .webhookSecrets(emu.webhookSecret()).clock(clock).stripeMaxRetries(0).build(), db.appDataSource());
  }

  @AfterEach
  void stop() throws Exception {
    emu.close();
    admin("DELETE FROM saaskit_billing.subscriptions", "DELETE FROM saaskit_billing.invoices",
        "DELETE FROM saaskit_billing.customers", "DELETE FROM saaskit_billing.prices",
        "DELETE FROM saaskit_billing.products");
  }

  static void admin(String... statements) throws Exception {
    try (Connection c = db.adminDataSource().getConnection(); Statement st = c.createStatement()) {
      for (String sql : statements) {
        st.execute(sql);
      }
    }
  }

  static @Nullable String adminValue(String sql, String id) throws Exception {
    try (Connection c = db.adminDataSource().getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setString(1, id);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? rs.getString(1) : null;
      }
    }
  }

  String post(String path, Map<String, ?> params) {
    return StripeJson.text(billing.stripe().post(path, params, null).json(), "id");
  }

  String customer(@Nullable TenantId tenant) {
    Map<String, Object> p = new LinkedHashMap<>();
    p.put("email", "billing@" + (tenant == null ? "nobody" : tenant.value()) + ".example");
    if (tenant != null) {
      p.put("metadata", Map.of("tenant_id", tenant.value()));
    }
    return post("/v1/customers", p);
  }

  String subscription(String customer, String price, int quantity) {
    return post("/v1/subscriptions", Map.of("customer", customer,
        "items", List.of(Map.of("price", price, "quantity", quantity))));
  }

  String invoiceOf(String subscription) {
    for (var inv : billing.stripe().list("/v1/invoices", Map.of("subscription", subscription))) {
      return StripeJson.text(inv, "id");
    }
    throw new AssertionError("no invoice for " + subscription);
  }

  @Test
  void driftMadeOnPurposeIsFoundObjectByObjectThenFixedAndASecondSyncIsClean() throws Exception {
    TenantId acme = TenantId.of("rec-acme");
    TenantId globex = TenantId.of("rec-globex");
    TenantId initech = TenantId.of("rec-initech");
    TenantId hooli = TenantId.of("rec-hooli");
    String product = post("/v1/products", Map.of("name", "Pro"));
    String monthly = post("/v1/prices", Map.of("product", product, "currency", "usd", "unit_amount", 2000,
        "recurring", Map.of("interval", "month")));
    String yearly = post("/v1/prices", Map.of("product", product, "currency", "usd", "unit_amount", 20000,
        "recurring", Map.of("interval", "year")));
    String cusAcme = customer(acme);
    String cusGlobex = customer(globex);
    String cusInitech = customer(initech);
    String cusHooli = customer(hooli);
    String subAcme = subscription(cusAcme, monthly, 3);
    String subGlobex = subscription(cusGlobex, yearly, 1);
    String subInitech = subscription(cusInitech, monthly, 1);
    String invGlobex = invoiceOf(subGlobex);

    // an empty mirror: everything is missing, nothing is written by a report-only sync
    DriftReport empty = billing.reconciler().sync(false);
    assertThat(empty.ofKind(Drift.Kind.MISSING_IN_MIRROR)).extracting(Drift::objectType, Drift::objectId)
        .contains(tuple("product", product), tuple("price", monthly), tuple("price", yearly),
            tuple("customer", cusAcme), tuple("customer", cusHooli), tuple("subscription", subAcme),
            tuple("subscription", subGlobex), tuple("invoice", invGlobex));
    assertThat(empty.checked()).containsEntry("subscription", 3).containsEntry("customer", 4);
    assertThat(BillingTestSupport.count(db, "SELECT count(*) FROM saaskit_billing.subscriptions")).isZero();
    DriftReport fill = billing.reconciler().sync(true);
    assertThat(fill.drifts()).hasSameSizeAs(empty.drifts());
    assertThat(fill.fixFailures()).isEmpty();
    assertThat(BillingTestSupport.count(db, "SELECT count(*) FROM saaskit_billing.subscriptions")).isEqualTo(3);
    assertThat(billing.reconciler().sync(false).drifts()).isEmpty();

    // drift on purpose: in Stripe without events, and in the mirror behind the library's back
    emu.silently(() -> {
      emu.setSubscriptionStatus(subAcme, "past_due");
      emu.deleteObject(cusHooli);
    });
    admin("UPDATE saaskit_billing.subscription_items SET quantity = 5 WHERE subscription_id = '" + subInitech + "'",
        "UPDATE saaskit_billing.subscriptions SET cancel_at_period_end = true WHERE stripe_id = '" + subInitech + "'",
        "UPDATE saaskit_billing.invoices SET amount_paid = 0 WHERE stripe_id = '" + invGlobex + "'",
        "DELETE FROM saaskit_billing.subscriptions WHERE stripe_id = '" + subGlobex + "'",
        "UPDATE saaskit_billing.products SET name = 'Old name' WHERE stripe_id = '" + product + "'",
        "INSERT INTO saaskit_billing.subscriptions (tenant_id, stripe_id, customer_id, status, raw, state_as_of)"
            + " VALUES ('rec-acme', 'sub_ghost', '" + cusAcme + "', 'active', '{\"id\":\"sub_ghost\"}', now())");

    DriftReport report = billing.reconciler().sync(false);
    String paid = adminValue("SELECT raw->>'amount_paid' FROM saaskit_billing.invoices WHERE stripe_id = ?", invGlobex);
    assertThat(report.drifts())
        .extracting(Drift::kind, Drift::objectType, Drift::objectId, Drift::tenant, Drift::field, Drift::mirrorValue,
            Drift::stripeValue)
        .containsExactlyInAnyOrder(
            tuple(Drift.Kind.DIFFERENT, "product", product, null, "name", "Old name", "Pro"),
            tuple(Drift.Kind.DIFFERENT, "subscription", subAcme, acme, "status", "active", "past_due"),
            tuple(Drift.Kind.DIFFERENT, "subscription", subInitech, initech, "cancel_at_period_end", "true", "false"),
            tuple(Drift.Kind.DIFFERENT, "subscription", subInitech, initech, "items[" + monthly + "].quantity", "5",
                "1"),
            tuple(Drift.Kind.MISSING_IN_MIRROR, "subscription", subGlobex, globex, null, null, null),
            tuple(Drift.Kind.DIFFERENT, "invoice", invGlobex, globex, "amount_paid", "0", paid),
            tuple(Drift.Kind.DIFFERENT, "customer", cusHooli, hooli, "deleted", "false", "true"),
            tuple(Drift.Kind.MISSING_IN_STRIPE, "subscription", "sub_ghost", acme, null, "present", null));
    assertThat(report.fixed()).isFalse();
    // reported, not fixed
    assertThat(adminValue("SELECT status FROM saaskit_billing.subscriptions WHERE stripe_id = ?", subAcme))
        .isEqualTo("active");

    DriftReport fixing = billing.reconciler().sync(true);
    assertThat(fixing.drifts()).containsExactlyInAnyOrderElementsOf(report.drifts());
    assertThat(fixing.fixFailures()).isEmpty();
    assertThat(fixing.fixedObjects()).isEqualTo(7);
    assertThat(adminValue("SELECT status FROM saaskit_billing.subscriptions WHERE stripe_id = ?", subAcme))
        .isEqualTo("past_due");
    assertThat(adminValue("SELECT quantity::text FROM saaskit_billing.subscription_items WHERE subscription_id = ?",
        subInitech)).isEqualTo("1");
    assertThat(adminValue("SELECT tenant_id FROM saaskit_billing.subscriptions WHERE stripe_id = ?", subGlobex))
        .isEqualTo(globex.value());
    assertThat(adminValue("SELECT deleted::text FROM saaskit_billing.customers WHERE stripe_id = ?", cusHooli))
        .isEqualTo("true");
    assertThat(adminValue("SELECT stripe_id FROM saaskit_billing.subscriptions WHERE stripe_id = ?", "sub_ghost"))
        .isNull();
    DriftReport after = billing.reconciler().sync(false);
    assertThat(after.drifts()).isEmpty();
    assertThat(after.isClean()).isTrue();

    // the metrics facts follow the fixed mirror, from the emulator's real subscription JSON
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    BillingMetrics.bind(billing, registry);
    assertThat(registry.get("saaskit.billing.subscriptions").tag("status", "past_due").gauge().value()).isEqualTo(1);
    assertThat(registry.get("saaskit.billing.subscriptions").tag("status", "active").gauge().value()).isEqualTo(2);
    // acme 3 x 20.00 monthly (past due), globex 200.00 yearly = 16.67, initech 1 x 20.00: in cents
    assertThat(registry.get("saaskit.billing.mrr").tag("currency", "usd").gauge().value()).isEqualTo(6000 + 1667 + 2000);
  }

  @Test
  void aFixDropsTheTenantsCachedEntitlementsAndTellsTheChangeListener() throws Exception {
    List<String> inTransaction = new java.util.concurrent.CopyOnWriteArrayList<>();
    List<String> afterCommit = new java.util.concurrent.CopyOnWriteArrayList<>();
    Billing node = Billing.create(BillingConfig.builder().stripeApiKey(emu.apiKey()).stripeApiBase(emu.apiBase())
        .webhookSecrets(emu.webhookSecret()).clock(clock).stripeMaxRetries(0)
        .changeListener(new BillingChangeListener() {
          @Override
          public void billingChanged(TenantId tenant) {
            afterCommit.add(tenant.value());
          }

          @Override
          public void inTransaction(Connection connection, TenantId tenant) {
            inTransaction.add(tenant.value());
          }
        }).build(), db.appDataSource());
    TenantId acme = TenantId.of("rec-cache");
    String price = post("/v1/prices", Map.of("product_data", Map.of("name", "Team"), "currency", "usd",
        "unit_amount", 1000, "recurring", Map.of("interval", "month")));
    String sub = subscription(customer(acme), price, 2);
    node.reconciler().sync(true);
    assertThat(node.hasAccess(acme)).isTrue(); // now cached on this node
    inTransaction.clear();
    afterCommit.clear();

    // Stripe cancels it and the webhook is lost: the reconciler finds and fixes it
    emu.silently(() -> emu.setSubscriptionStatus(sub, "canceled"));
    DriftReport fixing = node.reconciler().sync(true);
    assertThat(fixing.fixedObjects()).isPositive();
    assertThat(adminValue("SELECT status FROM saaskit_billing.subscriptions WHERE stripe_id = ?", sub))
        .isEqualTo("canceled");

    // the fixed mirror is what this node answers at once (not a cached grant for up to five minutes), and the
    // other nodes are told through the change listener
    assertThat(node.hasAccess(acme)).isFalse();
    assertThat(inTransaction).contains(acme.value());
    assertThat(afterCommit).contains(acme.value());
  }

  @Test
  void customersWithoutATenantLinkAreReportedAndNeverGuessed() throws Exception {
    TenantId linked = TenantId.of("rec-linked");
    String orphan = customer(null);
    String ok = customer(linked);
    String price = post("/v1/prices", Map.of("product_data", Map.of("name", "Basic"), "currency", "eur",
        "unit_amount", 900, "recurring", Map.of("interval", "month")));
    String orphanSub = subscription(orphan, price, 1);
    DriftReport fixing = billing.reconciler().sync(true);
    assertThat(fixing.ofKind(Drift.Kind.UNLINKED)).extracting(Drift::objectType, Drift::objectId, Drift::tenant)
        .contains(tuple("customer", orphan, null), tuple("subscription", orphanSub, null));
    assertThat(fixing.of(ok)).extracting(Drift::kind).containsExactly(Drift.Kind.MISSING_IN_MIRROR);
    assertThat(BillingTestSupport.count(db, "SELECT count(*) FROM saaskit_billing.customers WHERE stripe_id = ?", orphan))
        .isZero();
    assertThat(BillingTestSupport.count(db, "SELECT count(*) FROM saaskit_billing.subscriptions WHERE stripe_id = ?",
        orphanSub)).isZero();
    assertThat(adminValue("SELECT tenant_id FROM saaskit_billing.customers WHERE stripe_id = ?", ok))
        .isEqualTo(linked.value());
    DriftReport again = billing.reconciler().sync(true);
    assertThat(again.drifts()).allSatisfy(d -> assertThat(d.kind()).isEqualTo(Drift.Kind.UNLINKED));
    assertThat(again.of(orphan)).hasSize(1);
  }

  @Test
  void catalogObjectsGoneFromStripeAreMarkedDeletedAndFixesThatCannotApplyAreReported() throws Exception {
    TenantId tenant = TenantId.of("rec-two-customers");
    String product = post("/v1/products", Map.of("name", "Legacy"));
    String price = post("/v1/prices", Map.of("product", product, "currency", "usd", "unit_amount", 500,
        "recurring", Map.of("interval", "month")));
    String first = customer(tenant);
    billing.reconciler().sync(true);
    emu.silently(() -> {
      emu.deleteObject(price);
      emu.deleteObject(product);
    });
    String second = customer(tenant); // a second live customer for the same tenant: the mirror keeps one per tenant
    DriftReport report = billing.reconciler().sync(true);
    assertThat(report.drifts()).extracting(Drift::kind, Drift::objectType, Drift::objectId)
        .containsExactlyInAnyOrder(tuple(Drift.Kind.MISSING_IN_STRIPE, "product", product),
            tuple(Drift.Kind.MISSING_IN_STRIPE, "price", price),
            tuple(Drift.Kind.MISSING_IN_MIRROR, "customer", second));
    assertThat(report.fixFailures()).singleElement().asString().startsWith("customer " + second);
    assertThat(adminValue("SELECT deleted::text FROM saaskit_billing.products WHERE stripe_id = ?", product))
        .isEqualTo("true");
    assertThat(adminValue("SELECT (deleted AND NOT active)::text FROM saaskit_billing.prices WHERE stripe_id = ?",
        price)).isEqualTo("true");
    assertThat(adminValue("SELECT stripe_id FROM saaskit_billing.customers WHERE tenant_id = ?", tenant.value()))
        .isEqualTo(first);
    // the deleted catalog is not reported again; the customer conflict is, until an operator resolves it
    assertThat(billing.reconciler().sync(true).drifts()).extracting(Drift::objectId).containsExactly(second);
  }

  @Test
  void listsArePagedThroughWholly() throws Exception {
    for (int i = 0; i < 230; i++) {
      customer(TenantId.of("rec-page-" + i));
    }
    int before = emu.requestCount("GET", "/v1/customers");
    DriftReport fill = billing.reconciler().sync(true);
    assertThat(emu.requestCount("GET", "/v1/customers") - before).isEqualTo(3); // 100 + 100 + 30
    assertThat(fill.checked()).containsEntry("customer", 230);
    assertThat(fill.ofKind(Drift.Kind.MISSING_IN_MIRROR)).hasSize(230);
    assertThat(fill.fixedObjects()).isEqualTo(230);
    assertThat(BillingTestSupport.count(db, "SELECT count(DISTINCT tenant_id) FROM saaskit_billing.customers"))
        .isEqualTo(230);
    assertThat(billing.reconciler().sync(false).drifts()).isEmpty();
  }

  @Test
  void aMirrorStateNewerThanStripesAnswerIsNeitherReportedNorOverwritten() throws Exception {
    TenantId tenant = TenantId.of("rec-newer");
    String cus = customer(tenant);
    String price = post("/v1/prices", Map.of("product_data", Map.of("name", "Team"), "currency", "usd",
        "unit_amount", 1500, "recurring", Map.of("interval", "month")));
    String sub = subscription(cus, price, 2);
    billing.reconciler().sync(true);
    // a webhook applied a newer state than any list answer so far (its event is from the future of this sync)
    admin("UPDATE saaskit_billing.subscriptions SET status = 'canceled', state_as_of = now() + interval '1 day'"
        + " WHERE stripe_id = '" + sub + "'");
    DriftReport report = billing.reconciler().sync(true);
    assertThat(report.of(sub)).isEmpty();
    assertThat(adminValue("SELECT status FROM saaskit_billing.subscriptions WHERE stripe_id = ?", sub))
        .isEqualTo("canceled");
  }
}
