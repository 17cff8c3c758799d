package dev.saaskit.testing.internal.stripe;

import static dev.saaskit.testing.internal.stripe.Json.arr;
import static dev.saaskit.testing.internal.stripe.Json.bool;
import static dev.saaskit.testing.internal.stripe.Json.lng;
import static dev.saaskit.testing.internal.stripe.Json.obj;
import static dev.saaskit.testing.internal.stripe.Json.required;
import static dev.saaskit.testing.internal.stripe.Json.str;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * The emulator's in-memory Stripe account: objects, events, the clock and the billing lifecycle (renewals,
 * dunning, trials, schedules). Every operation runs under one lock; events go to the {@link Deliverer}, which
 * delivers them after the lock is released.
 */
public final class Engine {
  /** The API version the emulator speaks (stripe-java 33.3.0's {@code ApiVersion.CURRENT}). */
  public static final String API_VERSION = "2026-07-29.dahlia";

  private static final long DAY = 86_400L;
  private static final Pattern DOT = Pattern.compile("\\.");
  private static final String ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

  private final ReentrantLock lock = new ReentrantLock();
  private final Clock clock;
  private final Random random;
  private final Deliverer deliverer;
  private final List<Duration> retries;
  private Duration offset = Duration.ZERO;
  private long sequence;
  private int silent;
  private @Nullable String requestId;
  private @Nullable String idempotencyKey;
  /** Where checkout session URLs point: the hosted page on the emulator's own server once it listens. */
  private volatile String checkoutPageBase = "https://checkout.stripe.com/c/pay";

  /** Every object by id, and each type's ids in creation order. */
  private final Map<String, ObjectNode> objects = new HashMap<>();
  private final Map<String, Long> order = new HashMap<>();
  private final Map<String, List<String>> byType = new HashMap<>();
  private final List<ObjectNode> events = new ArrayList<>();
  private final Set<String> failingCustomers = new HashSet<>();
  private final Map<String, List<ObjectNode>> sessionLineItems = new HashMap<>();
  private final Map<String, ObjectNode> sessionSubscriptionData = new HashMap<>();
  private final Map<String, List<ObjectNode>> pendingProrations = new HashMap<>();
  private final Map<String, Long> firstFailure = new HashMap<>();
  private final Set<String> overdueSent = new HashSet<>();
  private final Set<String> trialWillEndSent = new HashSet<>();
  private final Map<String, Long> meterIdentifiers = new HashMap<>();
  private final List<ObjectNode> meterEvents = new ArrayList<>();

  /**
   * A new account.
   *
   * @param clock the base clock ({@link #advance} adds an offset over it)
   * @param seed the seed for ids
   * @param deliverer where events go
   * @param retries the dunning retry offsets after the first failed payment
   */
  public Engine(Clock clock, long seed, Deliverer deliverer, List<Duration> retries) {
    this.clock = clock;
    this.random = new Random(seed);
    this.deliverer = deliverer;
    this.retries = List.copyOf(retries);
  }

  // ------------------------------------------------------------------ plumbing

  /** Sets the prefix of checkout session URLs: new sessions get {@code <base>/<session id>}. */
  public void checkoutPageBase(String base) {
    this.checkoutPageBase = base;
  }

  /** Runs an operation under the lock, as the request {@code reqId} (may be null), then delivers its events. */
  public <T> T call(@Nullable String reqId, @Nullable String idemKey, Supplier<T> operation) {
    lock.lock();
    try {
      requestId = reqId;
      idempotencyKey = idemKey;
      return operation.get();
    } finally {
      requestId = null;
      idempotencyKey = null;
      lock.unlock();
      deliverer.flush();
    }
  }

  /**
   * Runs {@code operation} with event creation off: Java calls and HTTP requests made meanwhile (from any thread)
   * change state without creating events. Not under the lock, so the operation may call the emulator over HTTP.
   */
  public void silently(Runnable operation) {
    lock.lock();
    try {
      silent++;
    } finally {
      lock.unlock();
    }
    try {
      operation.run();
    } finally {
      lock.lock();
      try {
        silent--;
      } finally {
        lock.unlock();
      }
    }
  }

  /** The emulator's current time. */
  public Instant now() {
    lock.lock();
    try {
      return clock.instant().plus(offset);
    } finally {
      lock.unlock();
    }
  }

  private long nowSeconds() {
    return clock.instant().plus(offset).getEpochSecond();
  }

  String id(String prefix) {
    StringBuilder sb = new StringBuilder(prefix);
    for (int i = 0; i < 24; i++) {
      sb.append(ALNUM.charAt(random.nextInt(ALNUM.length())));
    }
    return sb.toString();
  }

  private ObjectNode base(String prefix, String object) {
    ObjectNode o = Json.object();
    o.put("id", id(prefix));
    o.put("object", object);
    o.put("created", nowSeconds());
    o.put("livemode", false);
    o.putObject("metadata");
    return o;
  }

  private void store(ObjectNode o) {
    String id = o.get("id").asText();
    objects.put(id, o);
    order.put(id, ++sequence);
    byType.computeIfAbsent(o.get("object").asText(), k -> new ArrayList<>()).add(id);
  }

  ObjectNode get(String object, String what, String id, String param) {
    ObjectNode o = objects.get(id);
    if (o == null || !o.get("object").asText().equals(object)) {
      throw ApiException.missing(what, id, param);
    }
    return o;
  }

  private ObjectNode must(String id) {
    ObjectNode o = objects.get(id);
    if (o == null) {
      throw new IllegalStateException("the emulator lost object " + id);
    }
    return o;
  }

  private long seq(String id) {
    return order.getOrDefault(id, 0L);
  }

  private ObjectNode emit(String type, ObjectNode object, @Nullable ObjectNode previous) {
    if (silent > 0) {
      return object;
    }
    ObjectNode e = Json.object();
    e.put("id", id("evt_"));
    e.put("object", "event");
    e.put("api_version", API_VERSION);
    e.put("created", nowSeconds());
    ObjectNode data = e.putObject("data");
    data.set("object", object.deepCopy());
    if (previous != null) {
      data.set("previous_attributes", previous);
    }
    e.put("livemode", false);
    e.put("pending_webhooks", 1);
    ObjectNode request = e.putObject("request");
    request.put("id", requestId);
    request.put("idempotency_key", idempotencyKey);
    e.put("type", type);
    events.add(e);
    order.put(e.get("id").asText(), ++sequence);
    deliverer.enqueue(e);
    return object;
  }

  /** Applies {@code change} and emits {@code type} with the previous attributes, when anything changed. */
  private void update(ObjectNode o, String type, Runnable change) {
    ObjectNode before = o.deepCopy();
    change.run();
    ObjectNode prev = Json.previous(before, o);
    if (prev.size() > 0) {
      emit(type, o, prev);
    }
  }

  /** Every event, oldest first (copies). */
  public List<ObjectNode> events() {
    lock.lock();
    try {
      List<ObjectNode> out = new ArrayList<>();
      events.forEach(e -> out.add(e.deepCopy()));
      return out;
    } finally {
      lock.unlock();
    }
  }

  /** An event by id, or null. */
  public @Nullable ObjectNode event(String id) {
    lock.lock();
    try {
      for (ObjectNode e : events) {
        if (e.get("id").asText().equals(id)) {
          return e;
        }
      }
      return null;
    } finally {
      lock.unlock();
    }
  }

  /** A copy of an object by id, or null. */
  public @Nullable ObjectNode object(String id) {
    lock.lock();
    try {
      ObjectNode o = objects.get(id);
      return o == null ? null : o.deepCopy();
    } finally {
      lock.unlock();
    }
  }

  // ------------------------------------------------------------------ lists and expansion

  ObjectNode list(String url, String type, JsonNode params, Predicate<ObjectNode> filter) {
    List<ObjectNode> all = new ArrayList<>();
    List<String> ids = byType.getOrDefault(type, List.of());
    for (int i = ids.size() - 1; i >= 0; i--) {
      ObjectNode o = objects.get(ids.get(i));
      if (o != null && !o.path("deleted").asBoolean(false) && filter.test(o)) {
        all.add(o);
      }
    }
    return page(url, all, params);
  }

  /** A page of {@code all} (newest first) by {@code limit}, {@code starting_after}, {@code ending_before}. */
  static ObjectNode page(String url, List<ObjectNode> all, JsonNode params) {
    Long limitParam = lng(params, "limit");
    long limit = limitParam == null ? 10 : limitParam;
    if (limit < 1 || limit > 100) {
      throw ApiException.invalid("parameter_invalid_integer",
          "Invalid limit: must be between 1 and 100", "limit");
    }
    String after = str(params, "starting_after");
    String before = str(params, "ending_before");
    int from = 0;
    int to = all.size();
    if (after != null && !after.isEmpty()) {
      int i = indexOf(all, after, "starting_after");
      from = i + 1;
    } else if (before != null && !before.isEmpty()) {
      int i = indexOf(all, before, "ending_before");
      to = i;
      from = (int) Math.max(0, to - limit);
      return Json.list(url, copies(all.subList(from, to)), from > 0);
    }
    int end = (int) Math.min(to, from + limit);
    return Json.list(url, copies(all.subList(from, end)), end < to);
  }

  private static int indexOf(List<ObjectNode> all, String id, String param) {
    for (int i = 0; i < all.size(); i++) {
      if (all.get(i).get("id").asText().equals(id)) {
        return i;
      }
    }
    throw ApiException.invalid("resource_missing", "No such object: '" + id + "'", param);
  }

  private static List<ObjectNode> copies(List<ObjectNode> in) {
    List<ObjectNode> out = new ArrayList<>();
    in.forEach(o -> out.add(o.deepCopy()));
    return out;
  }

  /** Expands the dotted paths of {@code expand[]} in a copy of {@code node}. */
  ObjectNode expand(ObjectNode node, JsonNode params) {
    ObjectNode copy = node.deepCopy();
    for (String path : Json.strings(params, "expand")) {
      expandPath(copy, List.of(DOT.split(path, -1)), 0);
    }
    return copy;
  }

  private void expandPath(JsonNode node, List<String> path, int i) {
    if (i >= path.size()) {
      return;
    }
    String field = path.get(i);
    if (node.isArray()) {
      for (JsonNode element : node) {
        expandPath(element, path, i);
      }
      return;
    }
    if (!(node instanceof ObjectNode)) {
      return;
    }
    ObjectNode o = (ObjectNode) node;
    if (field.equals("line_items") && o.path("object").asText().equals("checkout.session")) {
      List<ObjectNode> items = sessionLineItems.getOrDefault(o.get("id").asText(), List.of());
      o.set("line_items", Json.list("/v1/checkout/sessions/" + o.get("id").asText() + "/line_items",
          copies(items), false));
    }
    JsonNode value = o.get(field);
    if (value == null) {
      return;
    }
    if (value.isTextual() && objects.containsKey(value.asText())) {
      value = objects.get(value.asText()).deepCopy();
      o.set(field, value);
    }
    expandPath(value, path, i + 1);
  }

  // ------------------------------------------------------------------ customers

  ObjectNode createCustomer(JsonNode p) {
    ObjectNode c = base("cus_", "customer");
    for (String f : List.of("address", "discount", "default_source", "shipping", "test_clock", "currency")) {
      c.putNull(f);
    }
    c.put("balance", 0);
    c.put("delinquent", false);
    c.put("description", str(p, "description"));
    c.put("email", str(p, "email"));
    c.put("name", str(p, "name"));
    c.put("phone", str(p, "phone"));
    c.put("invoice_prefix", id("").substring(0, 8).toUpperCase(java.util.Locale.ROOT));
    ObjectNode settings = c.putObject("invoice_settings");
    settings.putNull("custom_fields");
    settings.put("default_payment_method", str(obj(p, "invoice_settings"), "default_payment_method"));
    settings.putNull("footer");
    settings.putNull("rendering_options");
    c.putArray("preferred_locales");
    c.put("tax_exempt", "none");
    c.put("next_invoice_sequence", 1);
    Json.mergeMetadata(c, p);
    store(c);
    return emit("customer.created", c, null);
  }

  ObjectNode customer(String id) {
    ObjectNode c = objects.get(id);
    if (c == null || !c.get("object").asText().equals("customer")) {
      throw ApiException.missing("customer", id, "id");
    }
    return c;
  }

  private ObjectNode liveCustomer(String id, String param) {
    ObjectNode c = objects.get(id);
    if (c == null || !c.get("object").asText().equals("customer") || c.path("deleted").asBoolean(false)) {
      throw ApiException.missing("customer", id, param);
    }
    return c;
  }

  ObjectNode updateCustomer(String id, JsonNode p) {
    ObjectNode c = liveCustomer(id, "id");
    update(c, "customer.updated", () -> {
      for (String f : List.of("email", "name", "description", "phone")) {
        if (p.has(f)) {
          String v = str(p, f);
          c.put(f, v == null || v.isEmpty() ? null : v);
        }
      }
      if (p.has("invoice_settings")) {
        String pm = str(obj(p, "invoice_settings"), "default_payment_method");
        if (pm != null) {
          ((ObjectNode) c.get("invoice_settings")).put("default_payment_method", pm.isEmpty() ? null : pm);
        }
      }
      Json.mergeMetadata(c, p);
    });
    return c;
  }

  ObjectNode deleteCustomer(String id) {
    ObjectNode c = liveCustomer(id, "id");
    ObjectNode snapshot = c.deepCopy();
    for (ObjectNode s : objectsOf("subscription")) {
      if (s.get("customer").asText().equals(id) && !s.get("status").asText().equals("canceled")) {
        cancelNow(s, "cancellation_requested");
      }
    }
    c.removeAll();
    c.put("id", id);
    c.put("object", "customer");
    c.put("deleted", true);
    emit("customer.deleted", snapshot, null);
    return c;
  }

  private List<ObjectNode> objectsOf(String type) {
    List<ObjectNode> out = new ArrayList<>();
    for (String id : byType.getOrDefault(type, List.of())) {
      ObjectNode o = objects.get(id);
      if (o != null) {
        out.add(o);
      }
    }
    return out;
  }

  // ------------------------------------------------------------------ products and prices

  ObjectNode createProduct(JsonNode p) {
    ObjectNode pr = base("prod_", "product");
    String id = str(p, "id");
    if (id != null && !id.isEmpty()) {
      if (objects.containsKey(id)) {
        throw ApiException.invalid("resource_already_exists", "Product already exists.", "id");
      }
      pr.put("id", id);
    }
    pr.put("active", !Boolean.FALSE.equals(bool(p, "active")));
    pr.put("name", required(p, "name"));
    pr.put("description", str(p, "description"));
    pr.putNull("default_price");
    pr.putArray("images");
    pr.putArray("marketing_features");
    pr.putNull("package_dimensions");
    pr.putNull("shippable");
    pr.putNull("statement_descriptor");
    pr.putNull("tax_code");
    pr.putNull("unit_label");
    pr.put("updated", nowSeconds());
    pr.putNull("url");
    Json.mergeMetadata(pr, p);
    store(pr);
    return emit("product.created", pr, null);
  }

  ObjectNode updateProduct(String id, JsonNode p) {
    ObjectNode pr = get("product", "product", id, "id");
    update(pr, "product.updated", () -> {
      if (p.has("name")) {
        pr.put("name", required(p, "name"));
      }
      if (p.has("description")) {
        pr.put("description", str(p, "description"));
      }
      Boolean active = bool(p, "active");
      if (active != null) {
        pr.put("active", active);
      }
      Json.mergeMetadata(pr, p);
      pr.put("updated", nowSeconds());
    });
    return pr;
  }

  ObjectNode createPrice(JsonNode p) {
    ObjectNode pr = base("price_", "price");
    String product = str(p, "product");
    if (product == null || product.isEmpty()) {
      ObjectNode data = obj(p, "product_data");
      if (data.size() == 0) {
        throw ApiException.paramMissing("product");
      }
      product = createProduct(data).get("id").asText();
    } else {
      get("product", "product", product, "product");
    }
    pr.put("active", !Boolean.FALSE.equals(bool(p, "active")));
    pr.put("billing_scheme", "per_unit");
    pr.put("currency", required(p, "currency").toLowerCase(java.util.Locale.ROOT));
    pr.putNull("custom_unit_amount");
    String lookupKey = str(p, "lookup_key");
    if (lookupKey != null && !lookupKey.isEmpty()) {
      for (ObjectNode other : objectsOf("price")) {
        if (lookupKey.equals(other.path("lookup_key").asText(null))) {
          if (Boolean.TRUE.equals(bool(p, "transfer_lookup_key"))) {
            update(other, "price.updated", () -> other.putNull("lookup_key"));
          } else {
            throw ApiException.invalid("lookup_key_already_exists",
                "A price (`" + other.get("id").asText() + "`) already uses that lookup key.", "lookup_key");
          }
        }
      }
    }
    pr.put("lookup_key", lookupKey);
    pr.put("nickname", str(p, "nickname"));
    pr.put("product", product);
    ObjectNode recurring = obj(p, "recurring");
    if (p.has("recurring")) {
      String interval = required(recurring, "interval");
      if (!List.of("day", "week", "month", "year").contains(interval)) {
        throw ApiException.invalid("parameter_invalid_string", "Invalid recurring[interval]: " + interval,
            "recurring[interval]");
      }
      ObjectNode r = pr.putObject("recurring");
      r.put("interval", interval);
      Long count = lng(recurring, "interval_count");
      r.put("interval_count", count == null ? 1 : count);
      String meter = str(recurring, "meter");
      String usage = str(recurring, "usage_type");
      r.put("meter", meter);
      r.putNull("trial_period_days");
      r.put("usage_type", usage == null ? "licensed" : usage);
      if ("metered".equals(usage) && meter != null) {
        get("billing.meter", "billing meter", meter, "recurring[meter]");
      }
      pr.put("type", "recurring");
    } else {
      pr.putNull("recurring");
      pr.put("type", "one_time");
    }
    pr.put("tax_behavior", "unspecified");
    pr.putNull("tiers_mode");
    pr.putNull("transform_quantity");
    Long amount = lng(p, "unit_amount");
    if (amount == null) {
      throw ApiException.paramMissing("unit_amount");
    }
    pr.put("unit_amount", amount);
    pr.put("unit_amount_decimal", String.valueOf(amount));
    Json.mergeMetadata(pr, p);
    store(pr);
    return emit("price.created", pr, null);
  }

  ObjectNode updatePrice(String id, JsonNode p) {
    ObjectNode pr = get("price", "price", id, "id");
    update(pr, "price.updated", () -> {
      Boolean active = bool(p, "active");
      if (active != null) {
        pr.put("active", active);
      }
      if (p.has("nickname")) {
        pr.put("nickname", str(p, "nickname"));
      }
      if (p.has("lookup_key")) {
        String k = str(p, "lookup_key");
        pr.put("lookup_key", k == null || k.isEmpty() ? null : k);
      }
      Json.mergeMetadata(pr, p);
    });
    return pr;
  }

  ObjectNode listPrices(JsonNode p) {
    Boolean active = bool(p, "active");
    String product = str(p, "product");
    List<String> keys = Json.strings(p, "lookup_keys");
    String type = str(p, "type");
    return list("/v1/prices", "price", p, pr -> (active == null || pr.get("active").asBoolean() == active)
        && (product == null || pr.get("product").asText().equals(product))
        && (type == null || pr.get("type").asText().equals(type))
        && (keys.isEmpty() || keys.contains(pr.path("lookup_key").asText("\u0000"))));
  }

  // ------------------------------------------------------------------ meters and meter events

  ObjectNode createMeter(JsonNode p) {
    ObjectNode m = base("mtr_", "billing.meter");
    m.remove("metadata");
    ObjectNode mapping = m.putObject("customer_mapping");
    mapping.put("event_payload_key", "stripe_customer_id");
    mapping.put("type", "by_id");
    String formula = str(obj(p, "default_aggregation"), "formula");
    m.putObject("default_aggregation").put("formula", formula == null ? "sum" : formula);
    m.put("display_name", required(p, "display_name"));
    String eventName = required(p, "event_name");
    for (ObjectNode other : objectsOf("billing.meter")) {
      if (other.get("event_name").asText().equals(eventName)) {
        throw ApiException.invalid("resource_already_exists",
            "A meter with event_name '" + eventName + "' already exists.", "event_name");
      }
    }
    m.put("event_name", eventName);
    m.putNull("event_time_window");
    m.put("status", "active");
    m.putObject("status_transitions").putNull("deactivated_at");
    m.put("updated", nowSeconds());
    m.putObject("value_settings").put("event_payload_key", "value");
    store(m);
    return emit("billing.meter.created", m, null);
  }

  ObjectNode meter(String id) {
    return get("billing.meter", "billing meter", id, "id");
  }

  ObjectNode createMeterEvent(JsonNode p) {
    String eventName = required(p, "event_name");
    ObjectNode payload = obj(p, "payload");
    String customer = str(payload, "stripe_customer_id");
    if (customer == null || customer.isEmpty()) {
      throw ApiException.paramMissing("payload[stripe_customer_id]");
    }
    String value = str(payload, "value");
    if (value == null || value.isEmpty()) {
      throw ApiException.paramMissing("payload[value]");
    }
    try {
      Long.parseLong(value);
    } catch (NumberFormatException e) {
      throw ApiException.invalid("parameter_invalid_integer", "Invalid payload[value]: " + value,
          "payload[value]");
    }
    String identifier = str(p, "identifier");
    if (identifier == null || identifier.isEmpty()) {
      identifier = id("mev_");
    }
    long now = nowSeconds();
    Long seen = meterIdentifiers.get(identifier);
    if (seen != null && now - seen < DAY) {
      throw ApiException.invalid("resource_already_exists",
          "An event already exists with identifier " + identifier + ".", "identifier");
    }
    Long ts = lng(p, "timestamp");
    ObjectNode e = Json.object();
    e.put("object", "billing.meter_event");
    e.put("created", now);
    e.put("event_name", eventName);
    e.put("identifier", identifier);
    e.put("livemode", false);
    e.set("payload", payload);
    e.put("timestamp", ts == null ? now : ts);
    meterIdentifiers.put(identifier, now);
    meterEvents.add(e);
    return e.deepCopy();
  }

  /** The sum of accepted meter event values for a customer and event name. */
  public long meterEventTotal(String customerId, String eventName) {
    lock.lock();
    try {
      return usage(customerId, eventName, Long.MIN_VALUE, Long.MAX_VALUE);
    } finally {
      lock.unlock();
    }
  }

  private long usage(String customerId, String eventName, long from, long to) {
    long sum = 0;
    for (ObjectNode e : meterEvents) {
      long ts = e.get("timestamp").asLong();
      if (e.get("event_name").asText().equals(eventName)
          && e.get("payload").path("stripe_customer_id").asText().equals(customerId) && ts >= from && ts < to) {
        sum += e.get("payload").get("value").asLong();
      }
    }
    return sum;
  }

  // ------------------------------------------------------------------ checkout and portal

  ObjectNode createCheckoutSession(JsonNode p) {
    String mode = required(p, "mode");
    if (!mode.equals("subscription")) {
      throw ApiException.invalid("parameter_invalid_string",
          "The emulator supports mode=subscription only, not " + mode, "mode");
    }
    ObjectNode s = base("cs_test_", "checkout.session");
    List<JsonNode> lineItems = arr(p, "line_items");
    if (lineItems.isEmpty()) {
      throw ApiException.paramMissing("line_items");
    }
    List<ObjectNode> items = new ArrayList<>();
    long total = 0;
    String currency = null;
    for (int i = 0; i < lineItems.size(); i++) {
      JsonNode li = lineItems.get(i);
      ObjectNode price = get("price", "price", required(li, "price"), "line_items[" + i + "][price]");
      if (price.get("recurring").isNull()) {
        throw ApiException.invalid("parameter_invalid_string",
            "mode=subscription needs recurring prices", "line_items[" + i + "][price]");
      }
      boolean metered = price.get("recurring").path("usage_type").asText().equals("metered");
      Long q = lng(li, "quantity");
      long quantity = q == null ? 1 : q;
      ObjectNode item = Json.object();
      item.put("id", id("li_"));
      item.put("object", "item");
      long amount = metered ? 0 : price.get("unit_amount").asLong() * quantity;
      item.put("amount_discount", 0);
      item.put("amount_subtotal", amount);
      item.put("amount_tax", 0);
      item.put("amount_total", amount);
      item.put("currency", price.get("currency").asText());
      item.put("description", must(price.get("product").asText()).path("name").asText());
      item.set("price", price.deepCopy());
      if (metered) {
        item.putNull("quantity");
      } else {
        item.put("quantity", quantity);
      }
      items.add(item);
      total += amount;
      currency = price.get("currency").asText();
    }
    String customer = str(p, "customer");
    if (customer != null && !customer.isEmpty()) {
      liveCustomer(customer, "customer");
    } else {
      customer = null;
    }
    s.putNull("after_expiration");
    s.putNull("allow_promotion_codes");
    s.putNull("billing_address_collection");
    s.putNull("client_secret");
    s.putNull("consent");
    s.putNull("consent_collection");
    s.putArray("custom_fields");
    s.put("customer_creation", p.has("customer") ? null : "always");
    s.putNull("invoice_creation");
    s.putNull("locale");
    s.putNull("payment_link");
    s.putObject("phone_number_collection").put("enabled", false);
    s.putNull("recovered_from");
    s.putNull("submit_type");
    s.put("amount_subtotal", total);
    s.put("amount_total", total);
    s.putObject("automatic_tax").put("enabled", false);
    s.put("cancel_url", str(p, "cancel_url"));
    s.put("client_reference_id", str(p, "client_reference_id"));
    s.put("currency", currency);
    s.put("customer", customer);
    s.putNull("customer_details");
    s.put("customer_email", str(p, "customer_email"));
    s.put("expires_at", nowSeconds() + DAY);
    s.putNull("invoice");
    Json.mergeMetadata(s, p);
    s.put("mode", mode);
    s.putNull("payment_intent");
    s.put("payment_method_collection", "always");
    s.putArray("payment_method_types").add("card");
    s.put("payment_status", "unpaid");
    s.putNull("setup_intent");
    s.put("status", "open");
    s.putNull("subscription");
    String success = str(p, "success_url");
    s.put("success_url", success == null ? null : success.replace("{CHECKOUT_SESSION_ID}", s.get("id").asText()));
    ObjectNode totals = s.putObject("total_details");
    totals.put("amount_discount", 0);
    totals.put("amount_shipping", 0);
    totals.put("amount_tax", 0);
    s.put("ui_mode", "hosted");
    s.put("url", checkoutPageBase + "/" + s.get("id").asText());
    sessionLineItems.put(s.get("id").asText(), items);
    sessionSubscriptionData.put(s.get("id").asText(), obj(p, "subscription_data").deepCopy());
    store(s);
    return s;
  }

  ObjectNode checkoutSession(String id) {
    return get("checkout.session", "checkout.session", id, "session");
  }

  /** A session's line items (prices included) as created, for the hosted page; call under the lock. */
  List<ObjectNode> sessionItems(String id) {
    return sessionLineItems.getOrDefault(id, List.of());
  }

  /** A session's {@code subscription_data} as created (trial days, metadata); call under the lock. */
  ObjectNode sessionSubscriptionData(String id) {
    return sessionSubscriptionData.getOrDefault(id, Json.object());
  }

  /** The emulator's time in epoch seconds; call under the lock. */
  long epochSecond() {
    return nowSeconds();
  }

  ObjectNode sessionLineItems(String id, JsonNode p) {
    checkoutSession(id);
    List<ObjectNode> items = new ArrayList<>(sessionLineItems.getOrDefault(id, List.of()));
    Collections.reverse(items);
    return page("/v1/checkout/sessions/" + id + "/line_items", items, p);
  }

  ObjectNode expireSession(String id) {
    ObjectNode s = checkoutSession(id);
    if (!s.get("status").asText().equals("open")) {
      throw ApiException.invalid(null, "Only open sessions can be expired.", null);
    }
    s.put("status", "expired");
    s.putNull("url");
    return emit("checkout.session.expired", s, null);
  }

  /** The customer completes the hosted page: {@code async} leaves the payment pending. */
  public ObjectNode completeCheckout(String sessionId, boolean async) {
    ObjectNode s = checkoutSession(sessionId);
    if (!s.get("status").asText().equals("open")) {
      throw ApiException.invalid(null, "Checkout session " + sessionId + " is " + s.get("status").asText()
          + ", not open", "session");
    }
    String customerId = s.get("customer").asText(null);
    if (customerId == null) {
      ObjectNode params = Json.object();
      params.put("email", s.get("customer_email").asText(null));
      customerId = createCustomer(params).get("id").asText();
    }
    if (!async && failingCustomers.contains(customerId)) {
      throw new ApiException(402, "card_error", "card_declined", "Your card was declined.", null);
    }
    ObjectNode subData = sessionSubscriptionData.getOrDefault(sessionId, Json.object());
    ObjectNode params = Json.object();
    params.put("customer", customerId);
    ArrayNode items = params.putArray("items");
    for (ObjectNode li : sessionLineItems.getOrDefault(sessionId, List.of())) {
      ObjectNode item = items.addObject();
      item.put("price", li.get("price").get("id").asText());
      if (!li.get("quantity").isNull()) {
        item.put("quantity", li.get("quantity").asText());
      }
    }
    if (subData.has("trial_period_days")) {
      params.set("trial_period_days", subData.get("trial_period_days"));
    }
    if (subData.has("metadata")) {
      params.set("metadata", subData.get("metadata"));
    }
    ObjectNode sub = createSubscription(params, null, async);
    ObjectNode customer = must(customerId);
    s.put("customer", customerId);
    ObjectNode details = s.putObject("customer_details");
    details.putNull("address");
    details.put("email", customer.get("email").asText(null));
    details.put("name", customer.get("name").asText(null));
    details.putNull("phone");
    details.put("tax_exempt", "none");
    details.putArray("tax_ids");
    s.put("invoice", sub.get("latest_invoice").asText(null));
    s.put("status", "complete");
    boolean trial = sub.get("status").asText().equals("trialing");
    s.put("payment_status", async ? "unpaid" : trial ? "no_payment_required" : "paid");
    s.put("subscription", sub.get("id").asText());
    s.putNull("url");
    return emit("checkout.session.completed", s, null);
  }

  /** Settles a pending (async) checkout payment. */
  public ObjectNode settleAsyncPayment(String sessionId, boolean succeeded) {
    ObjectNode s = checkoutSession(sessionId);
    if (!s.get("status").asText().equals("complete") || !s.get("payment_status").asText().equals("unpaid")) {
      throw ApiException.invalid(null, "Checkout session " + sessionId + " has no pending payment", "session");
    }
    ObjectNode sub = must(s.get("subscription").asText());
    ObjectNode invoice = must(sub.get("latest_invoice").asText());
    if (succeeded) {
      markPaid(invoice);
      update(sub, "customer.subscription.updated", () -> sub.put("status", "active"));
      s.put("payment_status", "paid");
      return emit("checkout.session.async_payment_succeeded", s, null);
    }
    invoice.put("attempted", true);
    invoice.put("attempt_count", invoice.get("attempt_count").asInt() + 1);
    emit("invoice.payment_failed", invoice, null);
    update(sub, "customer.subscription.updated", () -> sub.put("status", "incomplete_expired"));
    voidInvoice(invoice);
    return emit("checkout.session.async_payment_failed", s, null);
  }

  ObjectNode createPortalSession(JsonNode p) {
    String customer = required(p, "customer");
    liveCustomer(customer, "customer");
    ObjectNode s = base("bps_", "billing_portal.session");
    s.remove("metadata");
    s.put("configuration", "bpc_emulator");
    s.put("customer", customer);
    s.putNull("flow");
    s.putNull("locale");
    s.putNull("on_behalf_of");
    s.put("return_url", str(p, "return_url"));
    s.put("url", "https://billing.stripe.com/p/session/test_" + s.get("id").asText().substring(4));
    store(s);
    return s;
  }

  // ------------------------------------------------------------------ subscriptions

  private static long addInterval(long start, JsonNode recurring, long times) {
    ZonedDateTime t = Instant.ofEpochSecond(start).atZone(ZoneOffset.UTC);
    long n = recurring.path("interval_count").asLong(1) * times;
    switch (recurring.get("interval").asText()) {
      case "day":
        return t.plusDays(n).toEpochSecond();
      case "week":
        return t.plusWeeks(n).toEpochSecond();
      case "year":
        return t.plusYears(n).toEpochSecond();
      default:
        return t.plusMonths(n).toEpochSecond();
    }
  }

  private ObjectNode newItem(String subId, ObjectNode price, @Nullable Long quantity, long start, long end) {
    ObjectNode si = base("si_", "subscription_item");
    si.remove("livemode");
    si.putNull("billing_thresholds");
    si.put("current_period_end", end);
    si.put("current_period_start", start);
    si.putArray("discounts");
    si.set("price", price.deepCopy());
    if (isMetered(price)) {
      si.putNull("quantity");
    } else {
      si.put("quantity", quantity == null ? 1 : quantity);
    }
    si.put("subscription", subId);
    si.putArray("tax_rates");
    return si;
  }

  private static boolean isMetered(JsonNode price) {
    return price.path("recurring").path("usage_type").asText().equals("metered");
  }

  private static ArrayNode items(ObjectNode sub) {
    return (ArrayNode) sub.get("items").get("data");
  }

  private static long periodEnd(ObjectNode sub) {
    return items(sub).get(0).get("current_period_end").asLong();
  }

  /**
   * The {@code cancel_at} parameter of a subscription create or update: a timestamp, {@code min_period_end} or
   * {@code max_period_end} (the earliest or latest item period end, resolved at once, as Stripe does), or {@code ""}
   * to clear it (then, like when absent, null).
   */
  private static @Nullable Long cancelAtParam(JsonNode p, ObjectNode sub) {
    String v = str(p, "cancel_at");
    if (v == null || v.isEmpty()) {
      return null;
    }
    boolean min = v.equals("min_period_end");
    if (min || v.equals("max_period_end")) {
      long out = min ? Long.MAX_VALUE : Long.MIN_VALUE;
      for (JsonNode item : items(sub)) {
        long end = item.get("current_period_end").asLong();
        out = min ? Math.min(out, end) : Math.max(out, end);
      }
      return out;
    }
    return lng(p, "cancel_at");
  }

  private static long periodStart(ObjectNode sub) {
    return items(sub).get(0).get("current_period_start").asLong();
  }

  ObjectNode createSubscription(JsonNode p, @Nullable String scheduleId, boolean pendingPayment) {
    String customerId = required(p, "customer");
    liveCustomer(customerId, "customer");
    List<JsonNode> itemParams = arr(p, "items");
    if (itemParams.isEmpty()) {
      throw ApiException.paramMissing("items");
    }
    ObjectNode sub = base("sub_", "subscription");
    String subId = sub.get("id").asText();
    long now = nowSeconds();
    Long trialDays = lng(p, "trial_period_days");
    JsonNode trialEndParam = p.get("trial_end");
    Long trialEnd = null;
    if (trialDays != null && trialDays > 0) {
      trialEnd = now + trialDays * DAY;
    } else if (trialEndParam != null && !trialEndParam.asText().equals("now") && !trialEndParam.asText().isEmpty()) {
      trialEnd = lng(p, "trial_end");
    }
    String collection = str(p, "collection_method");
    if (collection == null) {
      collection = "charge_automatically";
    }
    Long daysUntilDue = lng(p, "days_until_due");
    if (collection.equals("send_invoice") && daysUntilDue == null) {
      throw ApiException.paramMissing("days_until_due");
    }
    ArrayNode data = Json.array();
    String currency = null;
    JsonNode firstRecurring = null;
    for (int i = 0; i < itemParams.size(); i++) {
      JsonNode ip = itemParams.get(i);
      ObjectNode price = get("price", "price", required(ip, "price"), "items[" + i + "][price]");
      if (price.get("recurring").isNull()) {
        throw ApiException.invalid("parameter_invalid_string", "The price " + price.get("id").asText()
            + " is not recurring", "items[" + i + "][price]");
      }
      if (firstRecurring == null) {
        firstRecurring = price.get("recurring");
      }
      long end = trialEnd != null ? trialEnd : addInterval(now, firstRecurring, 1);
      data.add(newItem(subId, price, lng(ip, "quantity"), now, end));
      currency = price.get("currency").asText();
    }
    sub.putNull("application");
    sub.putNull("application_fee_percent");
    ObjectNode subTax = sub.putObject("automatic_tax");
    subTax.putNull("disabled_reason");
    subTax.put("enabled", false);
    subTax.putNull("liability");
    sub.putNull("billing_thresholds");
    sub.putNull("default_source");
    sub.putArray("default_tax_rates");
    ObjectNode subInvoiceSettings = sub.putObject("invoice_settings");
    subInvoiceSettings.putNull("account_tax_ids");
    subInvoiceSettings.putObject("issuer").put("type", "self");
    sub.putNull("next_pending_invoice_item_invoice");
    sub.putNull("on_behalf_of");
    ObjectNode paymentSettings = sub.putObject("payment_settings");
    paymentSettings.putNull("payment_method_options");
    paymentSettings.putNull("payment_method_types");
    paymentSettings.put("save_default_payment_method", "off");
    sub.putNull("pending_invoice_item_interval");
    sub.putNull("pending_setup_intent");
    sub.putNull("test_clock");
    sub.putNull("transfer_data");
    sub.putObject("trial_settings").putObject("end_behavior").put("missing_payment_method", "create_invoice");
    sub.put("billing_cycle_anchor", trialEnd != null ? trialEnd : now);
    sub.putNull("cancel_at");
    sub.put("cancel_at_period_end", Boolean.TRUE.equals(bool(p, "cancel_at_period_end")));
    sub.putNull("canceled_at");
    ObjectNode details = sub.putObject("cancellation_details");
    details.putNull("comment");
    details.putNull("feedback");
    details.putNull("reason");
    sub.put("collection_method", collection);
    sub.put("currency", currency);
    sub.put("customer", customerId);
    sub.put("days_until_due", daysUntilDue);
    sub.putNull("default_payment_method");
    sub.put("description", str(p, "description"));
    sub.putArray("discounts");
    sub.putNull("ended_at");
    ObjectNode items = Json.list("/v1/subscription_items?subscription=" + subId, List.of(), false);
    items.set("data", data);
    items.put("total_count", data.size());
    sub.set("items", items);
    sub.putNull("latest_invoice");
    sub.putNull("pause_collection");
    sub.putNull("pending_update");
    sub.put("schedule", scheduleId);
    sub.put("start_date", now);
    // an async checkout payment, or payment_behavior=default_incomplete: the first invoice waits, open
    boolean asyncPayment = pendingPayment || "default_incomplete".equals(str(p, "payment_behavior"));
    boolean willFail = !asyncPayment && failingCustomers.contains(customerId);
    String status;
    if (trialEnd != null) {
      status = "trialing";
    } else if (asyncPayment || (willFail && collection.equals("charge_automatically"))) {
      status = "incomplete";
    } else {
      status = "active";
    }
    sub.put("status", status);
    sub.put("trial_end", trialEnd);
    sub.put("trial_start", trialEnd == null ? null : now);
    if (sub.get("cancel_at_period_end").asBoolean()) {
      sub.put("cancel_at", periodEnd(sub));
      sub.put("canceled_at", now);
    }
    Long cancelAt = cancelAtParam(p, sub);
    if (cancelAt != null) {
      sub.put("cancel_at", cancelAt);
      sub.put("canceled_at", now);
    }
    Json.mergeMetadata(sub, p);
    store(sub);
    emit("customer.subscription.created", sub, null);
    // the first invoice
    List<ObjectNode> lines = new ArrayList<>();
    for (JsonNode item : items(sub)) {
      lines.add(line(sub, (ObjectNode) item, trialEnd != null ? 0 : amountOf(item),
          periodStart(sub), periodEnd(sub), false,
          (trialEnd != null ? "Trial period for " : "") + describe(item)));
    }
    ObjectNode invoice = createInvoice(sub, lines, "subscription_create", now, now);
    finalizeInvoice(invoice);
    if (asyncPayment) {
      return sub;
    }
    if (collection.equals("charge_automatically") || invoice.get("amount_due").asLong() == 0) {
      if (!attemptPayment(invoice, false)) {
        invoice.putNull("next_payment_attempt");
      }
    }
    return sub;
  }

  private String describe(JsonNode item) {
    JsonNode price = item.get("price");
    ObjectNode product = objects.get(price.get("product").asText());
    String name = product == null ? price.get("id").asText() : product.get("name").asText();
    return (item.get("quantity").isNull() ? "" : item.get("quantity").asLong() + " × ") + name;
  }

  private static long amountOf(JsonNode item) {
    JsonNode price = item.get("price");
    if (isMetered(price)) {
      return 0;
    }
    return price.get("unit_amount").asLong() * item.get("quantity").asLong();
  }

  ObjectNode subscription(String id) {
    return get("subscription", "subscription", id, "id");
  }

  ObjectNode listSubscriptions(JsonNode p) {
    String customer = str(p, "customer");
    String status = str(p, "status");
    String price = str(p, "price");
    return list("/v1/subscriptions", "subscription", p, s -> {
      String st = s.get("status").asText();
      boolean statusOk = status == null ? !st.equals("canceled") && !st.equals("incomplete_expired")
          : status.equals("all") || status.equals(st);
      boolean priceOk = price == null;
      for (JsonNode item : items(s)) {
        priceOk |= item.get("price").get("id").asText().equals(price);
      }
      return statusOk && priceOk && (customer == null || s.get("customer").asText().equals(customer));
    });
  }

  /** One planned item change: the existing item (or null for a new one), the new price and quantity. */
  private record Change(@Nullable ObjectNode item, ObjectNode price, @Nullable Long quantity, boolean deleted) {}

  private List<Change> changes(ObjectNode sub, List<JsonNode> itemParams, String prefix) {
    List<Change> out = new ArrayList<>();
    for (int i = 0; i < itemParams.size(); i++) {
      JsonNode ip = itemParams.get(i);
      String itemId = str(ip, "id");
      ObjectNode item = null;
      if (itemId != null) {
        for (JsonNode existing : items(sub)) {
          if (existing.get("id").asText().equals(itemId)) {
            item = (ObjectNode) existing;
          }
        }
        if (item == null) {
          throw ApiException.missing("subscription item", itemId, prefix + "[" + i + "][id]");
        }
      }
      String priceId = str(ip, "price");
      ObjectNode price;
      if (priceId != null) {
        price = get("price", "price", priceId, prefix + "[" + i + "][price]");
      } else if (item != null) {
        price = (ObjectNode) item.get("price");
      } else {
        throw ApiException.paramMissing(prefix + "[" + i + "][price]");
      }
      Long quantity = lng(ip, "quantity");
      if (quantity == null && item != null && !item.get("quantity").isNull()) {
        quantity = item.get("quantity").asLong();
      }
      out.add(new Change(item, price, quantity, Boolean.TRUE.equals(bool(ip, "deleted"))));
    }
    return out;
  }

  /** Proration lines for the changes at {@code at}: credit for unused time, charge for the remaining time. */
  private List<ObjectNode> prorations(ObjectNode sub, List<Change> changes, long at) {
    List<ObjectNode> lines = new ArrayList<>();
    long start = periodStart(sub);
    long end = periodEnd(sub);
    if (at >= end || end <= start || sub.get("status").asText().equals("trialing")) {
      return lines;
    }
    double fraction = (double) (end - at) / (double) (end - start);
    for (Change c : changes) {
      ObjectNode item = c.item();
      if (item != null && !isMetered(item.get("price"))) {
        long old = amountOf(item);
        long now = c.deleted() || isMetered(c.price()) ? 0
            : c.price().get("unit_amount").asLong() * (c.quantity() == null ? 1 : c.quantity());
        if (old == now && item.get("price").get("id").asText().equals(c.price().get("id").asText())) {
          continue;
        }
        lines.add(line(sub, item, -Math.round(old * fraction), at, end, true,
            "Unused time on " + describe(item) + " after " + at));
        if (now != 0) {
          ObjectNode shadow = item.deepCopy();
          shadow.set("price", c.price().deepCopy());
          shadow.put("quantity", c.quantity() == null ? 1 : c.quantity());
          lines.add(line(sub, shadow, Math.round(now * fraction), at, end, true,
              "Remaining time on " + describe(shadow) + " after " + at));
        }
      } else if (item == null && !c.deleted() && !isMetered(c.price())) {
        ObjectNode shadow = newItem(sub.get("id").asText(), c.price(), c.quantity(), at, end);
        lines.add(line(sub, shadow, Math.round(amountOf(shadow) * fraction), at, end, true,
            "Remaining time on " + describe(shadow) + " after " + at));
      }
    }
    return lines;
  }

  ObjectNode updateSubscription(String id, JsonNode p) {
    ObjectNode sub = subscription(id);
    String status = sub.get("status").asText();
    if (status.equals("canceled") || status.equals("incomplete_expired")) {
      throw ApiException.invalid(null, "A canceled subscription can only update its cancellation_details "
          + "and metadata.", null);
    }
    String behavior = str(p, "proration_behavior");
    if (behavior == null) {
      behavior = "create_prorations";
    }
    Long prorationDate = lng(p, "proration_date");
    long at = prorationDate == null ? nowSeconds() : prorationDate;
    List<Change> changes = changes(sub, arr(p, "items"), "items");
    List<ObjectNode> prorations = behavior.equals("none") ? List.of() : prorations(sub, changes, at);
    String finalBehavior = behavior;
    update(sub, "customer.subscription.updated", () -> {
      for (Change c : changes) {
        ObjectNode item = c.item();
        if (item == null) {
          items(sub).add(newItem(id, c.price(), c.quantity(), periodStart(sub), periodEnd(sub)));
        } else if (c.deleted()) {
          for (int i = 0; i < items(sub).size(); i++) {
            if (items(sub).get(i).get("id").asText().equals(item.get("id").asText())) {
              items(sub).remove(i);
              break;
            }
          }
        } else {
          item.set("price", c.price().deepCopy());
          if (isMetered(c.price())) {
            item.putNull("quantity");
          } else {
            item.put("quantity", c.quantity() == null ? 1 : c.quantity());
          }
        }
      }
      ((ObjectNode) sub.get("items")).put("total_count", items(sub).size());
      Boolean cancelAtPeriodEnd = bool(p, "cancel_at_period_end");
      if (cancelAtPeriodEnd != null && cancelAtPeriodEnd != sub.get("cancel_at_period_end").asBoolean()) {
        sub.put("cancel_at_period_end", cancelAtPeriodEnd);
        if (cancelAtPeriodEnd) {
          sub.put("cancel_at", periodEnd(sub));
          sub.put("canceled_at", nowSeconds());
        } else {
          sub.putNull("cancel_at");
          sub.putNull("canceled_at");
        }
      }
      if (p.has("cancel_at")) {
        Long cancelAt = cancelAtParam(p, sub);
        sub.put("cancel_at", cancelAt);
        if (cancelAt != null) {
          sub.put("canceled_at", nowSeconds());
        } else if (!sub.get("cancel_at_period_end").asBoolean()) {
          sub.putNull("canceled_at");
        }
      }
      if (p.has("cancellation_details")) {
        ObjectNode cd = (ObjectNode) sub.get("cancellation_details");
        JsonNode given = p.get("cancellation_details");
        if (given.has("comment")) {
          cd.put("comment", given.get("comment").asText());
        }
        if (given.has("feedback")) {
          cd.put("feedback", given.get("feedback").asText());
        }
      }
      String collection = str(p, "collection_method");
      if (collection != null) {
        sub.put("collection_method", collection);
      }
      Long days = lng(p, "days_until_due");
      if (days != null) {
        sub.put("days_until_due", days);
      }
      if (p.has("pause_collection")) {
        JsonNode pc = p.get("pause_collection");
        if (pc.isTextual() && pc.asText().isEmpty()) {
          sub.putNull("pause_collection");
        } else {
          ObjectNode value = Json.object();
          value.put("behavior", required(pc, "behavior"));
          value.put("resumes_at", lng(pc, "resumes_at"));
          sub.set("pause_collection", value);
        }
      }
      if (p.has("description")) {
        sub.put("description", str(p, "description"));
      }
      if (p.has("default_payment_method")) {
        sub.put("default_payment_method", str(p, "default_payment_method"));
      }
      if ("now".equals(str(p, "trial_end")) && sub.get("status").asText().equals("trialing")) {
        long now = nowSeconds();
        sub.put("trial_end", now);
        for (JsonNode item : items(sub)) {
          ((ObjectNode) item).put("current_period_end", now);
        }
      }
      Json.mergeMetadata(sub, p);
    });
    if (!prorations.isEmpty()) {
      if (finalBehavior.equals("always_invoice")) {
        List<ObjectNode> lines = new ArrayList<>(pendingProrations.getOrDefault(id, List.of()));
        pendingProrations.remove(id);
        lines.addAll(prorations);
        ObjectNode invoice = createInvoice(sub, lines, "subscription_update", at, at);
        finalizeInvoice(invoice);
        if (sub.get("collection_method").asText().equals("charge_automatically")) {
          collect(sub, invoice);
        }
      } else {
        pendingProrations.computeIfAbsent(id, k -> new ArrayList<>()).addAll(prorations);
      }
    }
    if ("now".equals(str(p, "trial_end"))) {
      runDue(nowSeconds());
    }
    return sub;
  }

  /** The subscription holding item {@code itemId}. */
  private ObjectNode subscriptionOfItem(String itemId) {
    for (ObjectNode sub : objectsOf("subscription")) {
      for (JsonNode item : items(sub)) {
        if (item.get("id").asText().equals(itemId)) {
          return sub;
        }
      }
    }
    throw ApiException.missing("subscription_item", itemId, "id");
  }

  ObjectNode subscriptionItem(String itemId) {
    for (JsonNode item : items(subscriptionOfItem(itemId))) {
      if (item.get("id").asText().equals(itemId)) {
        return (ObjectNode) item;
      }
    }
    throw ApiException.missing("subscription_item", itemId, "id");
  }

  /** {@code POST /v1/subscription_items/{id}}: the subscription update of that one item. */
  ObjectNode updateSubscriptionItem(String itemId, JsonNode p) {
    ObjectNode sub = subscriptionOfItem(itemId);
    ObjectNode params = Json.object();
    ObjectNode item = params.putArray("items").addObject();
    item.put("id", itemId);
    for (String f : List.of("price", "quantity")) {
      if (p.has(f)) {
        item.set(f, p.get(f));
      }
    }
    for (String f : List.of("proration_behavior", "proration_date")) {
      if (p.has(f)) {
        params.set(f, p.get(f));
      }
    }
    updateSubscription(sub.get("id").asText(), params);
    ObjectNode updated = subscriptionItem(itemId);
    if (p.has("metadata")) {
      update(sub, "customer.subscription.updated", () -> Json.mergeMetadata(updated, p));
    }
    return updated;
  }

  ObjectNode listSubscriptionItems(JsonNode p) {
    String subId = required(p, "subscription");
    List<ObjectNode> items = new ArrayList<>();
    items(subscription(subId)).forEach(i -> items.add((ObjectNode) i));
    Collections.reverse(items);
    return page("/v1/subscription_items", items, p);
  }

  ObjectNode cancelSubscription(String id) {
    ObjectNode sub = subscription(id);
    if (sub.get("status").asText().equals("canceled")) {
      throw ApiException.invalid("resource_missing", "No such subscription: '" + id + "'", "id");
    }
    cancelNow(sub, "cancellation_requested");
    return sub;
  }

  private void cancelNow(ObjectNode sub, String reason) {
    long now = nowSeconds();
    sub.put("status", "canceled");
    if (sub.get("canceled_at").isNull()) {
      sub.put("canceled_at", now);
    }
    sub.put("ended_at", now);
    sub.put("cancel_at_period_end", false);
    ((ObjectNode) sub.get("cancellation_details")).put("reason", reason);
    pendingProrations.remove(sub.get("id").asText());
    emit("customer.subscription.deleted", sub, null);
  }

  ObjectNode resumeSubscription(String id) {
    ObjectNode sub = subscription(id);
    if (!sub.get("status").asText().equals("paused")) {
      throw ApiException.invalid(null, "Only paused subscriptions can be resumed.", null);
    }
    long now = nowSeconds();
    update(sub, "customer.subscription.updated", () -> {
      sub.put("status", "active");
      sub.put("billing_cycle_anchor", now);
      for (JsonNode item : items(sub)) {
        ((ObjectNode) item).put("current_period_start", now);
        ((ObjectNode) item).put("current_period_end", addInterval(now, item.get("price").get("recurring"), 1));
      }
    });
    emit("customer.subscription.resumed", sub, null);
    List<ObjectNode> lines = new ArrayList<>();
    for (JsonNode item : items(sub)) {
      lines.add(line(sub, (ObjectNode) item, amountOf(item), now, periodEnd(sub), false, describe(item)));
    }
    ObjectNode invoice = createInvoice(sub, lines, "subscription_cycle", now, now);
    finalizeInvoice(invoice);
    if (sub.get("collection_method").asText().equals("charge_automatically")) {
      collect(sub, invoice);
    }
    return sub;
  }

  /** Pauses a subscription (what Stripe does when a trial ends without a payment method). */
  public void pauseSubscription(String id) {
    ObjectNode sub = subscription(id);
    update(sub, "customer.subscription.updated", () -> sub.put("status", "paused"));
    emit("customer.subscription.paused", sub, null);
  }

  /** Sets a subscription's status (a test mutator; emits customer.subscription.updated unless silent). */
  public void setSubscriptionStatus(String id, String status) {
    ObjectNode sub = subscription(id);
    if (status.equals("canceled")) {
      cancelNow(sub, "cancellation_requested");
    } else {
      update(sub, "customer.subscription.updated", () -> sub.put("status", status));
    }
  }

  /** Removes an object: a customer becomes a deleted stub, anything else disappears. */
  public void deleteObject(String id) {
    ObjectNode o = objects.get(id);
    if (o == null) {
      throw ApiException.missing("object", id, "id");
    }
    if (o.get("object").asText().equals("customer")) {
      deleteCustomer(id);
      return;
    }
    ObjectNode snapshot = o.deepCopy();
    objects.remove(id);
    String type = snapshot.get("object").asText();
    emit((type.equals("subscription") ? "customer.subscription" : type) + ".deleted", snapshot, null);
  }

  /** Marks a customer's later charges as failing (or succeeding again). */
  public void failPayments(String customerId, boolean fail) {
    customer(customerId);
    if (fail) {
      failingCustomers.add(customerId);
    } else {
      failingCustomers.remove(customerId);
    }
  }

  // ------------------------------------------------------------------ schedules

  ObjectNode createSchedule(JsonNode p) {
    String customer = required(p, "customer");
    liveCustomer(customer, "customer");
    if (p.has("from_subscription")) {
      throw ApiException.invalid("parameter_unknown", "The emulator does not support from_subscription",
          "from_subscription");
    }
    List<JsonNode> phases = arr(p, "phases");
    if (phases.size() != 1) {
      throw ApiException.invalid("parameter_invalid_string", "The emulator supports exactly one phase",
          "phases");
    }
    JsonNode phase = phases.get(0);
    String startParam = str(p, "start_date");
    long now = nowSeconds();
    if (startParam != null && !startParam.equals("now") && Long.parseLong(startParam) > now) {
      throw ApiException.invalid("parameter_invalid_integer", "The emulator supports start_date=now only",
          "start_date");
    }
    String endBehavior = str(p, "end_behavior");
    if (endBehavior == null) {
      endBehavior = "release";
    }
    Long iterations = lng(phase, "iterations");
    ObjectNode schedule = base("sub_sched_", "subscription_schedule");
    String scheduleId = schedule.get("id").asText();
    ObjectNode subParams = Json.object();
    subParams.put("customer", customer);
    subParams.set("items", phase.get("items") == null ? Json.array() : phase.get("items"));
    if (phase.has("trial_end")) {
      subParams.set("trial_end", phase.get("trial_end"));
    }
    if (phase.has("collection_method")) {
      subParams.set("collection_method", phase.get("collection_method"));
    }
    if (phase.has("metadata")) {
      subParams.set("metadata", phase.get("metadata"));
    }
    // the schedule exists before its subscription's events
    schedule.putNull("application");
    schedule.putNull("canceled_at");
    schedule.putNull("completed_at");
    schedule.put("customer", customer);
    ObjectNode defaults = schedule.putObject("default_settings");
    defaults.put("billing_cycle_anchor", "automatic");
    defaults.put("collection_method", "charge_automatically");
    schedule.put("end_behavior", endBehavior);
    Json.mergeMetadata(schedule, p);
    schedule.putNull("released_at");
    schedule.putNull("released_subscription");
    schedule.put("status", "active");
    schedule.putNull("test_clock");
    store(schedule);
    List<JsonNode> itemParams = arr(subParams, "items");
    if (itemParams.isEmpty()) {
      throw ApiException.paramMissing("phases[0][items]");
    }
    ObjectNode firstPrice = get("price", "price", required(itemParams.get(0), "price"), "phases[0][items][0][price]");
    if (firstPrice.get("recurring").isNull()) {
      throw ApiException.invalid("parameter_invalid_string", "Schedules need recurring prices",
          "phases[0][items][0][price]");
    }
    long end;
    ObjectNode duration = obj(phase, "duration");
    Long endDate = lng(phase, "end_date");
    if (duration.size() > 0) {
      ObjectNode recurring = Json.object();
      recurring.put("interval", required(duration, "interval"));
      Long count = lng(duration, "interval_count");
      recurring.put("interval_count", count == null ? 1 : count);
      end = addInterval(now, recurring, 1);
    } else if (endDate != null) {
      end = endDate;
    } else {
      end = addInterval(now, firstPrice.get("recurring"), iterations == null ? 1 : iterations);
    }
    ObjectNode current = schedule.putObject("current_phase");
    current.put("end_date", end);
    current.put("start_date", now);
    ArrayNode phaseArray = schedule.putArray("phases");
    ObjectNode ph = phaseArray.addObject();
    ph.putArray("add_invoice_items");
    ph.putNull("collection_method");
    ph.putArray("discounts");
    ph.put("end_date", end);
    ArrayNode phItems = ph.putArray("items");
    for (JsonNode ip : itemParams) {
      ObjectNode pi = phItems.addObject();
      pi.putArray("discounts");
      pi.putObject("metadata");
      pi.put("price", required(ip, "price"));
      Long q = lng(ip, "quantity");
      pi.put("quantity", q == null ? 1 : q);
      pi.putArray("tax_rates");
    }
    ph.putObject("metadata");
    ph.put("proration_behavior", "create_prorations");
    ph.put("start_date", now);
    ph.putNull("trial_end");
    emit("subscription_schedule.created", schedule, null);
    ObjectNode sub = createSubscription(subParams, scheduleId, false);
    schedule.put("subscription", sub.get("id").asText());
    return schedule;
  }

  ObjectNode schedule(String id) {
    return get("subscription_schedule", "subscription schedule", id, "schedule");
  }

  ObjectNode releaseSchedule(String id) {
    ObjectNode schedule = schedule(id);
    requireActive(schedule);
    release(schedule);
    return schedule;
  }

  ObjectNode cancelSchedule(String id) {
    ObjectNode schedule = schedule(id);
    requireActive(schedule);
    ObjectNode sub = objects.get(schedule.get("subscription").asText());
    schedule.put("status", "canceled");
    schedule.put("canceled_at", nowSeconds());
    schedule.putNull("current_phase");
    emit("subscription_schedule.canceled", schedule, null);
    if (sub != null && !sub.get("status").asText().equals("canceled")) {
      cancelNow(sub, "cancellation_requested");
    }
    return schedule;
  }

  private static void requireActive(ObjectNode schedule) {
    if (!schedule.get("status").asText().equals("active") && !schedule.get("status").asText()
        .equals("not_started")) {
      throw ApiException.invalid(null, "The subscription schedule is " + schedule.get("status").asText(), null);
    }
  }

  private void release(ObjectNode schedule) {
    ObjectNode sub = objects.get(schedule.get("subscription").asText());
    schedule.put("status", "released");
    schedule.put("released_at", nowSeconds());
    schedule.set("released_subscription", schedule.get("subscription"));
    schedule.putNull("subscription");
    schedule.putNull("current_phase");
    if (sub != null) {
      update(sub, "customer.subscription.updated", () -> sub.putNull("schedule"));
    }
    emit("subscription_schedule.released", schedule, null);
  }

  // ------------------------------------------------------------------ invoices

  private ObjectNode line(ObjectNode sub, ObjectNode item, long amount, long start, long end, boolean proration,
      String description) {
    ObjectNode l = Json.object();
    l.put("id", id("il_"));
    l.put("object", "line_item");
    l.put("amount", amount);
    l.put("currency", item.get("price").get("currency").asText());
    l.put("description", description);
    l.putArray("discount_amounts");
    l.put("discountable", true);
    l.putArray("discounts");
    l.putNull("invoice");
    l.put("livemode", false);
    l.putObject("metadata");
    ObjectNode parent = l.putObject("parent");
    parent.putNull("invoice_item_details");
    ObjectNode sid = parent.putObject("subscription_item_details");
    sid.putNull("invoice_item");
    sid.put("proration", proration);
    sid.putObject("proration_details").putNull("credited_items");
    sid.put("subscription", sub.get("id").asText());
    sid.put("subscription_item", item.get("id").asText());
    parent.put("type", "subscription_item_details");
    ObjectNode period = l.putObject("period");
    period.put("end", end);
    period.put("start", start);
    l.putArray("pretax_credit_amounts");
    l.put("subtotal", amount);
    ObjectNode pricing = l.putObject("pricing");
    ObjectNode details = pricing.putObject("price_details");
    details.put("price", item.get("price").get("id").asText());
    details.put("product", item.get("price").get("product").asText());
    pricing.put("type", "price_details");
    pricing.put("unit_amount_decimal", item.get("price").get("unit_amount_decimal").asText());
    if (item.get("quantity").isNull()) {
      l.putNull("quantity");
    } else {
      l.put("quantity", item.get("quantity").asLong());
    }
    l.put("subscription", sub.get("id").asText());
    l.putArray("taxes");
    return l;
  }

  private ObjectNode invoiceShape(ObjectNode sub, List<ObjectNode> lines, String reason, long periodStart,
      long periodEnd, ObjectNode inv) {
    ObjectNode customer = objects.get(sub.get("customer").asText());
    long total = 0;
    for (ObjectNode l : lines) {
      total += l.get("amount").asLong();
    }
    long due = Math.max(0, total);
    inv.put("account_country", "US");
    inv.put("account_name", "Stripe Emulator");
    inv.putArray("account_tax_ids");
    inv.putNull("application");
    ObjectNode invTax = inv.putObject("automatic_tax");
    invTax.putNull("disabled_reason");
    invTax.put("enabled", false);
    invTax.putNull("liability");
    invTax.putNull("provider");
    invTax.putNull("status");
    inv.putNull("automatically_finalizes_at");
    inv.putArray("custom_fields");
    inv.putNull("customer_address");
    inv.putNull("customer_phone");
    inv.putNull("customer_shipping");
    inv.put("customer_tax_exempt", "none");
    inv.putArray("customer_tax_ids");
    inv.putNull("default_source");
    inv.putArray("default_tax_rates");
    inv.putNull("from_invoice");
    inv.putObject("issuer").put("type", "self");
    inv.putNull("latest_revision");
    inv.putNull("on_behalf_of");
    inv.putNull("shipping_cost");
    inv.putNull("shipping_details");
    inv.putNull("statement_descriptor");
    inv.putNull("test_clock");
    inv.putArray("total_discount_amounts");
    inv.putArray("total_pretax_credit_amounts");
    inv.put("amount_due", due);
    inv.put("amount_overpaid", 0);
    inv.put("amount_paid", 0);
    inv.put("amount_remaining", due);
    inv.put("amount_shipping", 0);
    inv.put("attempt_count", 0);
    inv.put("attempted", false);
    inv.put("auto_advance", true);
    inv.put("billing_reason", reason);
    inv.put("collection_method", sub.get("collection_method").asText());
    inv.put("currency", sub.get("currency").asText());
    inv.put("customer", sub.get("customer").asText());
    inv.put("customer_email", customer == null ? null : customer.path("email").asText(null));
    inv.put("customer_name", customer == null ? null : customer.path("name").asText(null));
    inv.putNull("default_payment_method");
    inv.putNull("description");
    inv.putArray("discounts");
    inv.putNull("due_date");
    inv.putNull("effective_at");
    inv.put("ending_balance", (Long) null);
    inv.putNull("footer");
    inv.putNull("hosted_invoice_url");
    inv.putNull("invoice_pdf");
    inv.putNull("last_finalization_error");
    String invId = inv.path("id").asText("");
    ObjectNode lineList = Json.list("/v1/invoices/" + invId + "/lines", lines, false);
    lineList.put("total_count", lines.size());
    for (JsonNode l : (ArrayNode) lineList.get("data")) {
      ((ObjectNode) l).put("invoice", inv.get("id").isNull() ? null : invId);
    }
    inv.set("lines", lineList);
    inv.putNull("next_payment_attempt");
    inv.putNull("number");
    ObjectNode parent = inv.putObject("parent");
    parent.putNull("quote_details");
    ObjectNode details = parent.putObject("subscription_details");
    details.set("metadata", sub.get("metadata").deepCopy());
    details.put("subscription", sub.get("id").asText());
    parent.put("type", "subscription_details");
    inv.put("period_end", periodEnd);
    inv.put("period_start", periodStart);
    inv.put("post_payment_credit_notes_amount", 0);
    inv.put("pre_payment_credit_notes_amount", 0);
    inv.putNull("receipt_number");
    inv.put("starting_balance", 0);
    inv.put("status", "draft");
    ObjectNode transitions = inv.putObject("status_transitions");
    transitions.putNull("finalized_at");
    transitions.putNull("marked_uncollectible_at");
    transitions.putNull("paid_at");
    transitions.putNull("voided_at");
    inv.put("subtotal", total);
    inv.put("subtotal_excluding_tax", total);
    inv.putArray("total_taxes");
    inv.put("total", total);
    inv.put("total_excluding_tax", total);
    inv.putNull("webhooks_delivered_at");
    return inv;
  }

  private ObjectNode createInvoice(ObjectNode sub, List<ObjectNode> lines, String reason, long periodStart,
      long periodEnd) {
    ObjectNode inv = base("in_", "invoice");
    invoiceShape(sub, lines, reason, periodStart, periodEnd, inv);
    store(inv);
    sub.put("latest_invoice", inv.get("id").asText());
    return emit("invoice.created", inv, null);
  }

  private void finalizeInvoice(ObjectNode inv) {
    if (!inv.get("status").asText().equals("draft")) {
      throw ApiException.invalid("invoice_not_editable", "This invoice is already finalized.", null);
    }
    long now = nowSeconds();
    String id = inv.get("id").asText();
    inv.put("status", "open");
    inv.put("effective_at", now);
    inv.put("ending_balance", 0);
    inv.put("number", "EMU-" + String.format(java.util.Locale.ROOT, "%04d", seq(id) % 10000));
    inv.put("hosted_invoice_url", "https://invoice.stripe.com/i/acct_emulator/test_" + id.substring(3));
    inv.put("invoice_pdf", "https://pay.stripe.com/invoice/acct_emulator/test_" + id.substring(3) + "/pdf");
    ((ObjectNode) inv.get("status_transitions")).put("finalized_at", now);
    if (inv.get("collection_method").asText().equals("send_invoice")) {
      ObjectNode sub = subscriptionOf(inv);
      long days = sub == null ? 30 : sub.path("days_until_due").asLong(30);
      inv.put("due_date", now + days * DAY);
    }
    emit("invoice.finalized", inv, null);
    if (inv.get("collection_method").asText().equals("send_invoice") && inv.get("amount_due").asLong() > 0) {
      emit("invoice.sent", inv, null);
    }
  }

  private @Nullable ObjectNode subscriptionOf(ObjectNode inv) {
    String subId = inv.path("parent").path("subscription_details").path("subscription").asText(null);
    return subId == null ? null : objects.get(subId);
  }

  private void markPaid(ObjectNode inv) {
    long now = nowSeconds();
    inv.put("status", "paid");
    inv.put("amount_paid", inv.get("amount_due").asLong());
    inv.put("amount_remaining", 0);
    inv.put("attempted", true);
    if (inv.get("amount_due").asLong() > 0 && inv.get("collection_method").asText().equals(
        "charge_automatically")) {
      inv.put("attempt_count", inv.get("attempt_count").asInt() + 1);
    }
    inv.putNull("next_payment_attempt");
    ((ObjectNode) inv.get("status_transitions")).put("paid_at", now);
    firstFailure.remove(inv.get("id").asText());
    emit("invoice.paid", inv, null);
    emit("invoice.payment_succeeded", inv, null);
  }

  /** Charges the invoice's customer; returns whether it was paid. */
  private boolean attemptPayment(ObjectNode inv, boolean throwOnDecline) {
    if (inv.get("amount_due").asLong() == 0 || !failingCustomers.contains(inv.get("customer").asText())) {
      markPaid(inv);
      return true;
    }
    if (throwOnDecline) {
      inv.put("attempted", true);
      inv.put("attempt_count", inv.get("attempt_count").asInt() + 1);
      emit("invoice.payment_failed", inv, null);
      throw new ApiException(402, "card_error", "card_declined", "Your card was declined.", null);
    }
    long now = nowSeconds();
    String id = inv.get("id").asText();
    long first = firstFailure.computeIfAbsent(id, k -> now);
    int attempts = inv.get("attempt_count").asInt() + 1;
    inv.put("attempted", true);
    inv.put("attempt_count", attempts);
    if (attempts <= retries.size()) {
      inv.put("next_payment_attempt", first + retries.get(attempts - 1).toSeconds());
    } else {
      inv.putNull("next_payment_attempt");
    }
    emit("invoice.payment_failed", inv, null);
    return false;
  }

  /** Collects an invoice of a subscription: paid keeps or makes it active, a failure makes it past_due. */
  private void collect(ObjectNode sub, ObjectNode inv) {
    boolean paid = attemptPayment(inv, false);
    String status = sub.get("status").asText();
    if (paid && (status.equals("past_due") || status.equals("unpaid") || status.equals("incomplete"))) {
      if (!hasOtherOpenInvoices(sub, inv)) {
        update(sub, "customer.subscription.updated", () -> sub.put("status", "active"));
      }
    } else if (!paid && (status.equals("active") || status.equals("trialing"))) {
      update(sub, "customer.subscription.updated", () -> sub.put("status", "past_due"));
    }
    if (!paid && inv.get("next_payment_attempt").isNull()) {
      // no retries configured: the final action at once
      markUncollectible(inv);
      cancelNow(sub, "payment_failed");
    }
  }

  private boolean hasOtherOpenInvoices(ObjectNode sub, ObjectNode except) {
    for (ObjectNode inv : objectsOf("invoice")) {
      if (!inv.get("id").asText().equals(except.get("id").asText()) && inv.get("status").asText().equals("open")
          && sub.get("id").asText().equals(inv.path("parent").path("subscription_details").path("subscription")
              .asText())) {
        return true;
      }
    }
    return false;
  }

  ObjectNode invoice(String id) {
    return get("invoice", "invoice", id, "invoice");
  }

  ObjectNode listInvoices(JsonNode p) {
    String customer = str(p, "customer");
    String subscription = str(p, "subscription");
    String status = str(p, "status");
    String collection = str(p, "collection_method");
    return list("/v1/invoices", "invoice", p, inv -> (customer == null || inv.get("customer").asText().equals(
        customer))
        && (subscription == null || subscription.equals(inv.path("parent").path("subscription_details")
            .path("subscription").asText(null)))
        && (status == null || inv.get("status").asText().equals(status))
        && (collection == null || inv.get("collection_method").asText().equals(collection)));
  }

  ObjectNode finalizeInvoice(String id) {
    ObjectNode inv = invoice(id);
    finalizeInvoice(inv);
    return inv;
  }

  ObjectNode payInvoice(String id, JsonNode p) {
    ObjectNode inv = invoice(id);
    if (inv.get("status").asText().equals("draft")) {
      finalizeInvoice(inv);
    }
    if (!inv.get("status").asText().equals("open")) {
      throw ApiException.invalid("invoice_not_editable", "Invoice is already " + inv.get("status").asText()
          + "; only open invoices can be paid.", null);
    }
    if (Boolean.TRUE.equals(bool(p, "paid_out_of_band"))) {
      markPaid(inv);
    } else {
      attemptPayment(inv, true);
    }
    ObjectNode sub = subscriptionOf(inv);
    if (sub != null) {
      String status = sub.get("status").asText();
      if ((status.equals("past_due") || status.equals("unpaid") || status.equals("incomplete"))
          && !hasOtherOpenInvoices(sub, inv)) {
        update(sub, "customer.subscription.updated", () -> sub.put("status", "active"));
      }
    }
    return inv;
  }

  ObjectNode voidInvoice(String id) {
    ObjectNode inv = invoice(id);
    voidInvoice(inv);
    return inv;
  }

  private void voidInvoice(ObjectNode inv) {
    if (!inv.get("status").asText().equals("open")) {
      throw ApiException.invalid("invoice_not_editable", "Only open invoices can be voided.", null);
    }
    inv.put("status", "void");
    inv.putNull("next_payment_attempt");
    ((ObjectNode) inv.get("status_transitions")).put("voided_at", nowSeconds());
    emit("invoice.voided", inv, null);
  }

  ObjectNode markUncollectible(String id) {
    ObjectNode inv = invoice(id);
    if (!inv.get("status").asText().equals("open")) {
      throw ApiException.invalid("invoice_not_editable", "Only open invoices can be marked uncollectible.",
          null);
    }
    markUncollectible(inv);
    return inv;
  }

  private void markUncollectible(ObjectNode inv) {
    inv.put("status", "uncollectible");
    inv.putNull("next_payment_attempt");
    ((ObjectNode) inv.get("status_transitions")).put("marked_uncollectible_at", nowSeconds());
    emit("invoice.marked_uncollectible", inv, null);
  }

  ObjectNode createPreview(JsonNode p) {
    String subId = str(p, "subscription");
    String customerId = str(p, "customer");
    ObjectNode sub = null;
    if (subId != null) {
      sub = subscription(subId);
    } else if (customerId != null) {
      liveCustomer(customerId, "customer");
      for (ObjectNode s : objectsOf("subscription")) {
        if (s.get("customer").asText().equals(customerId) && !s.get("status").asText().equals("canceled")) {
          sub = s;
        }
      }
    } else {
      throw ApiException.paramMissing("customer");
    }
    if (sub == null) {
      throw ApiException.invalid("invoice_upcoming_none", "No upcoming invoices for customer: " + customerId,
          "customer");
    }
    ObjectNode details = obj(p, "subscription_details");
    String behavior = str(details, "proration_behavior");
    if (behavior == null) {
      behavior = "create_prorations";
    }
    Long dateParam = lng(details, "proration_date");
    long at = dateParam == null ? nowSeconds() : dateParam;
    List<Change> changes = changes(sub, arr(details, "items"), "subscription_details[items]");
    List<ObjectNode> lines = new ArrayList<>(pendingProrations.getOrDefault(sub.get("id").asText(), List.of()));
    if (!behavior.equals("none")) {
      lines.addAll(prorations(sub, changes, at));
    }
    // the next period, with the changes applied
    ObjectNode future = sub.deepCopy();
    for (Change c : changes) {
      ObjectNode item = c.item();
      if (item == null) {
        items(future).add(newItem(sub.get("id").asText(), c.price(), c.quantity(), periodStart(sub),
            periodEnd(sub)));
        continue;
      }
      for (int i = 0; i < items(future).size(); i++) {
        ObjectNode f = (ObjectNode) items(future).get(i);
        if (f.get("id").asText().equals(item.get("id").asText())) {
          if (c.deleted()) {
            items(future).remove(i);
          } else {
            f.set("price", c.price().deepCopy());
            f.put("quantity", c.quantity() == null ? 1 : c.quantity());
          }
          break;
        }
      }
    }
    long start = periodEnd(sub);
    if (!behavior.equals("always_invoice") && !items(future).isEmpty()) {
      long end = addInterval(start, items(future).get(0).get("price").get("recurring"), 1);
      for (JsonNode item : items(future)) {
        lines.add(line(future, (ObjectNode) item, amountOf(item), start, end, false, describe(item)));
      }
    }
    ObjectNode inv = Json.object();
    inv.put("id", "upcoming_" + id("in_"));
    inv.put("object", "invoice");
    inv.put("created", nowSeconds());
    inv.put("livemode", false);
    inv.putObject("metadata");
    invoiceShape(sub, lines, behavior.equals("always_invoice") ? "subscription_update" : "upcoming",
        periodStart(sub), start, inv);
    return inv;
  }

  // ------------------------------------------------------------------ events list

  ObjectNode listEvents(JsonNode p, Predicate<String> delivered) {
    String type = str(p, "type");
    List<String> types = Json.strings(p, "types");
    ObjectNode created = obj(p, "created");
    Long exact = p.has("created") && p.get("created").isValueNode() ? lng(p, "created") : null;
    Long gte = lng(created, "gte");
    Long gt = lng(created, "gt");
    Long lte = lng(created, "lte");
    Long lt = lng(created, "lt");
    Boolean success = bool(p, "delivery_success");
    long oldest = nowSeconds() - 30 * DAY;
    List<ObjectNode> all = new ArrayList<>();
    for (int i = events.size() - 1; i >= 0; i--) {
      ObjectNode e = events.get(i);
      long c = e.get("created").asLong();
      String t = e.get("type").asText();
      if (c < oldest
          || (type != null && !matches(type, t))
          || (!types.isEmpty() && types.stream().noneMatch(x -> matches(x, t)))
          || (exact != null && c != exact) || (gte != null && c < gte) || (gt != null && c <= gt)
          || (lte != null && c > lte) || (lt != null && c >= lt)
          || (success != null && delivered.test(e.get("id").asText()) != success)) {
        continue;
      }
      all.add(e);
    }
    return page("/v1/events", all, p);
  }

  private static boolean matches(String pattern, String type) {
    return pattern.endsWith(".*") ? type.startsWith(pattern.substring(0, pattern.length() - 1))
        : pattern.equals(type);
  }

  ObjectNode retrieveEvent(String id) {
    ObjectNode e = event(id);
    if (e == null || e.get("created").asLong() < nowSeconds() - 30 * DAY) {
      throw ApiException.missing("event", id, "id");
    }
    return e;
  }

  // ------------------------------------------------------------------ time

  /** Moves the emulator's time forward by {@code amount}, running what falls due on the way, in order. */
  public void advance(Duration amount) {
    if (amount.isNegative()) {
      throw new IllegalArgumentException("amount must not be negative but was " + amount);
    }
    Instant targetInstant;
    lock.lock();
    try {
      targetInstant = clock.instant().plus(offset).plus(amount);
    } finally {
      lock.unlock();
    }
    long target = targetInstant.getEpochSecond();
    while (true) {
      boolean ran;
      lock.lock();
      try {
        ran = runOneDue(target);
      } finally {
        lock.unlock();
      }
      deliverer.flush();
      if (!ran) {
        break;
      }
    }
    lock.lock();
    try {
      Instant base = clock.instant();
      if (targetInstant.isAfter(base.plus(offset))) {
        offset = Duration.between(base, targetInstant);
      }
    } finally {
      lock.unlock();
    }
  }

  private void runDue(long target) {
    while (runOneDue(target)) {
      // runs each due action in time order
    }
  }

  private record Due(long at, long seq, Runnable action) {}

  private boolean runOneDue(long target) {
    List<Due> due = new ArrayList<>();
    for (ObjectNode sub : objectsOf("subscription")) {
      String status = sub.get("status").asText();
      long seq = seq(sub.get("id").asText());
      if (status.equals("trialing") && !trialWillEndSent.contains(sub.get("id").asText())
          && !sub.get("trial_end").isNull()) {
        due.add(new Due(sub.get("trial_end").asLong() - 3 * DAY, seq, () -> {
          trialWillEndSent.add(sub.get("id").asText());
          emit("customer.subscription.trial_will_end", sub, null);
        }));
      }
      boolean live = List.of("active", "trialing", "past_due", "unpaid").contains(status);
      if (live && !sub.get("cancel_at").isNull() && sub.get("cancel_at").asLong() < periodEnd(sub)) {
        due.add(new Due(sub.get("cancel_at").asLong(), seq, () -> cancelNow(sub, "cancellation_requested")));
      }
      if (live && !items(sub).isEmpty()) {
        due.add(new Due(periodEnd(sub), seq, () -> renew(sub)));
      }
    }
    for (ObjectNode inv : objectsOf("invoice")) {
      if (!inv.get("status").asText().equals("open")) {
        continue;
      }
      long seq = seq(inv.get("id").asText());
      if (!inv.get("next_payment_attempt").isNull()) {
        due.add(new Due(inv.get("next_payment_attempt").asLong(), seq, () -> retry(inv)));
      }
      if (!inv.get("due_date").isNull() && !overdueSent.contains(inv.get("id").asText())) {
        due.add(new Due(inv.get("due_date").asLong(), seq, () -> overdue(inv)));
      }
    }
    Due first = null;
    for (Due d : due) {
      if (d.at() <= target && (first == null || d.at() < first.at()
          || (d.at() == first.at() && d.seq() < first.seq()))) {
        first = d;
      }
    }
    if (first == null) {
      return false;
    }
    Instant base = clock.instant();
    Instant at = Instant.ofEpochSecond(first.at());
    if (at.isAfter(base.plus(offset))) {
      offset = Duration.between(base, at);
    }
    first.action().run();
    return true;
  }

  private void renew(ObjectNode sub) {
    String subId = sub.get("id").asText();
    long oldStart = periodStart(sub);
    long oldEnd = periodEnd(sub);
    if (sub.get("cancel_at_period_end").asBoolean()
        || (!sub.get("cancel_at").isNull() && sub.get("cancel_at").asLong() <= oldEnd)) {
      cancelNow(sub, "cancellation_requested");
      return;
    }
    String scheduleId = sub.get("schedule").asText(null);
    if (scheduleId != null) {
      ObjectNode schedule = objects.get(scheduleId);
      if (schedule != null && schedule.get("status").asText().equals("active")
          && schedule.get("phases").get(0).get("end_date").asLong() <= oldEnd) {
        if (schedule.get("end_behavior").asText().equals("cancel")) {
          schedule.put("status", "completed");
          schedule.put("completed_at", nowSeconds());
          schedule.putNull("current_phase");
          cancelNow(sub, "cancellation_requested");
          emit("subscription_schedule.completed", schedule, null);
          return;
        }
        release(schedule);
      }
    }
    boolean trialEnding = sub.get("status").asText().equals("trialing");
    long newEnd = addInterval(oldEnd, items(sub).get(0).get("price").get("recurring"), 1);
    update(sub, "customer.subscription.updated", () -> {
      for (JsonNode item : items(sub)) {
        ((ObjectNode) item).put("current_period_start", oldEnd);
        ((ObjectNode) item).put("current_period_end", newEnd);
      }
      if (trialEnding) {
        sub.put("status", "active");
      }
    });
    List<ObjectNode> lines = new ArrayList<>(pendingProrations.getOrDefault(subId, List.of()));
    pendingProrations.remove(subId);
    for (JsonNode item : items(sub)) {
      long amount;
      if (isMetered(item.get("price"))) {
        String meterId = item.get("price").get("recurring").path("meter").asText(null);
        ObjectNode meter = meterId == null ? null : objects.get(meterId);
        long used = meter == null ? 0 : usage(sub.get("customer").asText(), meter.get("event_name").asText(),
            oldStart, oldEnd);
        amount = used * item.get("price").get("unit_amount").asLong();
        ObjectNode shadow = ((ObjectNode) item).deepCopy();
        shadow.put("quantity", used);
        lines.add(line(sub, shadow, amount, oldStart, oldEnd, false, describe(shadow)));
      } else {
        lines.add(line(sub, (ObjectNode) item, amountOf(item), oldEnd, newEnd, false, describe(item)));
      }
    }
    ObjectNode inv = createInvoice(sub, lines, "subscription_cycle", trialEnding ? oldEnd : oldStart, oldEnd);
    finalizeInvoice(inv);
    if (sub.get("collection_method").asText().equals("charge_automatically")
        || inv.get("amount_due").asLong() == 0) {
      collect(sub, inv);
    }
  }

  private void retry(ObjectNode inv) {
    ObjectNode sub = subscriptionOf(inv);
    boolean paid = attemptPayment(inv, false);
    if (sub == null) {
      return;
    }
    if (paid) {
      String status = sub.get("status").asText();
      if ((status.equals("past_due") || status.equals("unpaid")) && !hasOtherOpenInvoices(sub, inv)) {
        update(sub, "customer.subscription.updated", () -> sub.put("status", "active"));
      }
    } else if (inv.get("next_payment_attempt").isNull()) {
      markUncollectible(inv);
      if (!sub.get("status").asText().equals("canceled")) {
        cancelNow(sub, "payment_failed");
      }
    }
  }

  private void overdue(ObjectNode inv) {
    overdueSent.add(inv.get("id").asText());
    emit("invoice.overdue", inv, null);
    ObjectNode sub = subscriptionOf(inv);
    if (sub != null && sub.get("status").asText().equals("active")) {
      update(sub, "customer.subscription.updated", () -> sub.put("status", "past_due"));
    }
  }
}
