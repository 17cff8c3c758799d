package dev.saaskit.testing.internal.stripe;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * The HTTP side: a {@link MiniHttpServer} on a random loopback port that checks the API key, applies the fault
 * modes, replays idempotent requests and routes to the {@link Engine}; it also serves the {@link HostedCheckout}
 * page under {@code /checkout/}.
 */
public final class HttpFront implements AutoCloseable {
  private static final Pattern SLASH = Pattern.compile("/");

  private record Stored(String fingerprint, int status, String body, String requestId) {}

  /** RFC 1123 (IMF-fixdate), as HTTP's {@code Date} header wants it. */
  private static final DateTimeFormatter HTTP_DATE =
      DateTimeFormatter.ofPattern("EEE, dd MMM yyyy HH:mm:ss 'GMT'", Locale.ENGLISH).withZone(ZoneOffset.UTC);

  private record Hit(String method, String path) {}

  private record Fault(int status, @Nullable Duration retryAfter) {}

  private final Engine engine;
  private final Deliverer deliverer;
  private final String apiKey;
  private final MiniHttpServer server;
  private final HostedCheckout checkoutPage;
  private final Map<String, Stored> idempotent = new ConcurrentHashMap<>();
  /** Keys of requests being executed: a second request with one of them answers 409, as Stripe does. */
  private final Set<String> executing = ConcurrentHashMap.newKeySet();
  private final List<Hit> hits = new CopyOnWriteArrayList<>();
  private final List<String> versions = new CopyOnWriteArrayList<>();
  private final Object faultMonitor = new Object();
  private final List<Fault> faults = new ArrayList<>();
  private final AtomicInteger requestIds = new AtomicInteger();
  private volatile boolean down;

  /**
   * Starts the server.
   *
   * @param engine the state
   * @param deliverer the webhook deliverer
   * @param apiKey the accepted secret key
   * @param port the loopback port, 0 for a free one
   */
  public HttpFront(Engine engine, Deliverer deliverer, String apiKey, int port) throws IOException {
    this.engine = engine;
    this.deliverer = deliverer;
    this.apiKey = apiKey;
    this.checkoutPage = new HostedCheckout(engine);
    this.server = new MiniHttpServer(this::handle, port);
    engine.checkoutPageBase(base() + "/checkout");
  }

  /** {@code http://127.0.0.1:<port>}. */
  public String base() {
    return "http://" + server.address().getAddress().getHostAddress() + ":" + server.address().getPort();
  }

  /** The next {@code n} requests answer {@code status} (with {@code Retry-After} when given). */
  public void failNext(int n, int status, @Nullable Duration retryAfter) {
    synchronized (faultMonitor) {
      for (int i = 0; i < n; i++) {
        faults.add(new Fault(status, retryAfter));
      }
    }
  }

  /** Every request answers 503 while on. */
  public void down(boolean on) {
    this.down = on;
  }

  /** How many requests hit {@code method} on paths starting with {@code pathPrefix}. */
  public int requestCount(String method, String pathPrefix) {
    int n = 0;
    for (Hit h : hits) {
      if (h.method().equalsIgnoreCase(method) && h.path().startsWith(pathPrefix)) {
        n++;
      }
    }
    return n;
  }

  /** The {@code Stripe-Version} headers received, in order. */
  public List<String> stripeVersions() {
    return List.copyOf(versions);
  }

  private MiniHttpServer.Response handle(MiniHttpServer.Request ex) {
    if (ex.path().startsWith(HostedCheckout.PREFIX)) {
      return checkoutPage.handle(ex); // the browser's page: no API key, not an API request, no injected faults
    }
    Map<String, String> headers = new LinkedHashMap<>();
    String requestId = String.format(Locale.ROOT, "req_emu%010d", requestIds.incrementAndGet());
    String method = ex.method();
    String path = ex.path();
    hits.add(new Hit(method, path));
    String version = ex.header("Stripe-Version");
    if (version != null) {
      versions.add(version);
    }
    headers.put("Content-Type", "application/json");
    headers.put("Date", HTTP_DATE.format(engine.now()));
    headers.put("Request-Id", requestId);
    headers.put("Stripe-Version", version != null ? version : Engine.API_VERSION);
    if (down) {
      return answer(headers, 503, error("api_error", null, "The emulator is down (StripeEmulator.down(true)).",
          null));
    }
    Fault fault;
    synchronized (faultMonitor) {
      fault = faults.isEmpty() ? null : faults.remove(0);
    }
    if (fault != null) {
      Duration retryAfter = fault.retryAfter();
      if (retryAfter != null) {
        headers.put("Retry-After", String.valueOf(retryAfter.toSeconds()));
      }
      if (fault.status() == 429) {
        return answer(headers, 429, error("invalid_request_error", "rate_limit",
            "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.",
            null));
      }
      return answer(headers, fault.status(), error("api_error", null, "Injected failure (failNextRequests).",
          null));
    }
    if (!authorized(ex.header("Authorization"))) {
      return answer(headers, 401, error("authentication_error", null, "Invalid API Key provided.", null));
    }
    String query = ex.rawQuery();
    String body = ex.body();
    ObjectNode params = Form.parse(query == null ? "" : query, body);
    String idemKey = method.equals("POST") ? ex.header("Idempotency-Key") : null;
    String fingerprint = method + " " + path + "?" + canonical(params);
    if (idemKey != null) {
      MiniHttpServer.@Nullable Response replay = replay(idemKey, fingerprint, headers);
      if (replay != null) {
        return replay;
      }
      if (!executing.add(idemKey)) {
        return answer(headers, 409, error("idempotency_error", "idempotency_key_in_use", "There is currently"
            + " another in-progress request using this idempotent key (that probably means you submitted twice,"
            + " and the other request is still going through): " + idemKey + ". Please try again later.", null));
      }
      // the request that held the key may have stored its answer and let go between the look above and the add
      replay = replay(idemKey, fingerprint, headers);
      if (replay != null) {
        executing.remove(idemKey);
        return replay;
      }
    }
    try {
      return execute(headers, requestId, method, path, params, idemKey, fingerprint);
    } finally {
      if (idemKey != null) {
        executing.remove(idemKey);
      }
    }
  }

  /** The stored answer of an earlier request with {@code idemKey}, an error if its parameters differ, or null. */
  private MiniHttpServer.@Nullable Response replay(String idemKey, String fingerprint, Map<String, String> headers) {
    Stored stored = idempotent.get(idemKey);
    if (stored == null) {
      return null;
    }
    if (!stored.fingerprint().equals(fingerprint)) {
      return answer(headers, 400, error("idempotency_error", null, "Keys for idempotent requests can only be "
          + "used with the same parameters they were first used with. Try using a key other than '" + idemKey
          + "' if you meant to execute a different request.", null));
    }
    headers.put("Idempotent-Replayed", "true");
    headers.put("Original-Request", stored.requestId());
    return answer(headers, stored.status(), stored.body());
  }

  private MiniHttpServer.Response execute(Map<String, String> headers, String requestId, String method, String path,
      ObjectNode params, @Nullable String idemKey, String fingerprint) {
    int status;
    String response;
    try {
      // serialized under the state lock: the result may be a live object another request could change
      response = engine.call(requestId, idemKey, () -> {
        JsonNode result = route(method, path, params);
        if (result instanceof ObjectNode && result.path("object").asText().equals("list")) {
          result = engine.expand((ObjectNode) result, params); // expand[]=data.x on lists
        }
        return Json.write(result);
      });
      status = 200;
    } catch (ApiException e) {
      status = e.status();
      response = error(e.type(), e.code(), String.valueOf(e.getMessage()), e.param());
    } catch (RuntimeException e) {
      status = 500;
      response = error("api_error", null, "Emulator failure: " + e, null);
    }
    // Stripe keeps the answer of every request whose execution began, a 500 included, and none of a request that
    // failed validation (400) or named an object that does not exist (404): those may be sent again as they are
    if (idemKey != null && status != 400 && status != 404) {
      idempotent.putIfAbsent(idemKey, new Stored(fingerprint, status, response, requestId));
    }
    // the Date of an answer is the time it was produced, after its events were delivered
    headers.put("Date", HTTP_DATE.format(engine.now()));
    return answer(headers, status, response);
  }

  private static MiniHttpServer.Response answer(Map<String, String> headers, int status, String body) {
    return new MiniHttpServer.Response(status, headers, body);
  }

  private boolean authorized(@Nullable String header) {
    if (header == null) {
      return false;
    }
    String given;
    if (header.startsWith("Bearer ")) {
      given = header.substring(7).trim();
    } else if (header.startsWith("Basic ")) {
      String decoded = new String(Base64.getDecoder().decode(header.substring(6).trim()), StandardCharsets.UTF_8);
      int colon = decoded.indexOf(':');
      given = colon < 0 ? decoded : decoded.substring(0, colon);
    } else {
      return false;
    }
    return MessageDigest.isEqual(given.getBytes(StandardCharsets.UTF_8), apiKey.getBytes(StandardCharsets.UTF_8));
  }

  private static String canonical(ObjectNode params) {
    ObjectNode sorted = Json.MAPPER.copy()
        .configure(com.fasterxml.jackson.databind.SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS, true)
        .convertValue(params, ObjectNode.class);
    return Json.write(sorted);
  }

  private static String error(String type, @Nullable String code, String message, @Nullable String param) {
    ObjectNode root = Json.object();
    ObjectNode e = root.putObject("error");
    e.put("type", type);
    if (code != null) {
      e.put("code", code);
      e.put("doc_url", "https://stripe.com/docs/error-codes/" + code.replace('_', '-'));
    }
    e.put("message", message);
    if (param != null) {
      e.put("param", param);
    }
    return Json.write(root);
  }

  private JsonNode route(String method, String path, ObjectNode p) {
    String[] s = SLASH.split(path.startsWith("/") ? path.substring(1) : path, -1);
    if (s.length < 2 || !s[0].equals("v1")) {
      throw notFound(method, path);
    }
    String r = s[1];
    int n = s.length;
    boolean get = method.equals("GET");
    boolean post = method.equals("POST");
    boolean delete = method.equals("DELETE");
    switch (r) {
      case "customers":
        if (n == 2 && post) {
          return engine.createCustomer(p);
        }
        if (n == 2 && get) {
          String email = Json.str(p, "email");
          return engine.list("/v1/customers", "customer", p,
              c -> email == null || email.equals(c.path("email").asText(null)));
        }
        if (n == 3 && get) {
          return engine.expand(engine.customer(s[2]), p);
        }
        if (n == 3 && post) {
          return engine.expand(engine.updateCustomer(s[2], p), p);
        }
        if (n == 3 && delete) {
          return engine.deleteCustomer(s[2]);
        }
        break;
      case "products":
        if (n == 2 && post) {
          return engine.createProduct(p);
        }
        if (n == 2 && get) {
          Boolean active = Json.bool(p, "active");
          return engine.list("/v1/products", "product", p,
              o -> active == null || o.get("active").asBoolean() == active);
        }
        if (n == 3 && get) {
          return engine.expand(engine.get("product", "product", s[2], "id"), p);
        }
        if (n == 3 && post) {
          return engine.updateProduct(s[2], p);
        }
        break;
      case "prices":
        if (n == 2 && post) {
          return engine.expand(engine.createPrice(p), p);
        }
        if (n == 2 && get) {
          return engine.listPrices(p);
        }
        if (n == 3 && get) {
          return engine.expand(engine.get("price", "price", s[2], "price"), p);
        }
        if (n == 3 && post) {
          return engine.expand(engine.updatePrice(s[2], p), p);
        }
        break;
      case "checkout":
        if (n >= 3 && s[2].equals("sessions")) {
          if (n == 3 && post) {
            return engine.expand(engine.createCheckoutSession(p), p);
          }
          if (n == 3 && get) {
            String customer = Json.str(p, "customer");
            String subscription = Json.str(p, "subscription");
            String status = Json.str(p, "status");
            return engine.list("/v1/checkout/sessions", "checkout.session", p,
                o -> (customer == null || customer.equals(o.path("customer").asText(null)))
                    && (subscription == null || subscription.equals(o.path("subscription").asText(null)))
                    && (status == null || status.equals(o.path("status").asText())));
          }
          if (n == 4 && get) {
            return engine.expand(engine.checkoutSession(s[3]), p);
          }
          if (n == 5 && get && s[4].equals("line_items")) {
            return engine.sessionLineItems(s[3], p);
          }
          if (n == 5 && post && s[4].equals("expire")) {
            return engine.expireSession(s[3]);
          }
        }
        break;
      case "billing_portal":
        if (n == 3 && post && s[2].equals("sessions")) {
          return engine.createPortalSession(p);
        }
        break;
      case "subscriptions":
        if (n == 2 && post) {
          return engine.expand(engine.createSubscription(p, null, false), p);
        }
        if (n == 2 && get) {
          return engine.listSubscriptions(p);
        }
        if (n == 3 && get) {
          return engine.expand(engine.subscription(s[2]), p);
        }
        if (n == 3 && post) {
          return engine.expand(engine.updateSubscription(s[2], p), p);
        }
        if (n == 3 && delete) {
          return engine.expand(engine.cancelSubscription(s[2]), p);
        }
        if (n == 4 && post && s[3].equals("resume")) {
          return engine.expand(engine.resumeSubscription(s[2]), p);
        }
        break;
      case "subscription_items":
        if (n == 2 && get) {
          return engine.listSubscriptionItems(p);
        }
        if (n == 3 && get) {
          return engine.expand(engine.subscriptionItem(s[2]), p);
        }
        if (n == 3 && post) {
          return engine.expand(engine.updateSubscriptionItem(s[2], p), p);
        }
        break;
      case "subscription_schedules":
        if (n == 2 && post) {
          return engine.expand(engine.createSchedule(p), p);
        }
        if (n == 2 && get) {
          String customer = Json.str(p, "customer");
          return engine.list("/v1/subscription_schedules", "subscription_schedule", p,
              o -> customer == null || customer.equals(o.get("customer").asText()));
        }
        if (n == 3 && get) {
          return engine.expand(engine.schedule(s[2]), p);
        }
        if (n == 4 && post && s[3].equals("cancel")) {
          return engine.cancelSchedule(s[2]);
        }
        if (n == 4 && post && s[3].equals("release")) {
          return engine.releaseSchedule(s[2]);
        }
        break;
      case "invoices":
        if (n == 2 && get) {
          return engine.listInvoices(p);
        }
        if (n == 3 && post && s[2].equals("create_preview")) {
          return engine.expand(engine.createPreview(p), p);
        }
        if (n == 3 && get) {
          return engine.expand(engine.invoice(s[2]), p);
        }
        if (n == 4 && get && s[3].equals("lines")) {
          List<ObjectNode> lines = new ArrayList<>();
          engine.invoice(s[2]).get("lines").get("data").forEach(l -> lines.add((ObjectNode) l));
          return Engine.page("/v1/invoices/" + s[2] + "/lines", lines, p);
        }
        if (n == 4 && post) {
          switch (s[3]) {
            case "pay":
              return engine.expand(engine.payInvoice(s[2], p), p);
            case "void":
              return engine.expand(engine.voidInvoice(s[2]), p);
            case "mark_uncollectible":
              return engine.expand(engine.markUncollectible(s[2]), p);
            case "finalize":
              return engine.expand(engine.finalizeInvoice(s[2]), p);
            default:
              break;
          }
        }
        break;
      case "billing":
        if (n == 3 && post && s[2].equals("meter_events")) {
          return engine.createMeterEvent(p);
        }
        if (n == 3 && post && s[2].equals("meters")) {
          return engine.createMeter(p);
        }
        if (n == 3 && get && s[2].equals("meters")) {
          return engine.list("/v1/billing/meters", "billing.meter", p, o -> true);
        }
        if (n == 4 && get && s[2].equals("meters")) {
          return engine.meter(s[3]);
        }
        break;
      case "events":
        if (n == 2 && get) {
          return engine.listEvents(p, deliverer::delivered);
        }
        if (n == 3 && get) {
          return engine.retrieveEvent(s[2]);
        }
        break;
      default:
        break;
    }
    throw notFound(method, path);
  }

  private static ApiException notFound(String method, String path) {
    return new ApiException(404, "invalid_request_error", null,
        "Unrecognized request URL (" + method + ": " + path + "). The Stripe emulator does not serve it.", null);
  }

  @Override
  public void close() {
    server.close();
  }
}
