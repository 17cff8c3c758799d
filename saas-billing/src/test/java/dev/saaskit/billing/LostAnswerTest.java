package dev.saaskit.billing;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import dev.saaskit.billing.internal.StripeJson;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.Await;
import dev.saaskit.testing.MutableClock;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.StripeEmulator;
import dev.saaskit.testing.TestDatabase;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Answers lost or late on the way back from Stripe, through a proxy in front of the StripeEmulator. Lost: the proxy
 * forwards a request and then answers 500 (as a timeout or a failing load balancer would); the gateway's retry must
 * be the same request to Stripe (one idempotency key for every try), so a subscription is created once, not twice.
 * Late: the proxy holds an answer Stripe produced before a change; an event reporting that change must not apply it.
 */
@ExtendWith(PostgresExtension.class)
class LostAnswerTest {
  static TestDatabase db;
  static MutableClock clock;
  static StripeEmulator emu;
  static HttpServer proxy;
  static ExecutorService proxyThreads;
  /** How many answers to {@code POST /v1/subscriptions} the proxy still loses (after forwarding the request). */
  static final AtomicInteger toLose = new AtomicInteger();
  /** A GET path whose next answer the proxy holds (after Stripe answered it) until {@code releaseHeld}. */
  static final AtomicReference<String> holdGet = new AtomicReference<>();
  static volatile CountDownLatch held = new CountDownLatch(1);
  static volatile CountDownLatch releaseHeld = new CountDownLatch(1);

  @BeforeAll
  static void setUp(TestDatabase database) throws Exception {
    db = database;
    BillingTestSupport.migrate(db);
    clock = MutableClock.atSystemTime();
    emu = StripeEmulator.builder().clock(clock).seed(31).start();
    proxy = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    proxyThreads = Executors.newFixedThreadPool(4);
    proxy.setExecutor(proxyThreads);
    proxy.createContext("/", exchange -> {
      try {
        byte[] body = exchange.getRequestBody().readAllBytes();
        HttpURLConnection forward = (HttpURLConnection) URI.create(emu.apiBase() + exchange.getRequestURI()).toURL()
            .openConnection();
        forward.setRequestMethod(exchange.getRequestMethod());
        for (String h : List.of("Authorization", "Stripe-Version", "Idempotency-Key", "Content-Type")) {
          String v = exchange.getRequestHeaders().getFirst(h);
          if (v != null) {
            forward.setRequestProperty(h, v);
          }
        }
        if (body.length > 0) {
          forward.setDoOutput(true);
          try (OutputStream o = forward.getOutputStream()) {
            o.write(body);
          }
        }
        int status = forward.getResponseCode();
        byte[] answer;
        try (InputStream in = status < 400 ? forward.getInputStream() : forward.getErrorStream()) {
          answer = in == null ? new byte[0] : in.readAllBytes();
        }
        String path = exchange.getRequestURI().getPath();
        String hold = holdGet.get();
        if ("GET".equals(exchange.getRequestMethod()) && path.equals(hold) && holdGet.compareAndSet(hold, null)) {
          held.countDown(); // Stripe has read the object; its answer is slow to come back
          if (!releaseHeld.await(30, TimeUnit.SECONDS)) {
            throw new IllegalStateException("the held answer was never released");
          }
        }
        boolean lose = "POST".equals(exchange.getRequestMethod())
            && "/v1/subscriptions".equals(exchange.getRequestURI().getPath()) && toLose.getAndDecrement() > 0;
        byte[] out = lose ? "{\"error\":{\"type\":\"api_error\",\"message\":\"answer lost\"}}"
            .getBytes(StandardCharsets.UTF_8) : answer;
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        for (String h : List.of("Date", "Request-Id")) {
          String v = forward.getHeaderField(h);
          if (v != null) {
            exchange.getResponseHeaders().set(h, v);
          }
        }
        exchange.sendResponseHeaders(lose ? 500 : status, out.length);
        try (OutputStream o = exchange.getResponseBody()) {
          o.write(out);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } finally {
        exchange.close();
      }
    });
    proxy.start();
  }

  @AfterAll
  static void tearDown() {
    proxy.stop(0);
    proxyThreads.shutdownNow();
    emu.close();
  }

  @Test
  void aSubscriptionWhoseAnswerWasLostIsCreatedOnceByTheRetry() {
    Billing billing = Billing.create(OperationsTest.config(emu, clock)
        .stripeApiBase("http://127.0.0.1:" + proxy.getAddress().getPort()).stripeMaxRetries(3).build(),
        db.appDataSource());
    String price = OperationsTest.price(billing, "Enterprise", 50_000, "lost_answer_enterprise");
    TenantId tenant = TenantId.of("lost-answer");
    String customer = billing.operations().ensureCustomer(tenant, null, null);

    toLose.set(1);
    Subscription sub = billing.operations().subscribeOnInvoiceTerms(tenant, price, 2, 30);

    assertThat(toLose.get()).isNegative(); // the first answer was lost and the call retried
    JsonNode listed = billing.stripe().get("/v1/subscriptions", Map.of("customer", customer, "status", "all")).json();
    assertThat(StripeJson.listData(listed)).extracting(s -> s.path("id").asText()).containsExactly(sub.id());
    assertThat(billing.status(tenant).subscription()).isNotNull();
  }

  /** A signed subscription event at an API version other than the pinned one (so the apply refetches it). */
  static WebhookResult deliverOldVersion(Billing billing, String eventId, String type, String subscriptionJson) {
    String body = "{\"id\":\"" + eventId + "\",\"object\":\"event\",\"type\":\"" + type + "\",\"created\":"
        + clock.instant().getEpochSecond() + ",\"api_version\":\"2024-06-20\",\"livemode\":false,"
        + "\"data\":{\"object\":" + subscriptionJson + "}}";
    return billing.webhooks().handle(body,
        BillingTestSupport.signature(body, emu.webhookSecret(), clock.instant().getEpochSecond()));
  }

  @Test
  void anEventNeverAppliesARefetchThatStripeAnsweredBeforeTheEventsChange() throws Exception {
    Billing billing = Billing.create(OperationsTest.config(emu, clock)
        .stripeApiBase("http://127.0.0.1:" + proxy.getAddress().getPort()).build(), db.appDataSource());
    String price = OperationsTest.price(billing, "Team", 9_000, "lost_answer_team");
    TenantId tenant = TenantId.of("slow-refetch");
    billing.operations().ensureCustomer(tenant, null, null);
    Subscription sub = billing.operations().subscribeOnInvoiceTerms(tenant, price, 1, 30);
    String active = emu.object(sub.id()).orElseThrow();
    ExecutorService pool = Executors.newFixedThreadPool(2);
    List<Thread> second = new CopyOnWriteArrayList<>();
    held = new CountDownLatch(1);
    releaseHeld = new CountDownLatch(1);
    try {
      // an update (another API version: refetched) whose refetch Stripe answers slowly, from the state it read
      holdGet.set("/v1/subscriptions/" + sub.id());
      Future<WebhookResult> first =
          pool.submit(() -> deliverOldVersion(billing, "evt_slow_updated", "customer.subscription.updated", active));
      assertThat(held.await(30, TimeUnit.SECONDS)).as(() -> "held; first: " + (first.isDone() ? result(first) : "running"))
          .isTrue();
      // meanwhile Stripe cancels the subscription and sends customer.subscription.deleted
      clock.advance(Duration.ofSeconds(2));
      emu.silently(() -> emu.setSubscriptionStatus(sub.id(), "canceled"));
      String canceled = emu.object(sub.id()).orElseThrow();
      Future<WebhookResult> deleted = pool.submit(() -> {
        second.add(Thread.currentThread());
        return deliverOldVersion(billing, "evt_slow_deleted", "customer.subscription.deleted", canceled);
      });
      Await.until("the deletion's refetch waiting on the slow request", Duration.ofSeconds(30),
          () -> deleted.isDone() || (!second.isEmpty() && second.get(0).getState() == Thread.State.WAITING
              && Arrays.stream(second.get(0).getStackTrace())
                  .anyMatch(e -> e.getClassName().endsWith("StripeGateway"))));
      releaseHeld.countDown();
      assertThat(first.get(30, TimeUnit.SECONDS).status()).isEqualTo(200);
      assertThat(deleted.get(30, TimeUnit.SECONDS).status()).isEqualTo(200);
      // the deletion must leave the mirror canceled, not the state Stripe read before it
      assertThat(billing.status(tenant).subscription().status()).isEqualTo(SubscriptionStatus.CANCELED);
      assertThat(billing.hasAccess(tenant)).isFalse();
    } finally {
      holdGet.set(null);
      releaseHeld.countDown();
      pool.shutdownNow();
    }
  }

  private static String result(Future<WebhookResult> f) {
    try {
      return f.get().toString();
    } catch (Exception e) {
      return e.toString();
    }
  }
}
