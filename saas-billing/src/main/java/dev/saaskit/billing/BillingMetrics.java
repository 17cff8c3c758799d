package dev.saaskit.billing;

import dev.saaskit.billing.internal.MetricsQueries;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import java.time.Duration;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
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
 *       when it stays above zero: an operator links the customer or discards the events).
 * </ul>
 *
 * <p>Counting across tenants: subscriptions live under forced row-level security, so no application query can
 * aggregate them. Schema version 2 keeps {@code subscription_facts} (status, currency and monthly amount per
 * subscription, no tenant, no customer, written by a trigger of {@code subscriptions}, not readable by the
 * application role) and the application role reads only aggregates through {@code subscription_metrics()}.
 *
 * <p>The figures are read in one transaction and kept for {@value #CACHE_SECONDS} seconds (the configured clock),
 * so a scrape costs at most one round of queries; {@link #refresh()} reads now. A failed read keeps the previous
 * figures (logged at DEBUG). Thread-safe.
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
  private volatile MetricsQueries.@Nullable Snapshot snapshot;

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
    MetricsQueries.Snapshot first = readQuietly();
    if (first != null) {
      registerDynamic(first);
    }
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

  private MetricsQueries.@Nullable Snapshot current() {
    MetricsQueries.Snapshot s = snapshot;
    if (s != null && !billing.config().clock().instant().isAfter(s.at().plusSeconds(CACHE_SECONDS))) {
      return s;
    }
    synchronized (this) {
      s = snapshot;
      if (s != null && !billing.config().clock().instant().isAfter(s.at().plusSeconds(CACHE_SECONDS))) {
        return s;
      }
      MetricsQueries.Snapshot fresh = readQuietly();
      return fresh != null ? fresh : s;
    }
  }

  private MetricsQueries.@Nullable Snapshot readQuietly() {
    try {
      MetricsQueries.Snapshot fresh = queries.read(billing.config().clock().instant(), window);
      snapshot = fresh;
      registerDynamic(fresh);
      return fresh;
    } catch (RuntimeException e) {
      LOG.debug("billing metrics could not be read: {}", e.getMessage());
      return null;
    }
  }

  /** Reads the figures now (instead of at the next scrape after the cache expires); registers new tags. */
  public void refresh() {
    synchronized (this) {
      readQuietly();
    }
  }
}
