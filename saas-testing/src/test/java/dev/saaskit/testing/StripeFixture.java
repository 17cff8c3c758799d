package dev.saaskit.testing;

import com.stripe.StripeClient;
import com.stripe.exception.StripeException;
import com.stripe.model.Customer;
import com.stripe.model.Price;
import com.stripe.model.Product;
import com.stripe.model.Subscription;
import com.stripe.param.CustomerCreateParams;
import com.stripe.param.PriceCreateParams;
import com.stripe.param.ProductCreateParams;
import com.stripe.param.SubscriptionCreateParams;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** Shared set-up for the StripeEmulator tests: an emulator on a mutable clock, a client, a webhook recorder. */
final class StripeFixture implements AutoCloseable {
  static final Instant START = Instant.parse("2026-03-01T00:00:00Z");

  final MutableClock clock = MutableClock.at(START);
  final StripeEmulator emu;
  final StripeClient stripe;
  final List<String> received = new CopyOnWriteArrayList<>();
  final HttpClient http = HttpClient.newHttpClient();

  StripeFixture() {
    emu = StripeEmulator.builder().clock(clock).seed(42).start();
    stripe = StripeClient.builder().setApiKey(emu.apiKey()).setApiBase(emu.apiBase())
        .setMaxNetworkRetries(0).build();
    emu.webhooks().deliverTo((body, signature) -> {
      received.add(body);
      return 200;
    });
  }

  /** The types of the received webhook bodies, in order. */
  List<String> receivedTypes() {
    List<String> out = new ArrayList<>();
    for (String body : received) {
      out.add(com.stripe.net.ApiResource.GSON.fromJson(body, com.google.gson.JsonObject.class)
          .get("type").getAsString());
    }
    return out;
  }

  /** An event as stripe-java reads it, with its data object deserialized at the pinned API version. */
  record Ev(String type, com.stripe.model.StripeObject object) {}

  /** Every event, deserialized by stripe-java (throws when a field has the wrong JSON type). */
  List<Ev> typedEvents() throws Exception {
    List<Ev> out = new ArrayList<>();
    for (StripeEmulator.Event e : emu.events()) {
      com.stripe.model.Event event = com.stripe.net.ApiResource.GSON.fromJson(e.json(), com.stripe.model.Event.class);
      out.add(new Ev(event.getType(), event.getDataObjectDeserializer().deserializeUnsafe()));
    }
    return out;
  }

  Customer customer(String email) throws StripeException {
    return stripe.v1().customers().create(CustomerCreateParams.builder().setEmail(email).build());
  }

  Price monthly(long cents) throws StripeException {
    Product product = stripe.v1().products().create(ProductCreateParams.builder().setName("Pro").build());
    return stripe.v1().prices().create(PriceCreateParams.builder().setProduct(product.getId())
        .setCurrency("usd").setUnitAmount(cents)
        .setRecurring(PriceCreateParams.Recurring.builder()
            .setInterval(PriceCreateParams.Recurring.Interval.MONTH).build())
        .build());
  }

  Subscription subscribe(String customerId, String priceId, long quantity) throws StripeException {
    return stripe.v1().subscriptions().create(SubscriptionCreateParams.builder().setCustomer(customerId)
        .addItem(SubscriptionCreateParams.Item.builder().setPrice(priceId).setQuantity(quantity).build())
        .build());
  }

  HttpResponse<String> raw(String method, String path, String form, String... headers)
      throws IOException, InterruptedException {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(emu.apiBase() + path))
        .header("Authorization", "Bearer " + emu.apiKey());
    for (int i = 0; i < headers.length; i += 2) {
      b.header(headers[i], headers[i + 1]);
    }
    if (method.equals("GET")) {
      b.GET();
    } else {
      b.header("Content-Type", "application/x-www-form-urlencoded");
      b.method(method, HttpRequest.BodyPublishers.ofString(form));
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  @Override
  public void close() {
    emu.close();
  }
}
