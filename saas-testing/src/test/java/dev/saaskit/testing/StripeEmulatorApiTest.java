package dev.saaskit.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonObject;
import com.stripe.StripeClient;
import com.stripe.exception.ApiException;
import com.stripe.exception.AuthenticationException;
import com.stripe.exception.IdempotencyException;
import com.stripe.exception.InvalidRequestException;
import com.stripe.exception.RateLimitException;
import com.stripe.exception.StripeException;
import com.stripe.model.Customer;
import com.stripe.model.Price;
import com.stripe.model.StripeCollection;
import com.stripe.model.Subscription;
import com.stripe.net.ApiResource;
import com.stripe.net.RequestOptions;
import com.stripe.param.CustomerCreateParams;
import com.stripe.param.CustomerListParams;
import com.stripe.param.CustomerRetrieveParams;
import com.stripe.param.CustomerUpdateParams;
import com.stripe.param.PriceCreateParams;
import com.stripe.param.PriceListParams;
import com.stripe.param.SubscriptionRetrieveParams;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class StripeEmulatorApiTest {
  private final StripeFixture f = new StripeFixture();
  private final StripeClient stripe = f.stripe;

  @AfterEach
  void close() {
    f.close();
  }

  @Test
  void customerCrudWithNestedParamsAndMetadata() throws Exception {
    Customer created = stripe.v1().customers().create(CustomerCreateParams.builder()
        .setEmail("jane@acme.test").setName("Jane").putMetadata("tenant", "t-1").putMetadata("plan", "pro")
        .setInvoiceSettings(CustomerCreateParams.InvoiceSettings.builder().setDefaultPaymentMethod("pm_card_visa")
            .build())
        .build());
    assertThat(created.getId()).startsWith("cus_");
    assertThat(created.getLivemode()).isFalse();
    assertThat(created.getCreated()).isEqualTo(StripeFixture.START.getEpochSecond());
    assertThat(created.getMetadata()).containsEntry("tenant", "t-1").containsEntry("plan", "pro");
    assertThat(created.getInvoiceSettings().getDefaultPaymentMethod()).isEqualTo("pm_card_visa");

    Customer updated = stripe.v1().customers().update(created.getId(), CustomerUpdateParams.builder()
        .setName("Jane Doe").putMetadata("plan", "").putMetadata("seats", "5").build());
    assertThat(updated.getName()).isEqualTo("Jane Doe");
    assertThat(updated.getEmail()).isEqualTo("jane@acme.test");
    assertThat(updated.getMetadata()).containsEntry("tenant", "t-1").containsEntry("seats", "5")
        .doesNotContainKey("plan");

    Customer fetched = stripe.v1().customers().retrieve(created.getId());
    assertThat(fetched.getName()).isEqualTo("Jane Doe");

    Customer deleted = stripe.v1().customers().delete(created.getId());
    assertThat(deleted.getDeleted()).isTrue();
    Customer afterDelete = stripe.v1().customers().retrieve(created.getId());
    assertThat(afterDelete.getDeleted()).isTrue();
    assertThat(f.emu.eventTypes()).containsExactly("customer.created", "customer.updated", "customer.deleted");
    JsonObject updatedEvent = ApiResource.GSON.fromJson(f.emu.events().get(1).json(), JsonObject.class);
    assertThat(updatedEvent.getAsJsonObject("data").getAsJsonObject("previous_attributes").has("name")).isTrue();
  }

  @Test
  void pages150CustomersNewestFirstByStartingAfter() throws Exception {
    List<String> createdIds = new ArrayList<>();
    for (int i = 0; i < 150; i++) {
      createdIds.add(f.customer("c" + i + "@acme.test").getId());
    }
    List<String> seen = new ArrayList<>();
    String after = null;
    int pages = 0;
    while (true) {
      CustomerListParams.Builder params = CustomerListParams.builder().setLimit(40L);
      if (after != null) {
        params.setStartingAfter(after);
      }
      StripeCollection<Customer> page = stripe.v1().customers().list(params.build());
      pages++;
      page.getData().forEach(c -> seen.add(c.getId()));
      if (!page.getHasMore()) {
        break;
      }
      after = page.getData().get(page.getData().size() - 1).getId();
    }
    assertThat(pages).isEqualTo(4);
    List<String> newestFirst = new ArrayList<>(createdIds);
    java.util.Collections.reverse(newestFirst);
    assertThat(seen).isEqualTo(newestFirst);

    StripeCollection<Customer> before = stripe.v1().customers().list(CustomerListParams.builder()
        .setLimit(3L).setEndingBefore(newestFirst.get(10)).build());
    assertThat(before.getData()).extracting(Customer::getId).containsExactlyElementsOf(newestFirst.subList(7, 10));
    assertThat(before.getHasMore()).isTrue();

    Set<String> auto = new HashSet<>();
    for (Customer c : stripe.v1().customers().list(CustomerListParams.builder().setLimit(100L).build())
        .autoPagingIterable()) {
      auto.add(c.getId());
    }
    assertThat(auto).hasSize(150);
    assertThat(f.emu.requestCount("GET", "/v1/customers")).isEqualTo(4 + 1 + 2);
  }

  @Test
  void pricesWithProductDataLookupKeysAndFilters() throws Exception {
    Price monthly = stripe.v1().prices().create(PriceCreateParams.builder().setCurrency("usd").setUnitAmount(2500L)
        .setProductData(PriceCreateParams.ProductData.builder().setName("Team").build())
        .setLookupKey("team_monthly").setNickname("Team monthly")
        .setRecurring(PriceCreateParams.Recurring.builder().setInterval(PriceCreateParams.Recurring.Interval.MONTH)
            .setIntervalCount(1L).build())
        .build());
    assertThat(monthly.getProduct()).startsWith("prod_");
    assertThat(monthly.getRecurring().getInterval()).isEqualTo("month");
    assertThat(monthly.getRecurring().getUsageType()).isEqualTo("licensed");
    assertThat(monthly.getType()).isEqualTo("recurring");
    Price other = f.monthly(900);

    StripeCollection<Price> byKey = stripe.v1().prices().list(PriceListParams.builder()
        .addLookupKey("team_monthly").build());
    assertThat(byKey.getData()).extracting(Price::getId).containsExactly(monthly.getId());
    StripeCollection<Price> byProduct = stripe.v1().prices().list(PriceListParams.builder()
        .setProduct(other.getProduct()).build());
    assertThat(byProduct.getData()).extracting(Price::getId).containsExactly(other.getId());

    assertThatThrownBy(() -> stripe.v1().prices().create(PriceCreateParams.builder().setCurrency("usd")
        .setUnitAmount(1L).setProduct(other.getProduct()).setLookupKey("team_monthly").build()))
        .isInstanceOf(InvalidRequestException.class);
  }

  @Test
  void expandsCustomerLatestInvoiceAndPrice() throws Exception {
    Customer c = f.customer("x@acme.test");
    Price price = f.monthly(1000);
    Subscription sub = f.subscribe(c.getId(), price.getId(), 2);
    Subscription expanded = stripe.v1().subscriptions().retrieve(sub.getId(), SubscriptionRetrieveParams.builder()
        .addExpand("customer").addExpand("latest_invoice").addExpand("items.data.price.product").build());
    assertThat(expanded.getCustomerObject().getEmail()).isEqualTo("x@acme.test");
    assertThat(expanded.getLatestInvoiceObject().getAmountPaid()).isEqualTo(2000L);
    assertThat(expanded.getItems().getData().get(0).getPrice().getProductObject().getName()).isEqualTo("Pro");
    StripeCollection<Subscription> listed = stripe.v1().subscriptions().list(
        com.stripe.param.SubscriptionListParams.builder().addExpand("data.customer").build());
    assertThat(listed.getData().get(0).getCustomerObject().getEmail()).isEqualTo("x@acme.test");
    Customer notExpanded = stripe.v1().customers().retrieve(c.getId(), CustomerRetrieveParams.builder().build());
    assertThat(notExpanded.getEmail()).isEqualTo("x@acme.test");
  }

  @Test
  void idempotencyKeyReplaysAndRejectsOtherParams() throws Exception {
    RequestOptions key = RequestOptions.builder().setIdempotencyKey("key-1").build();
    Customer first = stripe.v1().customers().create(CustomerCreateParams.builder().setEmail("a@acme.test").build(),
        key);
    Customer again = stripe.v1().customers().create(CustomerCreateParams.builder().setEmail("a@acme.test").build(),
        key);
    assertThat(again.getId()).isEqualTo(first.getId());
    assertThat(stripe.v1().customers().list(CustomerListParams.builder().build()).getData()).hasSize(1);
    assertThat(f.emu.eventTypes()).containsExactly("customer.created");

    assertThatThrownBy(() -> stripe.v1().customers().create(
        CustomerCreateParams.builder().setEmail("b@acme.test").build(), key))
        .isInstanceOfSatisfying(IdempotencyException.class, e -> assertThat(e.getStatusCode()).isEqualTo(400));

    HttpResponse<String> raw1 = f.raw("POST", "/v1/customers", "email=r%40acme.test", "Idempotency-Key", "k2");
    HttpResponse<String> raw2 = f.raw("POST", "/v1/customers", "email=r%40acme.test", "Idempotency-Key", "k2");
    assertThat(raw2.body()).isEqualTo(raw1.body());
    assertThat(raw2.headers().firstValue("Idempotent-Replayed")).contains("true");
    assertThat(raw1.headers().firstValue("Idempotent-Replayed")).isEmpty();
  }

  @Test
  void aKeyInUseByARequestStillRunningAnswers409AndTheRequestRunsOnce() throws Exception {
    CountDownLatch firstRunning = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    // the first request's webhook delivery runs on its own thread before it answers: holding it holds the request
    f.emu.webhooks().deliverTo((body, signature) -> {
      firstRunning.countDown();
      release.await(30, TimeUnit.SECONDS);
      return 200;
    });
    ExecutorService pool = Executors.newSingleThreadExecutor();
    try {
      Future<HttpResponse<String>> first = pool.submit(() -> f.raw("POST", "/v1/customers", "email=k%40acme.test",
          "Idempotency-Key", "busy-key"));
      assertThat(firstRunning.await(30, TimeUnit.SECONDS)).isTrue();
      HttpResponse<String> second = f.raw("POST", "/v1/customers", "email=k%40acme.test", "Idempotency-Key",
          "busy-key");
      assertThat(second.statusCode()).isEqualTo(409);
      assertThat(second.body()).contains("\"code\":\"idempotency_key_in_use\"")
          .contains("\"type\":\"idempotency_error\"");
      release.countDown();
      HttpResponse<String> answered = first.get(30, TimeUnit.SECONDS);
      assertThat(answered.statusCode()).isEqualTo(200);

      HttpResponse<String> third = f.raw("POST", "/v1/customers", "email=k%40acme.test", "Idempotency-Key",
          "busy-key");
      assertThat(third.body()).isEqualTo(answered.body());
      assertThat(third.headers().firstValue("Idempotent-Replayed")).contains("true");
      assertThat(stripe.v1().customers().list(CustomerListParams.builder().build()).getData()).hasSize(1);
    } finally {
      release.countDown();
      pool.shutdownNow();
    }
  }

  @Test
  void aRequestThatFailedValidationIsNotKeptUnderItsKey() throws Exception {
    HttpResponse<String> invalid = f.raw("POST", "/v1/products", "", "Idempotency-Key", "invalid-key");
    assertThat(invalid.statusCode()).isEqualTo(400);
    HttpResponse<String> again = f.raw("POST", "/v1/products", "", "Idempotency-Key", "invalid-key");
    assertThat(again.statusCode()).isEqualTo(400);
    assertThat(again.headers().firstValue("Idempotent-Replayed")).isEmpty();
    assertThat(again.headers().firstValue("Request-Id")).isNotEqualTo(invalid.headers().firstValue("Request-Id"));
  }

  @Test
  void errorsHaveStripesShapeAndExceptions() throws Exception {
    assertThatThrownBy(() -> stripe.v1().customers().retrieve("cus_missing"))
        .isInstanceOfSatisfying(InvalidRequestException.class, e -> {
          assertThat(e.getStatusCode()).isEqualTo(404);
          assertThat(e.getCode()).isEqualTo("resource_missing");
          assertThat(e.getStripeError().getMessage()).isEqualTo("No such customer: 'cus_missing'");
          assertThat(e.getRequestId()).startsWith("req_");
        });
    assertThatThrownBy(() -> stripe.v1().prices().create(PriceCreateParams.builder().setCurrency("usd")
        .setProduct("prod_x").build()))
        .isInstanceOfSatisfying(InvalidRequestException.class, e -> assertThat(e.getStatusCode()).isEqualTo(404));

    HttpResponse<String> missing = f.raw("POST", "/v1/products", "");
    assertThat(missing.statusCode()).isEqualTo(400);
    assertThat(missing.body()).contains("\"code\":\"parameter_missing\"").contains("\"param\":\"name\"");
    HttpResponse<String> badInt = f.raw("GET", "/v1/customers?limit=ten", "");
    assertThat(badInt.statusCode()).isEqualTo(400);
    assertThat(badInt.body()).contains("parameter_invalid_integer");
    HttpResponse<String> unknown = f.raw("GET", "/v1/nothing_here", "");
    assertThat(unknown.statusCode()).isEqualTo(404);
    assertThat(unknown.body()).contains("Unrecognized request URL");

    StripeClient wrongKey = StripeClient.builder().setApiKey("sk_test_wrong").setApiBase(f.emu.apiBase())
        .setMaxNetworkRetries(0).build();
    assertThatThrownBy(() -> wrongKey.v1().customers().list(CustomerListParams.builder().build()))
        .isInstanceOf(AuthenticationException.class);
  }

  /** stripe-java's own HTTP client, keeping the last response's headers for the test to read. */
  static final class HeaderRecordingClient extends com.stripe.net.HttpURLConnectionClient {
    volatile com.stripe.net.HttpHeaders last = com.stripe.net.HttpHeaders.of(java.util.Map.of());

    @Override
    public com.stripe.net.StripeResponse request(com.stripe.net.StripeRequest request)
        throws com.stripe.exception.ApiConnectionException {
      com.stripe.net.StripeResponse response = super.request(request);
      last = response.headers();
      return response;
    }
  }

  @Test
  void injectedRateLimitsOutagesAndVersionHeader() throws Exception {
    HeaderRecordingClient recording = new HeaderRecordingClient();
    StripeClient recorded = StripeClient.builder().setApiKey(f.emu.apiKey()).setApiBase(f.emu.apiBase())
        .setMaxNetworkRetries(0).setHttpClient(recording).build();
    f.emu.failNextRequests(1, 429, Duration.ofSeconds(1));
    assertThatThrownBy(() -> recorded.v1().customers().create(CustomerCreateParams.builder().build()))
        .isInstanceOfSatisfying(RateLimitException.class, e -> {
          assertThat(e.getStatusCode()).isEqualTo(429);
          assertThat(e.getCode()).isEqualTo("rate_limit");
        });
    assertThat(recording.last.firstValue("Retry-After")).contains("1");
    f.emu.failNextRequests(1, 429, Duration.ofSeconds(2));
    HttpResponse<String> limited = f.raw("GET", "/v1/customers", "");
    assertThat(limited.statusCode()).isEqualTo(429);
    assertThat(limited.headers().firstValue("Retry-After")).contains("2");
    assertThat(limited.body()).contains("\"code\":\"rate_limit\"");
    assertThat(f.customer("a@acme.test").getId()).startsWith("cus_");

    f.emu.down(true);
    assertThatThrownBy(() -> f.customer("b@acme.test"))
        .isInstanceOfSatisfying(ApiException.class, e -> assertThat(e.getStatusCode()).isEqualTo(503));
    f.emu.down(false);
    f.emu.failNextRequests(1, 500, null);
    assertThatThrownBy(() -> f.customer("b@acme.test")).isInstanceOf(ApiException.class);
    assertThat(f.customer("b@acme.test").getId()).startsWith("cus_");
    assertThat(f.emu.stripeVersionsSeen()).contains(com.stripe.Stripe.API_VERSION);
    HttpResponse<String> raw = f.raw("GET", "/v1/customers", "", "Stripe-Version", "2020-08-27");
    assertThat(raw.headers().firstValue("Stripe-Version")).contains("2020-08-27");
    assertThat(raw.headers().firstValue("Request-Id")).hasValueSatisfying(v -> assertThat(v).startsWith("req_"));
    assertThat(f.emu.requestCount("POST", "/v1/customers")).isEqualTo(5);
  }

  @Test
  void startsOnAChosenPortAndRefusesABadOne() throws Exception {
    int port;
    try (java.net.ServerSocket probe = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      port = probe.getLocalPort();
    }
    try (StripeEmulator fixed = StripeEmulator.builder().port(port).start()) {
      assertThat(fixed.apiBase()).isEqualTo("http://127.0.0.1:" + port);
      StripeClient client = StripeClient.builder().setApiKey(fixed.apiKey()).setApiBase(fixed.apiBase()).build();
      assertThat(client.v1().customers().create(CustomerCreateParams.builder().build()).getId()).startsWith("cus_");
    }
    assertThatThrownBy(() -> StripeEmulator.builder().port(70_000))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("70000");
  }

  @Test
  void dateHeaderComesFromTheEmulatorsClockOnEveryAnswer() throws Exception {
    HeaderRecordingClient recording = new HeaderRecordingClient();
    StripeClient recorded = StripeClient.builder().setApiKey(f.emu.apiKey()).setApiBase(f.emu.apiBase())
        .setMaxNetworkRetries(0).setHttpClient(recording).build();
    recorded.v1().customers().create(CustomerCreateParams.builder().setEmail("d@acme.test").build());
    assertThat(recording.last.firstValue("Date")).contains("Sun, 01 Mar 2026 00:00:00 GMT");
    f.emu.advanceClock(java.time.Duration.ofDays(3).plusSeconds(5));
    assertThat(f.raw("GET", "/v1/customers", "").headers().firstValue("Date"))
        .contains("Wed, 04 Mar 2026 00:00:05 GMT");
    HttpResponse<String> missing = f.raw("GET", "/v1/customers/cus_nope", "");
    assertThat(missing.statusCode()).isEqualTo(404);
    assertThat(missing.headers().firstValue("Date")).contains("Wed, 04 Mar 2026 00:00:05 GMT");
    f.clock.advance(java.time.Duration.ofHours(1));
    f.emu.down(true);
    assertThat(f.raw("GET", "/v1/customers", "").headers().firstValue("Date"))
        .contains("Wed, 04 Mar 2026 01:00:05 GMT");
  }
}
