package dev.saaskit.billing;

import dev.saaskit.billing.internal.BillingDb;
import dev.saaskit.billing.internal.Mirror;
import dev.saaskit.billing.internal.StripeGateway;
import java.util.Objects;
import javax.sql.DataSource;

/**
 * The entry point of saas-billing: one per application (share it), built from a {@link BillingConfig} and the
 * application's data source (the application role, under row-level security; never the owner).
 *
 * <pre>{@code
 * Billing billing = Billing.create(config, appDataSource);
 * }</pre>
 *
 * <p>Thread-safe. Starts no thread of its own.
 */
public final class Billing {
  private final BillingConfig config;
  private final BillingDb db;
  private final Mirror mirror;
  private final StripeGateway stripe;

  Billing(BillingConfig config, DataSource dataSource, StripeGateway stripe) {
    this.config = Objects.requireNonNull(config, "config");
    this.db = new BillingDb(dataSource, config.schema().tenantSetting());
    this.mirror = new Mirror(config.schema().name());
    this.stripe = stripe;
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

  BillingDb db() {
    return db;
  }

  Mirror mirror() {
    return mirror;
  }

  StripeGateway stripe() {
    return stripe;
  }

  // --- usage part (metered usage, reconcile, metrics): accessors added by the usage branch
  private volatile @org.jspecify.annotations.Nullable Usage usage;
  private volatile @org.jspecify.annotations.Nullable Reconciler reconciler;

  /** Metered usage: record for the current tenant, send to Stripe's meter events. */
  public Usage usage() {
    Usage u = usage;
    if (u == null) {
      synchronized (this) {
        u = usage;
        if (u == null) {
          u = new Usage(this);
          usage = u;
        }
      }
    }
    return u;
  }

  /** The reconciler: a full sync from Stripe reporting drift before fixing it. */
  public Reconciler reconciler() {
    Reconciler r = reconciler;
    if (r == null) {
      synchronized (this) {
        r = reconciler;
        if (r == null) {
          r = new Reconciler(this);
          reconciler = r;
        }
      }
    }
    return r;
  }
  // --- end of usage part
  // --- operations part (ops helper): operations, status, entitlements
  private final BillingOperations operations = new BillingOperations(this);

  /** Customer link, checkout and portal, plan and seat changes, cancel/resume, status and entitlements. */
  public BillingOperations operations() {
    return operations;
  }

  /** The tenant's entitlements now (cached per tenant; see {@link Entitlements}). */
  public Entitlements entitlements(dev.saaskit.core.TenantId tenant) {
    return operations.entitlements(tenant);
  }

  /**
   * The entitlements of the current {@code TenantContext} tenant.
   *
   * @throws dev.saaskit.core.MissingTenantException if no tenant is set
   */
  public Entitlements entitlements() {
    return operations.entitlements(dev.saaskit.core.TenantContext.require());
  }

  /** Where the tenant stands now (read from the mirror, not cached). */
  public TenantBilling status(dev.saaskit.core.TenantId tenant) {
    return operations.status(tenant);
  }

  /** Whether the tenant may use the product now (cached, like {@link #entitlements(dev.saaskit.core.TenantId)}). */
  public boolean hasAccess(dev.saaskit.core.TenantId tenant) {
    return operations.hasAccess(tenant);
  }

  /** Drops this node's cached entitlements of {@code tenant}: the lead calls it from {@code tenantChanged}. */
  void invalidateEntitlements(dev.saaskit.core.TenantId tenant) {
    operations.invalidate(tenant);
  }
  // --- end of operations part
}
