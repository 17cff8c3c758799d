package dev.saaskit.billing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.billing.internal.AccessRules;
import dev.saaskit.billing.internal.AccessRules.OpenInvoice;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.MutableClock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The access rules, table-driven, for every state and at every boundary (grace end exactly), on a MutableClock. */
class AccessTest {
  static final TenantId T = TenantId.of("acme");
  static final Instant T0 = Instant.parse("2026-03-01T00:00:00Z");
  static final Instant PERIOD_START = T0;
  static final Instant PERIOD_END = T0.plus(Duration.ofDays(30));
  static final Duration GRACE = Duration.ofDays(7);
  static final Instant DUE = T0.plus(Duration.ofDays(10));
  static final Instant INVOICE_CREATED = T0.plus(Duration.ofDays(1));
  static final Instant CANCEL_AT = T0.plus(Duration.ofDays(12));

  static Subscription sub(String id, SubscriptionStatus status, boolean cancelAtPeriodEnd, String method,
      @Nullable Instant trialEnd) {
    return Subscription.of(id, T, "cus_1", status, List.of(new SubscriptionItem("si_" + id, "price_pro", null, 3)),
        cancelAtPeriodEnd, PERIOD_START, PERIOD_END, trialEnd == null ? null : T0, trialEnd, null, null, method,
        "send_invoice".equals(method) ? 30 : null, null, false, T0);
  }

  static Subscription sub(SubscriptionStatus status) {
    return sub("sub_1", status, false, "charge_automatically", null);
  }

  static Arguments row(String name, Subscription sub, List<OpenInvoice> invoices, Instant now, AccessState state,
      @Nullable Instant accessUntil) {
    return Arguments.of(name, sub, invoices, now, state, accessUntil);
  }

  static Stream<Arguments> table() {
    Subscription pastDue = sub(SubscriptionStatus.PAST_DUE);
    List<OpenInvoice> failed = List.of(new OpenInvoice("sub_1", null, INVOICE_CREATED));
    Instant graceEnd = INVOICE_CREATED.plus(GRACE);
    Subscription terms = sub("sub_1", SubscriptionStatus.ACTIVE, false, "send_invoice", null);
    Subscription termsPastDue = sub("sub_1", SubscriptionStatus.PAST_DUE, false, "send_invoice", null);
    List<OpenInvoice> open = List.of(new OpenInvoice("sub_1", DUE, INVOICE_CREATED));
    Instant termsEnd = DUE.plus(GRACE);
    Subscription canceling = sub("sub_1", SubscriptionStatus.ACTIVE, true, "charge_automatically", null);
    Subscription trialing = sub("sub_1", SubscriptionStatus.TRIALING, false, "charge_automatically",
        T0.plus(Duration.ofDays(14)));
    Instant mid = T0.plus(Duration.ofDays(2));
    Subscription cancelAt = sub(SubscriptionStatus.ACTIVE).withCancelAt(CANCEL_AT);
    Subscription cancelAtLater = sub(SubscriptionStatus.ACTIVE).withCancelAt(PERIOD_END.plus(Duration.ofDays(5)));
    return Stream.of(
        row("active", sub(SubscriptionStatus.ACTIVE), List.of(), mid, AccessState.ACTIVE, null),
        row("active past its period end, renewal not seen yet", sub(SubscriptionStatus.ACTIVE), List.of(),
            PERIOD_END.plusSeconds(60), AccessState.ACTIVE, null),
        row("trialing", trialing, List.of(), mid, AccessState.TRIALING, null),
        row("canceling before period end", canceling, List.of(), mid, AccessState.CANCELING, PERIOD_END),
        row("canceling 1 ns before period end", canceling, List.of(), PERIOD_END.minusNanos(1),
            AccessState.CANCELING, PERIOD_END),
        row("canceling at period end exactly", canceling, List.of(), PERIOD_END, AccessState.ENDED, null),
        row("cancel_at mid-period, before it", cancelAt, List.of(), mid, AccessState.CANCELING, CANCEL_AT),
        row("cancel_at 1 ns before it", cancelAt, List.of(), CANCEL_AT.minusNanos(1), AccessState.CANCELING,
            CANCEL_AT),
        row("cancel_at reached exactly, the cancellation event not seen yet", cancelAt, List.of(), CANCEL_AT,
            AccessState.ENDED, null),
        row("cancel_at on a trial", trialing.withCancelAt(CANCEL_AT), List.of(), mid, AccessState.CANCELING,
            CANCEL_AT),
        row("cancel_at on invoice terms with an open invoice: canceling wins", terms.withCancelAt(CANCEL_AT), open,
            CANCEL_AT, AccessState.ENDED, null),
        row("cancel_at after the period end, renewal not seen yet", cancelAtLater, List.of(),
            PERIOD_END.plusSeconds(60), AccessState.CANCELING, PERIOD_END.plus(Duration.ofDays(5))),
        row("cancel_at_period_end and a later cancel_at: the period end counts", canceling.withCancelAt(
            PERIOD_END.plus(Duration.ofDays(5))), List.of(), PERIOD_END, AccessState.ENDED, null),
        row("cancel_at_period_end and an earlier cancel_at: cancel_at counts", canceling.withCancelAt(CANCEL_AT),
            List.of(), mid, AccessState.CANCELING, CANCEL_AT),
        row("past due in grace", pastDue, failed, mid, AccessState.PAST_DUE_IN_GRACE, graceEnd),
        row("past due 1 ns before grace end", pastDue, failed, graceEnd.minusNanos(1),
            AccessState.PAST_DUE_IN_GRACE, graceEnd),
        row("past due at grace end exactly", pastDue, failed, graceEnd, AccessState.PAST_DUE_LOCKED, null),
        row("past due without a mirrored invoice: period start + grace", pastDue, List.of(),
            PERIOD_START.plus(GRACE).minusSeconds(1), AccessState.PAST_DUE_IN_GRACE, PERIOD_START.plus(GRACE)),
        row("past due, the oldest open invoice counts", pastDue,
            List.of(new OpenInvoice("sub_1", null, T0), new OpenInvoice("sub_1", null, INVOICE_CREATED)),
            T0.plus(GRACE), AccessState.PAST_DUE_LOCKED, null),
        row("past due, another subscription's invoice does not count", pastDue,
            List.of(new OpenInvoice("sub_other", null, T0.minus(Duration.ofDays(10)))), T0.plus(GRACE).minusSeconds(1),
            AccessState.PAST_DUE_IN_GRACE, PERIOD_START.plus(GRACE)),
        row("unpaid", sub(SubscriptionStatus.UNPAID), List.of(), mid, AccessState.PAST_DUE_LOCKED, null),
        row("canceled", sub(SubscriptionStatus.CANCELED), List.of(), mid, AccessState.ENDED, null),
        row("incomplete_expired", sub(SubscriptionStatus.INCOMPLETE_EXPIRED), List.of(), mid, AccessState.ENDED,
            null),
        row("incomplete", sub(SubscriptionStatus.INCOMPLETE), List.of(), mid, AccessState.INCOMPLETE, null),
        row("paused", sub(SubscriptionStatus.PAUSED), List.of(), mid, AccessState.PAUSED, null),
        row("unknown", sub(SubscriptionStatus.UNKNOWN), List.of(), mid, AccessState.UNKNOWN, null),
        row("invoice terms, nothing open", terms, List.of(), mid, AccessState.ACTIVE, null),
        row("invoice terms, open, not due", terms, open, mid, AccessState.INVOICE_OPEN, termsEnd),
        row("invoice terms, open, due exactly now", terms, open, DUE, AccessState.INVOICE_OPEN, termsEnd),
        row("invoice terms, overdue in grace", terms, open, DUE.plusSeconds(1),
            AccessState.INVOICE_OVERDUE_IN_GRACE, termsEnd),
        row("invoice terms, grace end exactly", terms, open, termsEnd, AccessState.INVOICE_OVERDUE_LOCKED, null),
        row("invoice terms, Stripe says past_due, in grace", termsPastDue, open, termsEnd.minusSeconds(1),
            AccessState.INVOICE_OVERDUE_IN_GRACE, termsEnd),
        row("invoice terms, Stripe says past_due, grace over", termsPastDue, open, termsEnd,
            AccessState.INVOICE_OVERDUE_LOCKED, null));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("table")
  void rule(String name, Subscription sub, List<OpenInvoice> invoices, Instant now, AccessState state,
      @Nullable Instant accessUntil) {
    MutableClock clock = MutableClock.at(now);
    TenantBilling billing = AccessRules.evaluate(T, List.of(sub), invoices, clock.instant(), GRACE).billing();
    assertThat(billing.state()).as(name).isEqualTo(state);
    assertThat(billing.hasAccess()).isEqualTo(state.grantsAccess());
    assertThat(billing.accessUntil()).isEqualTo(accessUntil);
    assertThat(billing.subscription()).isEqualTo(sub);
  }

  @Test
  void noSubscriptionMeansNone() {
    TenantBilling billing = AccessRules.evaluate(T, List.of(), List.of(), T0, GRACE).billing();
    assertThat(billing.state()).isEqualTo(AccessState.NONE);
    assertThat(billing.hasAccess()).isFalse();
    assertThat(billing.subscription()).isNull();
  }

  @Test
  void theBestOfSeveralSubscriptionsWins() {
    Subscription ended = sub("sub_new", SubscriptionStatus.CANCELED, false, "charge_automatically", null);
    Subscription canceling = sub("sub_mid", SubscriptionStatus.ACTIVE, true, "charge_automatically", null);
    Subscription active = sub("sub_old", SubscriptionStatus.ACTIVE, false, "charge_automatically", null);
    Instant now = T0.plus(Duration.ofDays(1));
    AccessRules.Evaluation eval = AccessRules.evaluate(T, List.of(ended, canceling, active), List.of(), now, GRACE);
    assertThat(eval.billing().state()).isEqualTo(AccessState.ACTIVE);
    assertThat(eval.billing().subscription()).isEqualTo(active);
    assertThat(eval.granting()).containsExactly(canceling, active);
    assertThat(eval.nextChange()).isEqualTo(PERIOD_END); // the canceling one ends then

    AccessRules.Evaluation two = AccessRules.evaluate(T, List.of(ended, canceling), List.of(), now, GRACE);
    assertThat(two.billing().state()).isEqualTo(AccessState.CANCELING);
    AccessRules.Evaluation none = AccessRules.evaluate(T,
        List.of(ended, sub("sub_x", SubscriptionStatus.INCOMPLETE, false, "charge_automatically", null)),
        List.of(), now, GRACE);
    assertThat(none.billing().state()).isEqualTo(AccessState.ENDED); // the newest, when none grants access
    assertThat(none.granting()).isEmpty();
  }

  @Test
  void theNextChangeIsTheGraceEnd() {
    Subscription pastDue = sub(SubscriptionStatus.PAST_DUE);
    AccessRules.Evaluation eval = AccessRules.evaluate(T, List.of(pastDue),
        List.of(new OpenInvoice("sub_1", null, INVOICE_CREATED)), INVOICE_CREATED, GRACE);
    assertThat(eval.nextChange()).isEqualTo(INVOICE_CREATED.plus(GRACE));
  }
}
