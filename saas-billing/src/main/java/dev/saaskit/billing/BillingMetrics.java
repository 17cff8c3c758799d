package dev.saaskit.billing;

import dev.saaskit.billing.internal.MetricsQueries;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import java.time.Duration;
import java.time.Instant;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.ToDoubleFunction;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Business metrics of the billing mirror as Micrometer gauges. Micrometer is an optional dependency of
 * saas-billing: only this class touches it, and it loads only when the app calls {@link #bind}.
 *
 * <pre>{@code
 * BillingMetrics.bind(billing, meterRegistry);                       // 30-day window for the event counts
 * BillingMetrics.bind(billing, meterRegistry, Duration.ofDays(7));   // or another window
 * }</pre>
 *
 * <p>Meters (all gauges; the event counts are over the window, read from the event inbox, so they survive
 * restarts and count each Stripe event once):
 *
 * <ul>
 *   <li>{@code saaskit.billing.subscriptions} tagged {@code status} (Stripe's spelling): subscriptions in the
 *       mirror, every tenant;
 *   <li>{@code saaskit.billing.mrr} tagged {@code currency}: monthly recurring revenue in the currency's minor
 *       unit (cents) of {@code active} and {@code past_due} subscriptions: unit amount times quantity of each
 *       licensed item, yearly prices divided by 12 (weeks x52/12, days x365/12, {@code interval_count} honoured),
 *       metered items and trials not counted;
 *   <li>{@code saaskit.billing.trials.started}: {@code customer.subscription.created} events with status
 *       {@code trialing} in the window;
 *   <li>{@code saaskit.billing.trials.converted}: {@code customer.subscription.updated} events from {@code trialing}
 *       ({@code previous_attributes.status}) to {@code active} in the window;
 *   <li>{@code saaskit.billing.cancellations}: {@code customer.subscription.deleted} events in the window (churn);
 *   <li>{@code saaskit.billing.webhook.lag} (seconds): from Stripe's {@code created} to application, of the
 *       event applied last (NaN before any);
 *   <li>{@code saaskit.billing.events.failed} and {@code saaskit.billing.events.pending}: inbox events whose
 *       apply failed, and received but not applied yet;
 *   <li>{@code saaskit.billing.events.parked}: inbox events of a Stripe customer linked to no tenant yet (alert
 *       when it stays above zero: an operator links the customer or discards the events);
 *   <li>{@code saaskit.billing.metrics.read.failures} (a counter): readings of these figures that failed (database
 *       down, a grant missing);
 *   <li>{@code saaskit.billing.metrics.read.last.success} (seconds since the epoch, configured clock): when the
 *       figures were last read successfully (NaN before the first success).
 * </ul>
 *
 * <p>Counting across tenants: subscriptions live under forced row-level security, so no application query can
 * aggregate them. Schema version 2 keeps {@code subscription_facts} (status, currency and monthly amount per
 * subscription, no tenant, no customer, written by a trigger of {@code subscriptions}, not readable by the
 * application role) and the application role reads only aggregates through {@code subscription_metrics()}.
 *
 * <p>The figures are read in one transaction and kept for {@value #CACHE_SECONDS} seconds (the configured clock),
 * so a scrape costs at most one round of queries; {@link #refresh()} reads now. A failed read is kept for as long:
 * until the next successful read every figure gauge reports NaN (Micrometer's "no value": Prometheus shows {@code
 * NaN}, most registries skip it), never the last figures as if they were current; the failure is counted in
 * {@code saaskit.billing.metrics.read.failures}, {@code saaskit.billing.metrics.read.last.success} stops moving,
 * and it is logged (WARN for the first failure after a success, DEBUG while it goes on). Scraping itself never
 * fails. Thread-safe.
 */
public final class BillingMetrics {
  /** How long one reading serves gauges. */
  public static final int CACHE_SECONDS = 5;
  /** The window of the event counts unless given. */
  public static final Duration DEFAULT_WINDOW = Duration.ofDays(30);

  private static final Logger LOG = LoggerFactory.getLogger(BillingMetrics.class);

  private final Billing billing;
  private final MeterRegistry registry;
  private final Duration window;
  private final MetricsQueries queries;
  private final Set<String> registeredStatuses = ConcurrentHashMap.newKeySet();
  private final Set<String> registeredCurrencies = ConcurrentHashMap.newKeySet();
  private final AtomicLong readFailures = new AtomicLong();
  /** The figures of the last reading; null when it failed (the gauges then report NaN) or before any. */
  private volatile MetricsQueries.@Nullable Snapshot snapshot;
  /** When the last reading was tried, successful or not: it serves for {@link #CACHE_SECONDS}. */
  private volatile @Nullable Instant lastAttempt;
  private volatile @Nullable Instant lastSuccess;

  private BillingMetrics(Billing billing, MeterRegistry registry, Duration window) {
    this.billing = billing;
    this.registry = registry;
    this.window = window;
    this.queries = new MetricsQueries(billing.db(), billing.mirror());
  }

  /** Binds the gauges to {@code registry}, with a {@link #DEFAULT_WINDOW 30-day} window. */
  public static BillingMetrics bind(Billing billing, MeterRegistry registry) {
    return bind(billing, registry, DEFAULT_WINDOW);
  }

  /**
   * Binds the gauges to {@code registry}.
   *
   * @param window how far back trials, conversions and cancellations are counted (1 hour to 400 days)
   * @throws IllegalArgumentException for a window outside that range
   */
  public static BillingMetrics bind(Billing billing, MeterRegistry registry, Duration window) {
    Objects.requireNonNull(billing, "billing");
    Objects.requireNonNull(registry, "registry");
    Objects.requireNonNull(window, "window");
    if (window.compareTo(Duration.ofHours(1)) < 0 || window.compareTo(Duration.ofDays(400)) > 0) {
      throw new IllegalArgumentException("window must be between 1 hour and 400 days but was " + window);
    }
    BillingMetrics m = new BillingMetrics(billing, registry, window);
    m.register();
    return m;
  }

  private void register() {
    for (SubscriptionStatus status : SubscriptionStatus.values()) {
      if (status != SubscriptionStatus.UNKNOWN) {
        statusGauge(status.stripeValue());
      }
    }
    String windowTag = window.toString().toLowerCase(Locale.ROOT);
    gauge("saaskit.billing.trials.started", Tags.of("window", windowTag), "trials started in the window", null,
        s -> s.trialsStarted());
    gauge("saaskit.billing.trials.converted", Tags.of("window", windowTag),
        "subscriptions from trialing to active in the window", null, s -> s.trialConversions());
    gauge("saaskit.billing.cancellations", Tags.of("window", windowTag), "subscriptions ended in the window", null,
        s -> s.cancellations());
    gauge("saaskit.billing.webhook.lag", Tags.empty(), "seconds from Stripe's event to its application (last one)",
        "seconds", MetricsQueries.Snapshot::webhookLagSeconds);
    gauge("saaskit.billing.events.failed", Tags.empty(), "inbox events whose apply failed", null,
        s -> s.failedEvents());
    gauge("saaskit.billing.events.pending", Tags.empty(), "inbox events received and not applied yet", null,
        s -> s.pendingEvents());
    gauge("saaskit.billing.events.parked", Tags.empty(),
        "inbox events of a Stripe customer linked to no tenant yet, waiting for the link", null,
        s -> s.parkedEvents());
    FunctionCounter.builder("saaskit.billing.metrics.read.failures", readFailures, AtomicLong::get)
        .description("readings of the billing figures that failed; the figure gauges report NaN until the next"
            + " successful one")
        .register(registry);
    Gauge.builder("saaskit.billing.metrics.read.last.success", this, m -> {
      Instant at = m.lastSuccess;
      return at == null ? Double.NaN : at.getEpochSecond() + at.getNano() / 1e9;
    }).description("when the billing figures were last read successfully, seconds since the epoch")
        .baseUnit("seconds").strongReference(true).register(registry);
    readQuietly();
  }

  private void statusGauge(String status) {
    if (registeredStatuses.add(status)) {
      gauge("saaskit.billing.subscriptions", Tags.of("status", status), "subscriptions in the mirror by status", null,
          s -> s.subscriptionsByStatus().getOrDefault(status, 0L));
    }
  }

  private void currencyGauge(String currency) {
    if (registeredCurrencies.add(currency)) {
      gauge("saaskit.billing.mrr", Tags.of("currency", currency),
          "monthly recurring revenue of active and past-due subscriptions, in minor units", null,
          s -> s.mrrByCurrency().getOrDefault(currency, 0L));
    }
  }

  private void gauge(String name, Tags tags, String description, @Nullable String unit,
      ToDoubleFunction<MetricsQueries.Snapshot> value) {
    Gauge.Builder<BillingMetrics> b = Gauge.builder(name, this, m -> {
      MetricsQueries.Snapshot s = m.current();
      return s == null ? Double.NaN : value.applyAsDouble(s);
    }).tags(tags).description(description).strongReference(true);
    if (unit != null) {
      b.baseUnit(unit);
    }
    b.register(registry);
  }

  private void registerDynamic(MetricsQueries.Snapshot s) {
    s.subscriptionsByStatus().keySet().forEach(this::statusGauge);
    s.mrrByCurrency().keySet().forEach(this::currencyGauge);
  }

  /** The figures to report now: the reading of the last {@link #CACHE_SECONDS}, or a new one; null if it failed. */
  private MetricsQueries.@Nullable Snapshot current() {
    if (fresh()) {
      return snapshot;
    }
    synchronized (this) {
      if (fresh()) {
        return snapshot; // another gauge of the same scrape read (or failed to) meanwhile
      }
      return readQuietly();
    }
  }

  private boolean fresh() {
    Instant attempt = lastAttempt;
    return attempt != null && !billing.config().clock().instant().isAfter(attempt.plusSeconds(CACHE_SECONDS));
  }

  private MetricsQueries.@Nullable Snapshot readQuietly() {
    Instant now = billing.config().clock().instant();
    try {
      MetricsQueries.Snapshot fresh = queries.read(now, window);
      snapshot = fresh;
      lastSuccess = now;
      registerDynamic(fresh);
      return fresh;
    } catch (RuntimeException e) {
      boolean first = snapshot != null || lastAttempt == null;
      snapshot = null; // the previous figures are not current any more: NaN, not stale numbers
      readFailures.incrementAndGet();
      if (first) {
        LOG.warn("billing metrics could not be read, the gauges report NaN until they can: {}", e.getMessage());
      } else {
        LOG.debug("billing metrics could not be read: {}", e.getMessage());
      }
      return null;
    } finally {
      lastAttempt = now;
    }
  }

  /** Reads the figures now (instead of at the next scrape after the cache expires); registers new tags. */
  public void refresh() {
    synchronized (this) {
      readQuietly();
    }
  }
}
