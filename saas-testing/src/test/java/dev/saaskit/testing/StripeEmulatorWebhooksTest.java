package dev.saaskit.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonObject;
import com.stripe.StripeClient;
import com.stripe.exception.InvalidRequestException;
import com.stripe.exception.SignatureVerificationException;
import com.stripe.model.Customer;
import com.stripe.model.Event;
import com.stripe.model.StripeCollection;
import com.stripe.model.Subscription;
import com.stripe.net.ApiResource;
import com.stripe.net.Webhook;
import com.stripe.param.CustomerCreateParams;
import com.stripe.param.CustomerUpdateParams;
import com.stripe.param.EventListParams;
import com.sun.net.httpserver.HttpServer;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class StripeEmulatorWebhooksTest {
  private final StripeFixture f = new StripeFixture();
  private final StripeClient stripe = f.stripe;

  @AfterEach
  void close() {
    f.close();
  }

  private static String type(String body) {
    return ApiResource.GSON.fromJson(body, JsonObject.class).get("type").getAsString();
  }

  private static String id(String body) {
    return ApiResource.GSON.fromJson(body, JsonObject.class).get("id").getAsString();
  }

  @Test
  void signaturesVerifyWithStripeJavaAndEventsDeserializeToTypedObjects() throws Exception {
    try (StripeEmulator live = StripeEmulator.builder().webhookSecret("whsec_test_secret").start()) {
      List<String[]> got = new CopyOnWriteArrayList<>();
      live.webhooks().deliverTo((body, signature) -> {
        got.add(new String[] {body, signature});
        return 200;
      });
      StripeClient client = StripeClient.builder().setApiKey(live.apiKey()).setApiBase(live.apiBase())
          .setMaxNetworkRetries(0).build();
      Customer c = client.v1().customers().create(CustomerCreateParams.builder()
          .setEmail("sig@acme.test").build());
      assertThat(got).hasSize(1);
      assertThat(got.get(0)[1]).matches("t=\\d+,v1=[0-9a-f]{64}");
      Event event = Webhook.constructEvent(got.get(0)[0], got.get(0)[1], "whsec_test_secret");
      assertThat(event.getType()).isEqualTo("customer.created");
      assertThat(event.getApiVersion()).isEqualTo(com.stripe.Stripe.API_VERSION);
      Customer fromEvent = (Customer) event.getDataObjectDeserializer().getObject().orElseThrow();
      assertThat(fromEvent.getId()).isEqualTo(c.getId());
      assertThatThrownBy(() -> Webhook.constructEvent(got.get(0)[0], got.get(0)[1], "whsec_other"))
          .isInstanceOf(SignatureVerificationException.class);
    }

    // on the fixture's mutable clock: verify against that clock, a subscription event deserializes fully
    List<String[]> got = new CopyOnWriteArrayList<>();
    f.emu.webhooks().deliverTo((body, signature) -> {
      got.add(new String[] {body, signature});
      return 200;
    });
    Customer c = f.customer("typed@acme.test");
    Subscription sub = f.subscribe(c.getId(), f.monthly(1000).getId(), 1);
    f.emu.advanceClock(Duration.ofDays(40));
    for (String[] delivery : got) {
      Event e = Webhook.constructEvent(delivery[0], delivery[1], f.emu.webhookSecret(), 300, f.clock);
      assertThat(e.getDataObjectDeserializer().getObject()).isPresent();
      if (e.getType().equals("customer.subscription.updated")) {
        Subscription s = (Subscription) e.getDataObjectDeserializer().getObject().orElseThrow();
        assertThat(s.getId()).isEqualTo(sub.getId());
        assertThat(s.getItems().getData().get(0).getCurrentPeriodStart())
            .isEqualTo(sub.getItems().getData().get(0).getCurrentPeriodEnd());
        assertThat(e.getData().getPreviousAttributes()).containsKey("items");
      }
    }
    assertThat(got).extracting(d -> type(d[0])).contains("customer.subscription.updated", "invoice.paid");
  }

  @Test
  void forgedSecretAndSkewedTimestampsFailVerification() throws Exception {
    f.emu.webhooks().signWith("whsec_forged");
    f.customer("a@acme.test");
    f.emu.webhooks().signWith(null).timestampSkew(Duration.ofMinutes(-10));
    f.customer("b@acme.test");
    f.emu.webhooks().timestampSkew(Duration.ZERO);
    f.customer("c@acme.test");
    List<String> bodies = new ArrayList<>();
    List<String> headers = new ArrayList<>();
    f.emu.webhooks().deliverTo((body, signature) -> {
      bodies.add(body);
      headers.add(signature);
      return 200;
    });
    for (StripeEmulator.Event e : f.emu.events()) {
      f.emu.webhooks().deliver(e.id());
    }
    // redelivered with the settings now in force: all verify
    for (int i = 0; i < bodies.size(); i++) {
      assertThat(Webhook.constructEvent(bodies.get(i), headers.get(i), f.emu.webhookSecret(), 300, f.clock)
          .getType()).isEqualTo("customer.created");
    }
    f.emu.webhooks().signWith("whsec_forged");
    f.emu.webhooks().deliver(f.emu.events().get(0).id());
    String forgedBody = bodies.get(bodies.size() - 1);
    String forgedHeader = headers.get(headers.size() - 1);
    assertThatThrownBy(() -> Webhook.constructEvent(forgedBody, forgedHeader, f.emu.webhookSecret(), 300, f.clock))
        .isInstanceOf(SignatureVerificationException.class);
    f.emu.webhooks().signWith(null).timestampSkew(Duration.ofMinutes(-10));
    f.emu.webhooks().deliver(f.emu.events().get(0).id());
    String oldBody = bodies.get(bodies.size() - 1);
    String oldHeader = headers.get(headers.size() - 1);
    assertThatThrownBy(() -> Webhook.constructEvent(oldBody, oldHeader, f.emu.webhookSecret(), 300, f.clock))
        .isInstanceOf(SignatureVerificationException.class);
    assertThat(Webhook.constructEvent(oldBody, oldHeader, f.emu.webhookSecret(), 3600, f.clock).getId())
        .isEqualTo(f.emu.events().get(0).id());
  }

  @Test
  void duplicateEachDeliversEveryEventTwice() throws Exception {
    f.emu.webhooks().duplicateEach(true);
    f.customer("a@acme.test");
    assertThat(f.received).hasSize(2);
    assertThat(id(f.received.get(0))).isEqualTo(id(f.received.get(1)));
    assertThat(f.emu.webhooks().deliveries()).hasSize(2).allMatch(StripeEmulator.Delivery::succeeded);
  }

  @Test
  void manualModeQueuesAndDeliversReversedShuffledOrDropped() throws Exception {
    f.emu.webhooks().automatic(false);
    Customer c = f.customer("a@acme.test");
    stripe.v1().customers().update(c.getId(), CustomerUpdateParams.builder().setName("A").build());
    stripe.v1().customers().update(c.getId(), CustomerUpdateParams.builder().setName("B").build());
    assertThat(f.received).isEmpty();
    List<String> pending = f.emu.webhooks().pending();
    assertThat(pending).hasSize(3);

    f.emu.webhooks().deliverPendingReversed();
    assertThat(f.received).extracting(StripeEmulatorWebhooksTest::id)
        .containsExactly(pending.get(2), pending.get(1), pending.get(0));
    assertThat(f.emu.webhooks().pending()).isEmpty();

    f.received.clear();
    for (int i = 0; i < 6; i++) {
      stripe.v1().customers().update(c.getId(), CustomerUpdateParams.builder().setName("N" + i).build());
    }
    List<String> six = f.emu.webhooks().pending();
    f.emu.webhooks().deliverPendingShuffled(7);
    List<String> shuffled = new ArrayList<>();
    f.received.forEach(b -> shuffled.add(id(b)));
    assertThat(shuffled).containsExactlyInAnyOrderElementsOf(six).isNotEqualTo(six);

    f.received.clear();
    f.customer("dropped@acme.test");
    assertThat(f.emu.webhooks().dropPending()).isEqualTo(1);
    f.emu.webhooks().deliverPending();
    assertThat(f.received).isEmpty();

    f.customer("in-order@acme.test");
    f.customer("in-order-2@acme.test");
    f.emu.webhooks().deliverPending();
    assertThat(f.received).hasSize(2);
  }

  @Test
  void twiceInParallelReallyOverlaps() throws Exception {
    CyclicBarrier both = new CyclicBarrier(2);
    Map<String, AtomicInteger> seen = new ConcurrentHashMap<>();
    f.emu.webhooks().automatic(false).deliverTo((body, signature) -> {
      both.await(10, TimeUnit.SECONDS); // trips only when the second delivery of the same event is under way
      seen.computeIfAbsent(id(body), k -> new AtomicInteger()).incrementAndGet();
      return 200;
    });
    f.customer("a@acme.test");
    f.customer("b@acme.test");
    f.emu.webhooks().deliverPendingTwiceInParallel();
    assertThat(seen).hasSize(2);
    assertThat(seen.values()).allMatch(n -> n.get() == 2);
    assertThat(f.emu.webhooks().deliveries()).hasSize(4).allMatch(StripeEmulator.Delivery::succeeded);
  }

  @Test
  void theTestingGuideExampleDeliversLateOutOfOrderTwiceWithAnOldVersionOrNotAtAll() throws Exception {
    // snippet: stripe-emulator
    List<String> received = new CopyOnWriteArrayList<>();
    try (StripeEmulator emulator = StripeEmulator.builder().webhookSecret("whsec_test").start()) {
      StripeClient stripe = StripeClient.builder().setApiKey(emulator.apiKey())
          .setApiBase(emulator.apiBase()).build();               // stripe-java, unchanged
      emulator.webhooks().deliverTo((body, signature) -> {       // or deliverTo(URI) for an HTTP endpoint
        Event event = Webhook.constructEvent(body, signature, "whsec_test");   // correctly signed
        received.add(event.getType() + " " + event.getApiVersion());
        return 200;                                               // the status your endpoint answered
      });

      emulator.webhooks().automatic(false);                      // hold the events: late...
      Customer customer = stripe.v1().customers().create(CustomerCreateParams.builder()
          .setEmail("ops@acme.test").build());
      stripe.v1().customers().update(customer.getId(), CustomerUpdateParams.builder().setName("Acme").build());
      emulator.webhooks().deliverPendingReversed();              // ...and out of order

      emulator.webhooks().automatic(true).duplicateEach(true).withApiVersion("2020-08-27");
      stripe.v1().customers().update(customer.getId(), CustomerUpdateParams.builder().setName("Acme Inc").build());

      emulator.webhooks().automatic(false);
      stripe.v1().customers().update(customer.getId(), CustomerUpdateParams.builder().setName("Gone").build());
      assertThat(emulator.webhooks().dropPending()).isEqualTo(1);   // never delivered
    }
    // end snippet
    assertThat(received).containsExactly(
        "customer.updated " + StripeEmulator.API_VERSION, "customer.created " + StripeEmulator.API_VERSION,
        "customer.updated 2020-08-27", "customer.updated 2020-08-27");
  }

  @Test
  void olderApiVersionLabelsAndShapesTheOldWay() throws Exception {
    f.emu.webhooks().withApiVersion("2020-08-27");
    Customer c = f.customer("old@acme.test");
    Subscription sub = f.subscribe(c.getId(), f.monthly(1000).getId(), 1);
    JsonObject subEvent = null;
    JsonObject invoiceEvent = null;
    for (String body : f.received) {
      JsonObject e = ApiResource.GSON.fromJson(body, JsonObject.class);
      assertThat(e.get("api_version").getAsString()).isEqualTo("2020-08-27");
      if (type(body).equals("customer.subscription.created")) {
        subEvent = e.getAsJsonObject("data").getAsJsonObject("object");
      }
      if (type(body).equals("invoice.paid")) {
        invoiceEvent = e.getAsJsonObject("data").getAsJsonObject("object");
      }
    }
    assertThat(subEvent).isNotNull();
    assertThat(subEvent.get("current_period_end").getAsLong())
        .isEqualTo(sub.getItems().getData().get(0).getCurrentPeriodEnd());
    assertThat(invoiceEvent).isNotNull();
    assertThat(invoiceEvent.get("subscription").getAsString()).isEqualTo(sub.getId());
    // the API itself keeps the current shape
    assertThat(f.emu.events().get(f.emu.events().size() - 1).json()).contains("\"api_version\":\""
        + StripeEmulator.API_VERSION + "\"");
  }

  @Test
  void deliversOverHttpAndListsUndeliveredEvents() throws Exception {
    List<String> bodies = new CopyOnWriteArrayList<>();
    List<String> contentTypes = new CopyOnWriteArrayList<>();
    List<String> signatures = new CopyOnWriteArrayList<>();
    AtomicInteger answer = new AtomicInteger(200);
    HttpServer endpoint = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    endpoint.createContext("/hooks", ex -> {
      try (InputStream in = ex.getRequestBody()) {
        bodies.add(new String(in.readAllBytes(), StandardCharsets.UTF_8));
      }
      contentTypes.add(ex.getRequestHeaders().getFirst("Content-Type"));
      signatures.add(ex.getRequestHeaders().getFirst("Stripe-Signature"));
      ex.sendResponseHeaders(answer.get(), -1);
      ex.close();
    });
    endpoint.start();
    try {
      f.emu.webhooks().deliverTo(URI.create("http://127.0.0.1:" + endpoint.getAddress().getPort() + "/hooks"));
      Customer ok = f.customer("ok@acme.test");
      answer.set(500);
      Customer failed = f.customer("failed@acme.test");
      assertThat(bodies).hasSize(2);
      assertThat(contentTypes).allMatch("application/json; charset=utf-8"::equals);
      assertThat(Webhook.constructEvent(bodies.get(0), signatures.get(0), f.emu.webhookSecret(), 300, f.clock)
          .getId()).isNotNull();
      assertThat(f.emu.webhooks().deliveries()).extracting(StripeEmulator.Delivery::status).containsExactly(200,
          500);

      StripeCollection<Event> undelivered = stripe.v1().events().list(EventListParams.builder()
          .setDeliverySuccess(false).build());
      assertThat(undelivered.getData()).hasSize(1);
      Customer inEvent = (Customer) undelivered.getData().get(0).getDataObjectDeserializer().getObject()
          .orElseThrow();
      assertThat(inEvent.getId()).isEqualTo(failed.getId());
      assertThat(stripe.v1().events().list(EventListParams.builder().setDeliverySuccess(true).build()).getData())
          .extracting(e -> ((Customer) e.getDataObjectDeserializer().getObject().orElseThrow()).getId())
          .containsExactly(ok.getId());

      answer.set(200);
      f.emu.webhooks().deliver(undelivered.getData().get(0).getId());
      assertThat(stripe.v1().events().list(EventListParams.builder().setDeliverySuccess(false).build())
          .getData()).isEmpty();
    } finally {
      endpoint.stop(0);
    }
  }

  @Test
  void eventsListFiltersRetrieveAndThirtyDayRetention() throws Exception {
    Customer c = f.customer("e@acme.test");
    f.emu.advanceClock(Duration.ofDays(2));
    stripe.v1().customers().update(c.getId(), CustomerUpdateParams.builder().setName("E").build());
    f.monthly(500);
    assertThat(stripe.v1().events().list(EventListParams.builder().setType("customer.*").build()).getData())
        .extracting(Event::getType).containsExactly("customer.updated", "customer.created");
    assertThat(stripe.v1().events().list(EventListParams.builder().addType("price.created")
        .addType("customer.created").build()).getData()).extracting(Event::getType)
        .containsExactly("price.created", "customer.created");
    long since = StripeFixture.START.getEpochSecond() + 86_400;
    assertThat(stripe.v1().events().list(EventListParams.builder()
        .setCreated(EventListParams.Created.builder().setGte(since).build()).build()).getData()).hasSize(3);
    String firstId = f.emu.events().get(0).id();
    assertThat(stripe.v1().events().retrieve(firstId).getType()).isEqualTo("customer.created");

    f.emu.advanceClock(Duration.ofDays(29));
    assertThatThrownBy(() -> stripe.v1().events().retrieve(firstId))
        .isInstanceOfSatisfying(InvalidRequestException.class, e -> assertThat(e.getStatusCode()).isEqualTo(404));
    assertThat(stripe.v1().events().list(EventListParams.builder().build()).getData()).hasSize(3);
  }

  @Test
  void aHandlerMayCallTheEmulatorBackWhileBeingDelivered() throws Exception {
    List<String> refetched = new CopyOnWriteArrayList<>();
    f.emu.webhooks().deliverTo((body, signature) -> {
      Event e = Webhook.constructEvent(body, signature, f.emu.webhookSecret(), 300, f.clock);
      Customer fresh = stripe.v1().customers().retrieve(
          ((Customer) e.getDataObjectDeserializer().getObject().orElseThrow()).getId());
      refetched.add(fresh.getEmail());
      if (e.getType().equals("customer.created") && fresh.getName() == null) {
        // a handler that writes back: its own event is delivered after this one, in order
        stripe.v1().customers().update(fresh.getId(), CustomerUpdateParams.builder().setName("seen").build());
      }
      return 200;
    });
    f.customer("cb@acme.test");
    assertThat(refetched).containsExactly("cb@acme.test", "cb@acme.test");
    assertThat(f.emu.webhooks().deliveries()).extracting(StripeEmulator.Delivery::type)
        .containsExactly("customer.created", "customer.updated");
    assertThat(new HashSet<>(f.emu.eventTypes())).containsExactlyInAnyOrder("customer.created",
        "customer.updated");
  }
}
