package dev.saaskit.billing.internal;

import static dev.saaskit.billing.internal.StripeJson.bool;
import static dev.saaskit.billing.internal.StripeJson.id;
import static dev.saaskit.billing.internal.StripeJson.number;
import static dev.saaskit.billing.internal.StripeJson.text;
import static dev.saaskit.billing.internal.StripeJson.time;

import com.fasterxml.jackson.databind.JsonNode;
import dev.saaskit.billing.BillingException;
import dev.saaskit.billing.Invoice;
import dev.saaskit.billing.Subscription;
import dev.saaskit.billing.SubscriptionItem;
import dev.saaskit.billing.SubscriptionStatus;
import dev.saaskit.core.TenantId;
import dev.saaskit.core.internal.SqlNames;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.sql.Types;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;

/**
 * Writes Stripe objects into the mirror and reads them back. Every write is one conditional upsert: it replaces the
 * row only when the row's {@code state_as_of} is not newer than the state being written, so an older state never
 * overwrites a newer one, whatever order writes arrive in (and concurrent writers of one row serialize on its
 * lock). Tenant rows are written on a connection whose transaction is bound to the tenant (RLS checks it).
 */
public final class Mirror {
  /** What a write did. */
  public enum Outcome {
    /** The row was inserted or replaced. */
    APPLIED,
    /** The row holds a newer state: nothing was written. */
    STALE
  }

  /** The subscription statuses Stripe never leaves, as an SQL list. */
  private static final String TERMINAL = "('canceled', 'incomplete_expired')";

  private final String s;

  public Mirror(String schema) {
    this.s = SqlNames.quoteIdent(schema);
  }

  /** The quoted schema name, for SQL of other classes. */
  public String schema() {
    return s;
  }

  // ---------------------------------------------------------------- writes

  /** Upserts a customer of {@code tenant} (also a deleted one: {@code deleted: true}, which wins a same-second tie). */
  public Outcome upsertCustomer(Connection c, TenantId tenant, JsonNode customer, Instant asOf) throws SQLException {
    String sql = "INSERT INTO " + s + ".customers AS t (tenant_id, stripe_id, email, name, deleted, raw, state_as_of)"
        + " VALUES (?, ?, ?, ?, ?, ?::jsonb, ?)"
        + " ON CONFLICT (stripe_id) DO UPDATE SET email = EXCLUDED.email, name = EXCLUDED.name,"
        + " deleted = EXCLUDED.deleted, raw = EXCLUDED.raw, state_as_of = EXCLUDED.state_as_of, updated_at = now()"
        // Stripe's times are whole seconds: of two states of the same second, a deleted customer (which Stripe never
        // undeletes) is the newer one, so a customer.updated of that second never revives it
        + " WHERE t.state_as_of < EXCLUDED.state_as_of OR (t.state_as_of = EXCLUDED.state_as_of"
        + " AND (NOT t.deleted OR EXCLUDED.deleted))";
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setString(1, tenant.value());
      ps.setString(2, requireId(customer, "customer"));
      ps.setString(3, text(customer, "email"));
      ps.setString(4, text(customer, "name"));
      ps.setBoolean(5, bool(customer, "deleted", false));
      ps.setString(6, StripeJson.write(customer));
      ps.setTimestamp(7, ts(asOf));
      return ps.executeUpdate() == 1 ? Outcome.APPLIED : Outcome.STALE;
    }
  }

  /** Upserts a product (account-wide, no tenant). */
  public Outcome upsertProduct(Connection c, JsonNode product, Instant asOf) throws SQLException {
    String sql = "INSERT INTO " + s + ".products AS t (stripe_id, active, name, deleted, raw, state_as_of)"
        + " VALUES (?, ?, ?, ?, ?::jsonb, ?)"
        + " ON CONFLICT (stripe_id) DO UPDATE SET active = EXCLUDED.active, name = EXCLUDED.name,"
        + " deleted = EXCLUDED.deleted, raw = EXCLUDED.raw, state_as_of = EXCLUDED.state_as_of, updated_at = now()"
        + " WHERE t.state_as_of <= EXCLUDED.state_as_of";
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setString(1, requireId(product, "product"));
      ps.setBoolean(2, bool(product, "active", true));
      ps.setString(3, text(product, "name"));
      ps.setBoolean(4, bool(product, "deleted", false));
      ps.setString(5, StripeJson.write(product));
      ps.setTimestamp(6, ts(asOf));
      return ps.executeUpdate() == 1 ? Outcome.APPLIED : Outcome.STALE;
    }
  }

  /** Upserts a price (account-wide, no tenant). */
  public Outcome upsertPrice(Connection c, JsonNode price, Instant asOf) throws SQLException {
    return writePrice(c, price, asOf, false);
  }

  /**
   * Writes a price only if the mirror has none with its id. Subscriptions embed their prices: writing those
   * unconditionally would lock the shared price row until commit and serialize every tenant's subscription events
   * on it. Price changes arrive by their own events and the reconciler.
   */
  public Outcome insertPriceIfAbsent(Connection c, JsonNode price, Instant asOf) throws SQLException {
    return writePrice(c, price, asOf, true);
  }

  private Outcome writePrice(Connection c, JsonNode price, Instant asOf, boolean onlyIfAbsent) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(priceSql(onlyIfAbsent))) {
      bindPrice(ps, 1, price, asOf);
      return ps.executeUpdate() == 1 ? Outcome.APPLIED : Outcome.STALE;
    }
  }

  private String priceSql(boolean onlyIfAbsent) {
    return "INSERT INTO " + s + ".prices AS t (stripe_id, product_id, active, currency, unit_amount,"
        + " recurring_interval, interval_count, usage_type, lookup_key, deleted, raw, state_as_of)"
        + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?)"
        + (onlyIfAbsent ? " ON CONFLICT (stripe_id) DO NOTHING" : " ON CONFLICT (stripe_id) DO UPDATE SET"
        + " product_id = EXCLUDED.product_id, active = EXCLUDED.active,"
        + " currency = EXCLUDED.currency, unit_amount = EXCLUDED.unit_amount,"
        + " recurring_interval = EXCLUDED.recurring_interval, interval_count = EXCLUDED.interval_count,"
        + " usage_type = EXCLUDED.usage_type, lookup_key = EXCLUDED.lookup_key, deleted = EXCLUDED.deleted,"
        + " raw = EXCLUDED.raw, state_as_of = EXCLUDED.state_as_of, updated_at = now()"
        + " WHERE t.state_as_of <= EXCLUDED.state_as_of");
  }

  /** Binds a price's twelve parameters from {@code first}; returns the next parameter index. */
  private static int bindPrice(PreparedStatement ps, int first, JsonNode price, Instant asOf) throws SQLException {
    JsonNode recurring = price.get("recurring");
    boolean hasRecurring = recurring != null && recurring.isObject();
    int p = first;
    ps.setString(p++, requireId(price, "price"));
    ps.setString(p++, id(price, "product"));
    ps.setBoolean(p++, bool(price, "active", true));
    ps.setString(p++, text(price, "currency"));
    setLong(ps, p++, number(price, "unit_amount"));
    ps.setString(p++, hasRecurring ? text(recurring, "interval") : null);
    setInt(ps, p++, hasRecurring ? number(recurring, "interval_count") : null);
    ps.setString(p++, hasRecurring ? text(recurring, "usage_type") : null);
    ps.setString(p++, text(price, "lookup_key"));
    ps.setBoolean(p++, bool(price, "deleted", false));
    ps.setString(p++, StripeJson.write(price));
    ps.setTimestamp(p++, ts(asOf));
    return p;
  }

  /**
   * Upserts a subscription of {@code tenant} and, when applied, replaces its items. Prices embedded in the items
   * are mirrored too (as of the same time), so entitlements can resolve lookup keys without a price event. Of two
   * states of the same second, a terminal status ({@code canceled}, {@code incomplete_expired}) wins over a live one.
   */
  public Outcome upsertSubscription(Connection c, TenantId tenant, JsonNode sub, Instant asOf) throws SQLException {
    String id = requireId(sub, "subscription");
    String customer = id(sub, "customer");
    if (customer == null) {
      throw new BillingException("subscription " + id + " has no customer");
    }
    JsonNode pause = sub.get("pause_collection");
    String sql = "INSERT INTO " + s + ".subscriptions AS t (tenant_id, stripe_id, customer_id, status,"
        + " cancel_at_period_end, cancel_at, canceled_at, ended_at, current_period_start, current_period_end,"
        + " trial_start, trial_end, collection_method, days_until_due, schedule_id, paused, raw, state_as_of)"
        + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?)"
        + " ON CONFLICT (stripe_id) DO UPDATE SET customer_id = EXCLUDED.customer_id, status = EXCLUDED.status,"
        + " cancel_at_period_end = EXCLUDED.cancel_at_period_end, cancel_at = EXCLUDED.cancel_at,"
        + " canceled_at = EXCLUDED.canceled_at, ended_at = EXCLUDED.ended_at,"
        + " current_period_start = EXCLUDED.current_period_start, current_period_end = EXCLUDED.current_period_end,"
        + " trial_start = EXCLUDED.trial_start, trial_end = EXCLUDED.trial_end,"
        + " collection_method = EXCLUDED.collection_method, days_until_due = EXCLUDED.days_until_due,"
        + " schedule_id = EXCLUDED.schedule_id, paused = EXCLUDED.paused, raw = EXCLUDED.raw,"
        + " state_as_of = EXCLUDED.state_as_of, updated_at = now()"
        // Stripe's times are whole seconds: of two states of the same second, a terminal status (which Stripe never
        // leaves) is the newer one, so a live status of that second never revives a canceled subscription
        + " WHERE t.state_as_of < EXCLUDED.state_as_of OR (t.state_as_of = EXCLUDED.state_as_of"
        + " AND (t.status NOT IN " + TERMINAL + " OR EXCLUDED.status IN " + TERMINAL + "))";
    // One round trip: the upsert, then (only if the row now holds this state) the items rewritten and the
    // embedded prices inserted when absent. pgjdbc sends the statements of one prepared string together.
    List<JsonNode> items = new ArrayList<>();
    for (JsonNode item : StripeJson.items(sub)) {
      if (text(item, "id") != null) {
        items.add(item);
      }
    }
    // the embedded prices, each once and in id order: two subscriptions' writes inserting the same new prices
    // take their locks in one order, so they wait for each other instead of deadlocking
    Map<String, JsonNode> priceById = new TreeMap<>();
    String applied = " WHERE EXISTS (SELECT 1 FROM " + s + ".subscriptions WHERE stripe_id = ? AND state_as_of = ?"
        + " AND status = ?)";
    StringBuilder all = new StringBuilder(sql).append(";\nDELETE FROM ").append(s)
        .append(".subscription_items WHERE tenant_id = ? AND subscription_id = ? AND").append(applied.substring(6));
    if (!items.isEmpty()) {
      all.append(";\nINSERT INTO ").append(s).append(".subscription_items"
          + " (tenant_id, stripe_id, subscription_id, price_id, product_id, quantity, raw) SELECT * FROM (VALUES ");
      for (int i = 0; i < items.size(); i++) {
        all.append(i == 0 ? "" : ", ").append("(?, ?, ?, ?, ?, ?::bigint, ?::jsonb)");
        JsonNode price = items.get(i).get("price");
        String priceId = price != null && price.isObject() ? text(price, "id") : null;
        if (price != null && priceId != null) {
          priceById.putIfAbsent(priceId, price);
        }
      }
      all.append(") v").append(applied).append(" ON CONFLICT (stripe_id) DO NOTHING");
    }
    List<JsonNode> prices = new ArrayList<>(priceById.values());
    for (int i = 0; i < prices.size(); i++) {
      all.append(";\n").append(priceSql(true));
    }
    int n;
    String rawStatus = text(sub, "status");
    String status = rawStatus == null ? "unknown" : rawStatus;
    try (PreparedStatement ps = c.prepareStatement(all.toString())) {
      ps.setString(1, tenant.value());
      ps.setString(2, id);
      ps.setString(3, customer);
      ps.setString(4, status);
      ps.setBoolean(5, bool(sub, "cancel_at_period_end", false));
      ps.setTimestamp(6, ts(time(sub, "cancel_at")));
      ps.setTimestamp(7, ts(time(sub, "canceled_at")));
      ps.setTimestamp(8, ts(time(sub, "ended_at")));
      ps.setTimestamp(9, ts(StripeJson.periodBound(sub, "current_period_start", false)));
      ps.setTimestamp(10, ts(StripeJson.periodBound(sub, "current_period_end", true)));
      ps.setTimestamp(11, ts(time(sub, "trial_start")));
      ps.setTimestamp(12, ts(time(sub, "trial_end")));
      String method = text(sub, "collection_method");
      ps.setString(13, method == null ? "charge_automatically" : method);
      setInt(ps, 14, number(sub, "days_until_due"));
      ps.setString(15, id(sub, "schedule"));
      ps.setBoolean(16, pause != null && pause.isObject());
      ps.setString(17, StripeJson.write(sub));
      ps.setTimestamp(18, ts(asOf));
      int p = 19;
      Timestamp asOfTs = ts(asOf);
      ps.setString(p++, tenant.value());
      ps.setString(p++, id);
      ps.setString(p++, id);
      ps.setTimestamp(p++, asOfTs);
      ps.setString(p++, status);
      for (JsonNode item : items) {
        JsonNode price = item.get("price");
        boolean full = price != null && price.isObject();
        ps.setString(p++, tenant.value());
        ps.setString(p++, text(item, "id"));
        ps.setString(p++, id);
        ps.setString(p++, full ? text(price, "id") : id(item, "price"));
        ps.setString(p++, full ? id(price, "product") : null);
        setLong(ps, p++, number(item, "quantity"));
        ps.setString(p++, StripeJson.write(item));
      }
      if (!items.isEmpty()) {
        ps.setString(p++, id);
        ps.setTimestamp(p++, asOfTs);
        ps.setString(p++, status);
      }
      for (JsonNode price : prices) {
        p = bindPrice(ps, p, price, asOf);
      }
      ps.execute();
      n = ps.getUpdateCount();
      while (ps.getMoreResults() || ps.getUpdateCount() != -1) {
        // drain the results of the statements after the upsert
      }
    }
    if (n == 0) {
      return Outcome.STALE;
    }
    return Outcome.APPLIED;
  }

  /** Upserts an invoice of {@code tenant}; of two states of the same second, the later stage of its lifecycle wins. */
  public Outcome upsertInvoice(Connection c, TenantId tenant, JsonNode inv, Instant asOf) throws SQLException {
    String id = requireId(inv, "invoice");
    String customer = id(inv, "customer");
    if (customer == null) {
      throw new BillingException("invoice " + id + " has no customer");
    }
    String sql = "INSERT INTO " + s + ".invoices AS t (tenant_id, stripe_id, customer_id, subscription_id, status,"
        + " collection_method, currency, amount_due, amount_paid, amount_remaining, attempt_count,"
        + " next_payment_attempt, due_date, period_start, period_end, hosted_invoice_url, created, raw, state_as_of)"
        + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?)"
        + " ON CONFLICT (stripe_id) DO UPDATE SET customer_id = EXCLUDED.customer_id,"
        + " subscription_id = EXCLUDED.subscription_id, status = EXCLUDED.status,"
        + " collection_method = EXCLUDED.collection_method, currency = EXCLUDED.currency,"
        + " amount_due = EXCLUDED.amount_due, amount_paid = EXCLUDED.amount_paid,"
        + " amount_remaining = EXCLUDED.amount_remaining, attempt_count = EXCLUDED.attempt_count,"
        + " next_payment_attempt = EXCLUDED.next_payment_attempt, due_date = EXCLUDED.due_date,"
        + " period_start = EXCLUDED.period_start, period_end = EXCLUDED.period_end,"
        + " hosted_invoice_url = EXCLUDED.hosted_invoice_url, created = EXCLUDED.created, raw = EXCLUDED.raw,"
        + " state_as_of = EXCLUDED.state_as_of, updated_at = now()"
        // Stripe sends invoice.finalized, .paid and .payment_succeeded within one second, in any order: of two states
        // of the same second, the one further along the invoice's lifecycle is the newer one, so a paid or void
        // invoice (which Stripe never leaves) is never taken back to open by a delivery of that second
        + " WHERE t.state_as_of < EXCLUDED.state_as_of OR (t.state_as_of = EXCLUDED.state_as_of"
        + " AND " + invoiceStage("EXCLUDED.status") + " >= " + invoiceStage("t.status") + ")";
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setString(1, tenant.value());
      ps.setString(2, id);
      ps.setString(3, customer);
      ps.setString(4, StripeJson.invoiceSubscription(inv));
      ps.setString(5, text(inv, "status"));
      String method = text(inv, "collection_method");
      ps.setString(6, method == null ? "charge_automatically" : method);
      ps.setString(7, text(inv, "currency"));
      setLong(ps, 8, number(inv, "amount_due"));
      setLong(ps, 9, number(inv, "amount_paid"));
      setLong(ps, 10, number(inv, "amount_remaining"));
      setInt(ps, 11, number(inv, "attempt_count"));
      ps.setTimestamp(12, ts(time(inv, "next_payment_attempt")));
      ps.setTimestamp(13, ts(time(inv, "due_date")));
      ps.setTimestamp(14, ts(time(inv, "period_start")));
      ps.setTimestamp(15, ts(time(inv, "period_end")));
      ps.setString(16, text(inv, "hosted_invoice_url"));
      ps.setTimestamp(17, ts(time(inv, "created")));
      ps.setString(18, StripeJson.write(inv));
      ps.setTimestamp(19, ts(asOf));
      return ps.executeUpdate() == 1 ? Outcome.APPLIED : Outcome.STALE;
    }
  }

  /**
   * The stage of an invoice status in Stripe's lifecycle (draft, open, uncollectible, then paid or void, which are
   * final), as SQL: a status only ever moves to a later stage.
   */
  private static String invoiceStage(String status) {
    return "(CASE " + status + " WHEN 'open' THEN 1 WHEN 'uncollectible' THEN 2 WHEN 'paid' THEN 3 WHEN 'void' THEN 3"
        + " ELSE 0 END)";
  }

  /** Upserts a checkout session of {@code tenant}. */
  public Outcome upsertCheckoutSession(Connection c, TenantId tenant, JsonNode session, Instant asOf)
      throws SQLException {
    String sql = "INSERT INTO " + s + ".checkout_sessions AS t (tenant_id, stripe_id, status, payment_status,"
        + " customer_id, subscription_id, raw, state_as_of) VALUES (?, ?, ?, ?, ?, ?, ?::jsonb, ?)"
        + " ON CONFLICT (stripe_id) DO UPDATE SET status = EXCLUDED.status, payment_status = EXCLUDED.payment_status,"
        + " customer_id = EXCLUDED.customer_id, subscription_id = EXCLUDED.subscription_id, raw = EXCLUDED.raw,"
        + " state_as_of = EXCLUDED.state_as_of, updated_at = now() WHERE t.state_as_of <= EXCLUDED.state_as_of";
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setString(1, tenant.value());
      ps.setString(2, requireId(session, "checkout session"));
      ps.setString(3, text(session, "status"));
      ps.setString(4, text(session, "payment_status"));
      ps.setString(5, id(session, "customer"));
      ps.setString(6, id(session, "subscription"));
      ps.setString(7, StripeJson.write(session));
      ps.setTimestamp(8, ts(asOf));
      return ps.executeUpdate() == 1 ? Outcome.APPLIED : Outcome.STALE;
    }
  }

  /** Upserts a customer's active entitlement summary ({@code entitlements.active_entitlement_summary}). */
  public Outcome upsertEntitlementSummary(Connection c, TenantId tenant, JsonNode summary, Instant asOf)
      throws SQLException {
    String customer = id(summary, "customer");
    if (customer == null) {
      throw new BillingException("entitlement summary without a customer");
    }
    List<String> keys = new ArrayList<>();
    JsonNode entitlements = summary.get("entitlements");
    JsonNode data = entitlements == null ? null : entitlements.get("data");
    if (data != null && data.isArray()) {
      for (JsonNode e : data) {
        String key = text(e, "lookup_key");
        if (key != null) {
          keys.add(key);
        }
      }
    }
    String sql = "INSERT INTO " + s + ".entitlement_summaries AS t (tenant_id, customer_id, lookup_keys, raw, state_as_of)"
        + " VALUES (?, ?, ?, ?::jsonb, ?) ON CONFLICT (customer_id) DO UPDATE SET lookup_keys = EXCLUDED.lookup_keys,"
        + " raw = EXCLUDED.raw, state_as_of = EXCLUDED.state_as_of, updated_at = now()"
        + " WHERE t.state_as_of <= EXCLUDED.state_as_of";
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setString(1, tenant.value());
      ps.setString(2, customer);
      ps.setArray(3, c.createArrayOf("text", keys.toArray()));
      ps.setString(4, StripeJson.write(summary));
      ps.setTimestamp(5, ts(asOf));
      return ps.executeUpdate() == 1 ? Outcome.APPLIED : Outcome.STALE;
    }
  }

  /** Marks a product or price deleted (Stripe's {@code *.deleted} events), unless a newer state is held. */
  public Outcome markCatalogDeleted(Connection c, String table, String stripeId, Instant asOf) throws SQLException {
    if (!"products".equals(table) && !"prices".equals(table)) {
      throw new IllegalArgumentException(table);
    }
    try (PreparedStatement ps = c.prepareStatement("UPDATE " + s + "." + table
        + " SET deleted = true, active = false, state_as_of = ?, updated_at = now()"
        + " WHERE stripe_id = ? AND state_as_of <= ?")) {
      ps.setTimestamp(1, ts(asOf));
      ps.setString(2, stripeId);
      ps.setTimestamp(3, ts(asOf));
      return ps.executeUpdate() == 1 ? Outcome.APPLIED : Outcome.STALE;
    }
  }

  // ---------------------------------------------------------------- reads

  /**
   * The {@code state_as_of} of a mirrored object in {@code table} (one of customers, products, prices,
   * subscriptions, invoices, checkout_sessions), or empty when not mirrored (or not visible to the bound tenant).
   */
  public Optional<Instant> stateAsOf(Connection c, String table, String stripeId) throws SQLException {
    return readStateAsOf(c, table, stripeId, "");
  }

  /**
   * Like {@link #stateAsOf}, and locks the row until the transaction ends: a writer that decides on it is not
   * overtaken by a write of the same row between its decision and its own write.
   */
  public Optional<Instant> lockStateAsOf(Connection c, String table, String stripeId) throws SQLException {
    return readStateAsOf(c, table, stripeId, " FOR UPDATE");
  }

  private Optional<Instant> readStateAsOf(Connection c, String table, String stripeId, String locking)
      throws SQLException {
    switch (table) {
      case "customers": case "products": case "prices": case "subscriptions": case "invoices":
      case "checkout_sessions":
        break;
      default:
        throw new IllegalArgumentException(table);
    }
    try (PreparedStatement ps = c.prepareStatement("SELECT state_as_of FROM " + s + "." + table
        + " WHERE stripe_id = ?" + locking)) {
      ps.setString(1, stripeId);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? Optional.of(rs.getTimestamp(1).toInstant()) : Optional.empty();
      }
    }
  }

  /** The tenant a Stripe customer belongs to, through the route function (no tenant needs to be bound). */
  public Optional<TenantId> tenantOfCustomer(Connection c, String customerId) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT " + s + ".route_customer(?)")) {
      ps.setString(1, customerId);
      try (ResultSet rs = ps.executeQuery()) {
        String v = rs.next() ? rs.getString(1) : null;
        return v == null ? Optional.empty() : Optional.of(TenantId.of(v));
      }
    }
  }

  /** The live (not deleted) Stripe customer of the bound tenant, if it has one. */
  public Optional<String> customerOfTenant(Connection c, TenantId tenant) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(
        "SELECT stripe_id FROM " + s + ".customers WHERE tenant_id = ? AND NOT deleted")) {
      ps.setString(1, tenant.value());
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? Optional.of(rs.getString(1)) : Optional.empty();
      }
    }
  }

  /** The subscriptions of the bound tenant, newest first, with their items. */
  public List<Subscription> subscriptions(Connection c, TenantId tenant) throws SQLException {
    Map<String, List<SubscriptionItem>> items = new LinkedHashMap<>();
    try (PreparedStatement ps = c.prepareStatement("SELECT subscription_id, stripe_id, price_id, product_id, quantity"
        + " FROM " + s + ".subscription_items WHERE tenant_id = ? ORDER BY subscription_id, stripe_id")) {
      ps.setString(1, tenant.value());
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          String price = rs.getString(3);
          if (price == null) {
            continue;
          }
          items.computeIfAbsent(rs.getString(1), k -> new ArrayList<>())
              .add(new SubscriptionItem(rs.getString(2), price, rs.getString(4), rs.getLong(5)));
        }
      }
    }
    List<Subscription> out = new ArrayList<>();
    try (PreparedStatement ps = c.prepareStatement("SELECT stripe_id, customer_id, status, cancel_at_period_end,"
        + " current_period_start, current_period_end, trial_start, trial_end, canceled_at, ended_at,"
        + " collection_method, days_until_due, schedule_id, paused, state_as_of, cancel_at"
        + " FROM " + s + ".subscriptions WHERE tenant_id = ? ORDER BY CASE WHEN jsonb_typeof(raw->'created') = 'number'"
        + " THEN (raw->>'created')::numeric END DESC NULLS LAST, stripe_id")) {
      ps.setString(1, tenant.value());
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          int due = rs.getInt(12);
          Integer daysUntilDue = rs.wasNull() ? null : due;
          out.add(Subscription.of(rs.getString(1), tenant, rs.getString(2),
              SubscriptionStatus.fromStripe(rs.getString(3)), items.getOrDefault(rs.getString(1), List.of()),
              rs.getBoolean(4), instant(rs, 5), instant(rs, 6), instant(rs, 7), instant(rs, 8), instant(rs, 9),
              instant(rs, 10), rs.getString(11), daysUntilDue, rs.getString(13), rs.getBoolean(14),
              rs.getTimestamp(15).toInstant()).withCancelAt(instant(rs, 16)));
        }
      }
    }
    return out;
  }

  /** The invoices of the bound tenant, newest first, at most {@code limit}. */
  public List<Invoice> invoices(Connection c, TenantId tenant, int limit) throws SQLException {
    List<Invoice> out = new ArrayList<>();
    try (PreparedStatement ps = c.prepareStatement("SELECT stripe_id, customer_id, subscription_id, status,"
        + " collection_method, currency, amount_due, amount_paid, amount_remaining, attempt_count,"
        + " next_payment_attempt, due_date, created, hosted_invoice_url, state_as_of"
        + " FROM " + s + ".invoices WHERE tenant_id = ? ORDER BY created DESC NULLS LAST, stripe_id LIMIT ?")) {
      ps.setString(1, tenant.value());
      ps.setInt(2, limit);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          Instant created = instant(rs, 13);
          String status = rs.getString(4);
          String currency = rs.getString(6);
          out.add(Invoice.of(rs.getString(1), tenant, rs.getString(2), rs.getString(3),
              status == null ? "draft" : status, rs.getString(5), currency == null ? "" : currency, rs.getLong(7),
              rs.getLong(8), rs.getLong(9), rs.getInt(10), instant(rs, 11), instant(rs, 12),
              created == null ? rs.getTimestamp(15).toInstant() : created, rs.getString(14)));
        }
      }
    }
    return out;
  }

  /** The lookup key and product of a mirrored price, for plan resolution. */
  public record PriceKeys(String priceId, @Nullable String lookupKey, @Nullable String productId) {}

  /** Lookup keys and products of the given prices, as far as the mirror knows them. */
  public Map<String, PriceKeys> priceKeys(Connection c, List<String> priceIds) throws SQLException {
    Map<String, PriceKeys> out = new LinkedHashMap<>();
    if (priceIds.isEmpty()) {
      return out;
    }
    try (PreparedStatement ps = c.prepareStatement(
        "SELECT stripe_id, lookup_key, product_id FROM " + s + ".prices WHERE stripe_id = ANY (?)")) {
      ps.setArray(1, c.createArrayOf("text", priceIds.toArray()));
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.put(rs.getString(1), new PriceKeys(rs.getString(1), rs.getString(2), rs.getString(3)));
        }
      }
    }
    return out;
  }

  /** The Stripe Entitlements lookup keys of the bound tenant's customer, if a summary was mirrored. */
  public List<String> entitlementLookupKeys(Connection c, TenantId tenant) throws SQLException {
    List<String> out = new ArrayList<>();
    try (PreparedStatement ps = c.prepareStatement(
        "SELECT unnest(lookup_keys) FROM " + s + ".entitlement_summaries WHERE tenant_id = ?")) {
      ps.setString(1, tenant.value());
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.add(rs.getString(1));
        }
      }
    }
    return out;
  }

  // ---------------------------------------------------------------- helpers

  private static String requireId(JsonNode node, String what) {
    String id = text(node, "id");
    if (id == null || id.isEmpty()) {
      throw new BillingException(what + " without an id");
    }
    return id;
  }

  static @Nullable Timestamp ts(@Nullable Instant instant) {
    return instant == null ? null : Timestamp.from(instant);
  }

  private static @Nullable Instant instant(ResultSet rs, int column) throws SQLException {
    Timestamp t = rs.getTimestamp(column);
    return t == null ? null : t.toInstant();
  }

  private static void setLong(PreparedStatement ps, int index, @Nullable Long value) throws SQLException {
    if (value == null) {
      ps.setNull(index, Types.BIGINT);
    } else {
      ps.setLong(index, value);
    }
  }

  /** An integer column; a value past an int (no real Stripe count or day number is) is stored as unknown. */
  private static void setInt(PreparedStatement ps, int index, @Nullable Long value) throws SQLException {
    if (value == null || value != value.intValue()) {
      // not Math.toIntExact: its ArithmeticException would fail the whole write, and the event, on every retry
      ps.setNull(index, Types.INTEGER);
    } else {
      ps.setInt(index, value.intValue());
    }
  }
}
