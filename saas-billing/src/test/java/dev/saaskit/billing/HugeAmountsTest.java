package dev.saaskit.billing;

import static dev.saaskit.billing.BillingTestSupport.count;
import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.billing.internal.MetricsQueries;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.MutableClock;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Quantities and amounts at the edge of a long (or not numbers at all) in a correctly signed subscription event: the
 * mirror stores them and the business metrics stay readable, instead of the event failing for ever on the monthly
 * amount the metrics trigger computes (a bigint overflow, or a cast of a non-number) and the tenant never getting
 * its subscription.
 */
@ExtendWith(PostgresExtension.class)
class HugeAmountsTest {
  private static final String SECRET = "whsec_huge_0123456789";
  private static final TenantId TENANT = TenantId.of("huge-acme");

  static TestDatabase db;
  static MutableClock clock = MutableClock.at(Instant.parse("2026-12-01T00:00:00Z"));
  static Billing billing;

  @BeforeAll
  static void setUp(TestDatabase database) throws Exception {
    db = database;
    BillingTestSupport.migrate(db);
    billing = Billing.create(BillingTestSupport.offline(SECRET, clock).build(), db.appDataSource());
    BillingTestSupport.linkCustomer(billing, TENANT, "cus_huge");
  }

  private static WebhookResult deliver(String eventId, String object) {
    return BillingTestSupport.deliver(billing, SECRET, clock, eventId, "customer.subscription.updated",
        clock.instant().getEpochSecond() - 10, object);
  }

  private static String subscription(String id, String quantity, String unitAmount, String intervalCount) {
    return "{\"id\":\"" + id + "\",\"object\":\"subscription\",\"customer\":\"cus_huge\",\"status\":\"active\","
        + "\"currency\":\"usd\",\"created\":1764500000,\"items\":{\"object\":\"list\",\"data\":[{\"id\":\"si_" + id
        + "\",\"object\":\"subscription_item\",\"quantity\":" + quantity + ",\"price\":{\"id\":\"price_huge\","
        + "\"object\":\"price\",\"product\":\"prod_huge\",\"currency\":\"usd\",\"unit_amount\":" + unitAmount + ","
        + "\"recurring\":{\"interval\":\"month\",\"interval_count\":" + intervalCount + "}}}]}}";
  }

  @Test
  void hugeQuantitiesAndAmountsAreMirroredAndTheMetricsStayReadable() throws Exception {
    assertThat(deliver("evt_huge1", subscription("sub_huge1", String.valueOf(Long.MAX_VALUE), "99999999", "1"))
        .outcome()).isEqualTo(WebhookResult.Outcome.APPLIED);
    assertThat(deliver("evt_huge2", subscription("sub_huge2", "9000000000000000000", "9000000000000000000", "1"))
        .outcome()).isEqualTo(WebhookResult.Outcome.APPLIED);
    assertThat(billing.entitlements(TENANT).limitOr("seats", 0)).isEqualTo(Long.MAX_VALUE);
    MetricsQueries.Snapshot metrics =
        new MetricsQueries(billing.db(), billing.mirror()).read(clock.instant(), Duration.ofDays(30));
    assertThat(metrics.subscriptionsByStatus().get("active")).isGreaterThanOrEqualTo(2L);
    // saturated, never wrapped around to a negative figure
    assertThat(metrics.mrrByCurrency()).containsEntry("usd", Long.MAX_VALUE);
  }

  @Test
  void quantitiesAndIntervalsThatAreNotNumbersCountZeroInsteadOfFailingTheEvent() throws Exception {
    assertThat(deliver("evt_huge3", subscription("sub_huge3", "\"5\"", "1000", "\"x\"")).outcome())
        .isEqualTo(WebhookResult.Outcome.APPLIED);
    assertThat(deliver("evt_huge4", subscription("sub_huge4", "2.5", "1000", "1e400")).outcome())
        .isEqualTo(WebhookResult.Outcome.APPLIED);
    // an interval_count past an int (the embedded price's column): stored as unknown, not an ArithmeticException
    assertThat(deliver("evt_huge5", subscription("sub_huge5", "1", "1000", "99999999999").replace("price_huge",
        "price_huge5")).outcome()).isEqualTo(WebhookResult.Outcome.APPLIED);
    assertThat(count(db, "SELECT count(*) FROM saaskit_billing.subscriptions WHERE stripe_id IN ('sub_huge3',"
        + " 'sub_huge4', 'sub_huge5')")).isEqualTo(3);
    assertThat(count(db, "SELECT count(*) FROM saaskit_billing.prices WHERE stripe_id = 'price_huge5'"
        + " AND interval_count IS NULL")).isOne();
  }
}
