package dev.saaskit.billing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.saaskit.billing.internal.StripeJson;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.MutableClock;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Entitlements resolved from the mirror (written directly, as webhooks would), cached per tenant: invalidation,
 * time passing a grace end without invalidation, plan resolution by id, lookup key and product, fallback, seats,
 * Stripe Entitlements. No Stripe call is made here.
 */
@ExtendWith(PostgresExtension.class)
class EntitlementsTest {
  static final Instant T0 = Instant.parse("2026-05-01T00:00:00Z");
  static final Duration GRACE = Duration.ofDays(3);

  static TestDatabase db;
  static MutableClock clock;
  static Billing billing;

  static final Plan FREE = Plan.builder("free").limit("projects", 3).build();
  static final Plan PRO = Plan.builder("pro").lookupKeys("pro_monthly").features("sso", "api")
      .limit("projects", 100).build();
  static final Plan TEAM = Plan.builder("team").priceIds("price_team").features("audit-log")
      .limit("projects", 50).limit("seats", 10).build();
  static final Plan ADDON = Plan.builder("addon").productIds("prod_addon").features("exports").build();

  @BeforeAll
  static void setUp(TestDatabase database) throws Exception {
    db = database;
    BillingTestSupport.migrate(db);
    clock = MutableClock.at(T0);
    BillingConfig config = BillingConfig.builder().stripeApiKey("sk_test_unused")
        .stripeApiBase("http://127.0.0.1:9").clock(clock).pastDueGrace(GRACE)
        .plans(Plans.builder().plan(PRO).plan(TEAM).plan(ADDON).fallback(FREE).build()).build();
    billing = Billing.create(config, db.appDataSource());
  }

  // ------------------------------------------------------------------ mirror writes (as the webhooks do them)

  static void customer(TenantId tenant, String customerId) {
    ObjectNode c = StripeJson.parseObject("{\"object\":\"customer\"}").put("id", customerId);
    c.putObject("metadata").put("tenant_id", tenant.value());
    billing.db().inTransaction(tenant, "t", x -> billing.mirror().upsertCustomer(x, tenant, c, T0));
  }

  static ObjectNode price(String id, @Nullable String lookupKey, String product) {
    ObjectNode p = StripeJson.parseObject("{\"object\":\"price\",\"currency\":\"usd\",\"unit_amount\":1000}");
    p.put("id", id).put("product", product);
    if (lookupKey != null) {
      p.put("lookup_key", lookupKey);
    }
    p.putObject("recurring").put("interval", "month").put("interval_count", 1).put("usage_type", "licensed");
    return p;
  }

  static ObjectNode subscription(String id, String customerId, String status, ObjectNode price, long quantity) {
    ObjectNode s = StripeJson.parseObject("{\"object\":\"subscription\"}");
    s.put("id", id).put("customer", customerId).put("status", status).put("cancel_at_period_end", false)
        .put("created", T0.getEpochSecond()).put("collection_method", "charge_automatically");
    ArrayNode data = s.putObject("items").putArray("data");
    ObjectNode item = data.addObject();
    item.put("id", "si_" + id).put("object", "subscription_item").put("quantity", quantity)
        .put("current_period_start", T0.getEpochSecond())
        .put("current_period_end", T0.plus(Duration.ofDays(30)).getEpochSecond());
    item.set("price", price);
    return s;
  }

  static void write(TenantId tenant, ObjectNode sub, Instant asOf) {
    billing.db().inTransaction(tenant, "t", c -> billing.mirror().upsertSubscription(c, tenant, sub, asOf));
  }

  static void openInvoice(TenantId tenant, String id, String customerId, String subId, Instant created) {
    ObjectNode inv = StripeJson.parseObject("{\"object\":\"invoice\",\"status\":\"open\",\"currency\":\"usd\"}");
    inv.put("id", id).put("customer", customerId).put("subscription", subId).put("created", created.getEpochSecond())
        .put("amount_due", 1000).put("amount_paid", 0).put("amount_remaining", 1000).put("attempt_count", 1);
    billing.db().inTransaction(tenant, "t", c -> billing.mirror().upsertInvoice(c, tenant, inv, created));
  }

  // ------------------------------------------------------------------ tests

  @Test
  void withoutASubscriptionTheFallbackPlanApplies() {
    TenantId t = TenantId.of("ent-none");
    Entitlements e = billing.entitlements(t);
    assertThat(e.hasAccess()).isFalse();
    assertThat(e.state()).isEqualTo(AccessState.NONE);
    assertThat(e.plans()).containsExactly("free");
    assertThat(e.limitOr("projects", -1)).isEqualTo(3);
    assertThat(e.limit("seats")).isEmpty();
    assertThat(e.has("sso")).isFalse();
    assertThat(billing.hasAccess(t)).isFalse();
  }

  @Test
  void plansResolveByLookupKeyPriceIdAndProductAndCombine() {
    TenantId t = TenantId.of("ent-combine");
    customer(t, "cus_ent_combine");
    write(t, subscription("sub_ec1", "cus_ent_combine", "active", price("price_pro_m", "pro_monthly", "prod_pro"), 5),
        T0);
    Entitlements pro = billing.entitlements(t);
    assertThat(pro.hasAccess()).isTrue();
    assertThat(pro.plans()).containsExactly("pro");
    assertThat(pro.has("sso")).isTrue();
    assertThat(pro.has("audit-log")).isFalse();
    assertThat(pro.limitOr("projects", 0)).isEqualTo(100);
    assertThat(pro.limitOr("seats", 0)).isEqualTo(5); // no plan declares seats: the item quantity

    write(t, subscription("sub_ec2", "cus_ent_combine", "trialing", price("price_team", null, "prod_team"), 2), T0);
    write(t, subscription("sub_ec3", "cus_ent_combine", "active", price("price_addon", null, "prod_addon"), 1), T0);
    billing.operations().invalidate(t);
    Entitlements all = billing.entitlements(t);
    assertThat(all.plans()).containsExactlyInAnyOrder("pro", "team", "addon");
    assertThat(all.features()).containsExactlyInAnyOrder("sso", "api", "audit-log", "exports");
    assertThat(all.limitOr("projects", 0)).isEqualTo(100); // the largest wins
    assertThat(all.limitOr("seats", 0)).isEqualTo(10); // team declares seats
  }

  @Test
  void aMirrorChangeShowsAfterInvalidationAndNotBefore() {
    TenantId t = TenantId.of("ent-invalidate");
    customer(t, "cus_ent_inv");
    ObjectNode sub = subscription("sub_einv", "cus_ent_inv", "active", price("price_pro_m", "pro_monthly", "prod_pro"),
        1);
    write(t, sub, T0);
    Entitlements before = billing.entitlements(t);
    assertThat(before.has("sso")).isTrue();
    assertThat(billing.entitlements(t)).isSameAs(before); // the warm path: the cached snapshot itself

    write(t, sub.deepCopy().put("status", "canceled"), T0.plusSeconds(10)); // no webhook, no invalidation
    assertThat(billing.entitlements(t)).isSameAs(before);
    assertThat(billing.hasAccess(t)).isTrue();

    billing.invalidate(t);
    Entitlements after = billing.entitlements(t);
    assertThat(after.hasAccess()).isFalse();
    assertThat(after.state()).isEqualTo(AccessState.ENDED);
    assertThat(after.plans()).containsExactly("free");
    assertThat(after.has("sso")).isFalse();
    assertThat(billing.status(t).state()).isEqualTo(AccessState.ENDED);
  }

  @Test
  void timePassingTheGraceEndFlipsTheCachedAnswerWithoutInvalidation() {
    TenantId t = TenantId.of("ent-grace");
    customer(t, "cus_ent_grace");
    clock.set(T0);
    write(t, subscription("sub_egr", "cus_ent_grace", "past_due", price("price_pro_m", "pro_monthly", "prod_pro"), 1),
        T0);
    Instant failedAt = T0.plus(Duration.ofHours(5));
    openInvoice(t, "in_egr", "cus_ent_grace", "sub_egr", failedAt);
    Instant graceEnd = failedAt.plus(GRACE);
    clock.set(failedAt.plusSeconds(1));
    Entitlements early = billing.entitlements(t);
    assertThat(early.state()).isEqualTo(AccessState.PAST_DUE_IN_GRACE);
    assertThat(early.validUntil()).isEqualTo(failedAt.plusSeconds(1).plus(Duration.ofMinutes(5))); // safety TTL
    clock.set(graceEnd.minus(Duration.ofMinutes(2)));
    Entitlements inGrace = billing.entitlements(t);
    assertThat(inGrace).isNotSameAs(early);
    assertThat(inGrace.state()).isEqualTo(AccessState.PAST_DUE_IN_GRACE);
    assertThat(inGrace.has("sso")).isTrue();
    assertThat(inGrace.validUntil()).isEqualTo(graceEnd);

    clock.set(graceEnd.minusMillis(1));
    assertThat(billing.entitlements(t)).isSameAs(inGrace);
    assertThat(billing.hasAccess(t)).isTrue();

    clock.set(graceEnd);
    assertThat(billing.hasAccess(t)).isFalse();
    Entitlements locked = billing.entitlements(t);
    assertThat(locked.state()).isEqualTo(AccessState.PAST_DUE_LOCKED);
    assertThat(locked.plans()).containsExactly("free");
    clock.set(T0);
  }

  @Test
  void theSafetyTtlBoundsASnapshot() {
    TenantId t = TenantId.of("ent-ttl");
    clock.set(T0);
    Entitlements first = billing.entitlements(t);
    assertThat(first.validUntil()).isEqualTo(T0.plus(Duration.ofMinutes(5)));
    clock.set(T0.plus(Duration.ofMinutes(5)));
    assertThat(billing.entitlements(t)).isNotSameAs(first);
    clock.set(T0);
  }

  @Test
  void stripeEntitlementsCountAsFeaturesWhileTheTenantHasAccess() {
    TenantId t = TenantId.of("ent-stripe");
    customer(t, "cus_ent_stripe");
    ObjectNode sub = subscription("sub_est", "cus_ent_stripe", "active", price("price_unknown", null, "prod_x"), 1);
    write(t, sub, T0);
    ObjectNode summary = StripeJson.parseObject("{\"object\":\"entitlements.active_entitlement_summary\"}");
    summary.put("customer", "cus_ent_stripe");
    summary.putObject("entitlements").putArray("data").addObject().put("lookup_key", "premium-support");
    billing.db().inTransaction(t, "t", c -> billing.mirror().upsertEntitlementSummary(c, t, summary, T0));
    billing.operations().invalidate(t);
    Entitlements e = billing.entitlements(t);
    assertThat(e.plans()).isEmpty(); // the price maps to no plan: access, but no plan features
    assertThat(e.hasAccess()).isTrue();
    assertThat(e.has("premium-support")).isTrue();

    write(t, sub.deepCopy().put("status", "unpaid"), T0.plusSeconds(1));
    billing.operations().invalidate(t);
    assertThat(billing.entitlements(t).has("premium-support")).isFalse();
  }

  @Test
  void theCurrentTenantIsRequired() throws Exception {
    TenantId t = TenantId.of("ent-context");
    assertThatThrownBy(() -> billing.entitlements()).isInstanceOf(dev.saaskit.core.MissingTenantException.class);
    Entitlements e = TenantContext.call(t, () -> billing.entitlements());
    assertThat(e.tenant()).isEqualTo(t);
  }

  @Test
  void manyThreadsAlternatingTenantsNeverSeeAnotherTenantsEntitlements() throws Exception {
    TenantId a = TenantId.of("ent-par-a");
    TenantId b = TenantId.of("ent-par-b");
    customer(a, "cus_ent_par_a");
    write(a, subscription("sub_epa", "cus_ent_par_a", "active", price("price_team", null, "prod_team"), 4), T0);
    ExecutorService pool = Executors.newFixedThreadPool(16);
    AtomicInteger wrong = new AtomicInteger();
    try {
      List<Future<?>> futures = new ArrayList<>();
      for (int i = 0; i < 2_000; i++) {
        int n = i;
        futures.add(pool.submit(() -> {
          TenantId t = n % 2 == 0 ? a : b;
          if (n % 97 == 0) {
            billing.operations().invalidate(t);
          }
          Entitlements e = billing.entitlements(t);
          boolean ok = e.tenant().equals(t) && (t.equals(a) ? e.has("audit-log") : !e.has("audit-log"));
          if (!ok) {
            wrong.incrementAndGet();
          }
        }));
      }
      for (Future<?> f : futures) {
        f.get();
      }
    } finally {
      pool.shutdownNow();
    }
    assertThat(wrong.get()).isZero();
  }
}
