package dev.saaskit.testing;

import static org.assertj.core.api.Assertions.assertThat;

import com.stripe.model.Customer;
import com.stripe.model.Price;
import com.stripe.model.Product;
import com.stripe.model.checkout.Session;
import com.stripe.param.PriceCreateParams;
import com.stripe.param.ProductCreateParams;
import com.stripe.param.checkout.SessionCreateParams;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The emulator's hosted checkout page, driven the way a browser would: GET the session's url, POST its form. */
class StripeEmulatorCheckoutPageTest {
  private final StripeFixture f = new StripeFixture();
  private final HttpClient browser = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER).build();

  @AfterEach
  void close() {
    f.close();
  }

  private Price price(StripeFixture fx, String productName, long cents) throws Exception {
    Product product = fx.stripe.v1().products().create(ProductCreateParams.builder().setName(productName).build());
    return fx.stripe.v1().prices().create(PriceCreateParams.builder().setProduct(product.getId())
        .setCurrency("usd").setUnitAmount(cents)
        .setRecurring(PriceCreateParams.Recurring.builder()
            .setInterval(PriceCreateParams.Recurring.Interval.MONTH).build())
        .build());
  }

  private static Session session(StripeFixture fx, String priceId, @Nullable Long trialDays,
      @Nullable String customer) throws Exception {
    SessionCreateParams.SubscriptionData.Builder data = SessionCreateParams.SubscriptionData.builder();
    if (trialDays != null) {
      data.setTrialPeriodDays(trialDays);
    }
    SessionCreateParams.Builder b = SessionCreateParams.builder()
        .setMode(SessionCreateParams.Mode.SUBSCRIPTION)
        .addLineItem(SessionCreateParams.LineItem.builder().setPrice(priceId).setQuantity(1L).build())
        .setSubscriptionData(data.build())
        .setSuccessUrl("http://localhost:8080/?checkout=success&session={CHECKOUT_SESSION_ID}")
        .setCancelUrl("http://localhost:8080/?checkout=cancel");
    if (customer != null) {
      b.setCustomer(customer);
    } else {
      b.setCustomerEmail("buyer@acme.test");
    }
    return fx.stripe.v1().checkout().sessions().create(b.build());
  }

  private HttpResponse<String> get(String url) throws Exception {
    return browser.send(HttpRequest.newBuilder(URI.create(url)).GET().build(), HttpResponse.BodyHandlers.ofString());
  }

  private HttpResponse<String> submit(String url) throws Exception {
    return browser.send(HttpRequest.newBuilder(URI.create(url))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .POST(HttpRequest.BodyPublishers.ofString("")).build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void theSessionUrlServesAPageWithThePlanTheAmountAPayButtonAndACancelLink() throws Exception {
    Session s = session(f, price(f, "Team <b>plan</b>", 4900).getId(), null, null);
    assertThat(s.getUrl()).isEqualTo(f.emu.apiBase() + "/checkout/" + s.getId());

    HttpResponse<String> page = get(s.getUrl()); // no API key: a browser opens it
    assertThat(page.statusCode()).isEqualTo(200);
    assertThat(page.headers().firstValue("Content-Type")).hasValue("text/html; charset=utf-8");
    assertThat(page.headers().firstValue("Cache-Control")).hasValue("no-store");
    assertThat(page.body())
        .contains("Team &lt;b&gt;plan&lt;/b&gt;").doesNotContain("<b>plan</b>") // escaped product name
        .contains("$49.00 / month")
        .contains("buyer@acme.test")
        .contains("id=\"pay\"")
        .contains("<form method=\"post\" action=\"/checkout/" + s.getId() + "\">")
        .contains("id=\"cancel\" href=\"http://localhost:8080/?checkout=cancel\"");
    assertThat(f.emu.eventTypes()).doesNotContain("checkout.session.completed"); // looking is not paying
  }

  @Test
  void payingCompletesTheSessionLikeCompleteCheckoutAndRedirectsToTheSuccessUrl() throws Exception {
    Session viaPage = session(f, price(f, "Pro", 1500).getId(), null, null);
    HttpResponse<String> paid = submit(viaPage.getUrl());
    assertThat(paid.statusCode()).isEqualTo(303);
    assertThat(paid.headers().firstValue("Location"))
        .hasValue("http://localhost:8080/?checkout=success&session=" + viaPage.getId());
    // the events were delivered before the answer, as for a Java completeCheckout
    assertThat(f.receivedTypes()).containsExactly("product.created", "price.created", "customer.created",
        "customer.subscription.created", "invoice.created", "invoice.finalized", "invoice.paid",
        "invoice.payment_succeeded", "checkout.session.completed");
    Session done = f.stripe.v1().checkout().sessions().retrieve(viaPage.getId());
    assertThat(done.getStatus()).isEqualTo("complete");
    assertThat(done.getPaymentStatus()).isEqualTo("paid");
    assertThat(done.getUrl()).isNull();
    assertThat(f.stripe.v1().subscriptions().retrieve(done.getSubscription()).getStatus()).isEqualTo("active");

    // the same script on a twin emulator (same seed, same clock) completed from Java: the very same events
    try (StripeFixture twin = new StripeFixture()) {
      Session viaJava = session(twin, price(twin, "Pro", 1500).getId(), null, null);
      assertThat(viaJava.getId()).isEqualTo(viaPage.getId());
      twin.emu.completeCheckout(viaJava.getId());
      // from customer.created on (the set-up events carry stripe-java's random idempotency keys)
      List<String> pageEvents = f.emu.events().stream().skip(2).map(StripeEmulator.Event::json).toList();
      List<String> javaEvents = twin.emu.events().stream().skip(2).map(StripeEmulator.Event::json).toList();
      assertThat(pageEvents).hasSize(7).isEqualTo(javaEvents);
      assertThat(f.received.subList(2, f.received.size())).isEqualTo(twin.received.subList(2, twin.received.size()));
    }
  }

  @Test
  void aCompletedSessionCannotBePaidTwice() throws Exception {
    Session s = session(f, price(f, "Pro", 1500).getId(), null, null);
    assertThat(submit(s.getUrl()).statusCode()).isEqualTo(303);
    int events = f.emu.events().size();

    HttpResponse<String> again = submit(s.getUrl());
    assertThat(again.statusCode()).isEqualTo(410);
    assertThat(again.body()).contains("id=\"error\"").contains("already complete");
    assertThat(get(s.getUrl()).statusCode()).isEqualTo(410);
    assertThat(f.emu.events()).hasSize(events);
    assertThat(f.stripe.v1().subscriptions().list(com.stripe.param.SubscriptionListParams.builder().build())
        .getData()).hasSize(1);
  }

  @Test
  void unknownExpiredAndTimedOutSessionsShowAnErrorPage() throws Exception {
    HttpResponse<String> unknown = get(f.emu.apiBase() + "/checkout/cs_test_nope");
    assertThat(unknown.statusCode()).isEqualTo(404);
    assertThat(unknown.headers().firstValue("Content-Type")).hasValue("text/html; charset=utf-8");
    assertThat(unknown.body()).contains("Unknown checkout session").doesNotContain("id=\"pay\"");
    assertThat(submit(f.emu.apiBase() + "/checkout/cs_test_nope").statusCode()).isEqualTo(404);
    Customer customer = f.customer("c@acme.test");
    assertThat(submit(f.emu.apiBase() + "/checkout/" + customer.getId()).statusCode()).isEqualTo(404);

    String priceId = price(f, "Pro", 1500).getId();
    Session expired = session(f, priceId, null, null);
    f.stripe.v1().checkout().sessions().expire(expired.getId());
    HttpResponse<String> expiredPage = get(f.emu.apiBase() + "/checkout/" + expired.getId());
    assertThat(expiredPage.statusCode()).isEqualTo(410);
    assertThat(expiredPage.body()).contains("expired");
    assertThat(submit(f.emu.apiBase() + "/checkout/" + expired.getId()).statusCode()).isEqualTo(410);

    Session old = session(f, priceId, null, null);
    f.emu.advanceClock(Duration.ofHours(25)); // past expires_at (24 hours)
    assertThat(get(old.getUrl()).statusCode()).isEqualTo(410);
    assertThat(submit(old.getUrl()).statusCode()).isEqualTo(410);
    assertThat(f.stripe.v1().checkout().sessions().retrieve(old.getId()).getStatus()).isEqualTo("open");
    assertThat(f.emu.eventTypes()).doesNotContain("checkout.session.completed", "customer.subscription.created");
  }

  @Test
  void aDeclinedCardShowsAnErrorAndLeavesTheSessionOpen() throws Exception {
    Customer customer = f.customer("poor@acme.test");
    f.emu.failPayments(customer.getId(), true);
    Session s = session(f, price(f, "Pro", 1500).getId(), null, customer.getId());

    assertThat(get(s.getUrl()).body()).contains("poor@acme.test"); // the existing customer's email
    HttpResponse<String> declined = submit(s.getUrl());
    assertThat(declined.statusCode()).isEqualTo(402);
    assertThat(declined.body()).contains("declined");
    assertThat(f.stripe.v1().checkout().sessions().retrieve(s.getId()).getStatus()).isEqualTo("open");

    f.emu.failPayments(customer.getId(), false);
    assertThat(submit(s.getUrl()).statusCode()).isEqualTo(303);
  }

  @Test
  void aTrialSessionSaysSoAndCompletesTrialing() throws Exception {
    Session s = session(f, price(f, "Pro", 1500).getId(), 14L, null);
    assertThat(get(s.getUrl()).body()).contains("Free for 14 days, then $15.00").contains("Start trial");
    assertThat(submit(s.getUrl()).statusCode()).isEqualTo(303);
    Session done = f.stripe.v1().checkout().sessions().retrieve(s.getId());
    assertThat(done.getPaymentStatus()).isEqualTo("no_payment_required");
    assertThat(f.stripe.v1().subscriptions().retrieve(done.getSubscription()).getStatus()).isEqualTo("trialing");
  }

  @Test
  void thePageNeedsNoKeyButTheApiStillDoesAndOtherMethodsAreRefused() throws Exception {
    Session s = session(f, price(f, "Pro", 1500).getId(), null, null);
    assertThat(get(f.emu.apiBase() + "/v1/checkout/sessions/" + s.getId()).statusCode()).isEqualTo(401);
    HttpResponse<String> put = browser.send(HttpRequest.newBuilder(URI.create(s.getUrl()))
        .PUT(HttpRequest.BodyPublishers.ofString("")).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(put.statusCode()).isEqualTo(405);
    assertThat(put.headers().firstValue("Allow")).hasValue("GET, HEAD, POST");
    assertThat(get(s.getUrl() + "/extra").statusCode()).isEqualTo(404);
    assertThat(List.of(f.emu.requestCount("GET", "/checkout"), f.emu.requestCount("PUT", "/checkout")))
        .containsOnly(0); // the page is not counted as an API request
  }
}
