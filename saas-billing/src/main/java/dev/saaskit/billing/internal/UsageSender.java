package dev.saaskit.billing.internal;

import dev.saaskit.billing.BillingConfig;
import dev.saaskit.billing.BillingException;
import dev.saaskit.billing.UsageReport;
import dev.saaskit.core.TenantId;
import dev.saaskit.core.internal.SqlNames;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends the usage outbox to Stripe's billing meter events, tenant by tenant, exactly once by identifier.
 *
 * <p>For each tenant {@code usage_pending_tenants} lists, one transaction bound to the tenant locks up to {@code
 * usageBatchSize} due pending rows ({@code FOR UPDATE SKIP LOCKED}, so parallel senders never share a row), posts
 * each to {@code /v1/billing/meter_events} with its stable identifier, marks the outcome and commits. A sender that
 * dies mid-batch rolls back: its rows stay pending and the next run resends them with the same identifiers, which
 * Stripe counts once (a duplicate identifier is answered with an error, read here as "already counted"). The first
 * retryable failure (Stripe down, 429, 5xx, no answer) ends the run: the failed record waits its backoff, the
 * records after it are left pending as they were, so an outage costs one failing call per run, not one per record.
 */
public final class UsageSender {
  private static final Logger LOG = LoggerFactory.getLogger(UsageSender.class);
  /** How many tenants one run looks at, at most. */
  static final int TENANTS_PER_RUN = 10_000;
  private static final Duration FIRST_BACKOFF = Duration.ofSeconds(30);
  private static final Duration MAX_BACKOFF = Duration.ofHours(1);

  /** Called after each record of a batch was tried, before the batch commits; tests throw from it to simulate a crash. */
  @FunctionalInterface
  public interface SendHook {
    void afterSend(long rowId);
  }

  private record Row(long id, String meter, long value, String identifier, Instant occurredAt, int attempts) {}

  private final BillingDb db;
  private final StripeGateway stripe;
  private final Mirror mirror;
  private final String s;
  private final Clock clock;
  private final int batchSize;
  private final int maxAttempts;
  private volatile @Nullable SendHook hook;

  public UsageSender(BillingConfig config, BillingDb db, Mirror mirror, StripeGateway stripe) {
    this.db = Objects.requireNonNull(db, "db");
    this.stripe = Objects.requireNonNull(stripe, "stripe");
    this.mirror = Objects.requireNonNull(mirror, "mirror");
    this.s = SqlNames.quoteIdent(config.schema().name());
    this.clock = config.clock();
    this.batchSize = config.usageBatchSize();
    this.maxAttempts = config.usageMaxAttempts();
  }

  /** Installs (or, with null, removes) the hook run after each record tried. */
  public void hook(@Nullable SendHook hook) {
    this.hook = hook;
  }

  /** One run over every tenant with pending usage: at most one batch per tenant. */
  public UsageReport sendPending() {
    Map<String, Long> tenants = db.inTransaction(null, "listing tenants with pending usage", c -> {
      Map<String, Long> out = new LinkedHashMap<>();
      try (PreparedStatement ps = c.prepareStatement("SELECT tenant_id, version FROM " + s
          + ".usage_pending_tenants(?)")) {
        ps.setInt(1, TENANTS_PER_RUN);
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            out.put(rs.getString(1), rs.getLong(2));
          }
        }
      }
      return out;
    });
    Tally tally = new Tally();
    for (Map.Entry<String, Long> e : tenants.entrySet()) {
      if (tally.stripeUnavailable) {
        // Stripe is down or limiting us: every further record would cost its own failing calls (with retries and
        // their waits) while a transaction holds its rows; what is left waits, untouched, for the next run
        LOG.info("usage sending stopped for this run: Stripe failed with a retryable error; the rest waits");
        break;
      }
      TenantId tenant = TenantId.of(e.getKey());
      db.inTransaction(tenant, "sending usage of a tenant", c -> {
        sendBatch(c, tenant, tally);
        return Boolean.TRUE;
      });
      db.inTransaction(tenant, "checking a tenant's pending usage", c -> {
        try (PreparedStatement ps = c.prepareStatement("SELECT EXISTS (SELECT 1 FROM " + s
            + ".usage_outbox WHERE tenant_id = ? AND status = 'pending')")) {
          ps.setString(1, tenant.value());
          try (ResultSet rs = ps.executeQuery()) {
            rs.next();
            if (rs.getBoolean(1)) {
              return Boolean.FALSE;
            }
          }
        }
        try (PreparedStatement ps = c.prepareStatement("SELECT " + s + ".usage_tenant_drained(?, ?)")) {
          ps.setString(1, tenant.value());
          ps.setLong(2, e.getValue());
          ps.execute();
        }
        return Boolean.TRUE;
      });
    }
    return UsageReport.of(tally.sent, tally.alreadyCounted, tally.retrying.size(), tally.failed, tally.retrying);
  }

  private static final class Tally {
    int sent;
    int alreadyCounted;
    /** A retryable Stripe failure happened: send nothing more in this run. */
    boolean stripeUnavailable;
    final List<UsageReport.Failure> failed = new ArrayList<>();
    final List<UsageReport.Failure> retrying = new ArrayList<>();
  }

  private void sendBatch(Connection c, TenantId tenant, Tally tally) throws SQLException {
    Instant now = clock.instant();
    List<Row> rows = new ArrayList<>();
    try (PreparedStatement ps = c.prepareStatement("SELECT id, meter, value, identifier, occurred_at, attempts FROM "
        + s + ".usage_outbox WHERE tenant_id = ? AND status = 'pending' AND next_attempt_at <= ?"
        + " ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED")) {
      ps.setString(1, tenant.value());
      ps.setTimestamp(2, Timestamp.from(now));
      ps.setInt(3, batchSize);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          rows.add(new Row(rs.getLong(1), rs.getString(2), rs.getLong(3), rs.getString(4),
              rs.getTimestamp(5).toInstant(), rs.getInt(6)));
        }
      }
    }
    if (rows.isEmpty()) {
      return;
    }
    Optional<String> customer = mirror.customerOfTenant(c, tenant);
    // a tally of this batch only, merged when it commits: a crash rolls the batch back and reports nothing of it
    Tally batch = new Tally();
    for (Row row : rows) {
      if (batch.stripeUnavailable) {
        break; // the rows after it stay pending, their attempts untouched
      }
      if (customer.isEmpty()) {
        retry(c, tenant, row, now, "tenant has no Stripe customer in the mirror yet: usage waits until it has one",
            batch);
        continue;
      }
      Map<String, Object> params = new LinkedHashMap<>();
      params.put("event_name", row.meter());
      params.put("identifier", row.identifier());
      params.put("timestamp", row.occurredAt().getEpochSecond());
      Map<String, Object> payload = new LinkedHashMap<>();
      payload.put("stripe_customer_id", customer.get());
      payload.put("value", row.value());
      params.put("payload", payload);
      try {
        stripe.post("/v1/billing/meter_events", params, null);
        markSent(c, row, now);
        batch.sent++;
      } catch (BillingException e) {
        if (alreadyCounted(e)) {
          markSent(c, row, now);
          batch.alreadyCounted++;
        } else if (e.retryable()) {
          retry(c, tenant, row, now, e.getMessage(), batch);
          batch.stripeUnavailable = true;
        } else {
          fail(c, tenant, row, e.getMessage(), batch);
        }
      }
      SendHook h = hook;
      if (h != null) {
        h.afterSend(row.id());
      }
    }
    tally.sent += batch.sent;
    tally.alreadyCounted += batch.alreadyCounted;
    tally.failed.addAll(batch.failed);
    tally.retrying.addAll(batch.retrying);
    tally.stripeUnavailable |= batch.stripeUnavailable;
  }

  /**
   * Whether Stripe refused a meter event because its identifier was already used: the event was counted before
   * (Stripe enforces identifier uniqueness for at least 24 hours; the answer is a 400 {@code invalid_request_error},
   * code {@code resource_already_exists}, or a message saying the identifier exists).
   */
  static boolean alreadyCounted(BillingException e) {
    if (e.stripeStatus() != 400) {
      return false;
    }
    if ("resource_already_exists".equals(e.stripeCode())) {
      return true;
    }
    String m = String.valueOf(e.getMessage());
    return m.contains("identifier") && m.contains("already exists");
  }

  private void markSent(Connection c, Row row, Instant now) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("UPDATE " + s + ".usage_outbox SET status = 'sent', sent_at = ?,"
        + " attempts = attempts + 1, last_error = NULL WHERE id = ?")) {
      ps.setTimestamp(1, Timestamp.from(now));
      ps.setLong(2, row.id());
      ps.executeUpdate();
    }
  }

  private void retry(Connection c, TenantId tenant, Row row, Instant now, @Nullable String error, Tally tally)
      throws SQLException {
    int attempts = row.attempts() + 1;
    String message = error == null ? "unknown error" : error;
    if (attempts >= maxAttempts) {
      fail(c, tenant, row, message + " (gave up after " + attempts + " attempts)", tally);
      return;
    }
    Duration wait = FIRST_BACKOFF.multipliedBy(1L << Math.min(attempts - 1, 16));
    if (wait.compareTo(MAX_BACKOFF) > 0) {
      wait = MAX_BACKOFF;
    }
    try (PreparedStatement ps = c.prepareStatement("UPDATE " + s + ".usage_outbox SET attempts = ?, last_error = ?,"
        + " next_attempt_at = ? WHERE id = ?")) {
      ps.setInt(1, attempts);
      ps.setString(2, message);
      ps.setTimestamp(3, Timestamp.from(now.plus(wait)));
      ps.setLong(4, row.id());
      ps.executeUpdate();
    }
    LOG.debug("usage record {} of tenant {} will be retried: {}", row.id(), tenant, message);
    tally.retrying.add(new UsageReport.Failure(row.id(), tenant, row.meter(), attempts, message));
  }

  private void fail(Connection c, TenantId tenant, Row row, @Nullable String error, Tally tally) throws SQLException {
    String message = error == null ? "unknown error" : error;
    int attempts = row.attempts() + 1;
    try (PreparedStatement ps = c.prepareStatement("UPDATE " + s + ".usage_outbox SET status = 'failed',"
        + " attempts = ?, last_error = ? WHERE id = ?")) {
      ps.setInt(1, attempts);
      ps.setString(2, message);
      ps.setLong(3, row.id());
      ps.executeUpdate();
    }
    LOG.warn("usage record {} of tenant {} failed for good after {} attempts: {}", row.id(), tenant, attempts, message);
    tally.failed.add(new UsageReport.Failure(row.id(), tenant, row.meter(), attempts, message));
  }
}
