package dev.saaskit.billing;

import static dev.saaskit.billing.BillingTestSupport.count;
import static dev.saaskit.billing.BillingTestSupport.signature;
import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.testing.MutableClock;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.time.Instant;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Correctly signed bodies that no database row can hold (a created time past any calendar, text after the JSON
 * document, a NUL or a lone surrogate PostgreSQL's jsonb refuses): a clear 4xx that stores nothing, never a 500
 * "retry" that Stripe would repeat for days without the event ever being recorded.
 */
@ExtendWith(PostgresExtension.class)
class WebhookUnstorableBodyTest {
  private static final String SECRET = "whsec_unstorable_0123456789";

  static TestDatabase db;
  static MutableClock clock = MutableClock.at(Instant.parse("2026-12-01T00:00:00Z"));
  static Billing inline;
  static Billing scheduled;

  @BeforeAll
  static void setUp(TestDatabase database) throws Exception {
    db = database;
    BillingTestSupport.migrate(db);
    BillingConfig.Builder config = BillingConfig.builder().stripeApiKey("sk_test_unused")
        .stripeApiBase("http://127.0.0.1:9").webhookSecrets(SECRET).refetch(false).clock(clock);
    inline = Billing.create(config.build(), db.appDataSource());
    scheduled = Billing.create(config.applyScheduler((c, id) -> { }).build(), db.appDataSource());
  }

  @BeforeEach
  void clean() throws Exception {
    try (var c = db.adminDataSource().getConnection(); var st = c.createStatement()) {
      st.execute("TRUNCATE saaskit_billing.events CASCADE");
      st.execute("DELETE FROM saaskit_billing.products");
    }
  }

  private static String product(String id, String created, String name) {
    return "{\"id\":\"" + id + "\",\"object\":\"event\",\"type\":\"product.created\",\"created\":" + created
        + ",\"api_version\":\"2026-07-29.dahlia\",\"livemode\":false,\"data\":{\"object\":{\"id\":\"prod_" + id
        + "\",\"object\":\"product\",\"active\":true,\"name\":" + name + "}}}";
  }

  private static void assertRefusedAndNothingStored(Billing billing, String body) throws Exception {
    WebhookResult r = billing.webhooks().handle(body, signature(body, SECRET, clock.instant().getEpochSecond()));
    assertThat(r.status()).as(r.toString()).isEqualTo(400);
    assertThat(r.outcome()).isEqualTo(WebhookResult.Outcome.REJECTED);
    assertThat(r.message()).doesNotContain("Exception").doesNotContain(SECRET);
    assertThat(count(db, "SELECT count(*) FROM saaskit_billing.events")).isZero();
    assertThat(count(db, "SELECT count(*) FROM saaskit_billing.products")).isZero();
  }

  @Test
  void aCreatedTimeBeyondAnyInstantIsRefused() throws Exception {
    assertRefusedAndNothingStored(inline, product("evt_u1", "100000000000000000", "\"Pro\""));
  }

  @Test
  void aCreatedTimeBeyondWhatTheDatabaseStoresIsRefused() throws Exception {
    assertRefusedAndNothingStored(inline, product("evt_u2", "10000000000000", "\"Pro\""));
    assertRefusedAndNothingStored(scheduled, product("evt_u2", "10000000000000", "\"Pro\""));
  }

  @Test
  void textAfterTheJsonDocumentIsMalformed() throws Exception {
    assertRefusedAndNothingStored(inline, product("evt_u3", "1764547200", "\"Pro\"") + " {\"id\":\"evt_other\"}");
  }

  @Test
  void aNulOrALoneSurrogateThatJsonbRefusesIsRefused() throws Exception {
    assertRefusedAndNothingStored(inline, product("evt_u4", "1764547200", "\"Pro\\u0000\""));
    assertRefusedAndNothingStored(inline, product("evt_u5", "1764547200", "\"Pro\\ud800\""));
    assertRefusedAndNothingStored(scheduled, product("evt_u6", "1764547200", "\"Pro\\u0000\""));
  }

  @Test
  void theSameEventWithStorableDataIsStillApplied() throws Exception {
    String body = product("evt_u7", "1764547200", "\"Pro\\u00e9\"");
    WebhookResult r = inline.webhooks().handle(body, signature(body, SECRET, clock.instant().getEpochSecond()));
    assertThat(r.outcome()).isEqualTo(WebhookResult.Outcome.APPLIED);
  }
}
