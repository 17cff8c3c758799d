package dev.saaskit.billing.internal;

import dev.saaskit.core.TenantId;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/** The SQL of the event inbox ({@code events}) and of listener deliveries. Stateless and thread-safe. */
public final class WebhookInbox {
  /** An inbox row as the apply step reads it, locked. */
  public record Locked(String id, String type, String status, int attempts, String payload) {}

  /** An inbox row as operators see it. */
  public record Row(String id, String type, Instant created, String status, int attempts, @Nullable String lastError,
      @Nullable Instant nextAttemptAt, @Nullable String tenant, Instant receivedAt, @Nullable Instant appliedAt) {}

  private final String s;

  /** The inbox in {@code quotedSchema} (already quoted). */
  public WebhookInbox(String quotedSchema) {
    this.s = quotedSchema;
  }

  /** Records an event unless its id is recorded; true when this call recorded it. */
  public boolean insert(Connection c, String id, String type, @Nullable String apiVersion, Instant created,
      boolean livemode, @Nullable String objectId, String payload, String status, Instant now) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + s + ".events (id, type, api_version, created,"
        + " livemode, object_id, payload, status, next_attempt_at, received_at) VALUES (?, ?, ?, ?, ?, ?, ?::jsonb, ?, ?, ?)"
        + " ON CONFLICT (id) DO NOTHING")) {
      ps.setString(1, id);
      ps.setString(2, type);
      ps.setString(3, apiVersion);
      ps.setTimestamp(4, Timestamp.from(created));
      ps.setBoolean(5, livemode);
      ps.setString(6, objectId);
      ps.setString(7, payload);
      ps.setString(8, status);
      ps.setTimestamp(9, Timestamp.from(now));
      ps.setTimestamp(10, Timestamp.from(now));
      return ps.executeUpdate() == 1;
    }
  }

  /** An event recorded by {@link #insertApplied}: the tenant its customer is routed to, if it was routed. */
  public record Recorded(@Nullable TenantId routed) {}

  /**
   * Records an event as applied (one attempt, applied now) unless its id is recorded, for the transaction that is
   * about to apply it: a failed apply rolls this row back with everything else. With a {@code routedTenant}
   * expression (one parameter, bound to {@code routeCustomer}) the same statement binds that customer's tenant to
   * the transaction and stores it as the event's tenant, saving the apply a round trip. Null when the id was
   * recorded already (nothing changed but, at most, the bound tenant: roll back).
   */
  public @Nullable Recorded insertApplied(Connection c, String id, String type, @Nullable String apiVersion,
      Instant created, boolean livemode, @Nullable String objectId, String payload, @Nullable String routedTenant,
      @Nullable String routeCustomer, Instant now) throws SQLException {
    boolean routes = routedTenant != null && routeCustomer != null;
    try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + s + ".events (id, type, api_version, created,"
        + " livemode, object_id, payload, status, attempts, routed_tenant_id, applied_at, next_attempt_at, received_at)"
        + " VALUES (?, ?, ?, ?, ?, ?, ?::jsonb, 'applied', 1, " + (routes ? routedTenant : "NULL::text") + ", ?, ?, ?)"
        + " ON CONFLICT (id) DO NOTHING RETURNING routed_tenant_id")) {
      int p = 1;
      ps.setString(p++, id);
      ps.setString(p++, type);
      ps.setString(p++, apiVersion);
      ps.setTimestamp(p++, Timestamp.from(created));
      ps.setBoolean(p++, livemode);
      ps.setString(p++, objectId);
      ps.setString(p++, payload);
      if (routes) {
        ps.setString(p++, routeCustomer);
      }
      Timestamp at = Timestamp.from(now);
      ps.setTimestamp(p++, at);
      ps.setTimestamp(p++, at);
      ps.setTimestamp(p, at);
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) {
          return null;
        }
        String tenant = rs.getString(1);
        return new Recorded(tenant == null ? null : TenantId.of(tenant));
      }
    }
  }

  /** Sets the tenant of an event recorded by {@link #insertApplied}, when applying it found another one. */
  public void setRoutedTenant(Connection c, String id, @Nullable TenantId tenant) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("UPDATE " + s + ".events SET routed_tenant_id = ? WHERE id = ?")) {
      ps.setString(1, tenant == null ? null : tenant.value());
      ps.setString(2, id);
      ps.executeUpdate();
    }
  }

  /** The status of an event, if recorded. */
  public Optional<String> status(Connection c, String id) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT status FROM " + s + ".events WHERE id = ?")) {
      ps.setString(1, id);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? Optional.of(rs.getString(1)) : Optional.empty();
      }
    }
  }

  /** Locks an event's row for applying it; null when absent or locked by another transaction (SKIP LOCKED). */
  public @Nullable Locked lock(Connection c, String id) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT id, type, status, attempts, payload::text FROM " + s
        + ".events WHERE id = ? FOR UPDATE SKIP LOCKED")) {
      ps.setString(1, id);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next()
            ? new Locked(rs.getString(1), rs.getString(2), rs.getString(3), rs.getInt(4), rs.getString(5)) : null;
      }
    }
  }

  /** Marks a locked event applied (or ignored, with no tenant). */
  public void markDone(Connection c, String id, String status, @Nullable TenantId tenant, Instant now)
      throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("UPDATE " + s + ".events SET status = ?, attempts = attempts + 1,"
        + " routed_tenant_id = ?, applied_at = ?, last_error = NULL, parked_customer = NULL WHERE id = ?")) {
      ps.setString(1, status);
      ps.setString(2, tenant == null ? null : tenant.value());
      ps.setTimestamp(3, Timestamp.from(now));
      ps.setString(4, id);
      ps.executeUpdate();
    }
  }

  /**
   * Records a failed try (unless the event got applied meanwhile): attempts + 1, the error, and the next try at
   * {@code now + backoff * 2^(attempts - 1)}, at most an hour away. Returns the attempts, or -1 when not updated.
   */
  public int markFailed(Connection c, String id, String error, Instant now, Duration backoff) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("UPDATE " + s + ".events SET status = 'failed',"
        + " attempts = attempts + 1, last_error = ?,"
        + " next_attempt_at = ?::timestamptz + make_interval(secs => LEAST(? * power(2, LEAST(attempts, 30)), 3600))"
        + " WHERE id = ? AND status IN ('received', 'failed', 'parked') RETURNING attempts")) {
      ps.setString(1, error);
      ps.setTimestamp(2, Timestamp.from(now));
      ps.setDouble(3, backoff.toMillis() / 1000.0);
      ps.setString(4, id);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? rs.getInt(1) : -1;
      }
    }
  }

  /**
   * Parks an event (unless it got applied meanwhile): it names {@code customer}, linked to no tenant yet, and waits
   * for that link rather than a retry time. Attempts + 1 and the reason, as for a failure. Returns the attempts, or
   * -1 when not updated.
   */
  public int markParked(Connection c, String id, String customer, String reason, Instant now) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("UPDATE " + s + ".events SET status = 'parked',"
        + " attempts = attempts + 1, last_error = ?, parked_customer = ?, next_attempt_at = ?"
        + " WHERE id = ? AND status IN ('received', 'failed', 'parked') RETURNING attempts")) {
      ps.setString(1, reason);
      ps.setString(2, customer);
      ps.setTimestamp(3, Timestamp.from(now));
      ps.setString(4, id);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? rs.getInt(1) : -1;
      }
    }
  }

  /** Whether {@code customer} is linked to a tenant now (its route exists). */
  public boolean linked(Connection c, String customer) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT " + s + ".route_customer(?) IS NOT NULL")) {
      ps.setString(1, customer);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() && rs.getBoolean(1);
      }
    }
  }

  /**
   * The parked events waiting for {@code customer}, oldest first (the order Stripe created them in; within a second,
   * the order they arrived in).
   */
  public List<String> parkedFor(Connection c, String customer, int limit) throws SQLException {
    List<String> out = new ArrayList<>();
    try (PreparedStatement ps = c.prepareStatement("SELECT id FROM " + s + ".events WHERE status = 'parked'"
        + " AND parked_customer = ? ORDER BY created, received_at, id LIMIT ?")) {
      ps.setString(1, customer);
      ps.setInt(2, limit);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.add(rs.getString(1));
        }
      }
    }
    return out;
  }

  /**
   * The parked events whose customer has been linked to a tenant since (through any path: a checkout, {@code
   * ensureCustomer}, a reconciler fix, another event), oldest first.
   */
  public List<String> parkedLinked(Connection c, int limit) throws SQLException {
    List<String> out = new ArrayList<>();
    try (PreparedStatement ps = c.prepareStatement("SELECT e.id FROM " + s + ".events e JOIN (SELECT p.customer"
        + " FROM (SELECT DISTINCT parked_customer AS customer FROM " + s + ".events WHERE status = 'parked'"
        + " AND parked_customer IS NOT NULL) p WHERE " + s + ".route_customer(p.customer) IS NOT NULL) linked"
        + " ON e.parked_customer = linked.customer WHERE e.status = 'parked'"
        + " ORDER BY e.created, e.received_at, e.id LIMIT ?")) {
      ps.setInt(1, limit);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.add(rs.getString(1));
        }
      }
    }
    return out;
  }

  /**
   * Discards a parked or failed event (an operator's decision: it is kept for the record and never applied).
   * Returns false when the event is in another status (applied, ignored, received) or absent.
   */
  public boolean discard(Connection c, String id, Instant now) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("UPDATE " + s + ".events SET status = 'discarded',"
        + " next_attempt_at = ? WHERE id = ? AND status IN ('parked', 'failed')")) {
      ps.setTimestamp(1, Timestamp.from(now));
      ps.setString(2, id);
      return ps.executeUpdate() == 1;
    }
  }

  /** Events due for a try: received or failed, {@code next_attempt_at <= now}, fewer attempts than the maximum. */
  public List<String> due(Connection c, Instant now, int maxAttempts, int limit) throws SQLException {
    List<String> out = new ArrayList<>();
    try (PreparedStatement ps = c.prepareStatement("SELECT id FROM " + s + ".events WHERE status IN ('received', 'failed')"
        + " AND next_attempt_at <= ? AND attempts < ? ORDER BY next_attempt_at, created, id LIMIT ?")) {
      ps.setTimestamp(1, Timestamp.from(now));
      ps.setInt(2, maxAttempts);
      ps.setInt(3, limit);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.add(rs.getString(1));
        }
      }
    }
    return out;
  }

  /** Events by status (all when null), newest first. */
  public List<Row> list(Connection c, @Nullable String status, int limit) throws SQLException {
    List<Row> out = new ArrayList<>();
    try (PreparedStatement ps = c.prepareStatement("SELECT id, type, created, status, attempts, last_error,"
        + " next_attempt_at, routed_tenant_id, received_at, applied_at FROM " + s + ".events"
        + " WHERE (?::text IS NULL OR status = ?) ORDER BY created DESC, id LIMIT ?")) {
      ps.setString(1, status);
      ps.setString(2, status);
      ps.setInt(3, limit);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.add(row(rs));
        }
      }
    }
    return out;
  }

  /** One event, if recorded. */
  public Optional<Row> find(Connection c, String id) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT id, type, created, status, attempts, last_error,"
        + " next_attempt_at, routed_tenant_id, received_at, applied_at FROM " + s + ".events WHERE id = ?")) {
      ps.setString(1, id);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? Optional.of(row(rs)) : Optional.empty();
      }
    }
  }

  private static Row row(ResultSet rs) throws SQLException {
    return new Row(rs.getString(1), rs.getString(2), rs.getTimestamp(3).toInstant(), rs.getString(4), rs.getInt(5),
        rs.getString(6), instant(rs.getTimestamp(7)), rs.getString(8), rs.getTimestamp(9).toInstant(),
        instant(rs.getTimestamp(10)));
  }

  /** Counts by status (every status present, zero included), and how many failed events used up their tries. */
  public Map<String, Long> counts(Connection c, int maxAttempts) throws SQLException {
    Map<String, Long> out = new LinkedHashMap<>();
    for (String st : List.of("received", "applied", "failed", "ignored", "parked", "discarded", "exhausted")) {
      out.put(st, 0L);
    }
    try (PreparedStatement ps = c.prepareStatement("SELECT status, count(*), count(*) FILTER (WHERE attempts >= ?)"
        + " FROM " + s + ".events GROUP BY status")) {
      ps.setInt(1, maxAttempts);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.put(rs.getString(1), rs.getLong(2));
          if ("failed".equals(rs.getString(1))) {
            out.put("exhausted", rs.getLong(3));
          }
        }
      }
    }
    return out;
  }

  /** Records a delivery to a listener; true when this call recorded it (the listener may be called). */
  public boolean recordDelivery(Connection c, String eventId, String listener, Instant now) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + s + ".listener_deliveries (event_id, listener,"
        + " delivered_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING")) {
      ps.setString(1, eventId);
      ps.setString(2, listener);
      ps.setTimestamp(3, Timestamp.from(now));
      return ps.executeUpdate() == 1;
    }
  }

  /** Records a listener's failure on its delivery. */
  public void deliveryFailed(Connection c, String eventId, String listener, String error) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("UPDATE " + s + ".listener_deliveries SET error = ?"
        + " WHERE event_id = ? AND listener = ?")) {
      ps.setString(1, error);
      ps.setString(2, eventId);
      ps.setString(3, listener);
      ps.executeUpdate();
    }
  }

  private static @Nullable Instant instant(@Nullable Timestamp t) {
    return t == null ? null : t.toInstant();
  }
}
