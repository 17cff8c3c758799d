package dev.saaskit.billing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.billing.internal.StripeJson;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.MutableClock;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.StripeEmulator;
import dev.saaskit.testing.TestDatabase;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Writes dated by a Stripe answer racing a webhook within one Stripe second: the reconciler's list page, or a seat
 * change's answer, was served before another change, whose webhook is applied before the answer is written. Stripe's
 * times are whole seconds, so both states carry the same time; the answer's older copy must not replace the
 * webhook's newer state.
 *
 * <p>A small HTTP proxy in front of the emulator (on a plain socket: the JDK's HTTP server stamps its own {@code
 * Date} on every answer, and Stripe's is the one that matters) makes the interleaving exact: when the subscription
 * list passes through it, it makes the change in Stripe and delivers its webhook, then hands the (now old) page to
 * the reconciler.
 */
@ExtendWith(PostgresExtension.class)
class ReconcileRaceTest {
  static TestDatabase db;
  MutableClock clock = MutableClock.at(Instant.parse("2026-05-01T10:00:00Z"));
  StripeEmulator emu;
  ServerSocket proxy;
  ExecutorService proxyThreads;
  Billing billing;
  /** What the proxy runs once, between the emulator's answer to a request and passing it on. */
  record Hook(String method, String path, Runnable run) {}

  final AtomicReference<@Nullable Hook> hook = new AtomicReference<>();

  @BeforeAll
  static void setUp(TestDatabase database) throws Exception {
    db = database;
    BillingTestSupport.migrate(db);
  }

  @BeforeEach
  void start() throws IOException {
    emu = StripeEmulator.builder().clock(clock).seed(7).start();
    proxy = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    proxyThreads = Executors.newCachedThreadPool();
    proxyThreads.execute(this::accept);
    String base = "http://127.0.0.1:" + proxy.getLocalPort();
    billing = Billing.create(BillingConfig.builder().stripeApiKey(emu.apiKey()).stripeApiBase(base)
        .webhookSecrets(emu.webhookSecret()).clock(clock).stripeMaxRetries(0).build(), db.appDataSource());
    emu.webhooks().deliverTo((body, header) -> billing.webhooks().handle(body, header).status());
  }

  @AfterEach
  void stop() throws Exception {
    proxy.close();
    proxyThreads.shutdownNow();
    emu.close();
    try (Connection c = db.adminDataSource().getConnection(); Statement st = c.createStatement()) {
      for (String table : List.of("subscriptions", "invoices", "customers", "prices", "products", "events")) {
        st.execute("DELETE FROM saaskit_billing." + table);
      }
    }
  }

  /** Serves the proxy's connections, one request each (it answers {@code Connection: close}). */
  private void accept() {
    while (!proxy.isClosed()) {
      Socket socket;
      try {
        socket = proxy.accept();
      } catch (IOException closed) {
        return;
      }
      proxyThreads.execute(() -> {
        try (socket) {
          forward(socket);
        } catch (IOException | RuntimeException e) {
          // the client sees a closed connection
        }
      });
    }
  }

  /**
   * Forwards one request to the emulator and its answer back, the emulator's {@code Date} header included (the time
   * Stripe served it); runs the {@link #hook} between the two when the request is the hook's.
   */
  private void forward(Socket socket) throws IOException {
    InputStream in = new BufferedInputStream(socket.getInputStream());
    String requestLine = line(in);
    int sp1 = requestLine.indexOf(' ');
    int sp2 = requestLine.indexOf(' ', sp1 + 1);
    Map<String, String> headers = new LinkedHashMap<>();
    for (String h = line(in); !h.isEmpty(); h = line(in)) {
      int colon = h.indexOf(':');
      headers.put(h.substring(0, colon).strip().toLowerCase(Locale.ROOT), h.substring(colon + 1).strip());
    }
    int length = Integer.parseInt(headers.getOrDefault("content-length", "0"));
    byte[] body = in.readNBytes(length);
    String method = requestLine.substring(0, sp1);
    URI target = URI.create(emu.apiBase() + requestLine.substring(sp1 + 1, sp2));
    HttpURLConnection request = (HttpURLConnection) target.toURL().openConnection();
    request.setRequestMethod(method);
    for (String h : List.of("authorization", "content-type", "stripe-version", "idempotency-key")) {
      String v = headers.get(h);
      if (v != null) {
        request.setRequestProperty(h, v);
      }
    }
    if (body.length > 0) {
      request.setDoOutput(true);
      try (OutputStream out = request.getOutputStream()) {
        out.write(body);
      }
    }
    int status = request.getResponseCode();
    byte[] answer;
    try (InputStream answerIn = status < 400 ? request.getInputStream() : request.getErrorStream()) {
      answer = answerIn == null ? new byte[0] : answerIn.readAllBytes();
    }
    Hook h = hook.get();
    if (h != null && h.method().equals(method) && h.path().equals(target.getPath()) && hook.compareAndSet(h, null)) {
      h.run().run();
    }
    StringBuilder head = new StringBuilder("HTTP/1.1 ").append(status).append(" X\r\n");
    String date = request.getHeaderField("Date");
    if (date != null) {
      head.append("Date: ").append(date).append("\r\n");
    }
    head.append("Content-Type: application/json\r\nConnection: close\r\nContent-Length: ").append(answer.length)
        .append("\r\n\r\n");
    OutputStream out = socket.getOutputStream();
    out.write(head.toString().getBytes(StandardCharsets.US_ASCII));
    out.write(answer);
    out.flush();
  }

  private static String line(InputStream in) throws IOException {
    StringBuilder b = new StringBuilder();
    for (int ch = in.read(); ch != -1 && ch != '\n'; ch = in.read()) {
      if (ch != '\r') {
        b.append((char) ch);
      }
    }
    return b.toString();
  }

  private String post(String path, Map<String, ?> params) {
    return StripeJson.text(billing.stripe().post(path, params, null).json(), "id");
  }

  private long mirroredQuantity(String subscription) throws Exception {
    return BillingTestSupport.count(db, "SELECT coalesce(sum(quantity), 0) FROM saaskit_billing.subscription_items"
        + " WHERE subscription_id = ?", subscription);
  }

  @Test
  void aListPageServedBeforeAChangeNeverOverwritesTheChangesWebhookOfTheSameSecond() throws Exception {
    TenantId tenant = TenantId.of("race-acme");
    String product = post("/v1/products", Map.of("name", "Team"));
    String price = post("/v1/prices", Map.of("product", product, "currency", "usd", "unit_amount", 1000,
        "recurring", Map.of("interval", "month")));
    String customer = post("/v1/customers", Map.of("email", "a@race.example",
        "metadata", Map.of("tenant_id", tenant.value())));
    String sub = post("/v1/subscriptions", Map.of("customer", customer,
        "items", List.of(Map.of("price", price, "quantity", 1))));
    assertThat(mirroredQuantity(sub)).isEqualTo(1);
    String item = StripeJson.text(StripeJson.items(billing.stripe().get("/v1/subscriptions/" + sub, Map.of()).json())
        .iterator().next(), "id");

    // while the reconciler holds a page saying 1 seat, Stripe moves to 7 and its webhook is applied (same second)
    AtomicReference<Long> mirroredByWebhook = new AtomicReference<>();
    hook.set(new Hook("GET", "/v1/subscriptions", () -> {
      post("/v1/subscriptions/" + sub, Map.of("items", List.of(Map.of("id", item, "quantity", 7))));
      try {
        mirroredByWebhook.set(mirroredQuantity(sub));
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    }));
    DriftReport report = billing.reconciler().sync(true);

    assertThat(mirroredByWebhook.get()).as("the webhook applied the change first").isEqualTo(7);
    assertThat(report.fixFailures()).isEmpty();

    assertThat(hook.get()).as("the change was made while the page was on its way").isNull();
    assertThat(mirroredQuantity(sub)).as("Stripe has 7 seats").isEqualTo(7);
    assertThat(billing.reconciler().sync(false).drifts()).isEmpty();
  }

  @Test
  void aSeatChangeAnsweredBeforeAnotherNodesChangeOfTheSameSecondNeverOverwritesIt() throws Exception {
    TenantId tenant = TenantId.of("race-seats");
    String product = post("/v1/products", Map.of("name", "Seats"));
    String price = post("/v1/prices", Map.of("product", product, "currency", "usd", "unit_amount", 500,
        "recurring", Map.of("interval", "month")));
    String customer = post("/v1/customers", Map.of("email", "s@race.example",
        "metadata", Map.of("tenant_id", tenant.value())));
    String sub = post("/v1/subscriptions", Map.of("customer", customer,
        "items", List.of(Map.of("price", price, "quantity", 1))));
    assertThat(mirroredQuantity(sub)).isEqualTo(1);
    // this node talks to Stripe through the proxy; the other node directly, on the same mirror
    Billing here = Billing.create(BillingConfig.builder().stripeApiKey(emu.apiKey())
        .stripeApiBase("http://127.0.0.1:" + proxy.getLocalPort()).webhookSecrets(emu.webhookSecret()).clock(clock)
        .stripeMaxRetries(0).seatCoalesceWindow(Duration.ZERO).build(), db.appDataSource());
    Billing other = Billing.create(BillingConfig.builder().stripeApiKey(emu.apiKey()).stripeApiBase(emu.apiBase())
        .webhookSecrets(emu.webhookSecret()).clock(clock).stripeMaxRetries(0).seatCoalesceWindow(Duration.ZERO)
        .build(), db.appDataSource());

    // Stripe applied this node's 3 seats; before its answer comes back, the other node sets 8 (and its webhook and
    // its answer are mirrored): Stripe ends at 8, in the same second
    hook.set(new Hook("POST", "/v1/subscriptions/" + sub, () -> other.operations().setSeats(tenant, 8)));
    here.operations().setSeats(tenant, 3);

    assertThat(hook.get()).as("the other node's change was made while this answer was on its way").isNull();
    assertThat(StripeJson.items(emu.object(sub).map(StripeJson::parseObject).orElseThrow()).iterator().next()
        .get("quantity").asLong()).isEqualTo(8);
    assertThat(mirroredQuantity(sub)).as("Stripe has 8 seats").isEqualTo(8);
  }
}
