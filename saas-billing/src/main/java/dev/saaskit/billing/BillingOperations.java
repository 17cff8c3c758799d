package dev.saaskit.billing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.saaskit.billing.internal.AccessRules;
import dev.saaskit.billing.internal.EntitlementResolver;
import dev.saaskit.billing.internal.Mirror;
import dev.saaskit.billing.internal.SeatCoalescer;
import dev.saaskit.billing.internal.StripeGateway;
import dev.saaskit.billing.internal.StripeJson;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the app does with a tenant's billing: link the tenant to a Stripe customer, start a checkout or a portal
 * session, bring the mirror up to date on the checkout success page, change plan (with a preview of the
 * proration), change seats (coalesced), cancel and resume, subscribe on invoice terms or on an annual contract billed
 * monthly, and answer "where does this tenant stand" ({@link #status}) and "what may it use" ({@link
 * #entitlements}). Get it from {@link Billing#operations()}; thread-safe; starts no thread.
 *
 * <pre>{@code
 * BillingOperations ops = billing.operations();
 * CheckoutSession session = ops.createCheckoutSession(CheckoutRequest.builder(tenant, "price_pro")
 *     .quantity(3).successUrl("https://app.example.com/billing/done").cancelUrl("https://app.example.com/billing")
 *     .build());
 * // redirect to session.url(); on the success page (?session_id=cs_...):
 * TenantBilling status = ops.syncCheckoutSession(tenant, sessionId);   // before the webhook, idempotent with it
 * ops.setSeats(tenant, 12);                                            // bursts become one Stripe update
 * ProrationPreview preview = ops.previewPlanChange(tenant, "price_team", ProrationBehavior.ALWAYS_INVOICE);
 * ops.changePlan(tenant, "price_team", ProrationBehavior.ALWAYS_INVOICE, preview.prorationDate());
 * if (!billing.hasAccess(tenant)) ...
 * }</pre>
 *
 * <p>Every call goes to Stripe at the pinned API version and then writes Stripe's answer into the mirror as of the
 * answer's {@code Date}, through the same conditional upserts as the webhooks, so whichever of the two comes second
 * never overwrites a newer state (a subscription whose row holds a state of the answer's own second is fetched again
 * rather than overwritten: Stripe's whole-second times cannot order two changes of one second). After a write the tenant's cached entitlements on this node are dropped and
 * {@link BillingConfig#changeListener()} is told (publish to your bus there to reach other nodes).
 *
 * <p>"The tenant's current subscription" is the one {@link #status} says governs it, when it is not canceled.
 */
public final class BillingOperations {
  private static final Logger LOG = LoggerFactory.getLogger(BillingOperations.class);
  private static final Pattern SESSION_ID = Pattern.compile("cs_[A-Za-z0-9_]{1,200}");
  private static final Pattern STRIPE_ID = Pattern.compile("[A-Za-z0-9_]{1,200}");
  private static final long SAFETY_TTL_MILLIS = Duration.ofMinutes(5).toMillis();

  private final Billing billing;
  private final ConcurrentHashMap<TenantId, Entitlements> cache = new ConcurrentHashMap<>();
  private final AtomicLong invalidations = new AtomicLong();
  private final ConcurrentHashMap<TenantId, Loading> loading = new ConcurrentHashMap<>();
  private final SeatCoalescer<Subscription> seats = new SeatCoalescer<>();

  BillingOperations(Billing billing) {
    this.billing = billing;
  }

  // ------------------------------------------------------------------ customer

  /**
   * The tenant's Stripe customer id: the mirrored live customer, else a customer created now in Stripe with {@code
   * metadata[tenant_id]} and mirrored. Concurrent callers (on any node sharing the database) create one customer:
   * creation holds a transaction-level advisory lock on the tenant, and the request carries an idempotency key
   * derived from the tenant (and how many of its customers were deleted), so a retry after a crash replays it. The
   * email and name are set by a second request, so the idempotent create never differs between retries. The
   * creating call holds one database connection (and the lock) while it waits for Stripe.
   *
   * @param email the customer's email, if known
   * @param name the customer's name (the organization), if known
   */
  public String ensureCustomer(TenantId tenant, @Nullable String email, @Nullable String name) {
    Objects.requireNonNull(tenant, "tenant");
    Optional<String> existing =
        billing.db().inTransaction(tenant, "reading the customer", c -> billing.mirror().customerOfTenant(c, tenant));
    if (existing.isPresent()) {
      return existing.get();
    }
    boolean[] created = {false};
    String id = billing.db().inTransaction(tenant, "creating the customer", c -> {
      try (PreparedStatement lock = c.prepareStatement("SELECT pg_advisory_xact_lock(?)")) {
        lock.setLong(1, lockKey("customer", tenant));
        lock.execute();
      }
      Optional<String> again = billing.mirror().customerOfTenant(c, tenant);
      if (again.isPresent()) {
        return again.get();
      }
      long deleted;
      try (PreparedStatement ps = c.prepareStatement(
          "SELECT count(*) FROM " + billing.mirror().schema() + ".customers WHERE tenant_id = ? AND deleted")) {
        ps.setString(1, tenant.value());
        try (ResultSet rs = ps.executeQuery()) {
          rs.next();
          deleted = rs.getLong(1);
        }
      }
      // the create request is the same for every caller and every retry (the idempotency key replays it, and
      // Stripe refuses a key reused with other parameters); email and name follow in an update
      StripeGateway.Answer answer = billing.stripe().post("/v1/customers",
          Map.of("metadata", Map.of("tenant_id", tenant.value())),
          "saaskit-customer-" + digest(tenant.value()) + "-" + deleted);
      String customerId = StripeJson.text(answer.json(), "id");
      if (customerId == null || !tenant.value().equals(metadataTenant(answer.json()))) {
        throw new BillingException("Stripe answered a customer without an id or without this tenant's metadata");
      }
      Map<String, Object> details = new LinkedHashMap<>();
      if (email != null) {
        details.put("email", email);
      }
      if (name != null) {
        details.put("name", name);
      }
      if (!details.isEmpty()) {
        answer = billing.stripe().post("/v1/customers/" + requireStripeId(customerId), details, null);
      }
      billing.mirror().upsertCustomer(c, tenant, answer.json(), answer.date());
      billing.config().changeListener().inTransaction(c, tenant);
      created[0] = true;
      return customerId;
    });
    if (created[0]) {
      changed(tenant);
      billing.webhooks().releaseParked(id); // events of this customer that arrived before its link apply now
    }
    return id;
  }

  // ------------------------------------------------------------------ checkout and portal

  /**
   * Creates a subscription-mode Stripe Checkout session for the request's tenant: the tenant's customer ({@link
   * #ensureCustomer}), {@code client_reference_id} and {@code metadata[tenant_id]} = the tenant, {@code
   * subscription_data[metadata][tenant_id]} too, the success URL carrying {@code {CHECKOUT_SESSION_ID}}. The
   * session is mirrored.
   *
   * <p>One subscription per tenant, unless {@link CheckoutRequest#allowAdditionalSubscription()}: under a lock of
   * the tenant (so racing calls on any node run one after another), the call refuses while the mirror holds a live
   * subscription of the tenant ({@code active}, {@code trialing}, {@code past_due}, also when a cancellation is
   * scheduled, at the period end or at a {@code cancel_at} date, and not reached yet: {@link #resume} it). It then mirrors the tenant's open and recently completed sessions as Stripe
   * lists them, returns the tenant's open session again (same id and url) when this library created it for the same
   * request and Stripe still has it open for at least 30 more minutes, and otherwise expires the tenant's other
   * open subscription-mode sessions in Stripe before creating a new one, so that of two tabs only the newest
   * checkout can be paid. A session that completed meanwhile (its expiry refused, or listed completed) with a live
   * subscription refuses the new one too.
   *
   * @throws AlreadySubscribedException when the tenant has a live subscription (nothing is created)
   */
  public CheckoutSession createCheckoutSession(CheckoutRequest request) {
    Objects.requireNonNull(request, "request");
    TenantId tenant = request.tenant();
    String customer = ensureCustomer(tenant, request.email(), request.name());
    if (request.allowAdditionalSubscription()) {
      StripeGateway.Answer answer = postCheckoutSession(request, customer);
      billing.db().inTransaction(tenant, "mirroring the checkout session",
          c -> billing.mirror().upsertCheckoutSession(c, tenant, answer.json(), answer.date()));
      return checkoutSession(answer);
    }
    // the lock makes check-expire-create one step per tenant across nodes (taken before the tenant is bound, so
    // that what the transaction reads is what the previous holder committed); the transaction holds a connection
    // for a few Stripe calls, as ensureCustomer does
    AlreadySubscribedException[] refused = {null};
    Optional<CheckoutSession> created = billing.db().inTransaction(null, "creating the checkout session", c -> {
      try (PreparedStatement lock = c.prepareStatement("SELECT pg_advisory_xact_lock(?)")) {
        lock.setLong(1, lockKey("checkout", tenant));
        lock.execute();
      }
      billing.db().bindTenant(c, tenant);
      Instant now = billing.config().clock().instant();
      for (Subscription sub : billing.mirror().subscriptions(c, tenant)) {
        refuseIfLive(tenant, sub.id(), sub.status(), sub.cancelAtPeriodEnd(), sub.currentPeriodEnd(),
            sub.cancelAt(), now);
      }
      String key = requestKey(request, customer);
      OpenSessions found = settleOpenSessions(c, tenant, customer, now, key);
      if (found.refusal() != null) {
        refused[0] = found.refusal();
        billing.config().changeListener().inTransaction(c, tenant);
        return Optional.empty(); // commits what the expiries learnt (a subscription paid meanwhile), then refuses
      }
      if (found.reusable() != null) {
        return Optional.of(found.reusable());
      }
      StripeGateway.Answer answer = postCheckoutSession(request, customer);
      billing.mirror().upsertCheckoutSession(c, tenant, answer.json(), answer.date());
      try (PreparedStatement ps = c.prepareStatement("UPDATE " + billing.mirror().schema()
          + ".checkout_sessions SET request_key = ? WHERE stripe_id = ?")) {
        ps.setString(1, key);
        ps.setString(2, StripeJson.text(answer.json(), "id"));
        ps.executeUpdate();
      }
      return Optional.of(checkoutSession(answer));
    });
    if (created.isEmpty()) {
      changed(tenant);
      throw Objects.requireNonNull(refused[0]);
    }
    return created.get();
  }

  /** Statuses of a subscription that bills the tenant: a second one would bill it twice. */
  private static final Set<SubscriptionStatus> LIVE =
      EnumSet.of(SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING, SubscriptionStatus.PAST_DUE);

  private static void refuseIfLive(TenantId tenant, String subscription, SubscriptionStatus status,
      boolean cancelAtPeriodEnd, @Nullable Instant periodEnd, @Nullable Instant cancelAt, Instant now) {
    AlreadySubscribedException refusal =
        refusalIfLive(tenant, subscription, status, cancelAtPeriodEnd, periodEnd, cancelAt, now);
    if (refusal != null) {
      throw refusal;
    }
  }

  private static @Nullable AlreadySubscribedException refusalIfLive(TenantId tenant, String subscription,
      SubscriptionStatus status, boolean cancelAtPeriodEnd, @Nullable Instant periodEnd, @Nullable Instant cancelAt,
      Instant now) {
    Instant scheduledEnd = AccessRules.scheduledEnd(cancelAtPeriodEnd, periodEnd, cancelAt);
    if (!LIVE.contains(status) || scheduledEnd != null && !now.isBefore(scheduledEnd)) {
      return null; // not billing, or canceling and its period is over or its cancel_at reached (ended in all but
                   // the event)
    }
    return new AlreadySubscribedException("tenant " + tenant.value() + " already has a live subscription "
        + subscription + " (" + status.stripeValue() + "): change it (changePlan, setSeats, resume, the portal)"
        + " instead of a second checkout, or set CheckoutRequest.Builder.allowAdditionalSubscription", subscription,
        status);
  }

  /** How long a reused open session must still be payable; one closer to its expiry is replaced. */
  private static final Duration REUSE_MIN_REMAINING = Duration.ofMinutes(30);

  /** What {@link #settleOpenSessions} found: a refusal, an open session to return again, or neither. */
  private record OpenSessions(@Nullable AlreadySubscribedException refusal, @Nullable CheckoutSession reusable) {}

  /**
   * Settles the tenant's unsettled subscription-mode sessions (the mirror says which: open ones, and completed ones
   * whose subscription the mirror has not seen yet, because its webhook has not arrived). Each is read or expired in
   * Stripe, which decides: an open one this call would create again ({@code key}, not about to expire) is kept and
   * returned, so a double click or a retry gets the same session; other open ones are expired, so an older tab
   * cannot be paid too; a completed one with a live subscription refuses the new checkout.
   */
  private OpenSessions settleOpenSessions(Connection c, TenantId tenant, String customer, Instant now, String key)
      throws SQLException {
    learnSessionsFromStripe(c, tenant, customer);
    List<String> open = new ArrayList<>();
    List<String> reusable = new ArrayList<>();
    String schema = billing.mirror().schema();
    try (PreparedStatement ps = c.prepareStatement("SELECT cs.stripe_id, cs.status, cs.request_key, cs.raw->>'expires_at'"
        + " FROM " + schema + ".checkout_sessions cs WHERE cs.tenant_id = ? AND cs.raw->>'mode' = 'subscription'"
        + " AND (cs.status = 'open' OR cs.status = 'complete' AND cs.subscription_id IS NOT NULL AND NOT EXISTS"
        + " (SELECT 1 FROM " + schema + ".subscriptions s WHERE s.stripe_id = cs.subscription_id))"
        + " ORDER BY cs.raw->>'created' DESC, cs.stripe_id")) {
      ps.setString(1, tenant.value());
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          String id = rs.getString(1);
          boolean same = "open".equals(rs.getString(2)) && key.equals(rs.getString(3))
              && payableLongEnough(rs.getString(4), now);
          (same && reusable.isEmpty() ? reusable : open).add(id);
        }
      }
    }
    AlreadySubscribedException refusal = null;
    CheckoutSession keep = null;
    for (String id : reusable) {
      StripeGateway.Answer answer;
      try {
        answer = billing.stripe().get("/v1/checkout/sessions/" + requireStripeId(id),
            Map.of("expand", List.of("subscription")));
      } catch (BillingException e) {
        if (e.stripeStatus() != 404) {
          throw e;
        }
        continue; // Stripe has no such session: create a new one
      }
      String status = StripeJson.text(answer.json(), "status");
      if ("open".equals(status) && payableLongEnough(answer.json().path("expires_at").asText(null), now)) {
        billing.mirror().upsertCheckoutSession(c, tenant, answer.json(), answer.date());
        keep = checkoutSession(answer);
      } else if ("open".equals(status)) {
        open.add(id); // about to expire in Stripe: expire it now, a fresh one follows
      } else {
        refusal = settled(c, tenant, answer, now);
      }
    }
    for (String id : open) {
      StripeGateway.Answer answer;
      try {
        answer = billing.stripe().post("/v1/checkout/sessions/" + requireStripeId(id) + "/expire", Map.of(), null);
        billing.mirror().upsertCheckoutSession(c, tenant, answer.json(), answer.date());
        continue;
      } catch (BillingException e) {
        if (e.stripeStatus() != 400 && e.stripeStatus() != 404) {
          throw e;
        }
        if (e.stripeStatus() == 404) {
          continue; // Stripe has no such session (another account, deleted test data): nothing to pay
        }
      }
      // not open any more: expired (fine) or completed meanwhile (then its subscription decides)
      AlreadySubscribedException r = settled(c, tenant, billing.stripe().get("/v1/checkout/sessions/"
          + requireStripeId(id), Map.of("expand", List.of("subscription"))), now);
      if (r != null) {
        refusal = r;
      }
    }
    return refusal != null ? new OpenSessions(refusal, null) : new OpenSessions(null, keep);
  }

  /**
   * Mirrors the customer's open and newest completed subscription-mode sessions of this tenant as Stripe lists them:
   * the mirror may lack one (a node stopped between creating a session and committing its row, a webhook not yet
   * arrived), and a session the mirror does not know could still be paid beside a new one.
   */
  private void learnSessionsFromStripe(Connection c, TenantId tenant, String customer) throws SQLException {
    for (String status : List.of("open", "complete")) {
      StripeGateway.Answer answer = billing.stripe().get("/v1/checkout/sessions",
          Map.of("customer", requireStripeId(customer), "status", status, "limit", 20));
      JsonNode data = answer.json().get("data");
      if (data == null || !data.isArray()) {
        throw new BillingException("Stripe answered a list of checkout sessions without data");
      }
      for (JsonNode session : data) {
        JsonNode metadata = session.get("metadata");
        String named = metadata == null ? null : StripeJson.text(metadata, "tenant_id");
        if (session instanceof ObjectNode && "subscription".equals(StripeJson.text(session, "mode"))
            && tenant.value().equals(named) && StripeJson.text(session, "id") != null) {
          billing.mirror().upsertCheckoutSession(c, tenant, session, answer.date());
        }
      }
    }
  }

  /**
   * Mirrors a session that is no longer open (its subscription too, when it has one) and returns the refusal its
   * live subscription makes, if any.
   */
  private @Nullable AlreadySubscribedException settled(Connection c, TenantId tenant, StripeGateway.Answer answer,
      Instant now) throws SQLException {
    AlreadySubscribedException refusal = null;
    JsonNode sub = answer.json().get("subscription");
    if (sub instanceof ObjectNode) {
      String subId = StripeJson.text(sub, "id");
      String status = StripeJson.text(sub, "status");
      if (subId != null && status != null) {
        mirrorSubscription(c, tenant, (ObjectNode) sub, answer.date());
        Instant periodEnd = StripeJson.periodBound(sub, "current_period_end", true);
        refusal = refusalIfLive(tenant, subId, SubscriptionStatus.fromStripe(status),
            StripeJson.bool(sub, "cancel_at_period_end", false), periodEnd, StripeJson.time(sub, "cancel_at"), now);
      }
    }
    billing.mirror().upsertCheckoutSession(c, tenant, answer.json(), answer.date());
    return refusal;
  }

  /** Whether a session expiring at {@code expiresAt} (Stripe's epoch seconds) leaves a payer enough time. */
  private static boolean payableLongEnough(@Nullable String expiresAt, Instant now) {
    if (expiresAt == null || !expiresAt.matches("[0-9]{1,12}")) {
      return false;
    }
    return Instant.ofEpochSecond(Long.parseLong(expiresAt)).isAfter(now.plus(REUSE_MIN_REMAINING));
  }

  /**
   * A digest of everything a checkout session is created with, so that the same request finds its session again;
   * a change of price, quantity, trial, URLs or customer makes another key.
   */
  private static String requestKey(CheckoutRequest request, String customer) {
    return digest(String.join("\n", request.priceId(), Long.toString(request.quantity()),
        Integer.toString(request.trialDays()), request.successUrlWithSessionId(), request.cancelUrl(), customer));
  }

  private static CheckoutSession checkoutSession(StripeGateway.Answer answer) {
    String id = StripeJson.text(answer.json(), "id");
    String url = StripeJson.text(answer.json(), "url");
    if (id == null || url == null) {
      throw new BillingException("Stripe answered a checkout session without an id or url");
    }
    return new CheckoutSession(id, url);
  }

  private StripeGateway.Answer postCheckoutSession(CheckoutRequest request, String customer) {
    TenantId tenant = request.tenant();
    Map<String, Object> params = new LinkedHashMap<>();
    params.put("mode", "subscription");
    params.put("customer", customer);
    params.put("client_reference_id", tenant.value());
    params.put("line_items", List.of(Map.of("price", request.priceId(), "quantity", request.quantity())));
    params.put("success_url", request.successUrlWithSessionId());
    params.put("cancel_url", request.cancelUrl());
    params.put("metadata", Map.of("tenant_id", tenant.value()));
    Map<String, Object> subscriptionData = new LinkedHashMap<>();
    subscriptionData.put("metadata", Map.of("tenant_id", tenant.value()));
    if (request.trialDays() > 0) {
      subscriptionData.put("trial_period_days", request.trialDays());
    }
    params.put("subscription_data", subscriptionData);
    StripeGateway.Answer answer = billing.stripe().post("/v1/checkout/sessions", params, null);
    checkoutSession(answer); // an id and a url, before anything is mirrored
    return answer;
  }

  /** A Stripe customer-portal session for the tenant (its customer is created if needed); returns its URL. */
  public String createPortalSession(TenantId tenant, String returnUrl) {
    Objects.requireNonNull(returnUrl, "returnUrl");
    if (!returnUrl.startsWith("https://") && !returnUrl.startsWith("http://")) {
      throw new IllegalArgumentException("returnUrl must be an absolute http(s) URL but was '" + returnUrl + "'");
    }
    String customer = ensureCustomer(tenant, null, null);
    StripeGateway.Answer answer = billing.stripe().post("/v1/billing_portal/sessions",
        Map.of("customer", customer, "return_url", returnUrl), null);
    String url = StripeJson.text(answer.json(), "url");
    if (url == null) {
      throw new BillingException("Stripe answered a portal session without a url");
    }
    return url;
  }

  /**
   * Brings the mirror up to date with a checkout session, for the success page that may load before the webhook
   * arrives: fetches the session with its subscription and latest invoice expanded, checks that the session names
   * {@code tenant} ({@code client_reference_id} and {@code metadata[tenant_id]}, never the caller's say-so alone)
   * and that its customer is not another tenant's, then mirrors the session, the customer link, the subscription
   * and the invoice as of Stripe's answer. Idempotent with the later webhooks (the mirror keeps the newest state).
   *
   * @param tenant the tenant of the signed-in user (from the principal)
   * @param sessionId the {@code session_id} of the success URL ({@code cs_...})
   * @return the tenant's status after the sync
   * @throws BillingException if the session belongs to another tenant, names none, or Stripe fails
   */
  public TenantBilling syncCheckoutSession(TenantId tenant, String sessionId) {
    Objects.requireNonNull(tenant, "tenant");
    Objects.requireNonNull(sessionId, "sessionId");
    if (!SESSION_ID.matcher(sessionId).matches()) {
      throw new IllegalArgumentException("not a checkout session id: " + sessionId);
    }
    StripeGateway.Answer answer = billing.stripe().get("/v1/checkout/sessions/" + sessionId,
        Map.of("expand", List.of("subscription", "subscription.latest_invoice")));
    ObjectNode session = answer.json();
    TenantId named = sessionTenant(session);
    if (!named.equals(tenant)) {
      throw new BillingException("checkout session " + sessionId + " belongs to another tenant");
    }
    String customerId = StripeJson.id(session, "customer");
    JsonNode sub = session.get("subscription");
    ObjectNode customer = null;
    if (customerId != null) {
      Optional<TenantId> routed =
          billing.db().inTransaction(null, "routing the customer", c -> billing.mirror().tenantOfCustomer(c, customerId));
      if (routed.isPresent() && !routed.get().equals(tenant)) {
        throw new BillingException("checkout session " + sessionId + " has the customer of another tenant");
      }
      if (routed.isEmpty()) {
        customer = billing.stripe().fetch("/v1/customers/" + requireStripeId(customerId)).json();
        String claimed = metadataTenant(customer);
        if (claimed != null && !claimed.equals(tenant.value())) {
          // saaskit wrote that metadata when it created the customer for that tenant: the session does not move it
          throw new BillingException("checkout session " + sessionId + " has the customer of another tenant");
        }
      }
    }
    if (sub instanceof ObjectNode) {
      String metaTenant = metadataTenant(sub);
      if (metaTenant != null && !metaTenant.equals(tenant.value())) {
        throw new BillingException("the subscription of checkout session " + sessionId + " names another tenant");
      }
      if (customerId != null && !customerId.equals(StripeJson.id(sub, "customer"))) {
        throw new BillingException("the subscription of checkout session " + sessionId + " has another customer");
      }
    }
    ObjectNode newCustomer = customer;
    billing.db().inTransaction(tenant, "mirroring the checkout session", c -> {
      if (newCustomer != null) {
        billing.mirror().upsertCustomer(c, tenant, newCustomer, answer.date());
      }
      billing.mirror().upsertCheckoutSession(c, tenant, session, answer.date());
      if (sub instanceof ObjectNode) {
        mirrorSubscription(c, tenant, (ObjectNode) sub, answer.date());
      }
      billing.config().changeListener().inTransaction(c, tenant);
      return Boolean.TRUE;
    });
    changed(tenant);
    if (newCustomer != null && customerId != null) {
      // the session linked its customer: events of it parked before (a subscription's, an invoice's) apply now
      billing.webhooks().releaseParked(customerId);
    }
    return status(tenant);
  }

  /** {@link #syncCheckoutSession(TenantId, String)} for the current {@code TenantContext} (required). */
  public TenantBilling syncCheckoutSession(String sessionId) {
    return syncCheckoutSession(TenantContext.require(), sessionId);
  }

  // ------------------------------------------------------------------ plan and seats

  /**
   * Moves the tenant's current subscription to {@code newPriceId} ({@code POST /v1/subscriptions/{id}} with the
   * main item's id and the new price, keeping its quantity), prorating as {@code behavior} says, as of now (the
   * config clock); the mirror is updated from the answer.
   */
  public Subscription changePlan(TenantId tenant, String newPriceId, ProrationBehavior behavior) {
    return changePlan(tenant, newPriceId, behavior, billing.config().clock().instant());
  }

  /**
   * {@link #changePlan(TenantId, String, ProrationBehavior)} prorating as of {@code prorationDate}: pass {@link
   * ProrationPreview#prorationDate()} so that the change bills exactly what the preview showed.
   */
  public Subscription changePlan(TenantId tenant, String newPriceId, ProrationBehavior behavior,
      Instant prorationDate) {
    Objects.requireNonNull(behavior, "behavior");
    Objects.requireNonNull(prorationDate, "prorationDate");
    Subscription sub = current(tenant);
    SubscriptionItem item = mainItem(sub);
    Map<String, Object> line = new LinkedHashMap<>();
    line.put("id", item.id());
    line.put("price", requireStripeId(newPriceId));
    if (item.quantity() > 0) {
      line.put("quantity", item.quantity());
    }
    Map<String, Object> params = new LinkedHashMap<>();
    params.put("items", List.of(line));
    params.put("proration_behavior", behavior.stripeValue());
    if (behavior != ProrationBehavior.NONE) {
      params.put("proration_date", prorationDate.getEpochSecond());
    }
    params.put("expand", List.of("latest_invoice"));
    return updateAndMirror(tenant, sub.id(), params);
  }

  /**
   * What {@link #changePlan} would bill: Stripe's invoice preview ({@code POST /v1/invoices/create_preview} with
   * the subscription, the main item moved to {@code newPriceId}, {@code behavior} and {@code proration_date} = now
   * from the config clock). Nothing changes. The proration amount sums the proration lines the preview carries
   * (Stripe embeds the first page of lines in an invoice object: with many pending prorations on the subscription,
   * {@link ProrationPreview#amountDue()} stays exact while {@code prorationAmount} may miss some).
   */
  public ProrationPreview previewPlanChange(TenantId tenant, String newPriceId, ProrationBehavior behavior) {
    Objects.requireNonNull(behavior, "behavior");
    Subscription sub = current(tenant);
    SubscriptionItem item = mainItem(sub);
    Instant at = billing.config().clock().instant().truncatedTo(ChronoUnit.SECONDS);
    Map<String, Object> line = new LinkedHashMap<>();
    line.put("id", item.id());
    line.put("price", requireStripeId(newPriceId));
    if (item.quantity() > 0) {
      line.put("quantity", item.quantity());
    }
    Map<String, Object> details = new LinkedHashMap<>();
    details.put("items", List.of(line));
    details.put("proration_behavior", behavior.stripeValue());
    details.put("proration_date", at.getEpochSecond());
    Map<String, Object> params = new LinkedHashMap<>();
    params.put("subscription", sub.id());
    params.put("subscription_details", details);
    ObjectNode inv = billing.stripe().post("/v1/invoices/create_preview", params, null).json();
    long proration = 0;
    for (JsonNode l : StripeJson.listData(inv.path("lines"))) {
      if (isProration(l)) {
        Long amount = StripeJson.number(l, "amount");
        proration += amount == null ? 0 : amount;
      }
    }
    Long due = StripeJson.number(inv, "amount_due");
    String currency = StripeJson.text(inv, "currency");
    return new ProrationPreview(due == null ? 0 : due, currency == null ? "" : currency, proration,
        StripeJson.time(inv, "next_payment_attempt"), at);
  }

  private static boolean isProration(JsonNode line) {
    JsonNode details = line.path("parent").path("subscription_item_details");
    if (details.isObject() && details.path("proration").isBoolean()) {
      return details.path("proration").asBoolean();
    }
    return line.path("proration").asBoolean(false);
  }

  /**
   * Sets the quantity (seats) of the main item of the tenant's current subscription. Calls for one subscription
   * within {@link BillingConfig#seatCoalesceWindow()} are gathered: the first caller waits the window (on its own
   * thread), then sends one update with the latest quantity asked; the others wait for that update and get its
   * result. So a burst of seat changes costs one Stripe update, and the last quantity asked wins: this node sends
   * the updates of one subscription one after another, so a slow (retried) update never lands after a later one.
   *
   * @throws IllegalArgumentException if {@code quantity < 1}
   */
  public Subscription setSeats(TenantId tenant, long quantity) {
    if (quantity < 1) {
      throw new IllegalArgumentException("quantity must be >= 1 but was " + quantity);
    }
    Subscription sub = current(tenant);
    String itemId = mainItem(sub).id();
    return seats.submit(sub.id(), quantity, billing.config().seatCoalesceWindow(), q -> {
      Map<String, Object> params = new LinkedHashMap<>();
      params.put("items", List.of(Map.of("id", itemId, "quantity", q)));
      return updateAndMirror(tenant, sub.id(), params);
    });
  }

  // ------------------------------------------------------------------ cancel and resume

  /** Cancels the tenant's current subscription at the end of its period ({@code cancel_at_period_end=true}). */
  public Subscription cancelAtPeriodEnd(TenantId tenant) {
    Subscription sub = current(tenant);
    return updateAndMirror(tenant, sub.id(), Map.of("cancel_at_period_end", true));
  }

  /**
   * Undoes a scheduled cancellation ({@code cancel_at_period_end=false}, or {@code cancel_at=""} for a cancellation
   * scheduled at a date, by the API or the Billing Portal) or resumes a paused subscription ({@code POST
   * /v1/subscriptions/{id}/resume}).
   *
   * @throws IllegalStateException if the current subscription is neither canceling nor paused
   */
  public Subscription resume(TenantId tenant) {
    Subscription sub = current(tenant);
    if (sub.status() == SubscriptionStatus.PAUSED) {
      StripeGateway.Answer answer = billing.stripe().post("/v1/subscriptions/" + sub.id() + "/resume",
          Map.of("expand", List.of("latest_invoice")), null);
      return mirrorAnswer(tenant, answer);
    }
    if (sub.cancelAtPeriodEnd()) {
      return updateAndMirror(tenant, sub.id(), Map.of("cancel_at_period_end", false));
    }
    if (sub.cancelAt() != null) {
      return updateAndMirror(tenant, sub.id(), Map.of("cancel_at", "")); // Stripe's way to clear a date
    }
    throw new IllegalStateException("subscription " + sub.id() + " of tenant " + tenant.value()
        + " is neither canceling nor paused: nothing to resume");
  }

  /** Cancels the tenant's current subscription now ({@code DELETE /v1/subscriptions/{id}}): access ends at once. */
  public Subscription cancelNow(TenantId tenant) {
    Subscription sub = current(tenant);
    return mirrorAnswer(tenant, billing.stripe().delete("/v1/subscriptions/" + sub.id()));
  }

  // ------------------------------------------------------------------ enterprise

  /**
   * Subscribes the tenant on invoice terms: {@code collection_method=send_invoice} with {@code days_until_due} (30
   * for net 30). Stripe emails each invoice; the tenant keeps access while an invoice is open and not overdue, then
   * for {@link BillingConfig#pastDueGrace()} ({@link AccessState#INVOICE_OPEN}, {@link
   * AccessState#INVOICE_OVERDUE_IN_GRACE}).
   */
  public Subscription subscribeOnInvoiceTerms(TenantId tenant, String priceId, long quantity, int daysUntilDue) {
    if (quantity < 1) {
      throw new IllegalArgumentException("quantity must be >= 1 but was " + quantity);
    }
    if (daysUntilDue < 0 || daysUntilDue > 365) {
      throw new IllegalArgumentException("daysUntilDue must be between 0 and 365 but was " + daysUntilDue);
    }
    String customer = ensureCustomer(tenant, null, null);
    Map<String, Object> params = new LinkedHashMap<>();
    params.put("customer", customer);
    params.put("items", List.of(Map.of("price", requireStripeId(priceId), "quantity", quantity)));
    params.put("collection_method", "send_invoice");
    params.put("days_until_due", daysUntilDue);
    params.put("metadata", Map.of("tenant_id", tenant.value()));
    params.put("expand", List.of("latest_invoice"));
    return mirrorAnswer(tenant, billing.stripe().post("/v1/subscriptions", params, null));
  }

  /**
   * An annual (or any length) contract billed monthly, as Stripe documents it: a subscription schedule ({@code
   * POST /v1/subscription_schedules}) starting now with one phase of the monthly price lasting {@code months}
   * months ({@code phases[0][duration][interval]=month}, {@code [interval_count]=months}: the pinned API version
   * replaced {@code phases[0][iterations]} by {@code duration}), {@code end_behavior=release}, so after the
   * contract the subscription
   * simply continues month to month (cancel it, or renew the contract, as the business decides). The schedule's
   * subscription is fetched and mirrored; {@link Subscription#scheduleId()} names the schedule.
   */
  public Subscription subscribeAnnualContract(TenantId tenant, String monthlyPriceId, long quantity, int months) {
    if (quantity < 1) {
      throw new IllegalArgumentException("quantity must be >= 1 but was " + quantity);
    }
    if (months < 1 || months > 120) {
      throw new IllegalArgumentException("months must be between 1 and 120 but was " + months);
    }
    String customer = ensureCustomer(tenant, null, null);
    Map<String, Object> phase = new LinkedHashMap<>();
    phase.put("items", List.of(Map.of("price", requireStripeId(monthlyPriceId), "quantity", quantity)));
    // the pinned API version has no phases[].iterations any more (stripe-java 33 has no setter for it): a phase
    // lasts phases[].duration, here `months` months of the monthly price, i.e. `months` monthly invoices
    phase.put("duration", Map.of("interval", "month", "interval_count", months));
    phase.put("metadata", Map.of("tenant_id", tenant.value()));
    Map<String, Object> params = new LinkedHashMap<>();
    params.put("customer", customer);
    params.put("start_date", "now");
    params.put("end_behavior", "release");
    params.put("phases", List.of(phase));
    params.put("metadata", Map.of("tenant_id", tenant.value()));
    ObjectNode schedule = billing.stripe().post("/v1/subscription_schedules", params, null).json();
    String subId = StripeJson.id(schedule, "subscription");
    if (subId == null) {
      throw new BillingException("Stripe answered a subscription schedule without a subscription");
    }
    return mirrorAnswer(tenant, billing.stripe().get("/v1/subscriptions/" + requireStripeId(subId),
        Map.of("expand", List.of("latest_invoice"))));
  }

  // ------------------------------------------------------------------ status and entitlements

  /** Where the tenant stands now (config clock), from the mirror; see {@link AccessState} and {@link TenantBilling}. */
  public TenantBilling status(TenantId tenant) {
    Objects.requireNonNull(tenant, "tenant");
    Instant now = billing.config().clock().instant();
    return billing.db().inTransaction(tenant, "reading the billing status", c -> evaluate(c, tenant, now)).billing();
  }

  /** Whether the tenant may use the product now: {@link #entitlements(TenantId)}{@code .hasAccess()} (cached). */
  public boolean hasAccess(TenantId tenant) {
    return entitlements(tenant).hasAccess();
  }

  /**
   * The tenant's entitlements now. Cached per tenant: while the snapshot is valid ({@link
   * Entitlements#validUntil()}) this is one map lookup and one clock read, without allocation; otherwise the
   * snapshot is resolved from the mirror (one transaction) and cached.
   */
  public Entitlements entitlements(TenantId tenant) {
    Entitlements cached = cache.get(tenant);
    if (cached != null && billing.config().clock().millis() < cached.validUntilMillis()) {
      return cached;
    }
    return load(tenant);
  }

  /**
   * Forgets what this node cached about {@code tenant}, so the next check reads the mirror. Called on this node by
   * the webhook handler and every operation; call it from your bus when {@link BillingChangeListener} reports a
   * change made on another node.
   */
  public void invalidate(TenantId tenant) {
    Objects.requireNonNull(tenant, "tenant");
    invalidations.incrementAndGet();
    cache.remove(tenant);
  }

  /** Forgets every cached tenant on this node. */
  public void invalidateAll() {
    invalidations.incrementAndGet();
    cache.clear();
  }

  /** A resolution under way, started when the invalidation counter was {@code stamp}. */
  private record Loading(long stamp, CompletableFuture<Entitlements> future) {}

  /**
   * Resolves and caches; concurrent misses of one tenant share one resolution, unless an invalidation happened
   * since it started (then the caller resolves again: what it reads must include the invalidated change).
   */
  private Entitlements load(TenantId tenant) {
    long stamp = invalidations.get();
    Loading running = loading.get(tenant);
    if (running != null && running.stamp() == stamp) {
      try {
        return running.future().join();
      } catch (CompletionException e) {
        Throwable cause = e.getCause();
        throw cause instanceof RuntimeException ? (RuntimeException) cause
            : new BillingException("resolving entitlements failed: " + cause, e);
      }
    }
    Loading mine = new Loading(stamp, new CompletableFuture<>());
    loading.put(tenant, mine);
    try {
      Entitlements fresh = resolve(tenant, stamp);
      mine.future().complete(fresh);
      return fresh;
    } catch (RuntimeException | Error e) {
      mine.future().completeExceptionally(e);
      throw e;
    } finally {
      loading.remove(tenant, mine);
    }
  }

  private Entitlements resolve(TenantId tenant, long stamp) {
    BillingConfig config = billing.config();
    long nowMillis = config.clock().millis();
    Instant now = Instant.ofEpochMilli(nowMillis);
    Entitlements fresh = billing.db().inTransaction(tenant, "resolving entitlements", c -> {
      AccessRules.Evaluation eval = evaluate(c, tenant, now);
      List<Subscription> granting = eval.granting();
      Map<String, Mirror.PriceKeys> keys =
          billing.mirror().priceKeys(c, EntitlementResolver.priceIds(granting));
      List<String> stripeEntitlements =
          granting.isEmpty() ? List.of() : billing.mirror().entitlementLookupKeys(c, tenant);
      EntitlementResolver.Resolved resolved =
          EntitlementResolver.resolve(config.plans(), granting, keys, stripeEntitlements);
      long validUntil = nowMillis + SAFETY_TTL_MILLIS;
      Instant next = eval.nextChange();
      if (next != null) {
        long nextMillis = next.toEpochMilli();
        if (Instant.ofEpochMilli(nextMillis).isBefore(next)) {
          nextMillis++; // round up: valid strictly before the change
        }
        validUntil = Math.min(validUntil, Math.max(nextMillis, nowMillis + 1));
      }
      return new Entitlements(tenant, eval.billing().state(), resolved.features(), resolved.limits(),
          resolved.plans(), validUntil);
    });
    cache.put(tenant, fresh);
    if (invalidations.get() != stamp) {
      cache.remove(tenant, fresh); // an invalidation raced with the read: do not keep what it may have missed
    }
    return fresh;
  }

  private AccessRules.Evaluation evaluate(Connection c, TenantId tenant, Instant now) throws SQLException {
    return AccessRules.evaluate(tenant, billing.mirror().subscriptions(c, tenant),
        AccessRules.openInvoices(c, billing.mirror().schema(), tenant), now, billing.config().pastDueGrace());
  }

  // ------------------------------------------------------------------ helpers

  private Subscription current(TenantId tenant) {
    TenantBilling status = status(tenant);
    Subscription sub = status.subscription();
    if (sub == null || sub.status() == SubscriptionStatus.CANCELED
        || sub.status() == SubscriptionStatus.INCOMPLETE_EXPIRED) {
      throw new BillingException("tenant " + tenant.value() + " has no current subscription");
    }
    return sub;
  }

  private static SubscriptionItem mainItem(Subscription sub) {
    for (SubscriptionItem item : sub.items()) {
      if (item.quantity() > 0) {
        return item;
      }
    }
    if (sub.items().isEmpty()) {
      throw new BillingException("subscription " + sub.id() + " has no items");
    }
    return sub.items().get(0);
  }

  private Subscription updateAndMirror(TenantId tenant, String subscriptionId, Map<String, ?> params) {
    return mirrorAnswer(tenant,
        billing.stripe().post("/v1/subscriptions/" + requireStripeId(subscriptionId), params, null));
  }

  private Subscription mirrorAnswer(TenantId tenant, StripeGateway.Answer answer) {
    String id = StripeJson.text(answer.json(), "id");
    if (id == null) {
      throw new BillingException("Stripe answered a subscription without an id");
    }
    Optional<Subscription> out = mirrorAnswer(tenant, id, answer, true);
    if (out.isEmpty()) {
      // The mirror already holds a state of this answer's Stripe second (or a later one), written after Stripe
      // answered: another node's change of the same second, applied by its webhook, may be the newer state, and
      // Stripe's whole-second times cannot tell. Stripe's answer to a request sent now is at least as new.
      StripeGateway.Answer fresh = billing.stripe().get("/v1/subscriptions/" + requireStripeId(id),
          Map.of("expand", List.of("latest_invoice")));
      out = mirrorAnswer(tenant, id, fresh, false);
    }
    changed(tenant);
    return out.orElseThrow(() -> new IllegalStateException("subscription " + id + " was not mirrored"));
  }

  /**
   * Writes a subscription Stripe answered with; empty, writing nothing, when {@code yieldToSameSecond} and the
   * mirror's row holds a state of the answer's second or a later one (the row stays locked meanwhile).
   */
  private Optional<Subscription> mirrorAnswer(TenantId tenant, String id, StripeGateway.Answer answer,
      boolean yieldToSameSecond) {
    ObjectNode json = answer.json();
    return billing.db().inTransaction(tenant, "mirroring the subscription", c -> {
      Optional<String> customer = billing.mirror().customerOfTenant(c, tenant);
      if (customer.isEmpty() || !customer.get().equals(StripeJson.id(json, "customer"))) {
        throw new BillingException("subscription " + id + " is not of tenant " + tenant.value() + "'s customer");
      }
      if (yieldToSameSecond && billing.mirror().lockStateAsOf(c, "subscriptions", id)
          .map(held -> !held.isBefore(answer.date())).orElse(false)) {
        return Optional.empty();
      }
      mirrorSubscription(c, tenant, json, answer.date());
      billing.config().changeListener().inTransaction(c, tenant);
      for (Subscription s : billing.mirror().subscriptions(c, tenant)) {
        if (s.id().equals(id)) {
          return Optional.of(s);
        }
      }
      throw new BillingException("subscription " + id + " is not in the mirror after writing it");
    });
  }

  private void mirrorSubscription(Connection c, TenantId tenant, ObjectNode sub, Instant asOf) throws SQLException {
    billing.mirror().upsertSubscription(c, tenant, sub, asOf);
    JsonNode invoice = sub.get("latest_invoice");
    if (invoice instanceof ObjectNode && StripeJson.text(invoice, "id") != null) {
      billing.mirror().upsertInvoice(c, tenant, invoice, asOf);
    }
  }

  /** After a committed change: drop this node's cache and tell the change listener. */
  private void changed(TenantId tenant) {
    invalidate(tenant);
    try {
      billing.config().changeListener().billingChanged(tenant);
    } catch (RuntimeException e) {
      LOG.warn("the billing change listener failed for tenant {}", tenant.value(), e);
    }
  }

  private static TenantId sessionTenant(JsonNode session) {
    String reference = StripeJson.text(session, "client_reference_id");
    String meta = metadataTenant(session);
    if (reference == null && meta == null) {
      throw new BillingException("checkout session " + StripeJson.text(session, "id")
          + " names no tenant (client_reference_id, metadata.tenant_id): it was not created by saaskit");
    }
    if (reference != null && meta != null && !reference.equals(meta)) {
      throw new BillingException("checkout session " + StripeJson.text(session, "id")
          + " names two tenants (client_reference_id and metadata.tenant_id differ)");
    }
    return TenantId.of(reference != null ? reference : Objects.requireNonNull(meta));
  }

  private static @Nullable String metadataTenant(JsonNode node) {
    JsonNode metadata = node.get("metadata");
    return metadata == null || !metadata.isObject() ? null : StripeJson.text(metadata, "tenant_id");
  }

  private static String requireStripeId(String id) {
    Objects.requireNonNull(id, "id");
    if (!STRIPE_ID.matcher(id).matches()) {
      throw new IllegalArgumentException("not a Stripe id: '" + id + "'");
    }
    return id;
  }

  private static long lockKey(String what, TenantId tenant) {
    byte[] d = sha256("saaskit-billing:" + what + ":" + tenant.value());
    long key = 0;
    for (int i = 0; i < 8; i++) {
      key = (key << 8) | (d[i] & 0xff);
    }
    return key;
  }

  private static String digest(String value) {
    return HexFormat.of().formatHex(sha256(value), 0, 16);
  }

  private static byte[] sha256(String value) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(value.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
