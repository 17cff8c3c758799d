package dev.saaskit.billing.internal;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * The business figures of the billing mirror, read without any tenant bound: subscription counts and MRR from
 * {@code subscription_metrics()} (aggregates over every tenant, through the V2 definer function), trials,
 * conversions and cancellations from the event inbox over a window, webhook lag and event backlog.
 */
public final class MetricsQueries {
  /**
   * One reading.
   *
   * @param subscriptionsByStatus Stripe status -> count, every tenant
   * @param mrrByCurrency currency -> monthly recurring revenue in minor units, of active and past-due subscriptions
   * @param trialsStarted subscriptions created trialing in the window
   * @param trialConversions subscriptions that went from trialing to active in the window
   * @param cancellations subscriptions deleted (ended) in the window
   * @param webhookLagSeconds for the event applied last: seconds from Stripe's {@code created} to its application;
   *     NaN when none was applied
   * @param failedEvents events in the inbox whose apply failed
   * @param pendingEvents events received and not applied yet
   * @param at when it was read (the configured clock)
   * @param parkedEvents events parked: their customer is linked to no tenant yet
   */
  public record Snapshot(Map<String, Long> subscriptionsByStatus, Map<String, Long> mrrByCurrency, long trialsStarted,
      long trialConversions, long cancellations, double webhookLagSeconds, long failedEvents, long pendingEvents,
      Instant at, long parkedEvents) {
    public Snapshot {
      subscriptionsByStatus = Map.copyOf(subscriptionsByStatus);
      mrrByCurrency = Map.copyOf(mrrByCurrency);
      Objects.requireNonNull(at, "at");
    }
  }

  private final BillingDb db;
  private final String s;

  public MetricsQueries(BillingDb db, Mirror mirror) {
    this.db = Objects.requireNonNull(db, "db");
    this.s = mirror.schema();
  }

  /** Reads every figure in one transaction (no tenant bound). */
  public Snapshot read(Instant now, Duration window) {
    return db.inTransaction(null, "reading billing metrics", c -> read(c, now, window));
  }

  private Snapshot read(Connection c, Instant now, Duration window) throws SQLException {
    Map<String, Long> byStatus = new TreeMap<>();
    Map<String, Long> mrr = new TreeMap<>();
    try (PreparedStatement ps = c.prepareStatement("SELECT status, currency, subscriptions, mrr_minor FROM " + s
        + ".subscription_metrics()");
        ResultSet rs = ps.executeQuery()) {
      while (rs.next()) {
        String status = rs.getString(1);
        byStatus.merge(status, rs.getLong(3), Long::sum);
        String currency = rs.getString(2);
        if (currency != null && ("active".equals(status) || "past_due".equals(status))) {
          mrr.merge(currency, rs.getLong(4), MetricsQueries::saturatedSum);
        }
      }
    }
    long trials;
    long conversions;
    long cancellations;
    try (PreparedStatement ps = c.prepareStatement("SELECT"
        + " count(*) FILTER (WHERE type = 'customer.subscription.created'"
        + "   AND payload #>> '{data,object,status}' = 'trialing'),"
        + " count(*) FILTER (WHERE type = 'customer.subscription.updated'"
        + "   AND payload #>> '{data,previous_attributes,status}' = 'trialing'"
        + "   AND payload #>> '{data,object,status}' = 'active'),"
        + " count(*) FILTER (WHERE type = 'customer.subscription.deleted')"
        + " FROM " + s + ".events WHERE created >= ? AND created <= ? AND status <> 'ignored'"
        + " AND type IN ('customer.subscription.created', 'customer.subscription.updated',"
        + " 'customer.subscription.deleted')")) {
      ps.setTimestamp(1, Timestamp.from(now.minus(window)));
      ps.setTimestamp(2, Timestamp.from(now));
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        trials = rs.getLong(1);
        conversions = rs.getLong(2);
        cancellations = rs.getLong(3);
      }
    }
    double lag = Double.NaN;
    try (PreparedStatement ps = c.prepareStatement("SELECT extract(epoch FROM applied_at - created) FROM " + s
        + ".events WHERE status = 'applied' AND applied_at IS NOT NULL ORDER BY applied_at DESC LIMIT 1");
        ResultSet rs = ps.executeQuery()) {
      if (rs.next()) {
        lag = Math.max(0, rs.getDouble(1));
      }
    }
    long failed;
    long pending;
    long parked;
    try (PreparedStatement ps = c.prepareStatement("SELECT count(*) FILTER (WHERE status = 'failed'),"
        + " count(*) FILTER (WHERE status = 'received'), count(*) FILTER (WHERE status = 'parked') FROM " + s
        + ".events WHERE status IN ('failed', 'received', 'parked')");
        ResultSet rs = ps.executeQuery()) {
      rs.next();
      failed = rs.getLong(1);
      pending = rs.getLong(2);
      parked = rs.getLong(3);
    }
    return new Snapshot(byStatus, mrr, trials, conversions, cancellations, lag, failed, pending, now, parked);
  }

  /** {@code a + b}, at most {@link Long#MAX_VALUE} and at least {@link Long#MIN_VALUE}: a gauge never wraps around. */
  private static long saturatedSum(long a, long b) {
    long sum = a + b;
    if (((a ^ sum) & (b ^ sum)) < 0) {
      return a < 0 ? Long.MIN_VALUE : Long.MAX_VALUE;
    }
    return sum;
  }
}
