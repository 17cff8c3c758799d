package dev.saaskit.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonObject;
import com.stripe.StripeClient;
import com.stripe.exception.CardException;
import com.stripe.exception.InvalidRequestException;
import com.stripe.model.Customer;
import com.stripe.model.Invoice;
import com.stripe.model.Price;
import com.stripe.model.Subscription;
import com.stripe.model.SubscriptionSchedule;
import com.stripe.model.billing.Meter;
import com.stripe.model.billing.MeterEvent;
import com.stripe.model.billingportal.Session;
import com.stripe.net.ApiResource;
import com.stripe.param.InvoiceCreatePreviewParams;
import com.stripe.param.InvoiceListParams;
import com.stripe.param.PriceCreateParams;
import com.stripe.param.SubscriptionCreateParams;
import com.stripe.param.SubscriptionListParams;
import com.stripe.param.SubscriptionScheduleCreateParams;
import com.stripe.param.SubscriptionUpdateParams;
import com.stripe.param.billing.MeterCreateParams;
import com.stripe.param.billing.MeterEventCreateParams;
import com.stripe.param.checkout.SessionCreateParams;
import com.stripe.param.checkout.SessionRetrieveParams;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class StripeEmulatorBillingTest {
  private static final long DAY = 86_400;
  private final StripeFixture f = new StripeFixture();
  private final StripeClient stripe = f.stripe;

  @AfterEach
  void close() {
    f.close();
  }

  private com.stripe.model.checkout.Session checkout(String priceId, long quantity, Long trialDays)
      throws Exception {
    SessionCreateParams.SubscriptionData.Builder data = SessionCreateParams.SubscriptionData.builder()
        .putMetadata("tenant", "t-1");
    if (trialDays != null) {
      data.setTrialPeriodDays(trialDays);
    }
    return stripe.v1().checkout().sessions().create(SessionCreateParams.builder()
        .setMode(SessionCreateParams.Mode.SUBSCRIPTION).setCustomerEmail("buyer@acme.test")
        .setClientReferenceId("tenant-1")
        .addLineItem(SessionCreateParams.LineItem.builder().setPrice(priceId).setQuantity(quantity).build())
        .setSubscriptionData(data.build())
        .setSuccessUrl("https://app.test/ok?session={CHECKOUT_SESSION_ID}").setCancelUrl("https://app.test/no")
        .build());
  }

  @Test
  void checkoutCompletionCreatesCustomerSubscriptionPaidInvoiceAndEventsInStripesOrder() throws Exception {
    Price price = f.monthly(1500);
    com.stripe.model.checkout.Session session = checkout(price.getId(), 3, null);
    assertThat(session.getStatus()).isEqualTo("open");
    assertThat(session.getUrl()).isEqualTo(f.emu.apiBase() + "/checkout/" + session.getId());
    assertThat(session.getSuccessUrl()).isEqualTo("https://app.test/ok?session=" + session.getId());
    assertThat(session.getId()).startsWith("cs_test_");

    f.emu.completeCheckout(session.getId());

    assertThat(f.emu.eventTypes()).containsExactly("product.created", "price.created", "customer.created",
        "customer.subscription.created", "invoice.created", "invoice.finalized", "invoice.paid",
        "invoice.payment_succeeded", "checkout.session.completed");
    assertThat(f.receivedTypes()).isEqualTo(f.emu.eventTypes());
    com.stripe.model.checkout.Session done = stripe.v1().checkout().sessions().retrieve(session.getId(),
        SessionRetrieveParams.builder().addExpand("subscription").addExpand("customer").addExpand("line_items")
            .build());
    assertThat(done.getStatus()).isEqualTo("complete");
    assertThat(done.getPaymentStatus()).isEqualTo("paid");
    assertThat(done.getClientReferenceId()).isEqualTo("tenant-1");
    assertThat(done.getCustomerObject().getEmail()).isEqualTo("buyer@acme.test");
    assertThat(done.getCustomerObject().getMetadata()).isEmpty();
    Subscription sub = done.getSubscriptionObject();
    assertThat(sub.getStatus()).isEqualTo("active");
    assertThat(sub.getMetadata()).containsEntry("tenant", "t-1");
    assertThat(sub.getItems().getData().get(0).getQuantity()).isEqualTo(3L);
    assertThat(sub.getItems().getData().get(0).getCurrentPeriodStart()).isEqualTo(StripeFixture.START
        .getEpochSecond());
    assertThat(sub.getItems().getData().get(0).getCurrentPeriodEnd())
        .isEqualTo(StripeFixture.START.getEpochSecond() + 31 * DAY);
    assertThat(done.getLineItems().getData().get(0).getAmountTotal()).isEqualTo(4500L);

    Invoice invoice = stripe.v1().invoices().retrieve(sub.getLatestInvoice());
    assertThat(invoice.getStatus()).isEqualTo("paid");
    assertThat(invoice.getAmountPaid()).isEqualTo(4500L);
    assertThat(invoice.getAmountRemaining()).isZero();
    assertThat(invoice.getParent().getType()).isEqualTo("subscription_details");
    assertThat(invoice.getParent().getSubscriptionDetails().getSubscription()).isEqualTo(sub.getId());
    assertThat(invoice.getLines().getData()).hasSize(1);
    assertThat(invoice.getLines().getData().get(0).getAmount()).isEqualTo(4500L);
    assertThat(invoice.getLines().getData().get(0).getPricing().getPriceDetails().getPrice())
        .isEqualTo(price.getId());

    assertThatThrownBy(() -> f.emu.completeCheckout(session.getId())).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void renewalMovesTheItemPeriodAndPaysANewInvoice() throws Exception {
    Customer c = f.customer("r@acme.test");
    Price price = f.monthly(1000);
    Subscription sub = f.subscribe(c.getId(), price.getId(), 1);
    long end = sub.getItems().getData().get(0).getCurrentPeriodEnd();
    f.received.clear();

    f.emu.advanceClock(Duration.ofDays(31).plusHours(1));

    Subscription renewed = stripe.v1().subscriptions().retrieve(sub.getId());
    assertThat(renewed.getStatus()).isEqualTo("active");
    assertThat(renewed.getItems().getData().get(0).getCurrentPeriodStart()).isEqualTo(end);
    assertThat(renewed.getLatestInvoice()).isNotEqualTo(sub.getLatestInvoice());
    Invoice inv = stripe.v1().invoices().retrieve(renewed.getLatestInvoice());
    assertThat(inv.getStatus()).isEqualTo("paid");
    assertThat(inv.getBillingReason()).isEqualTo("subscription_cycle");
    assertThat(inv.getCreated()).isEqualTo(end);
    assertThat(f.receivedTypes()).containsExactly("customer.subscription.updated", "invoice.created",
        "invoice.finalized", "invoice.paid", "invoice.payment_succeeded");
    JsonObject updated = ApiResource.GSON.fromJson(f.received.get(0), JsonObject.class);
    assertThat(updated.getAsJsonObject("data").getAsJsonObject("previous_attributes").has("items")).isTrue();
    assertThat(f.emu.now()).isEqualTo(StripeFixture.START.plus(Duration.ofDays(31).plusHours(1)));
    assertThat(stripe.v1().invoices().list(InvoiceListParams.builder().setSubscription(sub.getId()).build())
        .getData()).hasSize(2);
  }

  @Test
  void failedRenewalDunsThreeTimesThenCancels() throws Exception {
    Customer c = f.customer("d@acme.test");
    Price price = f.monthly(1000);
    Subscription sub = f.subscribe(c.getId(), price.getId(), 1);
    f.emu.failPayments(c.getId(), true);
    f.received.clear();

    f.emu.advanceClock(Duration.ofDays(31));
    Subscription pastDue = stripe.v1().subscriptions().retrieve(sub.getId());
    assertThat(pastDue.getStatus()).isEqualTo("past_due");
    Invoice failed = stripe.v1().invoices().retrieve(pastDue.getLatestInvoice());
    assertThat(failed.getStatus()).isEqualTo("open");
    assertThat(failed.getAttemptCount()).isEqualTo(1L);
    long firstFailure = failed.getCreated();
    assertThat(failed.getNextPaymentAttempt()).isEqualTo(firstFailure + 3 * DAY);

    f.emu.advanceClock(Duration.ofDays(3));
    assertThat(stripe.v1().invoices().retrieve(failed.getId()).getNextPaymentAttempt())
        .isEqualTo(firstFailure + 5 * DAY);
    f.emu.advanceClock(Duration.ofDays(10));

    Subscription canceled = stripe.v1().subscriptions().retrieve(sub.getId());
    assertThat(canceled.getStatus()).isEqualTo("canceled");
    assertThat(canceled.getEndedAt()).isEqualTo(firstFailure + 7 * DAY);
    assertThat(canceled.getCancellationDetails().getReason()).isEqualTo("payment_failed");
    Invoice last = stripe.v1().invoices().retrieve(failed.getId());
    assertThat(last.getStatus()).isEqualTo("uncollectible");
    assertThat(last.getAttemptCount()).isEqualTo(4L);
    assertThat(f.receivedTypes().stream().filter("invoice.payment_failed"::equals).count()).isEqualTo(4);
    assertThat(f.receivedTypes()).endsWith("invoice.payment_failed", "invoice.marked_uncollectible",
        "customer.subscription.deleted");
    assertThat(stripe.v1().subscriptions().list(SubscriptionListParams.builder().setCustomer(c.getId()).build())
        .getData()).isEmpty();
    assertThat(stripe.v1().subscriptions().list(SubscriptionListParams.builder().setCustomer(c.getId())
        .setStatus(SubscriptionListParams.Status.ALL).build()).getData()).hasSize(1);
  }

  @Test
  void aRetryThatSucceedsMakesTheSubscriptionActiveAgain() throws Exception {
    Customer c = f.customer("d@acme.test");
    Subscription sub = f.subscribe(c.getId(), f.monthly(1000).getId(), 1);
    f.emu.failPayments(c.getId(), true);
    f.emu.advanceClock(Duration.ofDays(31));
    f.emu.failPayments(c.getId(), false);
    f.emu.advanceClock(Duration.ofDays(3));
    Subscription back = stripe.v1().subscriptions().retrieve(sub.getId());
    assertThat(back.getStatus()).isEqualTo("active");
    assertThat(stripe.v1().invoices().retrieve(back.getLatestInvoice()).getStatus()).isEqualTo("paid");
  }

  @Test
  void trialWarnsThreeDaysAheadThenConvertsOrGoesPastDue() throws Exception {
    Price price = f.monthly(2000);
    com.stripe.model.checkout.Session session = checkout(price.getId(), 1, 14L);
    f.emu.completeCheckout(session.getId());
    com.stripe.model.checkout.Session done = stripe.v1().checkout().sessions().retrieve(session.getId());
    assertThat(done.getPaymentStatus()).isEqualTo("no_payment_required");
    Subscription trial = stripe.v1().subscriptions().retrieve(done.getSubscription());
    assertThat(trial.getStatus()).isEqualTo("trialing");
    assertThat(trial.getTrialEnd()).isEqualTo(StripeFixture.START.getEpochSecond() + 14 * DAY);
    assertThat(stripe.v1().invoices().retrieve(trial.getLatestInvoice()).getAmountPaid()).isZero();

    f.emu.advanceClock(Duration.ofDays(10));
    assertThat(f.emu.eventTypes()).doesNotContain("customer.subscription.trial_will_end");
    f.emu.advanceClock(Duration.ofDays(1));
    assertThat(f.emu.eventTypes()).endsWith("customer.subscription.trial_will_end");
    assertThat(f.emu.events().get(f.emu.events().size() - 1).created())
        .isEqualTo(StripeFixture.START.getEpochSecond() + 11 * DAY);
    f.emu.advanceClock(Duration.ofDays(3));
    Subscription converted = stripe.v1().subscriptions().retrieve(trial.getId());
    assertThat(converted.getStatus()).isEqualTo("active");
    assertThat(stripe.v1().invoices().retrieve(converted.getLatestInvoice()).getAmountPaid()).isEqualTo(2000L);

    // a second trial whose card fails at conversion
    com.stripe.model.checkout.Session second = checkout(price.getId(), 1, 3L);
    f.emu.completeCheckout(second.getId());
    String subId = stripe.v1().checkout().sessions().retrieve(second.getId()).getSubscription();
    f.emu.failPayments(stripe.v1().subscriptions().retrieve(subId).getCustomer(), true);
    f.emu.advanceClock(Duration.ofDays(3));
    assertThat(stripe.v1().subscriptions().retrieve(subId).getStatus()).isEqualTo("past_due");
  }

  @Test
  void cancelAtPeriodEndCancelsAtTheBoundary() throws Exception {
    Customer c = f.customer("p@acme.test");
    Subscription sub = f.subscribe(c.getId(), f.monthly(1000).getId(), 1);
    long end = sub.getItems().getData().get(0).getCurrentPeriodEnd();
    Subscription flagged = stripe.v1().subscriptions().update(sub.getId(), SubscriptionUpdateParams.builder()
        .setCancelAtPeriodEnd(true).build());
    assertThat(flagged.getCancelAtPeriodEnd()).isTrue();
    assertThat(flagged.getCancelAt()).isEqualTo(end);
    assertThat(flagged.getStatus()).isEqualTo("active");
    f.emu.advanceClock(Duration.ofDays(30));
    assertThat(stripe.v1().subscriptions().retrieve(sub.getId()).getStatus()).isEqualTo("active");
    f.emu.advanceClock(Duration.ofDays(2));
    Subscription canceled = stripe.v1().subscriptions().retrieve(sub.getId());
    assertThat(canceled.getStatus()).isEqualTo("canceled");
    assertThat(canceled.getEndedAt()).isEqualTo(end);
    assertThat(f.emu.eventTypes()).endsWith("customer.subscription.updated", "customer.subscription.deleted");
    assertThat(stripe.v1().invoices().list(InvoiceListParams.builder().setCustomer(c.getId()).build()).getData())
        .hasSize(1);
  }

  @Test
  void cancelAtATimestampCancelsThenAndDefaultIncompleteWaitsForPayment() throws Exception {
    Customer c = f.customer("t@acme.test");
    Subscription sub = f.subscribe(c.getId(), f.monthly(1000).getId(), 1);
    long at = StripeFixture.START.getEpochSecond() + 10 * DAY;
    stripe.v1().subscriptions().update(sub.getId(), SubscriptionUpdateParams.builder().setCancelAt(at).build());
    f.emu.advanceClock(Duration.ofDays(9));
    assertThat(stripe.v1().subscriptions().retrieve(sub.getId()).getStatus()).isEqualTo("active");
    f.emu.advanceClock(Duration.ofDays(2));
    Subscription canceled = stripe.v1().subscriptions().retrieve(sub.getId());
    assertThat(canceled.getStatus()).isEqualTo("canceled");
    assertThat(canceled.getEndedAt()).isEqualTo(at);

    Subscription waiting = stripe.v1().subscriptions().create(SubscriptionCreateParams.builder()
        .setCustomer(c.getId()).addItem(SubscriptionCreateParams.Item.builder().setPrice(f.monthly(500).getId())
            .build())
        .setPaymentBehavior(SubscriptionCreateParams.PaymentBehavior.DEFAULT_INCOMPLETE).build());
    assertThat(waiting.getStatus()).isEqualTo("incomplete");
    assertThat(stripe.v1().invoices().retrieve(waiting.getLatestInvoice()).getStatus()).isEqualTo("open");
    stripe.v1().invoices().pay(waiting.getLatestInvoice());
    assertThat(stripe.v1().subscriptions().retrieve(waiting.getId()).getStatus()).isEqualTo("active");
  }

  @Test
  void cancelAtOnCreateInEventsClearedByAnEmptyValueAndResolvedFromPeriodEnds() throws Exception {
    Customer c = f.customer("ca@acme.test");
    String price = f.monthly(1000).getId();
    long at = StripeFixture.START.getEpochSecond() + 12 * DAY;
    Subscription created = stripe.v1().subscriptions().create(SubscriptionCreateParams.builder()
        .setCustomer(c.getId()).addItem(SubscriptionCreateParams.Item.builder().setPrice(price).build())
        .setCancelAt(at).build());
    assertThat(created.getCancelAt()).isEqualTo(at);
    assertThat(created.getCancelAtPeriodEnd()).isFalse();
    assertThat(created.getCanceledAt()).isNotNull();
    StripeEmulator.Event event = f.emu.events().stream()
        .filter(e -> e.type().equals("customer.subscription.created") && created.getId().equals(e.objectId()))
        .findFirst().orElseThrow();
    assertThat(event.json()).contains("\"cancel_at\":" + at);

    // cancel_at="" (stripe-java's EmptyParam) clears it, and nothing is canceled then
    Subscription cleared = stripe.v1().subscriptions().update(created.getId(), SubscriptionUpdateParams.builder()
        .setCancelAt(com.stripe.param.common.EmptyParam.EMPTY).build());
    assertThat(cleared.getCancelAt()).isNull();
    assertThat(cleared.getCanceledAt()).isNull();
    assertThat(f.emu.events().get(f.emu.events().size() - 1).json()).contains("\"cancel_at\":null");
    f.emu.advanceClock(Duration.ofDays(13));
    assertThat(stripe.v1().subscriptions().retrieve(created.getId()).getStatus()).isEqualTo("active");

    // min_period_end resolves to the period end at once (a timestamp, not cancel_at_period_end)
    Subscription current = stripe.v1().subscriptions().retrieve(created.getId());
    long end = current.getItems().getData().get(0).getCurrentPeriodEnd();
    Subscription resolved = stripe.v1().subscriptions().update(created.getId(), SubscriptionUpdateParams.builder()
        .setCancelAt(SubscriptionUpdateParams.CancelAt.MIN_PERIOD_END).build());
    assertThat(resolved.getCancelAt()).isEqualTo(end);
    assertThat(resolved.getCancelAtPeriodEnd()).isFalse();
    f.emu.advanceClock(Duration.ofDays(31));
    Subscription canceled = stripe.v1().subscriptions().retrieve(created.getId());
    assertThat(canceled.getStatus()).isEqualTo("canceled");
    assertThat(canceled.getEndedAt()).isEqualTo(end);
  }

  @Test
  void prorationPreviewAndAlwaysInvoice() throws Exception {
    Customer c = f.customer("u@acme.test");
    Price basic = f.monthly(1000);
    Price pro = f.monthly(3000);
    Subscription sub = f.subscribe(c.getId(), basic.getId(), 1);
    String itemId = sub.getItems().getData().get(0).getId();
    long start = sub.getItems().getData().get(0).getCurrentPeriodStart();
    long end = sub.getItems().getData().get(0).getCurrentPeriodEnd();
    f.emu.advanceClock(Duration.ofDays(10));
    long at = start + 10 * DAY;
    double remaining = (double) (end - at) / (end - start);
    long expectedProration = Math.round(3000 * remaining) - Math.round(1000 * remaining);

    Invoice preview = stripe.v1().invoices().createPreview(InvoiceCreatePreviewParams.builder()
        .setCustomer(c.getId()).setSubscription(sub.getId())
        .setSubscriptionDetails(InvoiceCreatePreviewParams.SubscriptionDetails.builder()
            .addItem(InvoiceCreatePreviewParams.SubscriptionDetails.Item.builder().setId(itemId)
                .setPrice(pro.getId()).build())
            .setProrationDate(at)
            .build())
        .build());
    assertThat(preview.getAmountDue()).isEqualTo(expectedProration + 3000);
    assertThat(preview.getLines().getData()).hasSize(3);
    assertThat(expectedProration).isEqualTo(1355); // 21 of 31 days of the $20 difference

    Subscription upgraded = stripe.v1().subscriptions().update(sub.getId(), SubscriptionUpdateParams.builder()
        .addItem(SubscriptionUpdateParams.Item.builder().setId(itemId).setPrice(pro.getId()).build())
        .setProrationBehavior(SubscriptionUpdateParams.ProrationBehavior.ALWAYS_INVOICE)
        .setProrationDate(at)
        .build());
    assertThat(upgraded.getItems().getData().get(0).getPrice().getId()).isEqualTo(pro.getId());
    Invoice prorationInvoice = stripe.v1().invoices().retrieve(upgraded.getLatestInvoice());
    assertThat(prorationInvoice.getBillingReason()).isEqualTo("subscription_update");
    assertThat(prorationInvoice.getAmountPaid()).isEqualTo(expectedProration);
    assertThat(prorationInvoice.getStatus()).isEqualTo("paid");

    // create_prorations: the next renewal carries the proration lines
    Subscription down = stripe.v1().subscriptions().update(sub.getId(), SubscriptionUpdateParams.builder()
        .addItem(SubscriptionUpdateParams.Item.builder().setId(itemId).setPrice(basic.getId()).setQuantity(2L)
            .build())
        .build());
    assertThat(down.getLatestInvoice()).isEqualTo(upgraded.getLatestInvoice());
    f.emu.advanceClock(Duration.ofDays(21));
    Invoice renewal = stripe.v1().invoices().retrieve(stripe.v1().subscriptions().retrieve(sub.getId())
        .getLatestInvoice());
    assertThat(renewal.getLines().getData()).hasSize(3);
    assertThat(renewal.getAmountPaid()).isEqualTo(2000 + Math.round(2000 * remaining) - Math.round(3000
        * remaining));
  }

  @Test
  void seatChangesThroughTheSubscriptionItemsApi() throws Exception {
    Customer c = f.customer("seats@acme.test");
    Subscription sub = f.subscribe(c.getId(), f.monthly(1000).getId(), 5);
    String itemId = sub.getItems().getData().get(0).getId();
    com.stripe.model.SubscriptionItem item = stripe.v1().subscriptionItems().update(itemId,
        com.stripe.param.SubscriptionItemUpdateParams.builder().setQuantity(8L)
            .setProrationBehavior(com.stripe.param.SubscriptionItemUpdateParams.ProrationBehavior.NONE).build());
    assertThat(item.getQuantity()).isEqualTo(8L);
    assertThat(stripe.v1().subscriptions().retrieve(sub.getId()).getItems().getData().get(0).getQuantity())
        .isEqualTo(8L);
    assertThat(stripe.v1().subscriptionItems().list(com.stripe.param.SubscriptionItemListParams.builder()
        .setSubscription(sub.getId()).build()).getData()).extracting(com.stripe.model.SubscriptionItem::getId)
        .containsExactly(itemId);
    assertThat(f.emu.eventTypes()).endsWith("customer.subscription.updated");
    f.emu.advanceClock(Duration.ofDays(31));
    assertThat(stripe.v1().invoices().retrieve(stripe.v1().subscriptions().retrieve(sub.getId())
        .getLatestInvoice()).getAmountPaid()).isEqualTo(8000L);
  }

  @Test
  void everyEventOfALongLifeDeserializesWithStripeJava() throws Exception {
    Price price = f.monthly(1200);
    f.emu.completeCheckout(checkout(price.getId(), 2, 7L).getId());
    com.stripe.model.checkout.Session paid = checkout(price.getId(), 1, null);
    f.emu.completeCheckout(paid.getId());
    String customer = stripe.v1().checkout().sessions().retrieve(paid.getId()).getCustomer();
    f.emu.failPayments(customer, true);
    stripe.v1().subscriptionSchedules().create(SubscriptionScheduleCreateParams.builder().setCustomer(customer)
        .addPhase(SubscriptionScheduleCreateParams.Phase.builder()
            .addItem(SubscriptionScheduleCreateParams.Phase.Item.builder().setPrice(price.getId()).build())
            .build())
        .build());
    f.emu.advanceClock(Duration.ofDays(70));
    assertThat(f.emu.events().size()).isGreaterThan(30);
    for (StripeFixture.Ev e : f.typedEvents()) {
      assertThat(e.object()).as(e.type()).isNotNull();
    }
    assertThat(f.emu.eventTypes()).contains("subscription_schedule.created", "invoice.payment_failed",
        "customer.subscription.trial_will_end", "customer.subscription.deleted", "invoice.marked_uncollectible");
  }

  @Test
  void sendInvoiceStaysOpenUntilPaidAndGoesOverdue() throws Exception {
    Customer c = f.customer("i@acme.test");
    Price price = f.monthly(50_000);
    Subscription sub = stripe.v1().subscriptions().create(SubscriptionCreateParams.builder()
        .setCustomer(c.getId()).addItem(SubscriptionCreateParams.Item.builder().setPrice(price.getId()).build())
        .setCollectionMethod(SubscriptionCreateParams.CollectionMethod.SEND_INVOICE).setDaysUntilDue(30L)
        .build());
    assertThat(sub.getStatus()).isEqualTo("active");
    Invoice first = stripe.v1().invoices().retrieve(sub.getLatestInvoice());
    assertThat(first.getStatus()).isEqualTo("open");
    assertThat(first.getCollectionMethod()).isEqualTo("send_invoice");
    assertThat(first.getDueDate()).isEqualTo(first.getCreated() + 30 * DAY);
    assertThat(first.getHostedInvoiceUrl()).startsWith("https://invoice.stripe.com/");
    assertThat(f.emu.eventTypes()).endsWith("invoice.created", "invoice.finalized", "invoice.sent");

    f.emu.advanceClock(Duration.ofDays(30).plusMinutes(1));
    assertThat(f.emu.eventTypes()).contains("invoice.overdue");
    assertThat(stripe.v1().subscriptions().retrieve(sub.getId()).getStatus()).isEqualTo("past_due");

    Invoice paid = stripe.v1().invoices().pay(first.getId());
    assertThat(paid.getStatus()).isEqualTo("paid");
    assertThat(stripe.v1().subscriptions().retrieve(sub.getId()).getStatus()).isEqualTo("active");
    assertThatThrownBy(() -> stripe.v1().invoices().pay(first.getId())).isInstanceOf(InvalidRequestException.class);
  }

  @Test
  void invoiceActionsVoidUncollectibleAndDeclinedPay() throws Exception {
    Customer c = f.customer("v@acme.test");
    f.emu.failPayments(c.getId(), true);
    Subscription sub = f.subscribe(c.getId(), f.monthly(1000).getId(), 1);
    assertThat(sub.getStatus()).isEqualTo("incomplete");
    Invoice open = stripe.v1().invoices().retrieve(sub.getLatestInvoice());
    assertThat(open.getStatus()).isEqualTo("open");
    assertThatThrownBy(() -> stripe.v1().invoices().pay(open.getId())).isInstanceOfSatisfying(CardException.class,
        e -> assertThat(e.getCode()).isEqualTo("card_declined"));
    f.emu.failPayments(c.getId(), false);
    assertThat(stripe.v1().invoices().pay(open.getId()).getStatus()).isEqualTo("paid");
    assertThat(stripe.v1().subscriptions().retrieve(sub.getId()).getStatus()).isEqualTo("active");

    Customer other = f.customer("w@acme.test");
    f.emu.failPayments(other.getId(), true);
    Subscription sub2 = f.subscribe(other.getId(), f.monthly(700).getId(), 1);
    assertThat(stripe.v1().invoices().voidInvoice(sub2.getLatestInvoice()).getStatus()).isEqualTo("void");
    Subscription sub3 = f.subscribe(other.getId(), f.monthly(700).getId(), 1);
    assertThat(stripe.v1().invoices().markUncollectible(sub3.getLatestInvoice()).getStatus())
        .isEqualTo("uncollectible");
    assertThat(stripe.v1().invoices().list(InvoiceListParams.builder().setCustomer(other.getId())
        .setStatus(InvoiceListParams.Status.VOID).build()).getData()).hasSize(1);
  }

  @Test
  void annualContractBilledMonthlyEndsByItsSchedule() throws Exception {
    Customer c = f.customer("s@acme.test");
    Price price = f.monthly(10_000);
    SubscriptionSchedule schedule = stripe.v1().subscriptionSchedules().create(SubscriptionScheduleCreateParams
        .builder().setCustomer(c.getId()).setStartDate(SubscriptionScheduleCreateParams.StartDate.NOW)
        .setEndBehavior(SubscriptionScheduleCreateParams.EndBehavior.CANCEL)
        .addPhase(SubscriptionScheduleCreateParams.Phase.builder()
            .addItem(SubscriptionScheduleCreateParams.Phase.Item.builder().setPrice(price.getId()).setQuantity(1L)
                .build())
            .setDuration(SubscriptionScheduleCreateParams.Phase.Duration.builder()
                .setInterval(SubscriptionScheduleCreateParams.Phase.Duration.Interval.YEAR).build())
            .build())
        .build());
    assertThat(schedule.getId()).startsWith("sub_sched_");
    Subscription sub = stripe.v1().subscriptions().retrieve(schedule.getSubscription());
    assertThat(sub.getSchedule()).isEqualTo(schedule.getId());
    for (int month = 0; month < 11; month++) {
      f.emu.advanceClock(Duration.ofDays(31));
    }
    assertThat(stripe.v1().subscriptions().retrieve(sub.getId()).getStatus()).isEqualTo("active");
    f.emu.advanceClock(Duration.ofDays(31));
    assertThat(stripe.v1().subscriptions().retrieve(sub.getId()).getStatus()).isEqualTo("canceled");
    assertThat(stripe.v1().subscriptionSchedules().retrieve(schedule.getId()).getStatus()).isEqualTo("completed");
    assertThat(stripe.v1().invoices().list(InvoiceListParams.builder().setSubscription(sub.getId())
        .setLimit(100L).build()).getData()).hasSize(12);
  }

  @Test
  void meterEventsDeduplicateByIdentifierAndBillUsage() throws Exception {
    Meter meter = stripe.v1().billing().meters().create(MeterCreateParams.builder().setDisplayName("API calls")
        .setEventName("api_call").setDefaultAggregation(MeterCreateParams.DefaultAggregation.builder()
            .setFormula(MeterCreateParams.DefaultAggregation.Formula.SUM).build())
        .build());
    Price metered = stripe.v1().prices().create(PriceCreateParams.builder().setCurrency("usd").setUnitAmount(2L)
        .setProductData(PriceCreateParams.ProductData.builder().setName("Calls").build())
        .setRecurring(PriceCreateParams.Recurring.builder().setInterval(PriceCreateParams.Recurring.Interval.MONTH)
            .setUsageType(PriceCreateParams.Recurring.UsageType.METERED).setMeter(meter.getId()).build())
        .build());
    Customer c = f.customer("m@acme.test");
    Subscription sub = stripe.v1().subscriptions().create(SubscriptionCreateParams.builder()
        .setCustomer(c.getId()).addItem(SubscriptionCreateParams.Item.builder().setPrice(metered.getId()).build())
        .build());
    MeterEvent event = stripe.v1().billing().meterEvents().create(MeterEventCreateParams.builder()
        .setEventName("api_call").setIdentifier("call-1").putPayload("stripe_customer_id", c.getId())
        .putPayload("value", "70").build());
    assertThat(event.getIdentifier()).isEqualTo("call-1");
    assertThat(event.getPayload()).containsEntry("value", "70");
    assertThatThrownBy(() -> stripe.v1().billing().meterEvents().create(MeterEventCreateParams.builder()
        .setEventName("api_call").setIdentifier("call-1").putPayload("stripe_customer_id", c.getId())
        .putPayload("value", "70").build()))
        .isInstanceOfSatisfying(InvalidRequestException.class,
            e -> assertThat(e.getCode()).isEqualTo("resource_already_exists"));
    stripe.v1().billing().meterEvents().create(MeterEventCreateParams.builder()
        .setEventName("api_call").setIdentifier("call-2").putPayload("stripe_customer_id", c.getId())
        .putPayload("value", "30").build());
    assertThat(f.emu.meterEventTotal(c.getId(), "api_call")).isEqualTo(100);
    f.emu.advanceClock(Duration.ofDays(31));
    Invoice usage = stripe.v1().invoices().retrieve(stripe.v1().subscriptions().retrieve(sub.getId())
        .getLatestInvoice());
    assertThat(usage.getAmountPaid()).isEqualTo(200L);
  }

  @Test
  void asyncCheckoutSettlesLater() throws Exception {
    Price price = f.monthly(1000);
    com.stripe.model.checkout.Session ok = checkout(price.getId(), 1, null);
    f.emu.completeCheckoutAsync(ok.getId());
    com.stripe.model.checkout.Session pending = stripe.v1().checkout().sessions().retrieve(ok.getId());
    assertThat(pending.getStatus()).isEqualTo("complete");
    assertThat(pending.getPaymentStatus()).isEqualTo("unpaid");
    assertThat(f.emu.eventTypes()).endsWith("checkout.session.completed");
    f.emu.settleAsyncPayment(ok.getId(), true);
    assertThat(stripe.v1().checkout().sessions().retrieve(ok.getId()).getPaymentStatus()).isEqualTo("paid");
    assertThat(stripe.v1().subscriptions().retrieve(pending.getSubscription()).getStatus()).isEqualTo("active");
    assertThat(f.emu.eventTypes()).endsWith("checkout.session.async_payment_succeeded");

    com.stripe.model.checkout.Session bad = checkout(price.getId(), 1, null);
    f.emu.completeCheckoutAsync(bad.getId());
    f.emu.settleAsyncPayment(bad.getId(), false);
    assertThat(f.emu.eventTypes()).endsWith("checkout.session.async_payment_failed");
    assertThat(stripe.v1().subscriptions().retrieve(stripe.v1().checkout().sessions().retrieve(bad.getId())
        .getSubscription()).getStatus()).isEqualTo("incomplete_expired");
  }

  @Test
  void portalPauseResumeAndSilentDrift() throws Exception {
    Customer c = f.customer("z@acme.test");
    Session portal = stripe.v1().billingPortal().sessions().create(
        com.stripe.param.billingportal.SessionCreateParams.builder().setCustomer(c.getId())
            .setReturnUrl("https://app.test/billing").build());
    assertThat(portal.getId()).startsWith("bps_");
    assertThat(portal.getUrl()).startsWith("https://billing.stripe.com/");
    assertThat(portal.getReturnUrl()).isEqualTo("https://app.test/billing");

    Subscription sub = f.subscribe(c.getId(), f.monthly(1000).getId(), 1);
    f.emu.pauseSubscription(sub.getId());
    assertThat(stripe.v1().subscriptions().retrieve(sub.getId()).getStatus()).isEqualTo("paused");
    assertThat(f.emu.eventTypes()).endsWith("customer.subscription.updated", "customer.subscription.paused");
    Subscription resumed = stripe.v1().subscriptions().resume(sub.getId());
    assertThat(resumed.getStatus()).isEqualTo("active");

    int events = f.emu.events().size();
    f.emu.silently(() -> f.emu.setSubscriptionStatus(sub.getId(), "canceled"));
    assertThat(f.emu.events()).hasSize(events);
    assertThat(stripe.v1().subscriptions().retrieve(sub.getId()).getStatus()).isEqualTo("canceled");
    f.emu.silently(() -> {
      try {
        stripe.v1().customers().update(c.getId(), com.stripe.param.CustomerUpdateParams.builder()
            .setEmail("drifted@acme.test").build());
      } catch (com.stripe.exception.StripeException e) {
        throw new IllegalStateException(e);
      }
    });
    assertThat(f.emu.events()).hasSize(events);
    assertThat(stripe.v1().customers().retrieve(c.getId()).getEmail()).isEqualTo("drifted@acme.test");
    f.emu.deleteObject(c.getId());
    assertThat(stripe.v1().customers().retrieve(c.getId()).getDeleted()).isTrue();
    assertThat(f.emu.eventTypes()).endsWith("customer.deleted");
    List<String> types = f.emu.eventTypes();
    assertThat(types).doesNotContain("customer.subscription.deleted");
  }
}
