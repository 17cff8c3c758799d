package dev.saaskit.billing;

import static dev.saaskit.billing.BillingTestSupport.count;
import static dev.saaskit.billing.BillingTestSupport.signature;
import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.testing.MutableClock;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.time.Duration;
import java.time.Instant;
import java.util.Locale;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** What the endpoint refuses: every refusal is a 4xx (or 500 when misconfigured) and stores nothing. */
@ExtendWith(PostgresExtension.class)
class WebhookRejectTest {
  private static final String SECRET = "whsec_current_0123456789";
  private static final String OLD_SECRET = "whsec_previous_0123456789";
  private static final String PRODUCT_EVENT = "{\"id\":\"evt_reject1\",\"object\":\"event\",\"type\":\"product.created\","
      + "\"created\":1764547200,\"api_version\":\"2026-07-29.dahlia\",\"livemode\":false,"
      + "\"data\":{\"object\":{\"id\":\"prod_reject1\",\"object\":\"product\",\"active\":true,\"name\":\"Pro\"}}}";

  static TestDatabase db;
  static MutableClock clock = MutableClock.at(Instant.parse("2026-12-01T00:00:00Z"));
  static Billing billing;

  @BeforeAll
  static void setUp(TestDatabase database) throws Exception {
    db = database;
    BillingTestSupport.migrate(db);
    billing = Billing.create(config().webhookSecrets(SECRET).build(), db.appDataSource());
  }

  static BillingConfig.Builder config() {
    return BillingConfig.builder().stripeApiKey("sk_test_unused").stripeApiBase("http://127.0.0.1:9")
        .refetch(false).clock(clock);
  }

  @BeforeEach
  void clean() throws Exception {
    try (var c = db.adminDataSource().getConnection(); var st = c.createStatement()) {
      st.execute("TRUNCATE saaskit_billing.events CASCADE");
      st.execute("DELETE FROM saaskit_billing.products");
    }
  }

  private static long now() {
    return clock.instant().getEpochSecond();
  }

  private static long inboxRows() throws Exception {
    return count(db, "SELECT count(*) FROM saaskit_billing.events");
  }

  private void assertRejected(WebhookResult r, int status) throws Exception {
    assertThat(r.status()).isEqualTo(status);
    assertThat(r.outcome()).isEqualTo(WebhookResult.Outcome.REJECTED);
    assertThat(r.message()).doesNotContain(SECRET).doesNotContain("Exception").doesNotContain("\tat ");
    assertThat(inboxRows()).isZero();
    assertThat(count(db, "SELECT count(*) FROM saaskit_billing.products")).isZero();
  }

  @Test
  void aValidDeliveryIsRecordedAndApplied() throws Exception {
    WebhookResult r = billing.webhooks().handle(PRODUCT_EVENT, signature(PRODUCT_EVENT, SECRET, now()));
    assertThat(r.status()).isEqualTo(200);
    assertThat(r.outcome()).isEqualTo(WebhookResult.Outcome.APPLIED);
    assertThat(r.eventId()).isEqualTo("evt_reject1");
    assertThat(count(db, "SELECT count(*) FROM saaskit_billing.events WHERE status = 'applied'")).isOne();
    assertThat(count(db, "SELECT count(*) FROM saaskit_billing.products WHERE name = 'Pro'")).isOne();
  }

  @Test
  void aTamperedBodyIsRejected() throws Exception {
    String header = signature(PRODUCT_EVENT, SECRET, now());
    assertRejected(billing.webhooks().handle(PRODUCT_EVENT.replace("Pro", "Free"), header), 400);
  }

  @Test
  void aSignatureWithAnotherSecretIsRejected() throws Exception {
    assertRejected(billing.webhooks().handle(PRODUCT_EVENT, signature(PRODUCT_EVENT, "whsec_attacker_0000000", now())),
        400);
    assertThat(billing.webhooks().stats().rejectedByReason()).containsKey("signature");
  }

  @Test
  void aStaleOrFutureTimestampIsRejected() throws Exception {
    assertRejected(billing.webhooks().handle(PRODUCT_EVENT, signature(PRODUCT_EVENT, SECRET, now() - 301)), 400);
    assertRejected(billing.webhooks().handle(PRODUCT_EVENT, signature(PRODUCT_EVENT, SECRET, now() + 301)), 400);
    // at the edge of the tolerance it is accepted
    assertThat(billing.webhooks().handle(PRODUCT_EVENT, signature(PRODUCT_EVENT, SECRET, now() - 300)).status())
        .isEqualTo(200);
  }

  @Test
  void aTimestampWhoseDistanceFromNowOverflowsALongIsRejected() throws Exception {
    // now - t wraps around to Long.MIN_VALUE, whose absolute value is negative: it must not pass for "within 300 s"
    long t = now() + Long.MIN_VALUE;
    assertRejected(billing.webhooks().handle(PRODUCT_EVENT, signature(PRODUCT_EVENT, SECRET, t)), 400);
    assertRejected(billing.webhooks().handle(PRODUCT_EVENT, signature(PRODUCT_EVENT, SECRET, Long.MIN_VALUE)), 400);
    assertRejected(billing.webhooks().handle(PRODUCT_EVENT, signature(PRODUCT_EVENT, SECRET, Long.MAX_VALUE)), 400);
  }

  @Test
  void missingOrMalformedHeadersAreRejected() throws Exception {
    assertRejected(billing.webhooks().handle(PRODUCT_EVENT, null), 400);
    assertRejected(billing.webhooks().handle(PRODUCT_EVENT, ""), 400);
    assertRejected(billing.webhooks().handle(PRODUCT_EVENT, "t=abc,v1=00"), 400);
    assertRejected(billing.webhooks().handle(PRODUCT_EVENT, "v1=" + "0".repeat(64)), 400);
    String valid = signature(PRODUCT_EVENT, SECRET, now());
    // only a v0 (the legacy scheme) is not enough
    assertRejected(billing.webhooks().handle(PRODUCT_EVENT, valid.replace("v1=", "v0=")), 400);
  }

  @Test
  void aSignatureIsAcceptedOnlyAsStripeSpellsIt() throws Exception {
    String valid = signature(PRODUCT_EVENT, SECRET, now());
    String hex = valid.substring(valid.indexOf("v1=") + 3);
    // the same 32 bytes in other spellings: fullwidth digits and letters (Character.digit reads them), upper case
    StringBuilder fullwidth = new StringBuilder();
    for (char ch : hex.toCharArray()) {
      fullwidth.append((char) (ch + 0xFEE0));
    }
    assertRejected(billing.webhooks().handle(PRODUCT_EVENT, "t=" + now() + ",v1=" + fullwidth), 400);
    assertRejected(billing.webhooks().handle(PRODUCT_EVENT, "t=" + now() + ",v1=" + hex.toUpperCase(Locale.ROOT)),
        400);
    // the same signed time in other spellings, and a second timestamp next to the signed one
    assertRejected(billing.webhooks().handle(PRODUCT_EVENT, "t=+" + now() + ",v1=" + hex), 400);
    assertRejected(billing.webhooks().handle(PRODUCT_EVENT, "t=0" + now() + ",v1=" + hex), 400);
    assertRejected(billing.webhooks().handle(PRODUCT_EVENT, valid + ",t=" + (now() + 1)), 400);
    assertRejected(billing.webhooks().handle(PRODUCT_EVENT, "t=" + (now() - 1) + "," + valid), 400);

    assertThat(billing.webhooks().handle(PRODUCT_EVENT, valid).status()).isEqualTo(200);
  }

  @Test
  void malformedJsonAndNonEventsAreRejected() throws Exception {
    String broken = "{\"id\":\"evt_x\",";
    assertRejected(billing.webhooks().handle(broken, signature(broken, SECRET, now())), 400);
    String customer = "{\"id\":\"cus_1\",\"object\":\"customer\"}";
    assertRejected(billing.webhooks().handle(customer, signature(customer, SECRET, now())), 400);
    String badId = PRODUCT_EVENT.replace("evt_reject1", "evil'); DROP TABLE x;--");
    assertRejected(billing.webhooks().handle(badId, signature(badId, SECRET, now())), 400);
    String noType = PRODUCT_EVENT.replace("\"type\":\"product.created\",", "");
    assertRejected(billing.webhooks().handle(noType, signature(noType, SECRET, now())), 400);
    String noCreated = PRODUCT_EVENT.replace("\"created\":1764547200,", "");
    assertRejected(billing.webhooks().handle(noCreated, signature(noCreated, SECRET, now())), 400);
    String array = "[1,2,3]";
    assertRejected(billing.webhooks().handle(array, signature(array, SECRET, now())), 400);
  }

  @Test
  void aBodyOverOneMebibyteIsRejectedWith413() throws Exception {
    String huge = PRODUCT_EVENT.replace("\"Pro\"", "\"" + "x".repeat(2 * 1024 * 1024) + "\"");
    assertRejected(billing.webhooks().handle(huge, signature(huge, SECRET, now())), 413);
  }

  @Test
  void duringRotationBothSecretsAreAccepted() throws Exception {
    Billing rotating = Billing.create(config().webhookSecrets(SECRET, OLD_SECRET).build(), db.appDataSource());
    WebhookResult withOld = rotating.webhooks().handle(PRODUCT_EVENT, signature(PRODUCT_EVENT, OLD_SECRET, now()));
    String second = PRODUCT_EVENT.replace("evt_reject1", "evt_reject2");
    WebhookResult withNew = rotating.webhooks().handle(second, signature(second, SECRET, now()));
    assertThat(withOld.outcome()).isEqualTo(WebhookResult.Outcome.APPLIED);
    assertThat(withNew.outcome()).isEqualTo(WebhookResult.Outcome.APPLIED);
    // a header carrying several v1 (Stripe signs with each active secret) matches if any does
    String third = PRODUCT_EVENT.replace("evt_reject1", "evt_reject3");
    String both = signature(third, "whsec_unknown_000000", now()) + ","
        + signature(third, SECRET, now()).replaceFirst("t=\\d+,", "");
    assertThat(billing.webhooks().handle(third, both).status()).isEqualTo(200);
    assertThat(inboxRows()).isEqualTo(3);
  }

  @Test
  void withoutASecretConfiguredTheEndpointAnswers500AndStoresNothing() throws Exception {
    Billing unconfigured = Billing.create(config().build(), db.appDataSource());
    WebhookResult r = unconfigured.webhooks().handle(PRODUCT_EVENT, signature(PRODUCT_EVENT, SECRET, now()));
    assertThat(r.status()).isEqualTo(500);
    assertThat(r.outcome()).isEqualTo(WebhookResult.Outcome.ERROR);
    assertThat(r.message()).contains("no signing secret configured");
    assertThat(inboxRows()).isZero();
  }

  @Test
  void unknownTypesAreStoredAsIgnoredAndAcknowledged() throws Exception {
    String unknown = PRODUCT_EVENT.replace("product.created", "radar.early_fraud_warning.created");
    WebhookResult r = billing.webhooks().handle(unknown, signature(unknown, SECRET, now()));
    assertThat(r.status()).isEqualTo(200);
    assertThat(r.outcome()).isEqualTo(WebhookResult.Outcome.IGNORED);
    assertThat(count(db, "SELECT count(*) FROM saaskit_billing.events WHERE status = 'ignored'")).isOne();
    assertThat(count(db, "SELECT count(*) FROM saaskit_billing.products")).isZero();
    WebhookResult again = billing.webhooks().handle(unknown, signature(unknown, SECRET, now()));
    assertThat(again.outcome()).isEqualTo(WebhookResult.Outcome.DUPLICATE);
  }

  @Test
  void theClockDrivesTheTolerance() throws Exception {
    String header = signature(PRODUCT_EVENT, SECRET, now());
    clock.advance(Duration.ofSeconds(301));
    try {
      assertRejected(billing.webhooks().handle(PRODUCT_EVENT, header), 400);
    } finally {
      clock.advance(Duration.ofSeconds(-301));
    }
  }
}
