package dev.saaskit.billing;

import dev.saaskit.billing.internal.BillingDb;
import dev.saaskit.billing.internal.Mirror;
import dev.saaskit.billing.internal.StripeGateway;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.Objects;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;

/**
 * The entry point of saas-billing: one per application (share it), built from a {@link BillingConfig} and the
 * application's data source (the application role, under row-level security; never the owner).
 *
 * <pre>{@code
 * Billing billing = Billing.create(config, appDataSource);
 * WebhookResult result = billing.webhooks().handle(rawBody, signatureHeader);   // the webhook route
 * boolean ok = billing.hasAccess(tenant);                                         // any request, nanoseconds
 * }</pre>
 *
 * <p>The parts: {@link #webhooks()} keeps the mirror current from Stripe's events; {@link #operations()} changes
 * subscriptions (checkout, portal, plan, seats, cancel) and answers {@link #status} and {@link #entitlements};
 * {@link #usage()} records metered usage and sends it; {@link #reconciler()} finds and fixes drift;
 * {@link BillingConfig.Builder#meterRegistry} (or {@link BillingMetrics#bind}) exposes business
 * metrics. Thread-safe. Starts no thread of its own.
 */
public final class Billing {
  /**
   * The Stripe API version every call and every refetch is made at (the one stripe-java pins); events of another
   * version are refetched at this one. Set the webhook endpoint to it in the Stripe dashboard to save the refetch.
   */
  public static final String STRIPE_API_VERSION = com.stripe.Stripe.API_VERSION;

  private final BillingConfig config;
  private final BillingDb db;
  private final Mirror mirror;
  private final StripeGateway stripe;
  private final BillingOperations operations;
  private final BillingWebhooks webhooks;
  private final Usage usage;
  private final Reconciler reconciler;
  // a BillingMetrics when the config has a meter registry; Object so that Billing loads without Micrometer
  private final @Nullable Object metrics;

  Billing(BillingConfig config, DataSource dataSource, StripeGateway stripe) {
    this.config = Objects.requireNonNull(config, "config");
    this.db = new BillingDb(dataSource, config.schema().tenantSetting());
    this.mirror = new Mirror(config.schema().name());
    this.stripe = stripe;
    this.operations = new BillingOperations(this);
    this.webhooks = new BillingWebhooks(this);
    this.usage = new Usage(this);
    this.reconciler = new Reconciler(this);
    Object registry = config.meterRegistryObject();
    this.metrics = registry == null ? null : BillingMetrics.bind(this, (MeterRegistry) registry);
  }

  /**
   * A billing instance.
   *
   * @param config the settings
   * @param dataSource connections of the application role (RLS applies to it)
   */
  public static Billing create(BillingConfig config, DataSource dataSource) {
    return new Billing(config, dataSource, new StripeGateway(config));
  }

  /** The settings. */
  public BillingConfig config() {
    return config;
  }

  /** The Stripe webhook endpoint, its inbox, retries and replay. */
  public BillingWebhooks webhooks() {
    return webhooks;
  }

  /** Customer link, checkout and portal, plan and seat changes, cancel/resume, status and entitlements. */
  public BillingOperations operations() {
    return operations;
  }

  /** Metered usage: record for the current tenant, send to Stripe's meter events. */
  public Usage usage() {
    return usage;
  }

  /** The reconciler: a full sync from Stripe reporting drift before fixing it. */
  public Reconciler reconciler() {
    return reconciler;
  }

  /**
   * The business metrics bound to {@link BillingConfig.Builder#meterRegistry}, {@code null} when the config has no
   * registry (then {@link BillingMetrics#bind} binds them to one).
   */
  public @Nullable BillingMetrics metrics() {
    return (BillingMetrics) metrics;
  }

  /** The tenant's entitlements now (cached per tenant; see {@link Entitlements}). */
  public Entitlements entitlements(TenantId tenant) {
    return operations.entitlements(tenant);
  }

  /**
   * The entitlements of the current {@code TenantContext} tenant.
   *
   * @throws dev.saaskit.core.MissingTenantException if no tenant is set
   */
  public Entitlements entitlements() {
    return operations.entitlements(TenantContext.require());
  }

  /** Where the tenant stands now (read from the mirror, not cached). */
  public TenantBilling status(TenantId tenant) {
    return operations.status(tenant);
  }

  /** Whether the tenant may use the product now (cached, like {@link #entitlements(TenantId)}). */
  public boolean hasAccess(TenantId tenant) {
    return operations.hasAccess(tenant);
  }

  /**
   * Drops this node's cached entitlements of {@code tenant}, so the next check reads the mirror. Call it from the
   * app's cross-node bus when another node reports a change ({@link BillingChangeListener}).
   */
  public void invalidate(TenantId tenant) {
    operations.invalidate(tenant);
  }

  BillingDb db() {
    return db;
  }

  Mirror mirror() {
    return mirror;
  }

  StripeGateway stripe() {
    return stripe;
  }

  /** Called after a webhook changed {@code tenant}'s billing state (committed). */
  void tenantChanged(TenantId tenant) {
    operations.invalidate(tenant);
  }
}
