package dev.saaskit.billing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.tuple;

import com.fasterxml.jackson.databind.JsonNode;
import dev.saaskit.billing.internal.StripeJson;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.MutableClock;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.StripeEmulator;
import dev.saaskit.testing.TestDatabase;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Stripe's {@code cancel_at} (a cancellation scheduled at a date, by the API or the Billing Portal) against the
 * StripeEmulator over HTTP (stripe-java) and real PostgreSQL, with the emulator's signed webhooks delivered to
 * {@code handle}: mirrored and exposed, access ends when it is reached (before Stripe's event), a second checkout is
 * refused until then, {@code resume} clears it, and the reconciler reports and repairs it.
 */
@ExtendWith(PostgresExtension.class)
class CancelAtTest {
  static TestDatabase db;
  static int seed = 29; // one emulator per test, each with its own ids (the database is the class's)
  MutableClock clock;
  StripeEmulator emu;
  Billing billing;
  String monthly;

  @BeforeAll
  static void setUp(TestDatabase database) throws Exception {
    db = database;
    BillingTestSupport.migrate(db);
  }

  @BeforeEach
  void start() {
    clock = MutableClock.at(Instant.now().truncatedTo(ChronoUnit.SECONDS));
    emu = StripeEmulator.builder().clock(clock).seed(seed++).start();
    billing = Billing.create(OperationsTest.config(emu, clock).build(), db.appDataSource());
    emu.webhooks().deliverTo((body, signature) -> billing.webhooks().handle(body, signature).status());
    monthly = OperationsTest.price(billing, "Pro", 2_000, "cancel_at_pro_" + System.nanoTime());
  }

  @AfterEach
  void stop() {
    emu.close();
  }

  /** Schedules the cancellation in Stripe as the portal or another client would ({@code cancel_at}). */
  void scheduleCancel(String subscription, Instant at) {
    billing.stripe().post("/v1/subscriptions/" + subscription, Map.of("cancel_at", at.getEpochSecond()), null);
  }

  JsonNode stripeSubscription(String id) {
    return StripeJson.parseObject(emu.object(id).orElseThrow());
  }

  CheckoutRequest checkout(TenantId tenant) {
    return CheckoutRequest.builder(tenant, monthly).successUrl("https://app.example.com/done")
        .cancelUrl("https://app.example.com/back").build();
  }

  @Test
  void aCancelAtDateIsMirroredAndEndsAccessWhenReachedEvenBeforeStripesEvent() {
    TenantId tenant = TenantId.of("cancel-at-date");
    Subscription sub = OperationsTest.subscribe(billing, emu, tenant, monthly, 1);
    Instant cancelAt = emu.now().truncatedTo(ChronoUnit.SECONDS).plus(Duration.ofDays(10));
    assertThat(cancelAt).isBefore(sub.currentPeriodEnd());
    assertThat(billing.hasAccess(tenant)).isTrue(); // caches the snapshot: the webhook must drop it

    scheduleCancel(sub.id(), cancelAt); // customer.subscription.updated, signed, applied by handle
    assertThat(emu.webhooks().deliveries()).allSatisfy(d -> assertThat(d.succeeded()).as(d.type()).isTrue());
    TenantBilling status = billing.status(tenant);
    assertThat(status.subscription().cancelAt()).isEqualTo(cancelAt);
    assertThat(status.subscription().cancelAtPeriodEnd()).isFalse();
    assertThat(status.state()).isEqualTo(AccessState.CANCELING);
    assertThat(status.accessUntil()).isEqualTo(cancelAt);
    assertThat(billing.entitlements(tenant).validUntil()).isBeforeOrEqualTo(cancelAt);
    // still billing until then: a second checkout is refused
    assertThatThrownBy(() -> billing.operations().createCheckoutSession(checkout(tenant)))
        .isInstanceOf(AlreadySubscribedException.class);

    // the date is reached; Stripe's cancellation has not arrived yet (the emulator runs nothing until advanceClock)
    clock.advance(Duration.ofDays(10));
    assertThat(billing.status(tenant).state()).isEqualTo(AccessState.ENDED);
    assertThat(billing.hasAccess(tenant)).isFalse();
    assertThat(billing.status(tenant).subscription().status()).isEqualTo(SubscriptionStatus.ACTIVE);
    // ended in all but the event: the tenant may subscribe again
    assertThat(billing.operations().createCheckoutSession(checkout(tenant)).id()).startsWith("cs_");

    // then Stripe cancels it, and its event confirms the mirror
    emu.advanceClock(Duration.ofSeconds(1));
    assertThat(stripeSubscription(sub.id()).get("status").asText()).isEqualTo("canceled");
    assertThat(billing.status(tenant).subscription().status()).isEqualTo(SubscriptionStatus.CANCELED);
    assertThat(billing.status(tenant).state()).isEqualTo(AccessState.ENDED);
  }

  @Test
  void resumeClearsACancelAtDate() {
    TenantId tenant = TenantId.of("cancel-at-resume");
    Subscription sub = OperationsTest.subscribe(billing, emu, tenant, monthly, 1);
    scheduleCancel(sub.id(), emu.now().truncatedTo(ChronoUnit.SECONDS).plus(Duration.ofDays(3)));
    assertThat(billing.status(tenant).state()).isEqualTo(AccessState.CANCELING);

    Subscription resumed = billing.operations().resume(tenant);
    assertThat(resumed.cancelAt()).isNull();
    assertThat(stripeSubscription(sub.id()).get("cancel_at").isNull()).isTrue();
    assertThat(billing.status(tenant).state()).isEqualTo(AccessState.ACTIVE);
    clock.advance(Duration.ofDays(4));
    assertThat(billing.hasAccess(tenant)).isTrue();
    assertThatThrownBy(() -> billing.operations().resume(tenant)).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void theReconcilerReportsAndRepairsCancelAt() {
    TenantId tenant = TenantId.of("cancel-at-drift");
    Subscription sub = OperationsTest.subscribe(billing, emu, tenant, monthly, 1);
    Instant cancelAt = emu.now().truncatedTo(ChronoUnit.SECONDS).plus(Duration.ofDays(5));

    // scheduled in Stripe, its event lost
    emu.silently(() -> scheduleCancel(sub.id(), cancelAt));
    DriftReport report = billing.reconciler().sync(false);
    assertThat(report.drifts()).filteredOn(d -> d.objectId().equals(sub.id()))
        .extracting(Drift::kind, Drift::tenant, Drift::field, Drift::mirrorValue, Drift::stripeValue)
        .containsExactly(tuple(Drift.Kind.DIFFERENT, tenant, "cancel_at", null, cancelAt.toString()));
    assertThat(billing.status(tenant).state()).isEqualTo(AccessState.ACTIVE); // reported, not fixed

    DriftReport fixing = billing.reconciler().sync(true);
    assertThat(fixing.fixFailures()).isEmpty();
    assertThat(billing.status(tenant).subscription().cancelAt()).isEqualTo(cancelAt);
    assertThat(billing.status(tenant).state()).isEqualTo(AccessState.CANCELING);
    assertThat(billing.reconciler().sync(false).drifts()).extracting(Drift::objectId).doesNotContain(sub.id());

    // cleared in Stripe (cancel_at=""), its event lost
    emu.silently(() -> billing.stripe().post("/v1/subscriptions/" + sub.id(), Map.of("cancel_at", ""), null));
    assertThat(stripeSubscription(sub.id()).get("cancel_at").isNull()).isTrue();
    assertThat(billing.reconciler().sync(true).drifts()).filteredOn(d -> d.objectId().equals(sub.id()))
        .extracting(Drift::field, Drift::mirrorValue, Drift::stripeValue)
        .containsExactly(tuple("cancel_at", cancelAt.toString(), null));
    assertThat(billing.status(tenant).subscription().cancelAt()).isNull();
    assertThat(billing.status(tenant).state()).isEqualTo(AccessState.ACTIVE);
  }
}
