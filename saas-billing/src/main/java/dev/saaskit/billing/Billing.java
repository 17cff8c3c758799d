package dev.saaskit.billing;

import dev.saaskit.billing.internal.BillingDb;
import dev.saaskit.billing.internal.Mirror;
import dev.saaskit.billing.internal.StripeGateway;
import dev.saaskit.core.TenantId;
import java.util.Objects;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;

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

  // --- webhooks part
  private volatile @Nullable BillingWebhooks webhooks;

  /** The Stripe webhook endpoint and its inbox operations (one per {@code Billing}). */
  public BillingWebhooks webhooks() {
    BillingWebhooks w = webhooks;
    if (w == null) {
      synchronized (this) {
        w = webhooks;
        if (w == null) {
          w = new BillingWebhooks(this);
          webhooks = w;
        }
      }
    }
    return w;
  }

  /** Called after a webhook changed {@code tenant}'s billing state (committed); the entitlements cache hooks in here. */
  void tenantChanged(TenantId tenant) {}
  // --- end of webhooks part
}
