package dev.saaskit.testing;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.saaskit.testing.internal.stripe.Deliverer;
import dev.saaskit.testing.internal.stripe.Engine;
import dev.saaskit.testing.internal.stripe.HttpFront;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * A stateful, in-memory Stripe for tests: a real HTTP server on a random loopback port speaking Stripe's wire
 * format at API version {@value #API_VERSION} (stripe-java 33.3.0's {@code ApiVersion.CURRENT}), so that
 * stripe-java works against it unchanged, and billing code can be tested offline, webhooks included.
 *
 * <pre>{@code
 * try (StripeEmulator emu = StripeEmulator.builder().clock(clock).start()) {
 *   StripeClient stripe = StripeClient.builder().setApiKey(emu.apiKey()).setApiBase(emu.apiBase()).build();
 *   emu.webhooks().deliverTo((body, signature) -> myWebhookHandler.handle(body, signature)); // or a URI
 *   Session session = stripe.v1().checkout().sessions().create(params);   // mode=subscription
 *   emu.completeCheckout(session.getId());      // customer, subscription, paid invoice, events in Stripe's order
 *   emu.failPayments(customerId, true);
 *   emu.advanceClock(Duration.ofDays(31));      // renewal fails: invoice.payment_failed, past_due; retries...
 * }
 * }</pre>
 *
 * <p><b>Served</b> (form-encoded requests as stripe-java sends them, JSON answers, Stripe's list and error
 * shapes, {@code expand[]}, {@code Idempotency-Key} replay with {@code Idempotent-Replayed: true} (of every
 * answer whose execution began, a 500 included; not of a 400 or 404, which may be sent again), 400
 * {@code idempotency_error} for other parameters and 409 {@code idempotency_key_in_use} while the first request
 * with the key still runs, {@code Request-Id}, an echoed {@code Stripe-Version}, and a {@code Date} header from
 * the emulator's clock, as of the answer, on every answer): customers, products, prices
 * (lookup keys), checkout sessions (mode subscription; line items), billing portal sessions, subscriptions
 * (create, update with prorations, cancel, resume, list) and their items ({@code /v1/subscription_items}:
 * list, retrieve, update price or quantity), subscription schedules (one phase starting now, ending by its
 * {@code duration}, {@code end_date} or {@code iterations}; {@code end_behavior} release or cancel; cancel,
 * release), invoices (retrieve, list, lines, pay, void, mark_uncollectible,
 * finalize, {@code create_preview}), billing meters and meter events, events (list with {@code type},
 * {@code types[]}, {@code created[..]}, {@code delivery_success}; 30 days kept). Unknown endpoints answer 404.
 *
 * <p><b>Hosted checkout page</b>: a checkout session's {@code url} is {@code <apiBase>/checkout/<session id>} on
 * the emulator's own server, a small HTML page (no API key needed) with the plan, the amount, a "Pay" button
 * (element id {@code pay}) and a link back to the session's {@code cancel_url} (id {@code cancel}). Submitting it
 * completes the session exactly like {@link #completeCheckout} (same events, delivered the same way, before the
 * answer) and answers 303 to the session's {@code success_url} (with {@code {CHECKOUT_SESSION_ID}} replaced); a
 * declined payment answers 402, an unknown session 404, a completed or expired one 410, each with an error page.
 * So an app's checkout can be completed in a real browser, offline.
 *
 * <p><b>Time</b>: the emulator's clock is the builder's clock plus an offset that {@link #advanceClock} moves; on
 * the way it runs what falls due, oldest first: renewals at period end (new period on the items, invoice created,
 * finalized, then paid or failed), trial ends (3 days before: {@code customer.subscription.trial_will_end}),
 * {@code cancel_at_period_end} and {@code cancel_at}, schedule ends, dunning retries (by default 3, 5 and 7 days after the first failed
 * attempt; after the last failure the invoice is marked uncollectible and the subscription canceled), and the due
 * dates of {@code send_invoice} invoices ({@code invoice.overdue}, subscription {@code past_due}). Moving the
 * builder's clock itself changes the time too, but runs nothing until the next {@code advanceClock} (which may be
 * {@link Duration#ZERO}).
 *
 * <p><b>Webhooks</b> ({@link #webhooks()}): automatic by default, synchronously: the events a request causes are
 * delivered, in order, on the request's thread after the emulator's state lock is released and before the HTTP
 * response is sent (so a handler may call the emulator back); events caused by a Java call are delivered before
 * that call returns. When a delivery is already under way on another thread, that thread delivers the new events
 * too, in order. Signatures ({@code Stripe-Signature: t=..,v1=..}) carry the <em>builder's clock</em> time (without
 * the {@code advanceClock} offset, so stripe-java's {@code Webhook.constructEvent} tolerance check passes after
 * advancing days), plus {@link Webhooks#timestampSkew}.
 *
 * <p><b>Choices where Stripe is unclear or too big</b>: a repeated meter event {@code identifier} (within 24 hours)
 * answers 400 {@code invalid_request_error} with code {@code resource_already_exists} and is not counted (Stripe
 * documents that it enforces uniqueness, not the answer); a checkout with a trial completes with
 * {@code payment_status} {@code no_payment_required}, as Stripe does; a failed async checkout payment leaves the
 * subscription {@code incomplete_expired} and voids its invoice; a first payment that fails on
 * {@code POST /v1/subscriptions} (or {@code payment_behavior=default_incomplete}) leaves the subscription
 * {@code incomplete} (no retries, no expiry) until its invoice is paid with {@code POST /v1/invoices/{id}/pay};
 * a declined {@code completeCheckout} throws (the hosted page would show the decline). No charges, payment intents
 * or payment methods exist: every customer pays unless {@link #failPayments} says otherwise. Taxes, discounts,
 * coupons, currency conversion and changing a subscription's billing interval (the cycle is not reset) are not
 * modelled; {@code DELETE /v1/subscriptions/{id}} cancels at once and ignores {@code invoice_now}/{@code prorate}.
 * Prorations are Stripe's by-the-second arithmetic: for each changed item a credit of
 * {@code -round(old amount × remaining/period)} and a charge of {@code round(new amount × remaining/period)}.
 * Thread-safe.
 */
public final class StripeEmulator implements AutoCloseable {
  /** The API version the emulator speaks and labels its events with. */
  public static final String API_VERSION = Engine.API_VERSION;

  private final String apiKey;
  private final String webhookSecret;
  private final Engine engine;
  private final Deliverer deliverer;
  private final HttpFront front;
  private final Webhooks webhooks;

  private StripeEmulator(Builder b) throws IOException {
    this.apiKey = b.apiKey != null ? b.apiKey : "sk_test_emulator_" + randomHex(12);
    this.webhookSecret = b.webhookSecret != null ? b.webhookSecret : "whsec_" + randomHex(16);
    Clock clock = b.clock;
    this.deliverer = new Deliverer(webhookSecret, clock::instant);
    this.engine = new Engine(clock, b.seed != null ? b.seed : new SecureRandom().nextLong(), deliverer, b.retries);
    this.front = new HttpFront(engine, deliverer, apiKey, b.port);
    this.webhooks = new Webhooks();
  }

  private static String randomHex(int bytes) {
    byte[] b = new byte[bytes];
    new SecureRandom().nextBytes(b);
    return HexFormat.of().formatHex(b);
  }

  /** A builder: system clock, generated API key and webhook secret, dunning retries at 3, 5 and 7 days. */
  public static Builder builder() {
    return new Builder();
  }

  /** Starts an emulator with the {@link #builder()} defaults. */
  public static StripeEmulator start() {
    return builder().start();
  }

  /** The base URL for stripe-java's {@code setApiBase}: {@code http://127.0.0.1:<port>}. */
  public String apiBase() {
    return front.base();
  }

  /** The secret key the emulator accepts (any other answers 401). */
  public String apiKey() {
    return apiKey;
  }

  /** The webhook signing secret ({@code whsec_...}). */
  public String webhookSecret() {
    return webhookSecret;
  }

  /** The emulator's current time (the builder's clock plus what {@link #advanceClock} added). */
  public Instant now() {
    return engine.now();
  }

  /** Webhook delivery control. */
  public Webhooks webhooks() {
    return webhooks;
  }

  /**
   * Moves the emulator's time forward and runs what falls due on the way (renewals, trial ends, retries, due
   * dates, schedule ends), in time order, delivering each step's events before the next.
   *
   * @throws IllegalArgumentException when {@code amount} is negative
   */
  public StripeEmulator advanceClock(Duration amount) {
    engine.advance(Objects.requireNonNull(amount, "amount"));
    return this;
  }

  /**
   * The customer pays on the hosted checkout page: creates the customer when the session has none (with the
   * session's {@code customer_email}), the subscription (trialing with a $0 paid invoice when the session asked
   * for a trial, else active with a paid invoice) and completes the session. Events: {@code customer.created},
   * {@code customer.subscription.created}, {@code invoice.created}, {@code invoice.finalized},
   * {@code invoice.paid}, {@code invoice.payment_succeeded}, {@code checkout.session.completed}.
   *
   * @throws IllegalArgumentException for an unknown or not open session, or when the customer's payments fail
   */
  public void completeCheckout(String sessionId) {
    engine.call(null, null, () -> engine.completeCheckout(sessionId, false));
  }

  /**
   * The customer completes checkout with a delayed payment method (a bank debit): the session is
   * {@code complete} with {@code payment_status} {@code unpaid}, the subscription {@code incomplete} with an open
   * invoice, until {@link #settleAsyncPayment}.
   */
  public void completeCheckoutAsync(String sessionId) {
    engine.call(null, null, () -> engine.completeCheckout(sessionId, true));
  }

  /**
   * Settles an async checkout payment: on success the invoice is paid, the subscription active and
   * {@code checkout.session.async_payment_succeeded} sent; on failure {@code invoice.payment_failed}, the
   * subscription {@code incomplete_expired}, the invoice void and {@code checkout.session.async_payment_failed}.
   */
  public void settleAsyncPayment(String sessionId, boolean succeeded) {
    engine.call(null, null, () -> engine.settleAsyncPayment(sessionId, succeeded));
  }

  /** From now on the customer's charges fail ({@code fail = true}) or succeed again. */
  public void failPayments(String customerId, boolean fail) {
    engine.call(null, null, () -> {
      engine.failPayments(customerId, fail);
      return null;
    });
  }

  /** Pauses a subscription: status {@code paused}, {@code customer.subscription.updated} and {@code .paused}. */
  public void pauseSubscription(String subscriptionId) {
    engine.call(null, null, () -> {
      engine.pauseSubscription(subscriptionId);
      return null;
    });
  }

  /**
   * Sets a subscription's status directly (a test mutator): {@code customer.subscription.updated}, or
   * {@code customer.subscription.deleted} for {@code canceled}; inside {@link #silently} no event at all.
   */
  public void setSubscriptionStatus(String subscriptionId, String status) {
    engine.call(null, null, () -> {
      engine.setSubscriptionStatus(subscriptionId, status);
      return null;
    });
  }

  /**
   * Deletes an object by id (a test mutator): a customer becomes Stripe's deleted stub, anything else is gone
   * (answers 404). Emits {@code <type>.deleted} unless inside {@link #silently}.
   */
  public void deleteObject(String id) {
    engine.call(null, null, () -> {
      engine.deleteObject(id);
      return null;
    });
  }

  /**
   * Runs {@code changes} without creating any event: drift on purpose, for reconcile tests. The changes may be
   * Java calls on this emulator or API requests (stripe-java); while they run, no request from any thread
   * creates events, so keep other traffic quiet meanwhile.
   */
  public void silently(Runnable changes) {
    engine.silently(changes);
  }

  /**
   * The next {@code n} API requests answer {@code status} without doing anything: 429 as Stripe's rate limit
   * ({@code code rate_limit}), anything else as {@code api_error}; with {@code Retry-After} when given.
   */
  public void failNextRequests(int n, int status, @Nullable Duration retryAfter) {
    if (n < 0) {
      throw new IllegalArgumentException("n must be >= 0 but was " + n);
    }
    front.failNext(n, status, retryAfter);
  }

  /** While {@code true}, every API request answers 503 {@code api_error}. */
  public void down(boolean down) {
    front.down(down);
  }

  /** How many API requests used {@code method} on a path starting with {@code pathPrefix} ({@code /v1/...}). */
  public int requestCount(String method, String pathPrefix) {
    return front.requestCount(method, pathPrefix);
  }

  /** The {@code Stripe-Version} request headers received, in order. */
  public List<String> stripeVersionsSeen() {
    return front.stripeVersions();
  }

  /** The sum of the accepted billing meter event values for a customer and event name. */
  public long meterEventTotal(String customerId, String eventName) {
    return engine.meterEventTotal(customerId, eventName);
  }

  /** An object's current JSON by id (any type), if it exists. */
  public Optional<String> object(String id) {
    ObjectNode o = engine.object(id);
    return o == null ? Optional.empty() : Optional.of(o.toString());
  }

  /** Every event created, oldest first. */
  public List<Event> events() {
    List<Event> out = new ArrayList<>();
    for (ObjectNode e : engine.events()) {
      out.add(Event.of(e));
    }
    return out;
  }

  /** The types of every event created, oldest first (a shortcut for assertions). */
  public List<String> eventTypes() {
    List<String> out = new ArrayList<>();
    for (Event e : events()) {
      out.add(e.type());
    }
    return out;
  }

  /** Stops the server. */
  @Override
  public void close() {
    front.close();
  }

  /**
   * An event the emulator created.
   *
   * @param id {@code evt_...}
   * @param type such as {@code invoice.paid}
   * @param created epoch seconds on the emulator's clock
   * @param objectId the id of {@code data.object} (null for objects without one)
   * @param json the event as {@code GET /v1/events/{id}} returns it
   */
  public record Event(String id, String type, long created, @Nullable String objectId, String json) {
    static Event of(ObjectNode e) {
      String objectId = e.path("data").path("object").path("id").asText(null);
      return new Event(e.get("id").asText(), e.get("type").asText(), e.get("created").asLong(), objectId,
          e.toString());
    }
  }

  /**
   * Receives webhook deliveries in-process.
   */
  @FunctionalInterface
  public interface WebhookSink {
    /**
     * Handles one delivery.
     *
     * @param body the JSON body
     * @param signatureHeader the {@code Stripe-Signature} header
     * @return the HTTP status to record (2xx counts as delivered)
     */
    int deliver(String body, String signatureHeader) throws Exception;
  }

  /**
   * One delivery attempt.
   *
   * @param eventId the event
   * @param type the event type
   * @param status the status the endpoint answered (0: unreachable, or the sink threw)
   */
  public record Delivery(String eventId, String type, int status) {
    /** Whether the endpoint answered 2xx. */
    public boolean succeeded() {
      return status >= 200 && status < 300;
    }
  }

  /** Webhook delivery control: where events go, when, and with which faults. */
  public final class Webhooks {
    private Webhooks() {}

    /** Delivers by HTTP POST to {@code endpoint}. */
    public Webhooks deliverTo(URI endpoint) {
      deliverer.target(Objects.requireNonNull(endpoint, "endpoint"));
      return this;
    }

    /** Delivers to {@code sink} in-process. */
    public Webhooks deliverTo(WebhookSink sink) {
      Objects.requireNonNull(sink, "sink");
      deliverer.target(sink::deliver);
      return this;
    }

    /**
     * On (the default): events are delivered right after what caused them. Off: they queue up in
     * {@link #pending()} for the {@code deliverPending...} methods.
     */
    public Webhooks automatic(boolean on) {
      deliverer.automatic(on);
      return this;
    }

    /** Each event is delivered twice in a row. */
    public Webhooks duplicateEach(boolean on) {
      deliverer.duplicateEach(on);
      return this;
    }

    /**
     * Labels delivered events with an older {@code api_version} (such as {@code 2020-08-27}) and shapes
     * {@code data.object} the old way where it differs: a subscription's {@code current_period_start/end},
     * {@code plan} and {@code quantity} at the top level, an invoice's {@code subscription} and {@code paid} at
     * the top level. {@code null} returns to the emulator's version.
     */
    public Webhooks withApiVersion(@Nullable String apiVersion) {
      deliverer.apiVersion(apiVersion);
      return this;
    }

    /** Signs with another secret (a forged or rotated-away signature); {@code null} for the right one. */
    public Webhooks signWith(@Nullable String otherSecret) {
      deliverer.signWith(otherSecret);
      return this;
    }

    /** Shifts the signature timestamp (negative: an old, replayed delivery). */
    public Webhooks timestampSkew(Duration skew) {
      deliverer.timestampSkew(Objects.requireNonNull(skew, "skew"));
      return this;
    }

    /** The ids of the events waiting for delivery (automatic off), oldest first. */
    public List<String> pending() {
      List<String> out = new ArrayList<>();
      deliverer.pending().forEach(e -> out.add(e.get("id").asText()));
      return out;
    }

    /** Delivers the pending events, oldest first. */
    public void deliverPending() {
      deliverer.deliverPending(false);
    }

    /** Delivers the pending events, newest first. */
    public void deliverPendingReversed() {
      deliverer.deliverPending(true);
    }

    /** Delivers the pending events in a random order drawn from {@code seed}. */
    public void deliverPendingShuffled(long seed) {
      deliverer.deliverPendingShuffled(seed);
    }

    /** Delivers each pending event twice, from two threads released at the same moment. */
    public void deliverPendingTwiceInParallel() {
      deliverer.deliverPendingTwiceInParallel();
    }

    /** Forgets the pending events without delivering them; returns how many. */
    public int dropPending() {
      return deliverer.dropPending();
    }

    /** Delivers one event (pending or not, again if already delivered). */
    public void deliver(String eventId) {
      ObjectNode e = engine.event(Objects.requireNonNull(eventId, "eventId"));
      if (e == null) {
        throw new IllegalArgumentException("no event " + eventId);
      }
      deliverer.deliver(e);
    }

    /** Every delivery attempt, oldest first. */
    public List<Delivery> deliveries() {
      List<Delivery> out = new ArrayList<>();
      deliverer.deliveries().forEach(d -> out.add(new Delivery(d.eventId(), d.type(), d.status())));
      return out;
    }
  }

  /** Settings of an emulator; {@link #start()} starts it. */
  public static final class Builder {
    private Clock clock = Clock.systemUTC();
    private @Nullable String apiKey;
    private @Nullable String webhookSecret;
    private @Nullable Long seed;
    private int port;
    private List<Duration> retries = List.of(Duration.ofDays(3), Duration.ofDays(5), Duration.ofDays(7));

    private Builder() {}

    /** The clock the emulator's time starts from (default the system clock). */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /** The secret key to accept (default {@code sk_test_emulator_<random>}). */
    public Builder apiKey(String apiKey) {
      Objects.requireNonNull(apiKey, "apiKey");
      if (apiKey.isBlank()) {
        throw new IllegalArgumentException("apiKey must not be blank");
      }
      this.apiKey = apiKey;
      return this;
    }

    /** The webhook signing secret (default {@code whsec_<random>}). */
    public Builder webhookSecret(String webhookSecret) {
      Objects.requireNonNull(webhookSecret, "webhookSecret");
      if (webhookSecret.isBlank()) {
        throw new IllegalArgumentException("webhookSecret must not be blank");
      }
      this.webhookSecret = webhookSecret;
      return this;
    }

    /** The loopback port to listen on (default 0: a free one; a fixed one suits an example app). */
    public Builder port(int port) {
      if (port < 0 || port > 65_535) {
        throw new IllegalArgumentException("port must be between 0 and 65535 but was " + port);
      }
      this.port = port;
      return this;
    }

    /** The seed for generated ids (default random), for reproducible ids. */
    public Builder seed(long seed) {
      this.seed = seed;
      return this;
    }

    /**
     * When failed subscription payments are retried, as offsets from the first failed attempt, increasing
     * (default 3, 5 and 7 days); after the last retry fails the subscription is canceled. None: cancel at the
     * first failure.
     */
    public Builder dunningRetries(Duration... offsets) {
      List<Duration> list = List.of(offsets);
      Duration previous = Duration.ZERO;
      for (Duration d : list) {
        if (d.compareTo(previous) <= 0) {
          throw new IllegalArgumentException("dunningRetries must be positive and increasing but were " + list);
        }
        previous = d;
      }
      this.retries = list;
      return this;
    }

    /** Starts the emulator on the loopback interface. */
    public StripeEmulator start() {
      try {
        return new StripeEmulator(this);
      } catch (IOException e) {
        throw new UncheckedIOException("could not start the Stripe emulator", e);
      }
    }
  }
}
