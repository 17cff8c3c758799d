package dev.saaskit.billing;

import static dev.saaskit.billing.BillingTestSupport.count;
import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.core.TenantId;
import dev.saaskit.testing.MutableClock;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Stripe sends {@code invoice.finalized}, {@code invoice.paid} and {@code invoice.payment_succeeded} within one
 * second, in any order and in parallel: of two invoice states of the same second, the later one in the invoice's
 * lifecycle (draft, open, uncollectible, then paid or void, which Stripe never leaves) is the newer one. Likewise a
 * deleted customer never comes back. Without that, a paid invoice stays "open" in the mirror (with refetch off, or
 * when two deliveries race) and locks a paying tenant out once its due date and grace have passed.
 */
@ExtendWith(PostgresExtension.class)
class InvoiceCustomerTieTest {
  private static final String SECRET = "whsec_invtie_0123456789";
  private static final TenantId TENANT = TenantId.of("invtie-acme");
  private static final Duration GRACE = Duration.ofDays(7);

  static TestDatabase db;
  static MutableClock clock = MutableClock.at(Instant.parse("2026-12-01T00:00:00Z"));
  static Billing billing;

  @BeforeAll
  static void setUp(TestDatabase database) throws Exception {
    db = database;
    BillingTestSupport.migrate(db);
    billing = Billing.create(BillingTestSupport.offline(SECRET, clock).pastDueGrace(GRACE).build(), db.appDataSource());
  }

  @BeforeEach
  void clean() throws Exception {
    try (var c = db.adminDataSource().getConnection(); var st = c.createStatement()) {
      st.execute("TRUNCATE saaskit_billing.events CASCADE");
      st.execute("DELETE FROM saaskit_billing.subscriptions");
      st.execute("DELETE FROM saaskit_billing.invoices");
      st.execute("DELETE FROM saaskit_billing.customers");
    }
    clock.set(Instant.parse("2026-12-01T00:00:00Z"));
    billing.invalidate(TENANT);
    BillingTestSupport.linkCustomer(billing, TENANT, "cus_invtie");
  }

  private static WebhookResult deliver(String eventId, String type, long created, String object) {
    return BillingTestSupport.deliver(billing, SECRET, clock, eventId, type, created, object);
  }

  private static String invoice(String id, String status, long dueDate) {
    return "{\"id\":\"" + id + "\",\"object\":\"invoice\",\"customer\":\"cus_invtie\",\"subscription\":\"sub_invtie\","
        + "\"status\":\"" + status + "\",\"collection_method\":\"send_invoice\",\"currency\":\"usd\","
        + "\"amount_due\":5000,\"amount_paid\":" + ("paid".equals(status) ? 5000 : 0) + ",\"created\":1764500000,"
        + "\"due_date\":" + dueDate + "}";
  }

  private static String termsSubscription() {
    return "{\"id\":\"sub_invtie\",\"object\":\"subscription\",\"customer\":\"cus_invtie\",\"status\":\"active\","
        + "\"collection_method\":\"send_invoice\",\"days_until_due\":30,\"created\":1764500000,"
        + "\"items\":{\"object\":\"list\",\"data\":[{\"id\":\"si_invtie\",\"object\":\"subscription_item\","
        + "\"quantity\":1,\"price\":{\"id\":\"price_invtie\",\"object\":\"price\",\"product\":\"prod_invtie\","
        + "\"currency\":\"usd\",\"unit_amount\":5000,\"recurring\":{\"interval\":\"month\"}}}]}}";
  }

  private static String invoiceStatus(String id) throws Exception {
    try (var c = db.adminDataSource().getConnection();
        var ps = c.prepareStatement("SELECT status FROM saaskit_billing.invoices WHERE stripe_id = ?")) {
      ps.setString(1, id);
      try (var rs = ps.executeQuery()) {
        return rs.next() ? rs.getString(1) : "absent";
      }
    }
  }

  @Test
  void paidThenAFinalizedOfTheSameSecondLeavesTheInvoicePaidAndTheTenantIn() throws Exception {
    long t = clock.instant().getEpochSecond() - 60;
    long due = clock.instant().plus(Duration.ofDays(30)).getEpochSecond();
    assertThat(deliver("evt_invtie0", "customer.subscription.created", t, termsSubscription()).outcome())
        .isEqualTo(WebhookResult.Outcome.APPLIED);
    assertThat(deliver("evt_invtie1", "invoice.paid", t, invoice("in_invtie1", "paid", due)).outcome())
        .isEqualTo(WebhookResult.Outcome.APPLIED);
    assertThat(deliver("evt_invtie2", "invoice.finalized", t, invoice("in_invtie1", "open", due)).status())
        .isEqualTo(200);
    assertThat(invoiceStatus("in_invtie1")).isEqualTo("paid");
    // long after the due date and its grace, the paid invoice locks nobody out
    clock.set(Instant.ofEpochSecond(due).plus(GRACE).plus(Duration.ofDays(1)));
    billing.invalidate(TENANT);
    assertThat(billing.status(TENANT).state()).isEqualTo(AccessState.ACTIVE);
    assertThat(billing.hasAccess(TENANT)).isTrue();
  }

  @Test
  void lifecycleOrderDecidesTiesAndANewerSecondStillWins() throws Exception {
    long t = clock.instant().getEpochSecond() - 60;
    long due = clock.instant().getEpochSecond();
    // void is final too
    deliver("evt_invtie3", "invoice.voided", t, invoice("in_invtie2", "void", due));
    deliver("evt_invtie4", "invoice.updated", t, invoice("in_invtie2", "open", due));
    assertThat(invoiceStatus("in_invtie2")).isEqualTo("void");
    // open is later than draft in the same second, and forwards within a second still applies
    deliver("evt_invtie5", "invoice.finalized", t, invoice("in_invtie3", "open", due));
    deliver("evt_invtie6", "invoice.created", t, invoice("in_invtie3", "draft", due));
    assertThat(invoiceStatus("in_invtie3")).isEqualTo("open");
    deliver("evt_invtie7", "invoice.marked_uncollectible", t, invoice("in_invtie3", "uncollectible", due));
    assertThat(invoiceStatus("in_invtie3")).isEqualTo("uncollectible");
    deliver("evt_invtie8", "invoice.paid", t, invoice("in_invtie3", "paid", due));
    assertThat(invoiceStatus("in_invtie3")).isEqualTo("paid");
    // a state of a later second is newer, whatever its status
    deliver("evt_invtie9", "invoice.updated", t + 1, invoice("in_invtie2", "open", due));
    assertThat(invoiceStatus("in_invtie2")).isEqualTo("open");
  }

  @Test
  void deletedThenAnUpdatedOfTheSameSecondLeavesTheCustomerDeleted() throws Exception {
    long t = clock.instant().getEpochSecond() - 60;
    String customer = "{\"id\":\"cus_invtie\",\"object\":\"customer\",\"email\":\"a@invtie.example\","
        + "\"metadata\":{\"tenant_id\":\"invtie-acme\"}}";
    assertThat(deliver("evt_custie1", "customer.deleted", t, customer).outcome())
        .isEqualTo(WebhookResult.Outcome.APPLIED);
    assertThat(deliver("evt_custie2", "customer.updated", t, customer).status()).isEqualTo(200);
    assertThat(count(db, "SELECT count(*) FROM saaskit_billing.customers WHERE stripe_id = 'cus_invtie' AND deleted"))
        .isOne();
    // a later second is newer (the route stays; Stripe would not undelete, but order is by time first)
    assertThat(deliver("evt_custie3", "customer.updated", t + 1, customer).status()).isEqualTo(200);
    assertThat(count(db, "SELECT count(*) FROM saaskit_billing.customers WHERE stripe_id = 'cus_invtie' AND deleted"))
        .isZero();
  }
}
