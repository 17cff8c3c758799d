package dev.saaskit.billing;

import dev.saaskit.billing.internal.ReconcileRun;
import java.util.Objects;

/**
 * A full sync from Stripe that reports drift before fixing it. Get it from {@link Billing#reconciler()}.
 *
 * <pre>{@code
 * DriftReport report = billing.reconciler().sync(false);   // report only
 * report.drifts().forEach(d -> log.warn("billing drift: {}", d));
 * billing.reconciler().sync(true);                         // report, then write Stripe's version
 * }</pre>
 *
 * <p>Pages through Stripe's products, prices, customers, subscriptions ({@code status=all}) and invoices (100 per
 * request, each retried like every Stripe call) and compares each with its mirror row: products (active, name),
 * prices (active, currency, unit amount, interval), customers (email, name, deleted), subscriptions (status,
 * cancel_at_period_end, cancel_at, current period end, each item's price and quantity), invoices (status, amounts
 * due, paid and remaining), and objects missing from the mirror. Then the mirror's live rows that Stripe did not list, for
 * the tenants seen (in Stripe's lists or in the event inbox), are fetched one by one: gone (404) or deleted in
 * Stripe is reported as missing in Stripe. A customer's tenant is its route in the mirror, else its {@code
 * metadata.tenant_id} (set when saaskit created it); a customer with neither is reported {@link Drift.Kind#UNLINKED}
 * and never guessed. Objects whose mirror state is newer than Stripe's answer are skipped (a webhook got there
 * first).
 *
 * <p>With {@code fix = true}, after reporting, every drifted object is written as Stripe listed it, as of the
 * list answer's {@code Date} (so a newer state from a webhook is never overwritten); objects gone from Stripe are
 * marked deleted (customers, products, prices) or removed from the mirror (subscriptions, invoices). Every fix of
 * a tenant's rows drops the tenant's cached entitlements on this node and tells {@link
 * BillingConfig#changeListener()} (in the fix's transaction and after it), as webhooks and operations do; then
 * the parked events of customers a fix linked to a tenant are applied ({@link BillingWebhooks#retryDue()} does
 * too). A second sync then reports nothing. Needs no current tenant; run it from an operator command or a nightly
 * job. Not meant to run twice at once (harmless, but twice the Stripe calls).
 */
public final class Reconciler {
  private final Billing billing;

  Reconciler(Billing billing) {
    this.billing = Objects.requireNonNull(billing, "billing");
  }

  /**
   * Compares the whole mirror with Stripe and, when {@code fix}, brings the mirror to Stripe's state.
   *
   * @param fix whether to write Stripe's version of each drifted object after reporting
   * @return the drift found (before fixing) and what the fixes did
   * @throws BillingException when Stripe cannot be listed or the database cannot be read
   */
  public DriftReport sync(boolean fix) {
    DriftReport report = new ReconcileRun(billing.db(), billing.mirror(), billing.stripe(), fix,
        billing.config().changeListener(), billing::tenantChanged).run();
    if (fix) {
      // a fix may have linked customers (metadata.tenant_id set in Stripe meanwhile): their parked events apply now
      billing.webhooks().releaseLinked();
    }
    return report;
  }
}
