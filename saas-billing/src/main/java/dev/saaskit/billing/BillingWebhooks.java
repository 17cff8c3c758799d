package dev.saaskit.billing;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.saaskit.billing.internal.BillingDb;
import dev.saaskit.billing.internal.EventApplier;
import dev.saaskit.billing.internal.StripeGateway;
import dev.saaskit.billing.internal.StripeJson;
import dev.saaskit.billing.internal.UnlinkedCustomerException;
import dev.saaskit.billing.internal.WebhookInbox;
import dev.saaskit.billing.internal.WebhookSignature;
import dev.saaskit.billing.internal.WebhookStats;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Stripe's webhook endpoint, framework-agnostic: the application's route passes the raw body and the {@code
 * Stripe-Signature} header to {@link #handle} and answers with the status of the {@link WebhookResult}.
 *
 * <pre>{@code
 * BillingWebhooks webhooks = billing.webhooks();
 * app.post("/stripe/webhooks", ctx -> {                      // Javalin; any framework alike
 *   WebhookResult r = webhooks.handle(ctx.body(), ctx.header("Stripe-Signature"));
 *   ctx.status(r.status()).result(r.message());
 * });
 * // every minute or so (a saas-jobs recurring job, a scheduled executor):
 * webhooks.retryDue();
 * }</pre>
 *
 * <p><b>What happens to a delivery</b>: the body (at most 1 MiB, else 413) is verified against every configured
 * webhook secret (rotation: any of them may match) and the signature's timestamp must be within {@link
 * BillingConfig#signatureTolerance()} of the configured clock (else 400); it must be a Stripe event ({@code
 * "object": "event"}, an {@code evt_} id, a type and a created time, one JSON document; else 400; a body
 * PostgreSQL cannot store, such as a NUL in a string, gets 400 too: it could never be recorded). Nothing is stored
 * for any 4xx. The event is then recorded in the inbox, keyed by its id, so a repeated or parallel delivery is
 * recorded once; only then can the answer be 2xx. Without an {@link ApplyScheduler} it is applied at once, in its
 * own transaction holding the inbox row's lock (so parallel deliveries apply it once): the tenant is resolved from
 * trusted sources only (the customer's route, its {@code metadata.tenant_id}, the checkout session's {@code
 * client_reference_id}), the mirror is written with conditional upserts (an older state never overwrites a newer
 * one), and subscriptions, invoices, checkout sessions and customers are refetched from Stripe at the pinned API
 * version when the payload is from another API version or not newer than what the mirror holds ({@link
 * BillingConfig#refetch()}). A failure rolls the apply back, leaves the event {@code failed} with its error and a
 * next try (backoff {@link BillingConfig#eventRetryBackoff()} doubling, at most an hour) and answers 500, so Stripe
 * delivers it again too. An event whose customer is linked to no tenant yet is the exception: it is {@code parked}
 * and answered 200 (Stripe's retries could not help, and Stripe disables an endpoint that keeps failing), then
 * applied once the customer is linked (a checkout, {@code ensureCustomer}, a reconciler fix, an event naming the
 * customer's tenant, {@link #retryDue()}), as of its own time, so it never overwrites newer state; operators list,
 * {@link #retry(String)} or {@link #discard(String)} it. With an {@link ApplyScheduler}, the event is recorded and
 * scheduled in one transaction and answered 200 at once; the job calls {@link #apply(String)}. Types the mirror does
 * not use are recorded as {@code ignored} and answered 200.
 *
 * <p>After an apply commits: {@link BillingChangeListener#billingChanged} for the tenant, then each registered
 * {@link BillingEventListener} whose types match, at most once per event and listener (the delivery is recorded
 * before the call), inside {@link TenantContext#run} with the event's tenant.
 *
 * <p><b>Operations</b>: {@link #retryDue()} (run it periodically), {@link #retry(String)}, {@link #replay(Instant)}
 * (events Stripe created that never reached us, from {@code GET /v1/events}, 30 days back at most), {@link
 * #inbox(String, int)}, {@link #inboxSummary()} and {@link #discard(String)}. Thread-safe; starts no thread.
 */
public final class BillingWebhooks {
  /** The largest body accepted, in bytes (1 MiB): Stripe's events are far smaller. */
  public static final int MAX_BODY_BYTES = 1 << 20;

  private static final Logger LOG = LoggerFactory.getLogger(BillingWebhooks.class);
  private static final Pattern EVENT_ID = Pattern.compile("evt_[0-9A-Za-z_]{1,250}");
  private static final int MAX_ERROR = 500;
  /** One JSON document and nothing after it (the mapper alone reads the first value and ignores the rest). */
  private static final ObjectReader ONE_DOCUMENT =
      StripeJson.MAPPER.reader().with(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
  /** The latest {@code created} accepted (9999-12-31T23:59:59Z): later ones fit no timestamp column. */
  private static final long MAX_CREATED = 253_402_300_799L;
  private static final List<String> STATUSES =
      List.of("received", "applied", "failed", "ignored", "parked", "discarded");

  private final Billing billing;
  private final BillingConfig config;
  private final BillingDb db;
  private final StripeGateway stripe;
  private final EventApplier applier;
  private final WebhookInbox inbox;
  private final WebhookSignature signature;
  private final WebhookStats stats = new WebhookStats();
  /** Set while this thread releases parked events: an event released does not start another release. */
  private final ThreadLocal<Boolean> releasing = ThreadLocal.withInitial(() -> false);
  private final String routedTenant;

  BillingWebhooks(Billing billing) {
    this.billing = Objects.requireNonNull(billing, "billing");
    this.config = billing.config();
    this.db = billing.db();
    this.stripe = billing.stripe();
    this.applier = new EventApplier(billing.mirror(), db, stripe, config.refetch(), config.clock());
    this.inbox = new WebhookInbox(billing.mirror().schema());
    this.routedTenant = db.routedTenantExpression(billing.mirror().schema());
    this.signature = new WebhookSignature(config.webhookSecrets(), config.signatureTolerance());
  }

  /** The endpoint's counters (for metrics). */
  WebhookStats stats() {
    return stats;
  }

  // ------------------------------------------------------------------------------------------------ the endpoint

  /**
   * Handles one delivery. Never throws for bad input: every outcome is a {@link WebhookResult} carrying the HTTP
   * status to answer (2xx only when the event is durably recorded).
   *
   * @param rawBody the request body exactly as received (not re-serialized: the signature covers its bytes)
   * @param signatureHeader the {@code Stripe-Signature} header, null when absent (400)
   */
  public WebhookResult handle(@Nullable String rawBody, @Nullable String signatureHeader) {
    stats.received();
    try {
      return handleChecked(rawBody, signatureHeader);
    } catch (RuntimeException e) {
      // the message only (no payload); the stack trace at DEBUG
      LOG.error("webhook delivery could not be recorded: {}", safe(e));
      LOG.debug("webhook delivery failure", e);
      return new WebhookResult(500, WebhookResult.Outcome.ERROR, "internal error; the event was not recorded", null);
    }
  }

  private WebhookResult handleChecked(@Nullable String rawBody, @Nullable String signatureHeader) {
    if (config.webhookSecrets().isEmpty()) {
      LOG.error("a Stripe webhook arrived but no webhook secret is configured (BillingConfig.webhookSecrets)");
      return new WebhookResult(500, WebhookResult.Outcome.ERROR,
          "webhook endpoint misconfigured: no signing secret configured", null);
    }
    if (rawBody == null) {
      return reject(400, "body", "empty body");
    }
    if (rawBody.length() > MAX_BODY_BYTES || rawBody.getBytes(StandardCharsets.UTF_8).length > MAX_BODY_BYTES) {
      return reject(413, "size", "body larger than 1 MiB");
    }
    if (signatureHeader == null || signatureHeader.isBlank()) {
      return reject(400, "header", "missing Stripe-Signature header");
    }
    switch (signature.verify(rawBody, signatureHeader, config.clock().instant())) {
      case MALFORMED:
        return reject(400, "header", "malformed Stripe-Signature header");
      case MISMATCH:
        return reject(400, "signature", "no signature matches");
      case OUT_OF_TOLERANCE:
        return reject(400, "timestamp", "signature timestamp outside the tolerance");
      case OK:
      default:
        break;
    }
    JsonNode node;
    try {
      node = ONE_DOCUMENT.readTree(rawBody);
    } catch (JsonProcessingException e) {
      return reject(400, "json", "malformed JSON");
    }
    if (!(node instanceof ObjectNode) || !"event".equals(StripeJson.text(node, "object"))) {
      return reject(400, "not_event", "not a Stripe event");
    }
    ObjectNode event = (ObjectNode) node;
    String id = StripeJson.text(event, "id");
    if (id == null || !EVENT_ID.matcher(id).matches()) {
      return reject(400, "not_event", "event id missing or not evt_...");
    }
    String type = StripeJson.text(event, "type");
    Long createdSeconds = StripeJson.number(event, "created");
    Instant created = createdSeconds == null || createdSeconds < 0 || createdSeconds > MAX_CREATED ? null
        : Instant.ofEpochSecond(createdSeconds);
    JsonNode data = event.get("data");
    JsonNode object = data == null ? null : data.get("object");
    if (type == null || type.isEmpty() || type.length() > 200 || created == null || object == null
        || !object.isObject()) {
      return reject(400, "not_event", "event without type, created or data.object");
    }
    EventApplier.Kind kind = EventApplier.kind(type);
    ApplyScheduler scheduler = config.applyScheduler();
    if (scheduler == null && kind != EventApplier.Kind.NONE) {
      WebhookResult applied = recordAndApply(event, id, type, created, kind, rawBody);
      if (applied != null) {
        return applied;
      }
      return duplicate(id, null);
    }
    boolean inserted;
    try {
      inserted = db.inTransaction(null, "recording event " + id, c -> {
        boolean fresh = record(c, event, id, type, created, kind, rawBody);
        if (fresh && scheduler != null && kind != EventApplier.Kind.NONE) {
          scheduler.schedule(c, id);
        }
        return fresh;
      });
    } catch (RuntimeException e) {
      if (unstorable(e)) {
        return unstorable(id, type, e);
      }
      LOG.error("event {} ({}) could not be recorded: {}", id, type, safe(e));
      return new WebhookResult(500, WebhookResult.Outcome.ERROR, "the event could not be recorded; retry", id);
    }
    if (inserted) {
      if (kind == EventApplier.Kind.NONE) {
        return new WebhookResult(200, WebhookResult.Outcome.IGNORED, "recorded; type not used by the mirror", id);
      }
      if (scheduler != null) {
        return new WebhookResult(200, WebhookResult.Outcome.QUEUED, "recorded; apply scheduled", id);
      }
      return result(applyAndNotify(id), id);
    }
    return duplicate(id, scheduler);
  }

  /** A delivery of an event the inbox has: acknowledged when applied or queued, else applied now. */
  private WebhookResult duplicate(String id, @Nullable ApplyScheduler scheduler) {
    stats.duplicate();
    String status = db.inTransaction(null, "reading event " + id, c -> inbox.status(c, id).orElse("received"));
    if ("applied".equals(status) || "ignored".equals(status) || "discarded".equals(status)) {
      return new WebhookResult(200, WebhookResult.Outcome.DUPLICATE, "already recorded and " + status, id);
    }
    if (scheduler != null) {
      return new WebhookResult(200, WebhookResult.Outcome.DUPLICATE, "already recorded; apply scheduled", id);
    }
    return result(applyAndNotify(id), id);
  }

  /**
   * Records a new event and applies it in the same transaction (one commit: the inbox row is ours until then, so a
   * parallel duplicate waits and then finds it applied); when the apply fails, everything is rolled back and the
   * event is recorded as failed, with its error, in a new transaction. Null when the event was recorded already.
   */
  private @Nullable WebhookResult recordAndApply(ObjectNode event, String id, String type, Instant created,
      EventApplier.Kind kind, String rawBody) {
    Done done = null;
    String error = null;
    String parkedFor = null;
    String linked = null;
    try (Connection c = db.dataSource().getConnection()) {
      boolean autoCommit = c.getAutoCommit();
      c.setAutoCommit(false);
      try {
        // recorded as applied, in the transaction that applies it, routed in the same statement: a failed apply
        // rolls the row back with the rest and is recorded as failed below
        JsonNode object = event.get("data").get("object");
        String routeCustomer = EventApplier.routingCustomer(kind, object);
        WebhookInbox.Recorded recorded = inbox.insertApplied(c, id, type, StripeJson.text(event, "api_version"),
            created, StripeJson.bool(event, "livemode", false), StripeJson.text(object, "id"), rawBody,
            routeCustomer == null ? null : routedTenant, routeCustomer, config.clock().instant());
        if (recorded == null) {
          c.rollback();
          return null;
        }
        try {
          EventApplier.Routed routed = routeCustomer == null ? null
              : new EventApplier.Routed(routeCustomer, recorded.routed());
          done = applyRecorded(c, type, event, routed, id, recorded.routed());
          if (recorded.routed() == null) {
            linked = linkedCustomer(kind, object); // a customer this event may just have linked to its tenant
          }
        } catch (SQLException | RuntimeException e) {
          // no savepoint (a round trip on every event): roll everything back and record the event as failed in a
          // new transaction; a parallel duplicate that records it first meanwhile is applying it itself
          c.rollback();
          error = safe(e);
          if (!record(c, event, id, type, created, kind, rawBody)) {
            c.rollback();
            return null;
          }
          if (e instanceof UnlinkedCustomerException) {
            parkedFor = ((UnlinkedCustomerException) e).customer();
            inbox.markParked(c, id, parkedFor, error, config.clock().instant());
          } else {
            inbox.markFailed(c, id, error, config.clock().instant(), config.eventRetryBackoff());
          }
        }
        c.commit();
      } catch (SQLException | RuntimeException e) {
        try {
          c.rollback();
        } catch (SQLException suppressed) {
          e.addSuppressed(suppressed);
        }
        throw e;
      } finally {
        BillingDb.restore(c, autoCommit); // never commits what a throwable left half done
      }
    } catch (SQLException | RuntimeException e) {
      if (unstorable(e)) {
        return unstorable(id, type, e);
      }
      LOG.error("event {} ({}) could not be recorded: {}", id, type, safe(e));
      return new WebhookResult(500, WebhookResult.Outcome.ERROR, "the event could not be recorded; retry", id);
    }
    if (done == null && parkedFor != null) {
      stats.parked();
      LOG.warn("event {} ({}) parked: {}; it is applied once the customer is linked to a tenant", id, type, error);
      // the customer may have been linked between the apply and the park (a checkout completing meanwhile, whose
      // release did not see this event yet): then apply what waits for it now
      String customer = parkedFor;
      if (db.inTransaction(null, "routing customer " + customer, c -> inbox.linked(c, customer))) {
        releaseParked(customer);
      }
      return event(id).map(e -> "parked".equals(e.status()) ? result(new Attempt(AttemptOutcome.PARKED), id)
          : new WebhookResult(200, WebhookResult.Outcome.APPLIED, "applied", id))
          .orElseGet(() -> result(new Attempt(AttemptOutcome.PARKED), id));
    }
    if (done == null) {
      stats.failed();
      LOG.warn("event {} ({}) failed to apply (attempt 1): {}", id, type, error);
      return result(new Attempt(AttemptOutcome.FAILED), id);
    }
    stats.applied(type, done.lagMillis());
    afterCommit(id, done);
    if (linked != null && done.applied().tenant() != null) {
      // this event may have linked its customer (metadata.tenant_id, a checkout): events parked for it apply now
      releaseParked(linked);
    }
    return result(new Attempt(AttemptOutcome.APPLIED), id);
  }

  /**
   * Applies {@code event} on {@code c}, whose transaction holds its inbox row, marks it applied and tells the
   * change listener in the transaction. The caller commits.
   */
  private Done applyOn(Connection c, String id, String type, ObjectNode event) throws SQLException {
    Instant now = config.clock().instant();
    EventApplier.Applied applied = applier.apply(c, event);
    inbox.markDone(c, id, "applied", applied.tenant(), now);
    return done(c, type, event, applied, now);
  }

  /**
   * Applies {@code event} on {@code c}, whose transaction recorded it as applied to {@code recordedTenant}
   * ({@link WebhookInbox#insertApplied}), correcting the tenant when the apply found another, and tells the change
   * listener in the transaction. The caller commits.
   */
  private Done applyRecorded(Connection c, String type, ObjectNode event, EventApplier.@Nullable Routed routed,
      String id, @Nullable TenantId recordedTenant) throws SQLException {
    Instant now = config.clock().instant();
    EventApplier.Applied applied = applier.apply(c, event, routed);
    if (!Objects.equals(applied.tenant(), recordedTenant)) {
      inbox.setRoutedTenant(c, id, applied.tenant());
    }
    return done(c, type, event, applied, now);
  }

  private Done done(Connection c, String type, ObjectNode event, EventApplier.Applied applied, Instant now)
      throws SQLException {
    TenantId tenant = applied.tenant();
    if (tenant != null) {
      config.changeListener().inTransaction(c, tenant);
    }
    Instant created = Objects.requireNonNull(StripeJson.time(event, "created"));
    return new Done(type, created, applied, Math.max(0, now.toEpochMilli() - created.toEpochMilli()));
  }

  private boolean record(Connection c, ObjectNode event, String id, String type, Instant created,
      EventApplier.Kind kind, String payload) throws SQLException {
    JsonNode object = event.get("data").get("object");
    return inbox.insert(c, id, type, StripeJson.text(event, "api_version"), created,
        StripeJson.bool(event, "livemode", false), StripeJson.text(object, "id"), payload,
        kind == EventApplier.Kind.NONE ? "ignored" : "received", config.clock().instant());
  }

  /**
   * Whether recording failed on the data itself (SQLSTATE class 22: a NUL or a lone surrogate jsonb refuses, a time
   * out of range...): the same body can never be recorded, so retrying it is pointless.
   */
  private static boolean unstorable(Throwable failure) {
    for (Throwable e = failure; e != null; e = e.getCause()) {
      if (e instanceof SQLException) {
        String state = ((SQLException) e).getSQLState();
        return state != null && state.startsWith("22");
      }
    }
    return false;
  }

  private WebhookResult unstorable(String id, String type, Throwable e) {
    LOG.warn("event {} ({}) refused: the database cannot store its payload: {}", id, type, safe(e));
    return reject(400, "payload", "the event holds data that cannot be stored");
  }

  private WebhookResult reject(int status, String reason, String message) {
    stats.rejected(reason);
    return new WebhookResult(status, WebhookResult.Outcome.REJECTED, message, null);
  }

  private WebhookResult result(Attempt a, String id) {
    switch (a.outcome) {
      case APPLIED:
        return new WebhookResult(200, WebhookResult.Outcome.APPLIED, "applied", id);
      case ALREADY:
        return new WebhookResult(200, WebhookResult.Outcome.DUPLICATE, "already applied", id);
      case BUSY:
        return new WebhookResult(200, WebhookResult.Outcome.DUPLICATE, "being applied by another delivery", id);
      case IGNORED:
        return new WebhookResult(200, WebhookResult.Outcome.IGNORED, "type not used by the mirror", id);
      case PARKED:
        // 2xx: Stripe's retries could not help, and an endpoint that keeps failing is disabled by Stripe
        return new WebhookResult(200, WebhookResult.Outcome.PARKED,
            "recorded and parked: its customer is linked to no tenant yet (see the inbox)", id);
      case FAILED:
      default:
        // the error itself stays in the inbox (last_error) for operators; the answer goes to Stripe's dashboard
        return new WebhookResult(500, WebhookResult.Outcome.FAILED,
            "recorded; applying it failed and will be retried (see the inbox's last_error)", id);
    }
  }

  // ------------------------------------------------------------------------------------------------ apply

  private enum AttemptOutcome { APPLIED, ALREADY, BUSY, IGNORED, FAILED, MISSING, PARKED }

  private static final class Attempt {
    final AttemptOutcome outcome;

    Attempt(AttemptOutcome outcome) {
      this.outcome = outcome;
    }
  }

  private record Done(String type, Instant created, EventApplier.Applied applied, long lagMillis) {}

  /** Tries to apply a recorded event now; then, when applied, tells the change listener, the hook and listeners. */
  private Attempt applyAndNotify(String id) {
    Done[] done = new Done[1];
    Attempt attempt = tryApply(id, done);
    Done d = done[0];
    if (attempt.outcome == AttemptOutcome.APPLIED && d != null) {
      afterCommit(id, d);
      String linked = d.applied().tenant() == null ? null
          : linkedCustomer(EventApplier.kind(d.type()), d.applied().object());
      if (linked != null && !releasing.get()) {
        releaseParked(linked); // this event may have linked its customer: events parked for it apply now
      }
    }
    return attempt;
  }

  private Attempt tryApply(String id, @Nullable Done[] done) {
    String type = "?";
    Exception failure;
    // the failure is recorded on another connection, after this one is closed (one connection per thread at a time)
    try (Connection c = db.dataSource().getConnection()) {
      boolean autoCommit = c.getAutoCommit();
      c.setAutoCommit(false);
      try {
        WebhookInbox.Locked row = inbox.lock(c, id);
        if (row == null) {
          boolean exists = inbox.status(c, id).isPresent();
          c.rollback();
          return new Attempt(exists ? AttemptOutcome.BUSY : AttemptOutcome.MISSING);
        }
        type = row.type();
        if ("applied".equals(row.status()) || "ignored".equals(row.status()) || "discarded".equals(row.status())) {
          c.rollback();
          return new Attempt(AttemptOutcome.ALREADY);
        }
        Instant now = config.clock().instant();
        if (EventApplier.kind(row.type()) == EventApplier.Kind.NONE) {
          inbox.markDone(c, id, "ignored", null, now);
          c.commit();
          return new Attempt(AttemptOutcome.IGNORED);
        }
        Done d = applyOn(c, id, row.type(), StripeJson.parseObject(row.payload()));
        c.commit();
        stats.applied(row.type(), d.lagMillis());
        done[0] = d;
        return new Attempt(AttemptOutcome.APPLIED);
      } catch (SQLException | RuntimeException e) {
        try {
          c.rollback();
        } catch (SQLException suppressed) {
          e.addSuppressed(suppressed);
        }
        failure = e;
      } finally {
        BillingDb.restore(c, autoCommit); // never commits what a throwable left half done
      }
    } catch (SQLException e) {
      failure = e;
    }
    return failed(id, type, failure);
  }

  private Attempt failed(String id, String type, Exception e) {
    String error = safe(e);
    if (e instanceof UnlinkedCustomerException) {
      String customer = ((UnlinkedCustomerException) e).customer();
      try {
        int attempts = db.inTransaction(null, "parking event " + id,
            c -> inbox.markParked(c, id, customer, error, config.clock().instant()));
        if (attempts > 0) {
          stats.parked();
          LOG.warn("event {} ({}) parked (attempt {}): {}; it is applied once the customer is linked to a tenant",
              id, type, attempts, error);
          // linked meanwhile (a checkout committing while this apply ran, whose release could not take this event)?
          if (!releasing.get() && db.inTransaction(null, "routing customer " + customer, c -> inbox.linked(c, customer))
              && releaseParked(customer) > 0
              && event(id).map(ev -> "applied".equals(ev.status())).orElse(false)) {
            return new Attempt(AttemptOutcome.ALREADY);
          }
          return new Attempt(AttemptOutcome.PARKED);
        }
      } catch (RuntimeException again) {
        LOG.error("event {} ({}) could not be parked ({}): {}", id, type, error, safe(again));
      }
    }
    stats.failed();
    try {
      int attempts = db.inTransaction(null, "recording the failure of event " + id,
          c -> inbox.markFailed(c, id, error, config.clock().instant(), config.eventRetryBackoff()));
      LOG.warn("event {} ({}) failed to apply (attempt {}): {}", id, type, attempts, error);
    } catch (RuntimeException again) {
      LOG.error("event {} ({}) failed to apply ({}), and the failure could not be recorded: {}", id, type, error,
          safe(again));
    }
    return new Attempt(AttemptOutcome.FAILED);
  }

  private void afterCommit(String id, Done d) {
    TenantId tenant = d.applied().tenant();
    if (tenant != null) {
      try {
        config.changeListener().billingChanged(tenant);
      } catch (RuntimeException e) {
        LOG.warn("change listener failed for event {}: {}", id, safe(e));
      }
      billing.tenantChanged(tenant);
    }
    if (config.listeners().isEmpty()) {
      return;
    }
    BillingEvent event = new BillingEvent(id, d.type(), tenant, d.applied().objectId(), d.created(),
        StripeJson.write(d.applied().object()));
    for (Map.Entry<String, BillingConfig.Registered> e : config.listeners().entrySet()) {
      if (!matches(e.getValue().types(), d.type())) {
        continue;
      }
      String name = e.getKey();
      boolean first;
      try {
        first = db.inTransaction(null, "recording a delivery to listener " + name,
            c -> inbox.recordDelivery(c, id, name, config.clock().instant()));
      } catch (RuntimeException ex) {
        LOG.error("listener {} not called for event {}: its delivery could not be recorded: {}", name, id, safe(ex));
        continue;
      }
      if (!first) {
        continue;
      }
      BillingEventListener listener = e.getValue().listener();
      try {
        if (tenant != null) {
          TenantContext.run(tenant, () -> listener.onEvent(event));
        } else {
          TenantContext.runWithoutTenant(() -> listener.onEvent(event));
        }
      } catch (Exception ex) {
        String error = safe(ex);
        LOG.warn("listener {} failed on event {} ({}): {}", name, id, d.type(), error);
        try {
          db.inTransaction(null, "recording a listener failure", c -> {
            inbox.deliveryFailed(c, id, name, error);
            return true;
          });
        } catch (RuntimeException again) {
          LOG.error("listener {} failure on event {} could not be recorded: {}", name, id, safe(again));
        }
      }
    }
  }

  /**
   * The customer an applied event of {@code kind} about {@code object} may have linked to its tenant (its routing
   * customer, or a checkout session's customer), or null.
   */
  private static @Nullable String linkedCustomer(EventApplier.Kind kind, JsonNode object) {
    return kind == EventApplier.Kind.CHECKOUT ? StripeJson.id(object, "customer")
        : EventApplier.routingCustomer(kind, object);
  }

  /**
   * Applies the events parked for {@code customer}, oldest first, now that it may be linked to a tenant (an event
   * still unlinked stays parked). Called after whatever may link a customer commits: a checkout, {@code
   * ensureCustomer}, a reconciler fix, an event naming the customer's tenant. Never throws: what is not applied
   * now, {@link #retryDue()} applies once the link exists. Each event applies through the conditional upserts, as
   * of its own {@code created}: an older parked event never overwrites the newer state written meanwhile.
   *
   * @return how many were applied
   */
  int releaseParked(String customer) {
    if (releasing.get()) {
      return 0;
    }
    releasing.set(true);
    try {
      List<String> parked = db.inTransaction(null, "listing parked events", c -> inbox.parkedFor(c, customer, 1000));
      int applied = 0;
      for (String id : parked) {
        if (applyAndNotify(id).outcome == AttemptOutcome.APPLIED) {
          applied++;
        }
      }
      if (applied > 0) {
        LOG.info("{} parked event(s) of customer {} applied now that it is linked to a tenant", applied, customer);
      }
      return applied;
    } catch (RuntimeException e) {
      LOG.warn("parked events of customer {} not applied now (retryDue will): {}", customer, safe(e));
      return 0;
    } finally {
      releasing.set(false);
    }
  }

  /**
   * Applies the parked events whose customer has been linked to a tenant since, by whatever path, oldest first (at
   * most 1,000). Never throws; returns how many were applied.
   */
  int releaseLinked() {
    try {
      List<String> linked = db.inTransaction(null, "listing linked parked events", c -> inbox.parkedLinked(c, 1000));
      int applied = 0;
      for (String id : linked) {
        if (applyAndNotify(id).outcome == AttemptOutcome.APPLIED) {
          applied++;
        }
      }
      return applied;
    } catch (RuntimeException e) {
      LOG.warn("parked events not applied now (retryDue will): {}", safe(e));
      return 0;
    }
  }

  private static boolean matches(java.util.Set<String> types, String type) {
    if (types.contains("*") || types.contains(type)) {
      return true;
    }
    for (String t : types) {
      if (t.endsWith(".*") && type.startsWith(t.substring(0, t.length() - 1))) {
        return true;
      }
    }
    return false;
  }

  /**
   * A short error text without stack trace or payload: the exception's type and message (a SQL error's first
   * line), cut at 500 characters.
   */
  private static String safe(Throwable failure) {
    Throwable e = failure;
    if (e instanceof SQLException && ((SQLException) e).getNextException() != null) {
      e = ((SQLException) e).getNextException(); // a batch's own message quotes the statement and its values
    }
    String message = e.getMessage();
    if (message != null && e instanceof SQLException) {
      // the first line only: PostgreSQL's Detail line may quote the failing row (payloads)
      int newline = message.indexOf('\n');
      message = newline < 0 ? message : message.substring(0, newline);
    }
    String text = e instanceof BillingException && message != null ? message
        : e.getClass().getSimpleName() + (message == null ? "" : ": " + message);
    return text.length() > MAX_ERROR ? text.substring(0, MAX_ERROR) + "..." : text;
  }

  // ------------------------------------------------------------------------------------------------ operations

  /**
   * Applies a recorded event now: the body of the job an {@link ApplyScheduler} enqueued. Idempotent: an applied
   * event is not applied again, and a parallel apply of the same event is skipped. An apply failure is recorded in
   * the inbox (and retried by {@link #retryDue()}), not thrown.
   *
   * @return {@code APPLIED}, {@code DUPLICATE} (already applied, or being applied elsewhere), {@code IGNORED},
   *     {@code PARKED} (its customer is linked to no tenant yet) or {@code FAILED} (with the error in the message)
   * @throws BillingException when the inbox has no such event
   */
  public WebhookResult apply(String eventId) {
    Objects.requireNonNull(eventId, "eventId");
    Attempt a = applyAndNotify(eventId);
    if (a.outcome == AttemptOutcome.MISSING) {
      throw new BillingException("no event " + eventId + " in the inbox");
    }
    return result(a, eventId);
  }

  /**
   * Tries every recorded event that is due: {@code received} or {@code failed}, its next try time passed, fewer
   * tries than {@link BillingConfig#eventMaxAttempts()}; oldest first, at most 1,000 per call; then the {@code
   * parked} events whose customer has been linked to a tenant since (by any path), oldest first, at most 1,000.
   * Run it periodically.
   */
  public RetryReport retryDue() {
    List<String> due = db.inTransaction(null, "listing due events", c -> {
      List<String> ids = new ArrayList<>(inbox.due(c, config.clock().instant(), config.eventMaxAttempts(), 1000));
      ids.addAll(inbox.parkedLinked(c, 1000)); // parked events whose customer got linked since
      return ids;
    });
    int applied = 0;
    int failed = 0;
    for (String id : due) {
      AttemptOutcome o = applyAndNotify(id).outcome;
      if (o == AttemptOutcome.APPLIED || o == AttemptOutcome.IGNORED) {
        applied++;
      } else if (o == AttemptOutcome.FAILED) {
        failed++;
      }
    }
    return RetryReport.of(due.size(), applied, failed);
  }

  /**
   * Applies one recorded event now, whatever its tries and next try time (an operator's retry; a parked event
   * stays parked while its customer is linked to no tenant; a discarded one is not applied).
   *
   * @return the event as the inbox holds it afterwards
   * @throws BillingException when the inbox has no such event
   */
  public InboxEvent retry(String eventId) {
    Objects.requireNonNull(eventId, "eventId");
    if (applyAndNotify(eventId).outcome == AttemptOutcome.MISSING) {
      throw new BillingException("no event " + eventId + " in the inbox");
    }
    return event(eventId).orElseThrow(() -> new BillingException("no event " + eventId + " in the inbox"));
  }

  /**
   * Replays events Stripe created since {@code since} that the inbox lacks (deliveries that never arrived, during
   * an outage say): lists {@code GET /v1/events?created[gte]=...} page by page (Stripe keeps 30 days), records the
   * missing ones and applies them, oldest first. Events already recorded are left to {@link #retryDue()}.
   *
   * @throws BillingException when Stripe cannot be listed
   */
  public ReplayReport replay(Instant since) {
    Objects.requireNonNull(since, "since");
    List<ObjectNode> events = new ArrayList<>();
    for (ObjectNode e : stripe.list("/v1/events", Map.of("created", Map.of("gte", since.getEpochSecond())))) {
      events.add(e);
    }
    events.sort(Comparator.comparingLong(e -> e.path("created").asLong()));
    int inserted = 0;
    int applied = 0;
    int failed = 0;
    for (ObjectNode event : events) {
      String id = StripeJson.text(event, "id");
      String type = StripeJson.text(event, "type");
      Instant created = StripeJson.time(event, "created");
      JsonNode data = event.get("data");
      if (id == null || !EVENT_ID.matcher(id).matches() || type == null || created == null || data == null
          || !data.path("object").isObject()) {
        continue;
      }
      EventApplier.Kind kind = EventApplier.kind(type);
      boolean fresh = db.inTransaction(null, "recording replayed event " + id,
          c -> record(c, event, id, type, created, kind, StripeJson.write(event)));
      if (!fresh) {
        continue;
      }
      inserted++;
      if (kind == EventApplier.Kind.NONE) {
        continue;
      }
      AttemptOutcome o = applyAndNotify(id).outcome;
      if (o == AttemptOutcome.APPLIED) {
        applied++;
      } else if (o == AttemptOutcome.FAILED) {
        failed++;
      }
    }
    return ReplayReport.of(events.size(), inserted, applied, failed);
  }

  /**
   * The recorded events with {@code status} ({@code received}, {@code applied}, {@code failed}, {@code ignored},
   * {@code parked}, {@code discarded}; null for all), newest first.
   *
   * @param limit at most this many, 1 to 10,000
   */
  public List<InboxEvent> inbox(@Nullable String status, int limit) {
    if (status != null && !STATUSES.contains(status)) {
      throw new IllegalArgumentException(
          "status must be received, applied, failed, ignored, parked or discarded but was " + status);
    }
    if (limit < 1 || limit > 10_000) {
      throw new IllegalArgumentException("limit must be between 1 and 10000 but was " + limit);
    }
    List<WebhookInbox.Row> rows = db.inTransaction(null, "listing the inbox", c -> inbox.list(c, status, limit));
    List<InboxEvent> out = new ArrayList<>(rows.size());
    for (WebhookInbox.Row r : rows) {
      out.add(InboxEvent.of(r));
    }
    return out;
  }

  /**
   * Discards a {@code parked} or {@code failed} event: an operator's decision that it will never be applied (a
   * customer that is not a tenant's, say). It stays in the inbox as {@code discarded}, for the record; a later
   * delivery of it is acknowledged as a duplicate.
   *
   * @return the event as the inbox holds it afterwards
   * @throws BillingException when the inbox has no such event, or it is not parked or failed (an applied event is
   *     never discarded)
   */
  public InboxEvent discard(String eventId) {
    Objects.requireNonNull(eventId, "eventId");
    boolean done = db.inTransaction(null, "discarding event " + eventId,
        c -> inbox.discard(c, eventId, config.clock().instant()));
    InboxEvent e = event(eventId).orElseThrow(() -> new BillingException("no event " + eventId + " in the inbox"));
    if (!done) {
      throw new BillingException("event " + eventId + " is " + e.status() + ": only a parked or failed event can be"
          + " discarded");
    }
    LOG.warn("event {} ({}) discarded by an operator", eventId, e.type());
    return e;
  }

  /** One recorded event, if the inbox has it. */
  public Optional<InboxEvent> event(String eventId) {
    Objects.requireNonNull(eventId, "eventId");
    return db.inTransaction(null, "reading the inbox", c -> inbox.find(c, eventId)).map(InboxEvent::of);
  }

  /** How many recorded events are in each status. */
  public InboxSummary inboxSummary() {
    Map<String, Long> counts = db.inTransaction(null, "counting the inbox",
        c -> inbox.counts(c, config.eventMaxAttempts()));
    return InboxSummary.of(counts.getOrDefault("received", 0L), counts.getOrDefault("applied", 0L),
        counts.getOrDefault("failed", 0L), counts.getOrDefault("ignored", 0L), counts.getOrDefault("exhausted", 0L),
        counts.getOrDefault("parked", 0L), counts.getOrDefault("discarded", 0L));
  }

  /**
   * An event of the inbox, as operators see it.
   *
   * <p>A final class rather than a record,
       so that a field can be added without breaking callers (docs/architecture.md).
   */
  public static final class InboxEvent {
    private final String id;
    private final String type;
    private final Instant created;
    private final String status;
    private final int attempts;
    private final @Nullable String lastError;
    private final @Nullable Instant nextAttemptAt;
    private final @Nullable String tenant;
    private final Instant receivedAt;
    private final @Nullable Instant appliedAt;

    private InboxEvent(String id, String type, Instant created, String status, int attempts,
        @Nullable String lastError, @Nullable Instant nextAttemptAt, @Nullable String tenant, Instant receivedAt,
        @Nullable Instant appliedAt) {
      this.id = Objects.requireNonNull(id, "id");
      this.type = Objects.requireNonNull(type, "type");
      this.created = Objects.requireNonNull(created, "created");
      this.status = Objects.requireNonNull(status, "status");
      this.attempts = attempts;
      this.lastError = lastError;
      this.nextAttemptAt = nextAttemptAt;
      this.tenant = tenant;
      this.receivedAt = Objects.requireNonNull(receivedAt, "receivedAt");
      this.appliedAt = appliedAt;
    }

    /**
     * An inbox event (the inbox makes these).
     *
     * @param id Stripe's event id
     * @param type the event type
     * @param created when Stripe created it
     * @param status one of received, applied, failed, ignored, parked, discarded
     * @param attempts how many times applying it was tried
     * @param lastError the error of the last failed try (short, no secrets)
     * @param nextAttemptAt when {@link #retryDue()} tries it next (received and failed events)
     * @param tenant the tenant it was applied to, once applied (catalog events have none)
     * @param receivedAt when it was recorded
     * @param appliedAt when it was applied
     */
    public static InboxEvent of(String id, String type, Instant created, String status, int attempts,
        @Nullable String lastError, @Nullable Instant nextAttemptAt, @Nullable String tenant, Instant receivedAt,
        @Nullable Instant appliedAt) {
      return new InboxEvent(id, type, created, status, attempts, lastError, nextAttemptAt, tenant, receivedAt,
          appliedAt);
    }

    /** Stripe's event id. */
    public String id() {
      return id;
    }

    /** The event type. */
    public String type() {
      return type;
    }

    /** When Stripe created it. */
    public Instant created() {
      return created;
    }

    /** One of received, applied, failed, ignored, parked, discarded. */
    public String status() {
      return status;
    }

    /** How many times applying it was tried. */
    public int attempts() {
      return attempts;
    }

    /** The error of the last failed try (short, no secrets). */
    public @Nullable String lastError() {
      return lastError;
    }

    /** When {@link #retryDue()} tries it next (received and failed events). */
    public @Nullable Instant nextAttemptAt() {
      return nextAttemptAt;
    }

    /** The tenant it was applied to, once applied (catalog events have none). */
    public @Nullable String tenant() {
      return tenant;
    }

    /** When it was recorded. */
    public Instant receivedAt() {
      return receivedAt;
    }

    /** When it was applied. */
    public @Nullable Instant appliedAt() {
      return appliedAt;
    }

    static InboxEvent of(WebhookInbox.Row r) {
      return new InboxEvent(r.id(), r.type(), r.created(), r.status(), r.attempts(), r.lastError(),
          r.nextAttemptAt(), r.tenant(), r.receivedAt(), r.appliedAt());
    }

    @Override
    public boolean equals(@Nullable Object o) {
      if (this == o) {
        return true;
      }
      if (!(o instanceof InboxEvent)) {
        return false;
      }
      InboxEvent other = (InboxEvent) o;
      return Objects.equals(id, other.id) && Objects.equals(type, other.type)
          && Objects.equals(created, other.created) && Objects.equals(status, other.status)
          && attempts == other.attempts && Objects.equals(lastError, other.lastError)
          && Objects.equals(nextAttemptAt, other.nextAttemptAt) && Objects.equals(tenant, other.tenant)
          && Objects.equals(receivedAt, other.receivedAt) && Objects.equals(appliedAt, other.appliedAt);
    }

    @Override
    public int hashCode() {
      return Objects.hash(id, type, created, status, attempts, lastError, nextAttemptAt, tenant, receivedAt,
          appliedAt);
    }

    @Override
    public String toString() {
      return "InboxEvent[id=" + id + ", type=" + type + ", created=" + created + ", status=" + status
          + ", attempts=" + attempts + ", lastError=" + lastError + ", nextAttemptAt=" + nextAttemptAt
          + ", tenant=" + tenant + ", receivedAt=" + receivedAt + ", appliedAt=" + appliedAt + "]";
    }
  }

  /**
   * Counts of the inbox by status.
   *
   * <p>A final class rather than a record,
       so that a field can be added without breaking callers (docs/architecture.md).
   */
  public static final class InboxSummary {
    private final long received;
    private final long applied;
    private final long failed;
    private final long ignored;
    private final long exhausted;
    private final long parked;
    private final long discarded;

    private InboxSummary(long received, long applied, long failed, long ignored, long exhausted, long parked,
        long discarded) {
      this.received = received;
      this.applied = applied;
      this.failed = failed;
      this.ignored = ignored;
      this.exhausted = exhausted;
      this.parked = parked;
      this.discarded = discarded;
    }

    /**
     * Counts (the inbox makes these).
     *
     * @param received recorded, not applied yet (queued, or its first apply under way)
     * @param applied applied to the mirror
     * @param failed the last try failed
     * @param ignored types the mirror does not use
     * @param exhausted of the failed, those that used up {@link BillingConfig#eventMaxAttempts()}: only {@link
     *     #retry(String)} tries them again
     * @param parked of a customer linked to no tenant yet: applied once it is linked, or {@link #discard(String)}ed
     * @param discarded set aside by an operator, never applied
     */
    public static InboxSummary of(long received, long applied, long failed, long ignored, long exhausted, long parked,
        long discarded) {
      return new InboxSummary(received, applied, failed, ignored, exhausted, parked, discarded);
    }

    /** Recorded, not applied yet (queued, or its first apply under way). */
    public long received() {
      return received;
    }

    /** Applied to the mirror. */
    public long applied() {
      return applied;
    }

    /** The last try failed. */
    public long failed() {
      return failed;
    }

    /** Types the mirror does not use. */
    public long ignored() {
      return ignored;
    }

    /**
     * Of the failed, those that used up {@link BillingConfig#eventMaxAttempts()}: only {@link #retry(String)} tries
     * them again.
     */
    public long exhausted() {
      return exhausted;
    }

    /** Of a customer linked to no tenant yet: applied once it is linked, or {@link #discard(String)}ed. */
    public long parked() {
      return parked;
    }

    /** Set aside by an operator, never applied. */
    public long discarded() {
      return discarded;
    }

    @Override
    public boolean equals(@Nullable Object o) {
      if (this == o) {
        return true;
      }
      if (!(o instanceof InboxSummary)) {
        return false;
      }
      InboxSummary other = (InboxSummary) o;
      return received == other.received && applied == other.applied && failed == other.failed
          && ignored == other.ignored && exhausted == other.exhausted && parked == other.parked
          && discarded == other.discarded;
    }

    @Override
    public int hashCode() {
      return Objects.hash(received, applied, failed, ignored, exhausted, parked, discarded);
    }

    @Override
    public String toString() {
      return "InboxSummary[received=" + received + ", applied=" + applied + ", failed=" + failed
          + ", ignored=" + ignored + ", exhausted=" + exhausted + ", parked=" + parked + ", discarded=" + discarded
          + "]";
    }
  }

  /**
   * What {@link #retryDue()} did.
   *
   * <p>A final class rather than a record,
       so that a field can be added without breaking callers (docs/architecture.md).
   */
  public static final class RetryReport {
    private final int due;
    private final int applied;
    private final int failed;

    private RetryReport(int due, int applied, int failed) {
      this.due = due;
      this.applied = applied;
      this.failed = failed;
    }

    /**
     * A report (retryDue makes these).
     *
     * @param due events that were due
     * @param applied of them, applied (or found to be of an unused type)
     * @param failed of them, failed again
     */
    public static RetryReport of(int due, int applied, int failed) {
      return new RetryReport(due, applied, failed);
    }

    /** Events that were due. */
    public int due() {
      return due;
    }

    /** Of them, applied (or found to be of an unused type). */
    public int applied() {
      return applied;
    }

    /** Of them, failed again. */
    public int failed() {
      return failed;
    }

    @Override
    public boolean equals(@Nullable Object o) {
      if (this == o) {
        return true;
      }
      if (!(o instanceof RetryReport)) {
        return false;
      }
      RetryReport other = (RetryReport) o;
      return due == other.due && applied == other.applied && failed == other.failed;
    }

    @Override
    public int hashCode() {
      return Objects.hash(due, applied, failed);
    }

    @Override
    public String toString() {
      return "RetryReport[due=" + due + ", applied=" + applied + ", failed=" + failed + "]";
    }
  }

  /**
   * What {@link #replay(Instant)} did.
   *
   * <p>A final class rather than a record,
       so that a field can be added without breaking callers (docs/architecture.md).
   */
  public static final class ReplayReport {
    private final int listed;
    private final int recorded;
    private final int applied;
    private final int failed;

    private ReplayReport(int listed, int recorded, int applied, int failed) {
      this.listed = listed;
      this.recorded = recorded;
      this.applied = applied;
      this.failed = failed;
    }

    /**
     * A report (replay makes these).
     *
     * @param listed events Stripe listed
     * @param recorded of them, missing from the inbox and now recorded
     * @param applied of those, applied
     * @param failed of those, failed (left to {@link #retryDue()})
     */
    public static ReplayReport of(int listed, int recorded, int applied, int failed) {
      return new ReplayReport(listed, recorded, applied, failed);
    }

    /** Events Stripe listed. */
    public int listed() {
      return listed;
    }

    /** Of them, missing from the inbox and now recorded. */
    public int recorded() {
      return recorded;
    }

    /** Of those, applied. */
    public int applied() {
      return applied;
    }

    /** Of those, failed (left to {@link #retryDue()}). */
    public int failed() {
      return failed;
    }

    @Override
    public boolean equals(@Nullable Object o) {
      if (this == o) {
        return true;
      }
      if (!(o instanceof ReplayReport)) {
        return false;
      }
      ReplayReport other = (ReplayReport) o;
      return listed == other.listed && recorded == other.recorded && applied == other.applied
          && failed == other.failed;
    }

    @Override
    public int hashCode() {
      return Objects.hash(listed, recorded, applied, failed);
    }

    @Override
    public String toString() {
      return "ReplayReport[listed=" + listed + ", recorded=" + recorded + ", applied=" + applied
          + ", failed=" + failed + "]";
    }
  }
}
