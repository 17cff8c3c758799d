package dev.saaskit.billing.internal;

import static dev.saaskit.billing.internal.StripeJson.id;
import static dev.saaskit.billing.internal.StripeJson.text;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.stripe.Stripe;
import dev.saaskit.billing.BillingException;
import dev.saaskit.core.TenantId;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * Applies one Stripe event to the mirror, inside the caller's transaction (which holds the event's inbox row
 * lock and has no tenant bound yet): resolves the tenant from trusted sources only (the customer route, the
 * customer's {@code metadata.tenant_id}, the checkout session's {@code client_reference_id}), binds it, and writes
 * through {@link Mirror}'s conditional upserts. Subscriptions, invoices, checkout sessions and customers are
 * refetched from Stripe at the pinned version when the payload is from another API version or not newer than what
 * the mirror holds (when refetch is on). Thread-safe.
 */
public final class EventApplier {
  /** How an event type is applied. */
  public enum Kind {
    /** {@code customer.created|updated}. */
    CUSTOMER,
    /** {@code customer.deleted}. */
    CUSTOMER_DELETED,
    /** {@code customer.subscription.*}. */
    SUBSCRIPTION,
    /** {@code invoice.*} (but upcoming and deleted). */
    INVOICE,
    /** {@code checkout.session.completed|async_payment_succeeded|async_payment_failed|expired}. */
    CHECKOUT,
    /** {@code product.*}. */
    PRODUCT,
    /** {@code price.*}. */
    PRICE,
    /** {@code entitlements.active_entitlement_summary.updated}. */
    ENTITLEMENT_SUMMARY,
    /** Not used by the mirror: stored as {@code ignored}. */
    NONE
  }

  /** What an apply did: the tenant it touched (null for catalog events) and the object as applied. */
  public record Applied(@Nullable TenantId tenant, @Nullable String objectId, JsonNode object) {}

  private record Versioned(JsonNode object, Instant asOf) {}

  private final Mirror mirror;
  private final BillingDb db;
  private final StripeGateway stripe;
  private final boolean refetch;
  private final Clock clock;

  /** An applier writing through {@code mirror}, fetching through {@code stripe} (when {@code refetch}). */
  public EventApplier(Mirror mirror, BillingDb db, StripeGateway stripe, boolean refetch, Clock clock) {
    this.mirror = Objects.requireNonNull(mirror, "mirror");
    this.db = Objects.requireNonNull(db, "db");
    this.stripe = Objects.requireNonNull(stripe, "stripe");
    this.refetch = refetch;
    this.clock = Objects.requireNonNull(clock, "clock");
  }

  /** The kind of an event type. */
  public static Kind kind(String type) {
    switch (type) {
      case "customer.created":
      case "customer.updated":
        return Kind.CUSTOMER;
      case "customer.deleted":
        return Kind.CUSTOMER_DELETED;
      case "checkout.session.completed":
      case "checkout.session.async_payment_succeeded":
      case "checkout.session.async_payment_failed":
      case "checkout.session.expired":
        return Kind.CHECKOUT;
      case "entitlements.active_entitlement_summary.updated":
        return Kind.ENTITLEMENT_SUMMARY;
      case "invoice.upcoming": // no id: a preview, nothing to mirror
      case "invoice.deleted": // a deleted draft
        return Kind.NONE;
      default:
        break;
    }
    if (type.startsWith("customer.subscription.")) {
      return Kind.SUBSCRIPTION;
    }
    if (type.startsWith("invoice.")) {
      return Kind.INVOICE;
    }
    if (type.startsWith("product.")) {
      return Kind.PRODUCT;
    }
    if (type.startsWith("price.")) {
      return Kind.PRICE;
    }
    return Kind.NONE;
  }

  /**
   * Applies {@code event} (Stripe's event JSON) on {@code c}.
   *
   * @throws BillingException when the event cannot be applied now (no tenant, Stripe unreachable...)
   */
  public Applied apply(Connection c, ObjectNode event) throws SQLException {
    return apply(c, event, null);
  }

  /**
   * The customer whose route decides the tenant of an event of {@code kind} about {@code object} (the routing the
   * apply step starts with), or null when the kind is routed otherwise (checkout sessions, the catalog, deletions).
   */
  public static @Nullable String routingCustomer(Kind kind, JsonNode object) {
    switch (kind) {
      case CUSTOMER:
        return text(object, "id");
      case SUBSCRIPTION:
      case INVOICE:
      case ENTITLEMENT_SUMMARY:
        return id(object, "customer");
      default:
        return null;
    }
  }

  /**
   * Applies {@code event} like {@link #apply(Connection, ObjectNode)}, its {@link #routingCustomer} routed already
   * when {@code routed} is not null: the route's tenant (if any) bound to the transaction, so it is not looked up
   * again.
   */
  public Applied apply(Connection c, ObjectNode event, @Nullable Routed routed) throws SQLException {
    return applyRouted(c, event, routed);
  }

  /** A customer's route, looked up and bound before the apply step: {@code tenant} null when it has none. */
  public record Routed(String customer, @Nullable TenantId tenant) {}

  private Applied applyRouted(Connection c, ObjectNode event, @Nullable Routed routed) throws SQLException {
    // a refetch must see the change this event reports: it may share only a request started after this apply began
    // (so after the event was received), never one Stripe may have answered before the change
    long since = System.nanoTime();
    String type = Objects.requireNonNull(text(event, "type"), "type");
    Instant created = Objects.requireNonNull(StripeJson.time(event, "created"), "created");
    String apiVersion = text(event, "api_version");
    JsonNode data = event.get("data");
    JsonNode o = data == null ? null : data.get("object");
    if (!(o instanceof ObjectNode)) {
      throw new BillingException("event without data.object");
    }
    ObjectNode object = (ObjectNode) o;
    switch (kind(type)) {
      case CUSTOMER:
        return customer(c, object, created, apiVersion, routed, since);
      case CUSTOMER_DELETED:
        return customerDeleted(c, object, created);
      case SUBSCRIPTION: {
        String id = requireId(object, "subscription");
        TenantId tenant =
            tenantOfCustomer(c, requireCustomer(object, "subscription " + id), null, created, routed, since);
        Versioned v = current(c, "subscriptions", "/v1/subscriptions/", id, object, created, apiVersion, since);
        mirror.upsertSubscription(c, tenant, v.object(), v.asOf());
        return new Applied(tenant, id, v.object());
      }
      case INVOICE: {
        String id = requireId(object, "invoice");
        TenantId tenant = tenantOfCustomer(c, requireCustomer(object, "invoice " + id), null, created, routed, since);
        Versioned v = current(c, "invoices", "/v1/invoices/", id, object, created, apiVersion, since);
        mirror.upsertInvoice(c, tenant, v.object(), v.asOf());
        return new Applied(tenant, id, v.object());
      }
      case CHECKOUT:
        return checkout(c, object, created, apiVersion, since);
      case PRODUCT:
      case PRICE: {
        boolean product = kind(type) == Kind.PRODUCT;
        String id = requireId(object, product ? "product" : "price");
        ObjectNode applied = object;
        if (type.endsWith(".deleted")) {
          // markCatalogDeleted's effect, also when the row was never mirrored
          applied = object.deepCopy().put("deleted", true).put("active", false);
        }
        if (product) {
          mirror.upsertProduct(c, applied, created);
        } else {
          mirror.upsertPrice(c, applied, created);
        }
        return new Applied(null, id, applied);
      }
      case ENTITLEMENT_SUMMARY: {
        String customer = requireCustomer(object, "entitlement summary");
        TenantId tenant = tenantOfCustomer(c, customer, null, created, routed, since);
        mirror.upsertEntitlementSummary(c, tenant, object, created);
        return new Applied(tenant, customer, object);
      }
      case NONE:
      default:
        throw new IllegalStateException("not an applied type: " + type);
    }
  }

  private Applied customer(Connection c, ObjectNode customer, Instant created, @Nullable String apiVersion,
      @Nullable Routed routed, long since) throws SQLException {
    String id = requireId(customer, "customer");
    TenantId tenant = tenantOfCustomer(c, id, customer, created, routed, since);
    Versioned v = current(c, "customers", "/v1/customers/", id, customer, created, apiVersion, since);
    mirror.upsertCustomer(c, tenant, v.object(), v.asOf());
    return new Applied(tenant, id, v.object());
  }

  private Applied customerDeleted(Connection c, ObjectNode customer, Instant created) throws SQLException {
    String id = requireId(customer, "customer");
    ObjectNode deleted = customer.deepCopy().put("deleted", true);
    Optional<TenantId> routed = mirror.tenantOfCustomer(c, id);
    TenantId tenant = routed.orElse(null);
    if (tenant == null) {
      String fromMetadata = metadataTenant(customer);
      if (fromMetadata == null) {
        // never linked to a tenant: nothing of ours to mark
        return new Applied(null, id, deleted);
      }
      tenant = tenantId(fromMetadata, "metadata.tenant_id of customer " + id);
    }
    db.bindTenant(c, tenant);
    mirror.upsertCustomer(c, tenant, deleted, created);
    return new Applied(tenant, id, deleted);
  }

  private Applied checkout(Connection c, ObjectNode session, Instant created, @Nullable String apiVersion, long since)
      throws SQLException {
    String id = requireId(session, "checkout session");
    String customer = id(session, "customer");
    String reference = text(session, "client_reference_id");
    String fromMetadata = metadataTenant(session);
    if (reference != null && fromMetadata != null && !reference.equals(fromMetadata)) {
      // saaskit's sessions carry the tenant in both; a Payment Link lets its visitor set client_reference_id
      throw new BillingException("checkout session " + id + " names two tenants (client_reference_id and"
          + " metadata.tenant_id differ); it is not applied");
    }
    if (reference == null) {
      reference = fromMetadata;
    }
    TenantId tenant;
    if (reference != null) {
      tenant = tenantId(reference, "client_reference_id of checkout session " + id);
      db.bindTenant(c, tenant);
    } else if (customer != null) {
      // not created by saaskit: only an already linked customer says whose it is
      tenant = tenantOfCustomer(c, customer, null, created, null, since);
    } else {
      throw new BillingException("checkout session " + id + " names no tenant (client_reference_id)");
    }
    if (customer != null) {
      Optional<TenantId> routed = mirror.tenantOfCustomer(c, customer);
      if (routed.isPresent() && !routed.get().equals(tenant)) {
        throw new BillingException("customer " + customer + " of checkout session " + id
            + " is linked to another tenant; it is never re-routed");
      }
      if (routed.isEmpty()) {
        JsonNode expanded = session.get("customer");
        if (expanded != null && expanded.isObject()) {
          checkCustomerClaim(expanded, customer, id, tenant);
        }
        if (refetch) {
          StripeGateway.Answer a = stripe.fetch("/v1/customers/" + customer, since);
          checkCustomerClaim(a.json(), customer, id, tenant);
          mirror.upsertCustomer(c, tenant, a.json(), later(a.date(), created));
        } else {
          // the link only, dated at the epoch: any real state of the customer replaces it
          mirror.upsertCustomer(c, tenant, StripeJson.MAPPER.createObjectNode().put("id", customer)
              .put("object", "customer"), Instant.EPOCH);
        }
      }
    }
    Versioned v =
        current(c, "checkout_sessions", "/v1/checkout/sessions/", id, session, created, apiVersion, since);
    mirror.upsertCheckoutSession(c, tenant, v.object(), v.asOf());
    String subscription = id(v.object(), "subscription");
    if (subscription != null) {
      JsonNode expanded = v.object().get("subscription");
      JsonNode sub = null;
      Instant asOf = created;
      if (refetch) {
        StripeGateway.Answer a = stripe.fetch("/v1/subscriptions/" + subscription, since);
        sub = a.json();
        asOf = later(a.date(), created);
      } else if (expanded != null && expanded.isObject()) {
        sub = expanded;
      }
      if (sub != null) {
        checkSameCustomer(c, tenant, sub, "subscription " + subscription);
        mirror.upsertSubscription(c, tenant, sub, asOf);
        String invoice = id(sub, "latest_invoice");
        if (invoice != null && refetch) {
          StripeGateway.Answer a = stripe.fetch("/v1/invoices/" + invoice, since);
          checkSameCustomer(c, tenant, a.json(), "invoice " + invoice);
          mirror.upsertInvoice(c, tenant, a.json(), later(a.date(), created));
        }
      }
    }
    return new Applied(tenant, id, v.object());
  }

  /**
   * Refuses to link an unrouted customer to the session's tenant when the customer names another one: saaskit
   * writes {@code metadata.tenant_id} when it creates a tenant's customer, and a session (whose {@code
   * client_reference_id} a Payment Link visitor sets) never moves another tenant's customer.
   */
  private static void checkCustomerClaim(JsonNode customerObject, String customer, String session, TenantId tenant) {
    String claimed = metadataTenant(customerObject);
    if (claimed != null && !claimed.equals(tenant.value())) {
      throw new BillingException("customer " + customer + " of checkout session " + session + " names another tenant"
          + " (metadata.tenant_id); it is not linked to the tenant the session names");
    }
  }

  private void checkSameCustomer(Connection c, TenantId tenant, JsonNode object, String what) throws SQLException {
    String customer = id(object, "customer");
    if (customer == null) {
      throw new BillingException(what + " has no customer");
    }
    Optional<TenantId> routed = mirror.tenantOfCustomer(c, customer);
    if (routed.isPresent() && !routed.get().equals(tenant)) {
      throw new BillingException("customer " + customer + " of " + what + " is linked to another tenant");
    }
  }

  /**
   * The tenant of a Stripe customer, bound to the transaction: its route, else its {@code metadata.tenant_id}
   * (from {@code customerObject} when the event is about the customer, else fetched), which then links it.
   */
  private TenantId tenantOfCustomer(Connection c, String customerId, @Nullable JsonNode customerObject,
      Instant created, @Nullable Routed ahead, long since) throws SQLException {
    Optional<TenantId> routed = ahead != null && ahead.customer().equals(customerId)
        ? Optional.ofNullable(ahead.tenant()) : db.bindRoutedTenant(c, mirror.schema(), customerId);
    if (routed.isPresent()) {
      return routed.get();
    }
    JsonNode customer = customerObject;
    Instant asOf = created;
    if (customer == null) {
      StripeGateway.Answer a;
      try {
        a = stripe.fetch("/v1/customers/" + customerId, since);
      } catch (BillingException e) {
        if (e.stripeStatus() == 404) {
          throw new UnlinkedCustomerException(customerId,
              "customer " + customerId + " is not linked to a tenant (and Stripe has no such customer)");
        }
        throw e;
      }
      customer = a.json();
      asOf = later(a.date(), created);
    }
    String fromMetadata = metadataTenant(customer);
    if (fromMetadata == null) {
      throw new UnlinkedCustomerException(customerId, "customer " + customerId + " is not linked to a tenant");
    }
    TenantId tenant = tenantId(fromMetadata, "metadata.tenant_id of customer " + customerId);
    db.bindTenant(c, tenant);
    mirror.upsertCustomer(c, tenant, customer, asOf);
    return tenant;
  }

  /**
   * The object to apply: Stripe's current one (dated by Stripe's answer, at least the event's time) when refetch is
   * on and the payload is from another API version or not newer than the mirrored state; else the payload, dated
   * by the event. The tenant is bound already (the state is read under RLS).
   */
  private Versioned current(Connection c, String table, String path, String id, ObjectNode payload, Instant created,
      @Nullable String apiVersion, long since) throws SQLException {
    if (!refetch) {
      return new Versioned(payload, created);
    }
    boolean otherVersion = !Stripe.API_VERSION.equals(apiVersion);
    boolean notNewer = !otherVersion && mirror.stateAsOf(c, table, id).map(s -> !s.isBefore(created)).orElse(false);
    if (!otherVersion && !notNewer) {
      return new Versioned(payload, created);
    }
    try {
      StripeGateway.Answer a = stripe.fetch(path + id, since);
      return new Versioned(a.json(), later(a.date(), created));
    } catch (BillingException e) {
      if (e.stripeStatus() != 404) {
        throw e;
      }
      if ("customers".equals(table)) {
        // gone from Stripe: deleted as of now
        return new Versioned(payload.deepCopy().put("deleted", true), later(clock.instant(), created));
      }
      // gone: the payload is the last state there is
      return new Versioned(payload, created);
    }
  }

  private static Instant later(Instant a, Instant b) {
    return a.isAfter(b) ? a : b;
  }

  private static @Nullable String metadataTenant(JsonNode object) {
    JsonNode metadata = object.get("metadata");
    if (metadata == null || !metadata.isObject()) {
      return null;
    }
    String t = text(metadata, "tenant_id");
    return t == null || t.isBlank() ? null : t;
  }

  private static TenantId tenantId(String value, String what) {
    try {
      return TenantId.of(value);
    } catch (IllegalArgumentException e) {
      throw new BillingException(what + " is not a valid tenant id");
    }
  }

  private static String requireId(JsonNode object, String what) {
    String id = text(object, "id");
    if (id == null || id.isEmpty()) {
      throw new BillingException(what + " without an id");
    }
    return id;
  }

  private static String requireCustomer(JsonNode object, String what) {
    String customer = id(object, "customer");
    if (customer == null) {
      throw new BillingException(what + " has no customer");
    }
    return customer;
  }
}
