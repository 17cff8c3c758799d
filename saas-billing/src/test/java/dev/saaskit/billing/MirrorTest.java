package dev.saaskit.billing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.saaskit.billing.internal.BillingDb;
import dev.saaskit.billing.internal.Mirror;
import dev.saaskit.billing.internal.StripeJson;
import dev.saaskit.core.TenantId;
import dev.saaskit.core.TenantSetting;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The mirror's conditional upserts, under RLS as the application role, with real Stripe payloads. */
@ExtendWith(PostgresExtension.class)
class MirrorTest {
  private static final TenantId ACME = TenantId.of("acme");
  private static final TenantId GLOBEX = TenantId.of("globex");
  private static final TenantId INITECH = TenantId.of("initech");

  static TestDatabase db;
  static BillingDb billingDb;
  static Mirror mirror = new Mirror(BillingSchema.DEFAULT_SCHEMA);

  @BeforeAll
  static void setUp(TestDatabase database) throws Exception {
    db = database;
    BillingTestSupport.migrate(db);
    billingDb = new BillingDb(db.appDataSource(), TenantSetting.DEFAULT);
  }

  private static ObjectNode object(String fixture) {
    return (ObjectNode) StripeJson.parseObject(BillingTestSupport.fixture(fixture)).get("data").get("object");
  }

  @Test
  void anOlderStateNeverOverwritesANewerOne() throws Exception {
    ObjectNode sub = object("stripe-ruby-mock/customer.subscription.updated.json");
    sub.put("id", "sub_order1");
    sub.put("customer", "cus_order1");
    Instant t1 = Instant.parse("2026-01-01T00:00:10Z");
    billingDb.inTransaction(ACME, "test", c -> mirror.upsertCustomer(c, ACME,
        StripeJson.parseObject("{\"id\":\"cus_order1\",\"object\":\"customer\"}"), t1));
    ObjectNode newer = sub.deepCopy().put("status", "canceled");
    ObjectNode older = sub.deepCopy().put("status", "active");
    Mirror.Outcome first = billingDb.inTransaction(ACME, "t", c -> mirror.upsertSubscription(c, ACME, newer, t1));
    Mirror.Outcome second =
        billingDb.inTransaction(ACME, "t", c -> mirror.upsertSubscription(c, ACME, older, t1.minusSeconds(5)));
    assertThat(first).isEqualTo(Mirror.Outcome.APPLIED);
    assertThat(second).isEqualTo(Mirror.Outcome.STALE);
    List<Subscription> subs = billingDb.inTransaction(ACME, "t", c -> mirror.subscriptions(c, ACME));
    assertThat(subs).singleElement().satisfies(s -> {
      assertThat(s.status()).isEqualTo(SubscriptionStatus.CANCELED);
      assertThat(s.items()).isNotEmpty();
      assertThat(s.currentPeriodEnd()).isNotNull();
    });
  }

  @Test
  void rowsOfOneTenantAreInvisibleToAnotherAndToNoTenant() throws Exception {
    ObjectNode customer = object("stripe-ruby-mock/customer.created.json").put("id", "cus_rls1");
    billingDb.inTransaction(INITECH, "t", c -> mirror.upsertCustomer(c, INITECH, customer, Instant.EPOCH));
    Optional<String> ofGlobex = billingDb.inTransaction(GLOBEX, "t", c -> mirror.customerOfTenant(c, GLOBEX));
    Optional<String> ofAcme = billingDb.inTransaction(INITECH, "t", c -> mirror.customerOfTenant(c, INITECH));
    assertThat(ofGlobex).isEmpty();
    assertThat(ofAcme).contains("cus_rls1");
    assertThat(BillingTestSupport.count(db.appDataSource(), "SELECT count(*) FROM saaskit_billing.customers")).isZero();
    // the route is readable without a tenant, through the function only
    Optional<TenantId> routed = billingDb.inTransaction(null, "t", c -> mirror.tenantOfCustomer(c, "cus_rls1"));
    assertThat(routed).contains(INITECH);
    assertThatThrownBy(() -> BillingTestSupport.count(db.appDataSource(),
        "SELECT count(*) FROM saaskit_billing.customer_routes")).hasMessageContaining("permission denied");
    // another tenant cannot take over the customer id
    assertThatThrownBy(() -> billingDb.inTransaction(GLOBEX, "t",
        c -> mirror.upsertCustomer(c, GLOBEX, customer, Instant.now()))).isInstanceOf(BillingException.class);
  }

  @Test
  void invoicesOfBothApiShapesNameTheirSubscription() throws Exception {
    ObjectNode old = object("stripe-ruby-mock/invoice.paid.json").put("id", "in_shape_old").put("customer", "cus_shape");
    old.put("subscription", "sub_shape_old");
    ObjectNode current = old.deepCopy().put("id", "in_shape_new");
    current.remove("subscription");
    current.putObject("parent").put("type", "subscription_details").putObject("subscription_details")
        .put("subscription", "sub_shape_new");
    billingDb.inTransaction(ACME, "t", c -> {
      mirror.upsertInvoice(c, ACME, old, Instant.EPOCH);
      return mirror.upsertInvoice(c, ACME, current, Instant.EPOCH);
    });
    List<Invoice> invoices = billingDb.inTransaction(ACME, "t", c -> mirror.invoices(c, ACME, 10));
    assertThat(invoices).extracting(Invoice::subscriptionId).contains("sub_shape_old", "sub_shape_new");
  }
  private static String subscriptionWithPrices(String id, String customer, String... priceIds) {
    StringBuilder items = new StringBuilder();
    for (int i = 0; i < priceIds.length; i++) {
      items.append(i == 0 ? "" : ",").append("{\"id\":\"si_").append(id).append('_').append(i)
          .append("\",\"object\":\"subscription_item\",\"quantity\":1,\"price\":{\"id\":\"").append(priceIds[i])
          .append("\",\"object\":\"price\",\"currency\":\"usd\",\"unit_amount\":100}}");
    }
    return "{\"id\":\"" + id + "\",\"object\":\"subscription\",\"customer\":\"" + customer
        + "\",\"status\":\"active\",\"items\":{\"object\":\"list\",\"data\":[" + items + "]}}";
  }

  /** Sessions of this test database waiting for a lock. */
  private static long waitingOnLocks() throws Exception {
    return BillingTestSupport.count(db, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        + " AND wait_event_type = 'Lock'");
  }

  @Test
  void twoSubscriptionsInsertingTheSameNewPricesInAnotherOrderDoNotDeadlock() throws Exception {
    // subscription A lists prices a, c, b; subscription B lists b, a: first seen, both insert them into the mirror
    ObjectNode subA = StripeJson.parseObject(subscriptionWithPrices("sub_dl_a", "cus_dl", "price_dl_a", "price_dl_c",
        "price_dl_b"));
    ObjectNode subB = StripeJson.parseObject(subscriptionWithPrices("sub_dl_b", "cus_dl", "price_dl_b", "price_dl_a"));
    java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(2);
    try (java.sql.Connection other = db.adminDataSource().getConnection()) {
      other.setAutoCommit(false);
      // another writer is inserting price c: A's write waits there, holding what it inserted before it
      try (var st = other.createStatement()) {
        st.execute("INSERT INTO saaskit_billing.prices (stripe_id, active, deleted, raw, state_as_of)"
            + " VALUES ('price_dl_c', true, false, '{}'::jsonb, 'epoch')");
      }
      java.util.concurrent.Future<Mirror.Outcome> a = pool.submit(() -> billingDb.inTransaction(ACME, "a",
          c -> mirror.upsertSubscription(c, ACME, subA, Instant.parse("2026-01-01T00:00:00Z"))));
      dev.saaskit.testing.Await.until("A waiting for price c", () -> waitingOnLocks() == 1);
      java.util.concurrent.Future<Mirror.Outcome> b = pool.submit(() -> billingDb.inTransaction(ACME, "b",
          c -> mirror.upsertSubscription(c, ACME, subB, Instant.parse("2026-01-01T00:00:00Z"))));
      dev.saaskit.testing.Await.until("B waiting too", () -> waitingOnLocks() == 2);
      other.rollback();
      // both complete: no deadlock (PostgreSQL would abort one of them, failing its event)
      assertThat(a.get(60, java.util.concurrent.TimeUnit.SECONDS)).isEqualTo(Mirror.Outcome.APPLIED);
      assertThat(b.get(60, java.util.concurrent.TimeUnit.SECONDS)).isEqualTo(Mirror.Outcome.APPLIED);
    } finally {
      pool.shutdownNow();
    }
    assertThat(BillingTestSupport.count(db, "SELECT count(*) FROM saaskit_billing.prices WHERE stripe_id LIKE 'price_dl_%'"))
        .isEqualTo(3);
  }
}
