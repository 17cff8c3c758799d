package dev.saaskit.billing;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.saaskit.billing.internal.StripeJson;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.MutableClock;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.StripeEmulator;
import dev.saaskit.testing.TestDatabase;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Plan changes: the previewed proration is exactly what Stripe (the emulator) then invoices. */
@ExtendWith(PostgresExtension.class)
class PlanChangeTest {
  static TestDatabase db;
  static MutableClock clock;
  static StripeEmulator emu;
  static Billing billing;
  static String basic;
  static String premium;

  @BeforeAll
  static void setUp(TestDatabase database) throws Exception {
    db = database;
    BillingTestSupport.migrate(db);
    clock = MutableClock.atSystemTime();
    emu = StripeEmulator.builder().clock(clock).seed(5).start();
    billing = Billing.create(OperationsTest.config(emu, clock)
        .plans(Plans.of(Plan.builder("basic").lookupKeys("pc_basic").limit("projects", 5).build(),
            Plan.builder("premium").lookupKeys("pc_premium").features("sso").limit("projects", 50).build()))
        .build(), db.appDataSource());
    basic = OperationsTest.price(billing, "Basic", 1_000, "pc_basic");
    premium = OperationsTest.price(billing, "Premium", 3_000, "pc_premium");
  }

  @AfterAll
  static void tearDown() {
    emu.close();
  }

  @Test
  void thePreviewedProrationIsWhatStripeInvoices() {
    TenantId tenant = TenantId.of("pc-upgrade");
    Subscription sub = OperationsTest.subscribe(billing, emu, tenant, basic, 2);
    assertThat(billing.entitlements(tenant).plans()).containsExactly("basic");
    clock.advance(Duration.ofDays(9).plusHours(5)); // a third of the way into the period

    ProrationPreview none = billing.operations().previewPlanChange(tenant, premium, ProrationBehavior.NONE);
    assertThat(none.prorationAmount()).isZero();
    ProrationPreview preview =
        billing.operations().previewPlanChange(tenant, premium, ProrationBehavior.ALWAYS_INVOICE);
    assertThat(preview.currency()).isEqualTo("usd");
    assertThat(preview.prorationAmount()).isPositive().isLessThan(2 * (3_000 - 1_000));
    assertThat(preview.prorationDate()).isEqualTo(clock.instant().truncatedTo(java.time.temporal.ChronoUnit.SECONDS));
    ProrationPreview later =
        billing.operations().previewPlanChange(tenant, premium, ProrationBehavior.CREATE_PRORATIONS);
    assertThat(later.prorationAmount()).isEqualTo(preview.prorationAmount());
    assertThat(later.amountDue()).isEqualTo(preview.prorationAmount() + 2 * 3_000); // + the next period

    Subscription changed = billing.operations().changePlan(tenant, premium, ProrationBehavior.ALWAYS_INVOICE,
        preview.prorationDate());
    assertThat(changed.quantityOf(premium)).isEqualTo(2);
    assertThat(changed.quantityOf(basic)).isZero();

    JsonNode remoteSub = StripeJson.parseObject(emu.object(sub.id()).orElseThrow());
    String invoiceId = remoteSub.path("latest_invoice").asText();
    JsonNode invoice = billing.stripe().get("/v1/invoices/" + invoiceId, Map.of()).json();
    long prorations = 0;
    for (JsonNode line : StripeJson.listData(invoice.path("lines"))) {
      if (line.path("parent").path("subscription_item_details").path("proration").asBoolean()) {
        prorations += line.path("amount").asLong();
      }
    }
    assertThat(prorations).isEqualTo(preview.prorationAmount());
    assertThat(invoice.path("amount_due").asLong()).isEqualTo(preview.amountDue());

    billing.operations().invalidate(tenant);
    Entitlements e = billing.entitlements(tenant);
    assertThat(e.plans()).containsExactly("premium");
    assertThat(e.has("sso")).isTrue();
    assertThat(e.limitOr("projects", 0)).isEqualTo(50);
  }

  @Test
  void aDowngradeWithoutProrationChangesThePriceOnly() {
    TenantId tenant = TenantId.of("pc-downgrade");
    OperationsTest.subscribe(billing, emu, tenant, premium, 1);
    int invoicesBefore = emu.requestCount("POST", "/v1/invoices");
    Subscription changed = billing.operations().changePlan(tenant, basic, ProrationBehavior.NONE);
    assertThat(changed.quantityOf(basic)).isEqualTo(1);
    assertThat(billing.status(tenant).subscription().quantityOf(basic)).isEqualTo(1);
    assertThat(billing.entitlements(tenant).has("sso")).isFalse(); // the operation invalidated the cache
    assertThat(emu.requestCount("POST", "/v1/invoices")).isEqualTo(invoicesBefore);
  }
}
