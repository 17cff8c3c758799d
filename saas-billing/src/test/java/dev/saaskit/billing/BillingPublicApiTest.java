package dev.saaskit.billing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.core.ModuleSchema;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.PublicApi;
import dev.saaskit.testing.StripeEmulator;
import io.micrometer.core.instrument.MeterRegistry;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.NullMarked;
import org.junit.jupiter.api.Test;

/**
 * The shape issues 11 and 13 give saas-billing's public API: no Stripe type (nor any other third-party type) in it,
 * Micrometer's {@code MeterRegistry} in {@code BillingConfig.Builder.meterRegistry} and {@code BillingMetrics.bind}
 * excepted; values that may grow (mirrored objects, reports, statistics) are final classes with accessors and
 * factories rather than records; every package is {@code @NullMarked}; the schema object is a {@code ModuleSchema}.
 */
class BillingPublicApiTest {

  /** Micrometer's registry, where metrics are bound: {@code BillingConfig.Builder.meterRegistry} and {@code bind}. */
  private static final PublicApi.Exemption METER_REGISTRY = (owner, member, type) ->
      (owner == BillingConfig.Builder.class || owner == BillingMetrics.class)
          && type.equals(MeterRegistry.class.getName());

  @Test
  void noStripeNorOtherThirdPartyTypeInThePublicApiButTheMeterRegistry() {
    List<Class<?>> types = PublicApi.typesOf(Billing.class);
    assertThat(types).contains(Billing.class, BillingWebhooks.class, Entitlements.class, BillingConfig.Builder.class,
        Subscription.class, SubscriptionStatus.class, Invoice.class, BillingOperations.class, Usage.class);
    assertThat(PublicApi.thirdPartyNames(types, METER_REGISTRY)).isEmpty();
  }

  @Test
  void theCheckSeesAThirdPartyTypeOutsideTheMeterRegistryException() throws Exception {
    Method registry = BillingConfig.Builder.class.getMethod("meterRegistry", MeterRegistry.class);
    assertThat(PublicApi.thirdPartyNames(BillingConfig.Builder.class, registry,
        registry.getGenericParameterTypes()[0], METER_REGISTRY)).isEmpty();
    assertThat(PublicApi.thirdPartyNames(Billing.class, registry, registry.getGenericParameterTypes()[0],
        METER_REGISTRY)).hasSize(1);
    Method sample = BillingPublicApiTest.class.getDeclaredMethod("sample");
    assertThat(PublicApi.thirdPartyNames(Billing.class, sample, sample.getGenericReturnType(), METER_REGISTRY))
        .singleElement().asString().endsWith("names com.stripe.model.Subscription");
  }

  @SuppressWarnings("unused")
  private static List<com.stripe.model.Subscription> sample() {
    return List.of();
  }

  @Test
  void valuesThatMayGrowAreFinalClassesWithAccessorsNotRecords() {
    for (Class<?> c : List.of(Subscription.class, Invoice.class, DriftReport.class, UsageReport.class,
        BillingWebhooks.InboxEvent.class, BillingWebhooks.InboxSummary.class, BillingWebhooks.RetryReport.class,
        BillingWebhooks.ReplayReport.class, CheckoutRequest.class)) {
      assertThat(c.isRecord()).as(c.getName()).isFalse();
      assertThat(Modifier.isFinal(c.getModifiers())).as(c.getName()).isTrue();
      assertThat(c.getConstructors()).as(c.getName() + " has no public constructor").isEmpty();
    }
    BillingWebhooks.InboxSummary summary = BillingWebhooks.InboxSummary.of(1, 2, 3, 4, 5, 6, 7);
    assertThat(List.of(summary.received(), summary.applied(), summary.failed(), summary.ignored(),
        summary.exhausted(), summary.parked(), summary.discarded())).containsExactly(1L, 2L, 3L, 4L, 5L, 6L, 7L);
    assertThat(summary).isEqualTo(BillingWebhooks.InboxSummary.of(1, 2, 3, 4, 5, 6, 7))
        .hasSameHashCodeAs(BillingWebhooks.InboxSummary.of(1, 2, 3, 4, 5, 6, 7))
        .isNotEqualTo(BillingWebhooks.InboxSummary.of(1, 2, 3, 4, 5, 6, 8));
    assertThat(summary.toString()).contains("parked=6", "discarded=7");

    Instant now = Instant.parse("2026-05-01T00:00:00Z");
    Subscription sub = Subscription.of("sub_1", TenantId.of("acme"), "cus_1", SubscriptionStatus.ACTIVE,
        List.of(new SubscriptionItem("si_1", "price_pro", null, 3)), false, now, now.plusSeconds(60), null, null,
        null, null, "charge_automatically", null, null, false, now);
    assertThat(sub.quantityOf("price_pro")).isEqualTo(3);
    assertThat(sub).isEqualTo(Subscription.of("sub_1", TenantId.of("acme"), "cus_1", SubscriptionStatus.ACTIVE,
        List.of(new SubscriptionItem("si_1", "price_pro", null, 3)), false, now, now.plusSeconds(60), null, null,
        null, null, "charge_automatically", null, null, false, now));
    assertThat(sub.toString()).contains("id=sub_1", "status=ACTIVE");
    // cancel_at joins the value through withCancelAt, of(...) keeping its signature
    assertThat(sub.cancelAt()).isNull();
    Subscription scheduled = sub.withCancelAt(now.plusSeconds(30));
    assertThat(scheduled.cancelAt()).isEqualTo(now.plusSeconds(30));
    assertThat(scheduled).isNotEqualTo(sub).isEqualTo(sub.withCancelAt(now.plusSeconds(30)))
        .hasSameHashCodeAs(sub.withCancelAt(now.plusSeconds(30)));
    assertThat(scheduled.toString()).contains("cancelAt=" + now.plusSeconds(30));
    assertThat(scheduled.withCancelAt(null)).isEqualTo(sub);

    CheckoutRequest request = CheckoutRequest.builder(TenantId.of("acme"), "price_pro").quantity(3)
        .successUrl("https://app.test/done").cancelUrl("https://app.test/pricing").build();
    CheckoutRequest variant = request.toBuilder().trialDays(14).build();
    assertThat(List.of(variant.tenant().value(), variant.priceId(), variant.successUrl(), variant.cancelUrl()))
        .containsExactly("acme", "price_pro", "https://app.test/done", "https://app.test/pricing");
    assertThat(variant.quantity()).isEqualTo(3);
    assertThat(variant.trialDays()).isEqualTo(14);
    assertThat(variant).isNotEqualTo(request).isEqualTo(request.toBuilder().trialDays(14).build());

    DriftReport clean = DriftReport.of(List.of(), Map.of("customer", 2), false, 0, List.of());
    assertThat(clean.isClean()).isTrue();
    assertThat(clean.checked()).containsEntry("customer", 2);
  }

  @Test
  void thePinnedStripeApiVersionIsPublicAndTheOneTheDocsAndTheEmulatorName() throws Exception {
    assertThat(Billing.STRIPE_API_VERSION).isEqualTo(com.stripe.Stripe.API_VERSION)
        .isEqualTo(StripeEmulator.API_VERSION).matches("\\d{4}-\\d{2}-\\d{2}\\.[a-z]+");
    String guide = Files.readString(Path.of("..", "docs", "billing.md"));
    assertThat(guide).contains("pins Stripe API version **" + Billing.STRIPE_API_VERSION + "**");
  }

  @Test
  void everyPackageIsNullMarkedAndTheSchemaIsAModuleSchema() throws Exception {
    assertThat(Billing.class.getPackage().isAnnotationPresent(NullMarked.class)).isTrue();
    assertThat(Class.forName("dev.saaskit.billing.internal.Mirror").getPackage()
        .isAnnotationPresent(NullMarked.class)).as("dev.saaskit.billing.internal").isTrue();
    assertThat(ModuleSchema.class).isAssignableFrom(BillingSchema.class);
    assertThat(BillingSchema.builder().name("other_billing").build().toBuilder().build().name())
        .isEqualTo("other_billing");
  }
}
