package dev.saaskit.billing.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.saaskit.billing.BillingChangeListener;
import dev.saaskit.billing.BillingException;
import dev.saaskit.billing.Drift;
import dev.saaskit.billing.DriftReport;
import dev.saaskit.core.TenantId;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** One run of {@code Reconciler.sync}: lists Stripe, compares with the mirror, reports, and fixes when asked. */
public final class ReconcileRun {
  private static final Logger LOG = LoggerFactory.getLogger(ReconcileRun.class);

  /** A page of a Stripe list and the time Stripe answered it. */
  private record Page(List<ObjectNode> data, Instant date) {}

  /** A mirror row's compared fields and its state time. */
  private record Row(Map<String, @Nullable String> fields, Instant stateAsOf) {}

  /**
   * An object to write after the comparison. {@code readBeforeRow}: Stripe answered before the mirror row was read
   * (a list page, a recheck), so a write of the same Stripe second may have landed since with a newer state.
   */
  private record Fix(String type, @Nullable TenantId tenant, ObjectNode object, Instant asOf, boolean readBeforeRow) {}

  private final BillingDb db;
  private final Mirror mirror;
  private final StripeGateway stripe;
  private final boolean fix;
  private final String s;
  private final BillingChangeListener changes;
  private final Consumer<TenantId> changedHere;

  private final List<Drift> drifts = new ArrayList<>();
  private final Map<String, Integer> checked = new TreeMap<>();
  private final List<String> fixFailures = new ArrayList<>();
  private int fixedObjects;
  /** Stripe customer id -> tenant (null when unlinked), from the customers pass and route lookups. */
  private final Map<String, @Nullable TenantId> customerTenants = new HashMap<>();
  private final Set<TenantId> tenantsSeen = new LinkedHashSet<>();
  private final Map<String, Set<String>> listed = new HashMap<>();

  public ReconcileRun(BillingDb db, Mirror mirror, StripeGateway stripe, boolean fix) {
    this(db, mirror, stripe, fix, BillingChangeListener.NONE, tenant -> { });
  }

  /**
   * A run whose fixes of a tenant's rows tell {@code changes} (in the fix's transaction and after its commit) and
   * {@code changedHere} (after the commit: this node's cache), as webhooks and operations do: a fixed mirror is not
   * hidden behind cached entitlements.
   */
  public ReconcileRun(BillingDb db, Mirror mirror, StripeGateway stripe, boolean fix, BillingChangeListener changes,
      Consumer<TenantId> changedHere) {
    this.db = db;
    this.mirror = mirror;
    this.stripe = stripe;
    this.fix = fix;
    this.s = mirror.schema();
    this.changes = Objects.requireNonNull(changes, "changes");
    this.changedHere = Objects.requireNonNull(changedHere, "changedHere");
  }

  public DriftReport run() {
    for (Page page : pages("/v1/products", Map.of())) {
      catalogPage("product", page);
    }
    for (Page page : pages("/v1/prices", Map.of())) {
      catalogPage("price", page);
    }
    for (Page page : pages("/v1/customers", Map.of())) {
      customersPage(page);
    }
    for (Page page : pages("/v1/subscriptions", Map.of("status", "all"))) {
      tenantPage("subscription", page);
    }
    for (Page page : pages("/v1/invoices", Map.of())) {
      tenantPage("invoice", page);
    }
    missingInStripe();
    return DriftReport.of(drifts, checked, fix, fixedObjects, fixFailures);
  }

  // ---------------------------------------------------------------- Stripe lists

  private Iterable<Page> pages(String path, Map<String, String> params) {
    return () -> new java.util.Iterator<>() {
      private boolean more = true;
      private @Nullable String after;

      @Override
      public boolean hasNext() {
        return more;
      }

      @Override
      public Page next() {
        if (!more) {
          throw new java.util.NoSuchElementException();
        }
        Map<String, Object> p = new LinkedHashMap<>(params);
        p.put("limit", 100);
        if (after != null) {
          p.put("starting_after", after);
        }
        StripeGateway.Answer answer = stripe.get(path, p);
        List<ObjectNode> data = new ArrayList<>();
        for (JsonNode item : StripeJson.listData(answer.json())) {
          if (item instanceof ObjectNode && StripeJson.text(item, "id") != null) {
            data.add((ObjectNode) item);
          }
        }
        more = StripeJson.bool(answer.json(), "has_more", false) && !data.isEmpty();
        if (!data.isEmpty()) {
          after = StripeJson.text(data.get(data.size() - 1), "id");
        }
        return new Page(data, answer.date());
      }
    };
  }

  // ---------------------------------------------------------------- products and prices

  private void catalogPage(String type, Page page) {
    if (page.data().isEmpty()) {
      return;
    }
    List<String> ids = ids(page.data());
    listed.computeIfAbsent(type, k -> new HashSet<>()).addAll(ids);
    checked.merge(type, ids.size(), Integer::sum);
    Map<String, Row> rows = db.inTransaction(null, "reading the mirror's " + type + "s",
        c -> readRows(c, type, ids));
    List<Fix> fixes = new ArrayList<>();
    for (ObjectNode o : page.data()) {
      if (compare(type, null, o, rows.get(StripeJson.text(o, "id")), page.date())) {
        fixes.add(new Fix(type, null, o, page.date(), true));
      }
    }
    applyFixes(fixes);
  }

  // ---------------------------------------------------------------- customers

  private void customersPage(Page page) {
    if (page.data().isEmpty()) {
      return;
    }
    List<String> ids = ids(page.data());
    listed.computeIfAbsent("customer", k -> new HashSet<>()).addAll(ids);
    checked.merge("customer", ids.size(), Integer::sum);
    Map<String, String> routes = db.inTransaction(null, "routing customers", c -> routes(c, ids));
    Map<TenantId, List<ObjectNode>> byTenant = new LinkedHashMap<>();
    for (ObjectNode o : page.data()) {
      String id = Objects.requireNonNull(StripeJson.text(o, "id"));
      String routed = routes.get(id);
      String claimed = o.path("metadata").path("tenant_id").isTextual()
          ? o.path("metadata").path("tenant_id").asText() : null;
      TenantId tenant = tenantOf(routed != null ? routed : claimed);
      if (tenant == null) {
        customerTenants.put(id, null);
        drifts.add(new Drift(Drift.Kind.UNLINKED, "customer", id, null, "metadata.tenant_id", routed, claimed));
        continue;
      }
      if (routed != null && claimed != null && !routed.equals(claimed)) {
        drifts.add(new Drift(Drift.Kind.DIFFERENT, "customer", id, tenant, "metadata.tenant_id", routed, claimed));
      }
      customerTenants.put(id, tenant);
      tenantsSeen.add(tenant);
      byTenant.computeIfAbsent(tenant, k -> new ArrayList<>()).add(o);
    }
    tenantObjects("customer", byTenant, page.date());
  }

  private static @Nullable TenantId tenantOf(@Nullable String value) {
    if (value == null || value.isEmpty()) {
      return null;
    }
    try {
      return TenantId.of(value);
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  private Map<String, String> routes(Connection c, List<String> customerIds) throws SQLException {
    Map<String, String> out = new HashMap<>();
    try (PreparedStatement ps = c.prepareStatement("SELECT x, " + s + ".route_customer(x) FROM unnest(?::text[]) x")) {
      Array array = c.createArrayOf("text", customerIds.toArray());
      ps.setArray(1, array);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          String tenant = rs.getString(2);
          if (tenant != null) {
            out.put(rs.getString(1), tenant);
          }
        }
      }
    }
    return out;
  }

  // ---------------------------------------------------------------- subscriptions and invoices

  private void tenantPage(String type, Page page) {
    if (page.data().isEmpty()) {
      return;
    }
    List<String> ids = ids(page.data());
    listed.computeIfAbsent(type, k -> new HashSet<>()).addAll(ids);
    checked.merge(type, ids.size(), Integer::sum);
    List<String> unknown = new ArrayList<>();
    for (ObjectNode o : page.data()) {
      String customer = StripeJson.id(o, "customer");
      if (customer != null && !customerTenants.containsKey(customer)) {
        unknown.add(customer);
      }
    }
    if (!unknown.isEmpty()) {
      Map<String, String> routes = db.inTransaction(null, "routing customers", c -> routes(c, unknown));
      for (String customer : unknown) {
        TenantId t = tenantOf(routes.get(customer));
        customerTenants.put(customer, t);
        if (t != null) {
          tenantsSeen.add(t);
        }
      }
    }
    Map<TenantId, List<ObjectNode>> byTenant = new LinkedHashMap<>();
    for (ObjectNode o : page.data()) {
      String id = Objects.requireNonNull(StripeJson.text(o, "id"));
      String customer = StripeJson.id(o, "customer");
      TenantId tenant = customer == null ? null : customerTenants.get(customer);
      if (tenant == null) {
        drifts.add(new Drift(Drift.Kind.UNLINKED, type, id, null, "customer", null, customer));
        continue;
      }
      byTenant.computeIfAbsent(tenant, k -> new ArrayList<>()).add(o);
    }
    tenantObjects(type, byTenant, page.date());
  }

  private void tenantObjects(String type, Map<TenantId, List<ObjectNode>> byTenant, Instant asOf) {
    List<Fix> fixes = new ArrayList<>();
    for (Map.Entry<TenantId, List<ObjectNode>> e : byTenant.entrySet()) {
      TenantId tenant = e.getKey();
      List<String> ids = ids(e.getValue());
      Map<String, Row> rows = db.inTransaction(tenant, "reading the mirror's " + type + "s",
          c -> readRows(c, type, ids));
      for (ObjectNode o : e.getValue()) {
        if (compare(type, tenant, o, rows.get(StripeJson.text(o, "id")), asOf)) {
          fixes.add(new Fix(type, tenant, o, asOf, true));
        }
      }
    }
    applyFixes(fixes);
  }

  // ---------------------------------------------------------------- comparing

  /** Adds the drifts of one object; true when it needs a fix. */
  private boolean compare(String type, @Nullable TenantId tenant, ObjectNode o, @Nullable Row row, Instant asOf) {
    String id = Objects.requireNonNull(StripeJson.text(o, "id"));
    if (row == null) {
      drifts.add(new Drift(Drift.Kind.MISSING_IN_MIRROR, type, id, tenant, null, null, null));
      return true;
    }
    if (row.stateAsOf().isAfter(asOf)) {
      return false; // the mirror holds a newer state than this answer (a webhook applied since)
    }
    Map<String, @Nullable String> theirs = stripeFields(type, o);
    Set<String> fields = new LinkedHashSet<>(theirs.keySet());
    fields.addAll(row.fields().keySet());
    if (StripeJson.bool(o, "deleted", false)) {
      fields = Set.of("deleted"); // Stripe's deleted stub carries nothing else
    }
    boolean differs = false;
    for (String field : fields) {
      String mine = row.fields().get(field);
      String stripeValue = theirs.get(field);
      if (!Objects.equals(mine, stripeValue)) {
        drifts.add(new Drift(Drift.Kind.DIFFERENT, type, id, tenant, field, mine, stripeValue));
        differs = true;
      }
    }
    return differs;
  }

  /** The compared fields of a Stripe object, as text (the same spelling as {@link #readRows}). */
  private static Map<String, @Nullable String> stripeFields(String type, JsonNode o) {
    Map<String, @Nullable String> f = new LinkedHashMap<>();
    switch (type) {
      case "product":
        f.put("active", String.valueOf(StripeJson.bool(o, "active", true)));
        f.put("name", StripeJson.text(o, "name"));
        f.put("deleted", String.valueOf(StripeJson.bool(o, "deleted", false)));
        break;
      case "price": {
        JsonNode recurring = o.get("recurring");
        boolean r = recurring != null && recurring.isObject();
        f.put("active", String.valueOf(StripeJson.bool(o, "active", true)));
        f.put("currency", StripeJson.text(o, "currency"));
        f.put("unit_amount", str(StripeJson.number(o, "unit_amount")));
        f.put("recurring.interval", r ? StripeJson.text(recurring, "interval") : null);
        f.put("recurring.interval_count", r ? str(StripeJson.number(recurring, "interval_count")) : null);
        f.put("product", StripeJson.id(o, "product"));
        f.put("deleted", String.valueOf(StripeJson.bool(o, "deleted", false)));
        break;
      }
      case "customer":
        f.put("email", StripeJson.text(o, "email"));
        f.put("name", StripeJson.text(o, "name"));
        f.put("deleted", String.valueOf(StripeJson.bool(o, "deleted", false)));
        break;
      case "subscription": {
        String status = StripeJson.text(o, "status");
        f.put("status", status == null ? "unknown" : status);
        f.put("cancel_at_period_end", String.valueOf(StripeJson.bool(o, "cancel_at_period_end", false)));
        f.put("cancel_at", str(StripeJson.time(o, "cancel_at")));
        f.put("current_period_end", str(StripeJson.periodBound(o, "current_period_end", true)));
        Map<String, Long> items = new TreeMap<>();
        for (JsonNode item : StripeJson.items(o)) {
          JsonNode price = item.get("price");
          String priceId = price != null && price.isObject() ? StripeJson.text(price, "id")
              : StripeJson.id(item, "price");
          Long q = StripeJson.number(item, "quantity");
          if (priceId != null) {
            items.merge(priceId, q == null ? 0L : q, Long::sum);
          }
        }
        items.forEach((price, q) -> f.put("items[" + price + "].quantity", String.valueOf(q)));
        break;
      }
      case "invoice":
        f.put("status", StripeJson.text(o, "status"));
        f.put("amount_due", str(StripeJson.number(o, "amount_due")));
        f.put("amount_paid", str(StripeJson.number(o, "amount_paid")));
        f.put("amount_remaining", str(StripeJson.number(o, "amount_remaining")));
        f.put("subscription", StripeJson.invoiceSubscription(o));
        break;
      default:
        throw new IllegalArgumentException(type);
    }
    return f;
  }

  private static @Nullable String str(@Nullable Object v) {
    return v == null ? null : v.toString();
  }

  private static @Nullable String instantText(ResultSet rs, int column) throws SQLException {
    Timestamp t = rs.getTimestamp(column);
    return t == null ? null : t.toInstant().toString();
  }

  private static @Nullable String boolText(ResultSet rs, int column) throws SQLException {
    boolean b = rs.getBoolean(column);
    return rs.wasNull() ? null : String.valueOf(b);
  }

  private static @Nullable String longText(ResultSet rs, int column) throws SQLException {
    long v = rs.getLong(column);
    return rs.wasNull() ? null : String.valueOf(v);
  }

  /** The mirror rows of {@code ids} visible on {@code c}, by id, with the fields {@link #stripeFields} names. */
  private Map<String, Row> readRows(Connection c, String type, List<String> ids) throws SQLException {
    Map<String, Row> out = new HashMap<>();
    Array array = c.createArrayOf("text", ids.toArray());
    String sql;
    switch (type) {
      case "product":
        sql = "SELECT stripe_id, state_as_of, active, name, deleted FROM " + s + ".products WHERE stripe_id = ANY(?)";
        break;
      case "price":
        sql = "SELECT stripe_id, state_as_of, active, currency, unit_amount, recurring_interval, interval_count,"
            + " product_id, deleted FROM " + s + ".prices WHERE stripe_id = ANY(?)";
        break;
      case "customer":
        sql = "SELECT stripe_id, state_as_of, email, name, deleted FROM " + s + ".customers WHERE stripe_id = ANY(?)";
        break;
      case "subscription":
        sql = "SELECT stripe_id, state_as_of, status, cancel_at_period_end, current_period_end, cancel_at FROM " + s
            + ".subscriptions WHERE stripe_id = ANY(?)";
        break;
      case "invoice":
        sql = "SELECT stripe_id, state_as_of, status, amount_due, amount_paid, amount_remaining, subscription_id FROM "
            + s + ".invoices WHERE stripe_id = ANY(?)";
        break;
      default:
        throw new IllegalArgumentException(type);
    }
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setArray(1, array);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          Map<String, @Nullable String> f = new LinkedHashMap<>();
          switch (type) {
            case "product":
              f.put("active", boolText(rs, 3));
              f.put("name", rs.getString(4));
              f.put("deleted", boolText(rs, 5));
              break;
            case "price":
              f.put("active", boolText(rs, 3));
              f.put("currency", rs.getString(4));
              f.put("unit_amount", longText(rs, 5));
              f.put("recurring.interval", rs.getString(6));
              f.put("recurring.interval_count", longText(rs, 7));
              f.put("product", rs.getString(8));
              f.put("deleted", boolText(rs, 9));
              break;
            case "customer":
              f.put("email", rs.getString(3));
              f.put("name", rs.getString(4));
              f.put("deleted", boolText(rs, 5));
              break;
            case "subscription":
              f.put("status", rs.getString(3));
              f.put("cancel_at_period_end", boolText(rs, 4));
              f.put("current_period_end", instantText(rs, 5));
              f.put("cancel_at", instantText(rs, 6));
              break;
            default:
              f.put("status", rs.getString(3));
              f.put("amount_due", longText(rs, 4));
              f.put("amount_paid", longText(rs, 5));
              f.put("amount_remaining", longText(rs, 6));
              f.put("subscription", rs.getString(7));
              break;
          }
          out.put(rs.getString(1), new Row(f, rs.getTimestamp(2).toInstant()));
        }
      }
    }
    if ("subscription".equals(type) && !out.isEmpty()) {
      try (PreparedStatement ps = c.prepareStatement("SELECT subscription_id, price_id, quantity FROM " + s
          + ".subscription_items WHERE subscription_id = ANY(?) ORDER BY subscription_id, price_id")) {
        ps.setArray(1, array);
        Map<String, Map<String, Long>> items = new HashMap<>();
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            String price = rs.getString(2);
            if (price != null) {
              items.computeIfAbsent(rs.getString(1), k -> new TreeMap<>()).merge(price, rs.getLong(3), Long::sum);
            }
          }
        }
        for (Map.Entry<String, Row> e : out.entrySet()) {
          items.getOrDefault(e.getKey(), Map.of())
              .forEach((price, q) -> e.getValue().fields().put("items[" + price + "].quantity", String.valueOf(q)));
        }
      }
    }
    return out;
  }

  // ---------------------------------------------------------------- missing in Stripe

  private void missingInStripe() {
    tenantsSeen.addAll(db.inTransaction(null, "reading tenants of the event inbox", c -> {
      List<TenantId> out = new ArrayList<>();
      try (PreparedStatement ps = c.prepareStatement("SELECT DISTINCT routed_tenant_id FROM " + s
          + ".events WHERE routed_tenant_id IS NOT NULL");
          ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          TenantId t = tenantOf(rs.getString(1));
          if (t != null) {
            out.add(t);
          }
        }
      }
      return out;
    }));
    // every tenant with a routed customer (a deleted customer is not listed by Stripe: its tenant is seen nowhere else)
    String after = "";
    while (after != null) {
      String from = after;
      List<TenantId> routed = db.inTransaction(null, "listing routed tenants", c -> {
        List<TenantId> out = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT tenant_id FROM " + s + ".routed_tenants(?, 1000)")) {
          ps.setString(1, from);
          try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
              TenantId t = tenantOf(rs.getString(1));
              if (t != null) {
                out.add(t);
              }
            }
          }
        }
        return out;
      });
      tenantsSeen.addAll(routed);
      after = routed.size() < 1000 ? null : routed.get(routed.size() - 1).value();
    }
    // account objects
    Map<String, List<String>> catalog = db.inTransaction(null, "reading the mirror's catalog", c -> {
      Map<String, List<String>> out = new LinkedHashMap<>();
      out.put("product", liveIds(c, "products", "NOT deleted"));
      out.put("price", liveIds(c, "prices", "NOT deleted"));
      return out;
    });
    for (Map.Entry<String, List<String>> e : catalog.entrySet()) {
      for (String id : e.getValue()) {
        if (!listed.getOrDefault(e.getKey(), Set.of()).contains(id)) {
          recheck(e.getKey(), null, id);
        }
      }
    }
    for (TenantId tenant : tenantsSeen) {
      Map<String, List<String>> mine = db.inTransaction(tenant, "reading a tenant's mirror", c -> {
        Map<String, List<String>> out = new LinkedHashMap<>();
        out.put("customer", liveIds(c, "customers", "NOT deleted"));
        out.put("subscription", liveIds(c, "subscriptions", "true"));
        out.put("invoice", liveIds(c, "invoices", "true"));
        return out;
      });
      for (Map.Entry<String, List<String>> e : mine.entrySet()) {
        for (String id : e.getValue()) {
          if (!listed.getOrDefault(e.getKey(), Set.of()).contains(id)) {
            recheck(e.getKey(), tenant, id);
          }
        }
      }
    }
  }

  private List<String> liveIds(Connection c, String table, String condition) throws SQLException {
    List<String> out = new ArrayList<>();
    try (PreparedStatement ps = c.prepareStatement("SELECT stripe_id FROM " + s + "." + table + " WHERE " + condition
        + " ORDER BY stripe_id");
        ResultSet rs = ps.executeQuery()) {
      while (rs.next()) {
        out.add(rs.getString(1));
      }
    }
    return out;
  }

  private static String path(String type) {
    switch (type) {
      case "product":
        return "/v1/products/";
      case "price":
        return "/v1/prices/";
      case "customer":
        return "/v1/customers/";
      case "subscription":
        return "/v1/subscriptions/";
      default:
        return "/v1/invoices/";
    }
  }

  /** A mirror object Stripe did not list: fetched alone, then compared, or reported missing in Stripe. */
  private void recheck(String type, @Nullable TenantId tenant, String id) {
    StripeGateway.Answer answer;
    try {
      answer = stripe.get(path(type) + id, Map.of());
    } catch (BillingException e) {
      if (e.stripeStatus() != 404) {
        throw e;
      }
      drifts.add(new Drift(Drift.Kind.MISSING_IN_STRIPE, type, id, tenant, null, "present", null));
      if (fix) {
        removeGone(type, tenant, id);
      }
      return;
    }
    checked.merge(type, 1, Integer::sum);
    ObjectNode o = answer.json();
    if (StripeJson.bool(o, "deleted", false) && !"customer".equals(type)) {
      drifts.add(new Drift(Drift.Kind.MISSING_IN_STRIPE, type, id, tenant, "deleted", "false", "true"));
      if (fix) {
        removeGone(type, tenant, id);
      }
      return;
    }
    Map<String, Row> rows = db.inTransaction(tenant, "reading the mirror", c -> readRows(c, type, List.of(id)));
    if (compare(type, tenant, o, rows.get(id), answer.date())) {
      applyFixes(List.of(new Fix(type, tenant, o, answer.date(), true)));
    }
  }

  /**
   * Marks an object Stripe no longer has as deleted (customers, products, prices) or removes its row
   * (subscriptions, invoices). Unconditional on {@code state_as_of}: nothing newer can exist for an object that is
   * gone.
   */
  private void removeGone(String type, @Nullable TenantId tenant, String id) {
    String sql;
    switch (type) {
      case "product":
        sql = "UPDATE " + s + ".products SET deleted = true, active = false, updated_at = now() WHERE stripe_id = ?";
        break;
      case "price":
        sql = "UPDATE " + s + ".prices SET deleted = true, active = false, updated_at = now() WHERE stripe_id = ?";
        break;
      case "customer":
        sql = "UPDATE " + s + ".customers SET deleted = true, updated_at = now() WHERE stripe_id = ?";
        break;
      case "subscription":
        sql = "DELETE FROM " + s + ".subscriptions WHERE stripe_id = ?";
        break;
      default:
        sql = "DELETE FROM " + s + ".invoices WHERE stripe_id = ?";
        break;
    }
    try {
      int n = db.inTransaction(tenant, "removing an object gone from Stripe", c -> {
        int removed;
        try (PreparedStatement ps = c.prepareStatement(sql)) {
          ps.setString(1, id);
          removed = ps.executeUpdate();
        }
        if (removed > 0 && tenant != null) {
          changes.inTransaction(c, tenant);
        }
        return removed;
      });
      fixedObjects += n;
      if (n > 0 && tenant != null) {
        changed(tenant);
      }
    } catch (RuntimeException e) {
      fixFailures.add(type + " " + id + ": " + e.getMessage());
      LOG.warn("reconcile could not remove {} {} gone from Stripe: {}", type, id, e.getMessage());
    }
  }

  // ---------------------------------------------------------------- fixing

  private void applyFixes(List<Fix> fixes) {
    if (!fix) {
      return;
    }
    for (Fix f : fixes) {
      String id = StripeJson.text(f.object(), "id");
      try {
        TenantId tenant = f.tenant();
        boolean[] tied = {false};
        Mirror.Outcome outcome = db.inTransaction(tenant, "writing Stripe's " + f.type(), c -> {
          if (f.readBeforeRow() && tiedOrNewer(c, f)) {
            tied[0] = true;
            return Mirror.Outcome.STALE;
          }
          return writeAndTell(c, f);
        });
        if (tied[0]) {
          // The row holds a state of the same Stripe second as this copy (or a newer one), written after Stripe
          // answered us: a webhook of a change Stripe made after serving our copy carries the same whole-second
          // time, so our copy may be the older state. Stripe's answer to a request sent now is at least as new.
          StripeGateway.Answer fresh;
          try {
            fresh = stripe.get(path(f.type()) + id, Map.of());
          } catch (BillingException e) {
            if (e.stripeStatus() == 404) {
              continue; // gone since it was listed: its deletion is Stripe's to report (an event, the next run)
            }
            throw e;
          }
          Fix refetched = new Fix(f.type(), tenant, fresh.json(), fresh.date(), false);
          outcome = db.inTransaction(tenant, "writing Stripe's " + f.type(), c -> writeAndTell(c, refetched));
        }
        if (outcome == Mirror.Outcome.APPLIED) {
          fixedObjects++;
          if (tenant != null) {
            changed(tenant);
          }
        }
      } catch (RuntimeException e) {
        fixFailures.add(f.type() + " " + id + ": " + e.getMessage());
        LOG.warn("reconcile could not write {} {}: {}", f.type(), id, e.getMessage());
      }
    }
  }

  private Mirror.Outcome writeAndTell(Connection c, Fix f) throws SQLException {
    Mirror.Outcome written = write(c, f);
    TenantId tenant = f.tenant();
    if (written == Mirror.Outcome.APPLIED && tenant != null) {
      changes.inTransaction(c, tenant);
    }
    return written;
  }

  /**
   * Whether the mirror row of {@code f}'s object holds a state of {@code f}'s second or a newer one; the row stays
   * locked until the transaction ends, so no write of the same second slips in between this check and the write.
   */
  private boolean tiedOrNewer(Connection c, Fix f) throws SQLException {
    String id = Objects.requireNonNull(StripeJson.text(f.object(), "id"));
    return mirror.lockStateAsOf(c, table(f.type()), id).map(held -> !held.isBefore(f.asOf())).orElse(false);
  }

  private static String table(String type) {
    switch (type) {
      case "product":
        return "products";
      case "price":
        return "prices";
      case "customer":
        return "customers";
      case "subscription":
        return "subscriptions";
      default:
        return "invoices";
    }
  }

  private Mirror.Outcome write(Connection c, Fix f) throws SQLException {
    switch (f.type()) {
      case "product":
        return mirror.upsertProduct(c, f.object(), f.asOf());
      case "price":
        return mirror.upsertPrice(c, f.object(), f.asOf());
      case "customer":
        return mirror.upsertCustomer(c, Objects.requireNonNull(f.tenant()), f.object(), f.asOf());
      case "subscription":
        return mirror.upsertSubscription(c, Objects.requireNonNull(f.tenant()), f.object(), f.asOf());
      default:
        return mirror.upsertInvoice(c, Objects.requireNonNull(f.tenant()), f.object(), f.asOf());
    }
  }

  /** After a committed fix of {@code tenant}'s rows: this node's cache, then the change listener (other nodes). */
  private void changed(TenantId tenant) {
    changedHere.accept(tenant);
    try {
      changes.billingChanged(tenant);
    } catch (RuntimeException e) {
      LOG.warn("the billing change listener failed for tenant {} after a reconcile fix: {}", tenant.value(),
          e.toString());
    }
  }

  private static List<String> ids(List<ObjectNode> objects) {
    List<String> out = new ArrayList<>();
    for (ObjectNode o : objects) {
      out.add(Objects.requireNonNull(StripeJson.text(o, "id")));
    }
    return out;
  }
}
