package dev.saaskit.billing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.saaskit.billing.internal.StripeGateway;
import dev.saaskit.testing.Await;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The Stripe gateway against a local HTTP server that answers as Stripe does: concurrent fetches of one object
 * share one request, 429 waits what {@code Retry-After} says (capped), 4xx is not retried, retries are bounded.
 */
class StripeGatewayTest {
  private HttpServer server;
  private final AtomicInteger requests = new AtomicInteger();

  @AfterEach
  void stop() {
    if (server != null) {
      server.stop(0);
    }
  }

  private String start(Handler handler) throws IOException {
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.setExecutor(Executors.newCachedThreadPool());
    server.createContext("/", exchange -> {
      requests.incrementAndGet();
      try {
        handler.handle(exchange);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } finally {
        exchange.close();
      }
    });
    server.start();
    return "http://127.0.0.1:" + server.getAddress().getPort();
  }

  interface Handler {
    void handle(HttpExchange exchange) throws IOException, InterruptedException;
  }

  private static void answer(HttpExchange exchange, int status, String json) throws IOException {
    byte[] body = json.getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().set("Content-Type", "application/json");
    exchange.sendResponseHeaders(status, body.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(body);
    }
  }

  private static BillingConfig config(String base, int retries, Duration maxWait) {
    return BillingConfig.builder().stripeApiKey("sk_test_gateway").stripeApiBase(base).stripeMaxRetries(retries)
        .stripeMaxRetryWait(maxWait).build();
  }

  @Test
  void concurrentFetchesOfOneObjectShareOneRequest() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    String base = start(exchange -> {
      release.await(30, TimeUnit.SECONDS);
      answer(exchange, 200, "{\"id\":\"sub_1\",\"object\":\"subscription\",\"status\":\"active\"}");
    });
    StripeGateway gateway = new StripeGateway(config(base, 0, Duration.ZERO));
    int callers = 20;
    ExecutorService pool = Executors.newFixedThreadPool(callers);
    List<Thread> threads = new CopyOnWriteArrayList<>();
    try {
      List<Future<StripeGateway.Answer>> answers = new ArrayList<>();
      for (int i = 0; i < callers; i++) {
        answers.add(pool.submit(() -> {
          threads.add(Thread.currentThread());
          return gateway.fetch("/v1/subscriptions/sub_1");
        }));
      }
      // every caller but the one on the wire waits on the shared answer
      Await.until("19 callers waiting on the one request", Duration.ofSeconds(20), () -> threads.size() == callers
          && threads.stream().filter(t -> t.getState() == Thread.State.WAITING).count() == callers - 1);
      release.countDown();
      for (Future<StripeGateway.Answer> a : answers) {
        assertThat(a.get(20, TimeUnit.SECONDS).json().path("status").asText()).isEqualTo("active");
      }
      assertThat(requests.get()).isEqualTo(1);
      // once answered, a later fetch asks again: nothing stale is kept
      release.countDown();
      gateway.fetch("/v1/subscriptions/sub_1");
      assertThat(requests.get()).isEqualTo(2);
    } finally {
      release.countDown();
      pool.shutdownNow();
    }
  }

  @Test
  void aFetchNeverSharesARequestStripeMayHaveAnsweredBeforeTheChangeItWasToldAbout() throws Exception {
    AtomicReference<String> status = new AtomicReference<>("active");
    CountDownLatch firstRead = new CountDownLatch(1);
    CountDownLatch releaseFirst = new CountDownLatch(1);
    AtomicInteger n = new AtomicInteger();
    String base = start(exchange -> {
      String read = status.get(); // Stripe reads the subscription...
      if (n.incrementAndGet() == 1) {
        firstRead.countDown();
        release(releaseFirst); // ...and the answer is slow to come back
      }
      answer(exchange, 200, "{\"id\":\"sub_1\",\"object\":\"subscription\",\"status\":\"" + read + "\"}");
    });
    StripeGateway gateway = new StripeGateway(config(base, 0, Duration.ZERO));
    ExecutorService pool = Executors.newFixedThreadPool(2);
    List<Thread> lateThread = new CopyOnWriteArrayList<>();
    try {
      long firstNeeded = System.nanoTime();
      Future<StripeGateway.Answer> early = pool.submit(() -> gateway.fetch("/v1/subscriptions/sub_1", firstNeeded));
      assertThat(firstRead.await(30, TimeUnit.SECONDS)).isTrue();
      // the subscription is canceled and its event received while the first request is on the wire
      status.set("canceled");
      long received = System.nanoTime();
      Future<StripeGateway.Answer> late = pool.submit(() -> {
        lateThread.add(Thread.currentThread());
        return gateway.fetch("/v1/subscriptions/sub_1", received);
      });
      Await.until("the late caller waiting in the gateway", Duration.ofSeconds(20), () -> !lateThread.isEmpty()
          && lateThread.get(0).getState() == Thread.State.WAITING);
      releaseFirst.countDown();
      assertThat(early.get(20, TimeUnit.SECONDS).json().path("status").asText()).isEqualTo("active");
      // the late caller must not apply the answer read before the change: it gets a request of its own
      assertThat(late.get(20, TimeUnit.SECONDS).json().path("status").asText()).isEqualTo("canceled");
      assertThat(requests.get()).isEqualTo(2);
    } finally {
      releaseFirst.countDown();
      pool.shutdownNow();
    }
  }

  private static void release(CountDownLatch latch) throws InterruptedException {
    if (!latch.await(30, TimeUnit.SECONDS)) {
      throw new IllegalStateException("never released");
    }
  }

  @Test
  void rateLimitsWaitWhatRetryAfterSaysCappedAndThenSucceed() throws Exception {
    AtomicInteger n = new AtomicInteger();
    String base = start(exchange -> {
      if (n.incrementAndGet() <= 2) {
        exchange.getResponseHeaders().set("Retry-After", n.get() == 1 ? "7" : "120");
        answer(exchange, 429, "{\"error\":{\"type\":\"invalid_request_error\",\"code\":\"rate_limit\","
            + "\"message\":\"Too many requests\"}}");
      } else {
        answer(exchange, 200, "{\"id\":\"in_1\",\"object\":\"invoice\"}");
      }
    });
    List<Duration> waits = new CopyOnWriteArrayList<>();
    StripeGateway gateway = new StripeGateway(config(base, 3, Duration.ofSeconds(30)), waits::add);
    assertThat(gateway.fetch("/v1/invoices/in_1").json().path("id").asText()).isEqualTo("in_1");
    assertThat(waits).containsExactly(Duration.ofSeconds(7), Duration.ofSeconds(30));
    assertThat(requests.get()).isEqualTo(3);
  }

  @Test
  void aRefusalIsNotRetriedAndSaysWhatStripeSaid() throws Exception {
    String base = start(exchange -> answer(exchange, 404, "{\"error\":{\"type\":\"invalid_request_error\","
        + "\"code\":\"resource_missing\",\"message\":\"No such subscription: 'sub_x'\",\"param\":\"id\"}}"));
    List<Duration> waits = new CopyOnWriteArrayList<>();
    StripeGateway gateway = new StripeGateway(config(base, 3, Duration.ofSeconds(30)), waits::add);
    assertThatThrownBy(() -> gateway.fetch("/v1/subscriptions/sub_x"))
        .isInstanceOfSatisfying(BillingException.class, e -> {
          assertThat(e.stripeStatus()).isEqualTo(404);
          assertThat(e.stripeCode()).isEqualTo("resource_missing");
          assertThat(e.retryable()).isFalse();
          assertThat(e.getMessage()).contains("No such subscription").doesNotContain("sk_test_gateway");
        });
    assertThat(waits).isEmpty();
    assertThat(requests.get()).isEqualTo(1);
  }

  @Test
  void outagesAreRetriedABoundedNumberOfTimesThenReportedAsRetryable() throws Exception {
    String base = start(exchange -> answer(exchange, 503, "{\"error\":{\"type\":\"api_error\","
        + "\"message\":\"down\"}}"));
    List<Duration> waits = new CopyOnWriteArrayList<>();
    StripeGateway gateway = new StripeGateway(config(base, 2, Duration.ofSeconds(30)), waits::add);
    assertThatThrownBy(() -> gateway.post("/v1/customers", java.util.Map.of("email", "a@b.test"), "key-1"))
        .isInstanceOfSatisfying(BillingException.class, e -> {
          assertThat(e.stripeStatus()).isEqualTo(503);
          assertThat(e.retryable()).isTrue();
        });
    assertThat(requests.get()).isEqualTo(3);
    assertThat(waits).hasSize(2).allMatch(d -> d.compareTo(Duration.ofSeconds(30)) <= 0);
  }

  @Test
  void everyTryOfAPostCarriesTheSameIdempotencyKey() throws Exception {
    // the first answer is lost after Stripe acted (a 500 here; a read timeout alike): the retry must be the same
    // request to Stripe, or it creates a second subscription, schedule or checkout session
    List<String> keys = new CopyOnWriteArrayList<>();
    AtomicInteger n = new AtomicInteger();
    String base = start(exchange -> {
      keys.add(String.valueOf(exchange.getRequestHeaders().getFirst("Idempotency-Key")));
      if (n.incrementAndGet() <= 2) {
        answer(exchange, 500, "{\"error\":{\"type\":\"api_error\",\"message\":\"lost\"}}");
      } else {
        answer(exchange, 200, "{\"id\":\"sub_1\",\"object\":\"subscription\"}");
      }
    });
    StripeGateway gateway = new StripeGateway(config(base, 3, Duration.ZERO), d -> { });
    gateway.post("/v1/subscriptions", java.util.Map.of("customer", "cus_1"), null);
    assertThat(keys).hasSize(3);
    assertThat(keys.get(0)).isNotEqualTo("null");
    assertThat(keys).containsOnly(keys.get(0));
    // another call is another request: its own key
    gateway.post("/v1/subscriptions", java.util.Map.of("customer", "cus_1"), null);
    assertThat(keys).hasSize(4);
    assertThat(keys.get(3)).isNotEqualTo(keys.get(0));
    // a caller's key is kept as given
    gateway.post("/v1/customers", java.util.Map.of(), "given-key");
    assertThat(keys.get(4)).isEqualTo("given-key");
  }

  @Test
  void paramsAreEncodedTheWayStripeReadsThem() {
    java.util.Map<String, Object> params = new java.util.LinkedHashMap<>();
    params.put("items", List.of(java.util.Map.of("price", "price_1", "quantity", 2)));
    params.put("metadata", java.util.Map.of("tenant_id", "a&b c"));
    String form = StripeGateway.encode(params);
    assertThat(form).contains("items%5B0%5D%5Bprice%5D=price_1").contains("items%5B0%5D%5Bquantity%5D=2")
        .contains("metadata%5Btenant_id%5D=a%26b+c");
  }
}
