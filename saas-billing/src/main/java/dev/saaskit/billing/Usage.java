package dev.saaskit.billing;

import dev.saaskit.billing.internal.UsageOutbox;
import dev.saaskit.billing.internal.UsageSender;
import dev.saaskit.core.MissingTenantException;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.Objects;

/**
 * Metered usage: records go to the usage outbox (a table under the tenant's row-level security), in the caller's
 * transaction or in one of their own, and a sender pushes them to Stripe's billing meter events, exactly once by
 * identifier, with retries, reporting what failed. Get it from {@link Billing#usage()}.
 *
 * <pre>{@code
 * Usage usage = billing.usage();
 * TenantContext.run(tenant, () -> {
 *   usage.record("api_calls", 1, requestId);              // its own transaction
 *   try (Connection c = appDataSource.getConnection()) {   // or inside the caller's transaction, with its work:
 *     c.setAutoCommit(false);
 *     ... the app's own writes ...
 *     usage.record(c, "api_calls", 1, requestId);          // binds the tenant on c's transaction, does not commit
 *     c.commit();
 *   }
 * });
 * UsageReport report = usage.sendPending();               // from a recurring job, see below
 * }</pre>
 *
 * <p><b>Idempotency</b>: a record is keyed by (tenant, {@code idempotencyKey}); recording the same key again for the
 * same tenant writes nothing and returns {@code false}. Its Stripe meter event {@code identifier} is derived from
 * the tenant and the key ({@code sk_} + base64url SHA-256, 46 characters), so a resend after a crash carries the
 * same identifier and Stripe counts it once. The meter name is the Stripe meter's {@code event_name}; the event's
 * {@code timestamp} is the time of recording (the configured clock): send within Stripe's 35-day window.
 *
 * <p><b>Sending</b>: {@link #sendPending()} drains, for each tenant with pending usage, up to {@link
 * BillingConfig#usageBatchSize()} due records in one transaction (rows locked with {@code SKIP LOCKED}: parallel
 * senders never send a row twice; a sender killed mid-batch leaves its rows pending and the next run resends them,
 * which Stripe answers as already counted). Retryable failures (Stripe down, 429, 5xx, a tenant without a Stripe
 * customer yet) wait with exponential backoff (30 s doubling, at most 1 h); the first retryable failure from Stripe
 * ends the run, leaving the records after it pending and untouched for the next run (an outage costs one failing
 * call per run, not one per record); Stripe refusals and records past {@link
 * BillingConfig#usageMaxAttempts()} become {@code failed} with their error, listed in the report.
 *
 * <p><b>Exactly once</b>: Stripe enforces identifier uniqueness for a rolling period of at least 24 hours. The
 * emulator answers a repeated identifier with 400 {@code resource_already_exists} (read here as "already counted");
 * Stripe itself validates meter events synchronously but processes them asynchronously, so it may answer 200 and
 * drop the duplicate later: either way it is counted once. A resend happens at the next run after a crash, so run
 * the sender often (every minute) and never leave a crashed batch for a day.
 *
 * <p><b>On saas-jobs</b> (billing does not depend on it; the app wires it, as {@code UsageSenderOnJobsTest} does):
 *
 * <pre>{@code
 * record SendUsage(int version) {}
 * JobType<SendUsage> SEND_USAGE = JobType.of("billing.usage.send", SendUsage.class);
 * JobWorker worker = jobs.worker()
 *     .handler(SEND_USAGE, (payload, ctx) -> {
 *       UsageReport report = billing.usage().sendPending();    // no tenant needed: it visits each tenant
 *       return report.sent() + report.alreadyCounted();        // failures: report.failed()
 *     })
 *     .build().start();
 * RecurringJobs recurring = jobs.recurring()
 *     .add(RecurringJob.builder("billing.usage.send", "* * * * *",
 *         JobRequest.builder(SEND_USAGE, new SendUsage(1)).noTenant().build()).build())
 *     .build().start();
 * }</pre>
 *
 * Running it on several nodes at once is safe. Thread-safe.
 */
public final class Usage {
  private final Billing billing;
  private final UsageOutbox outbox;
  private final UsageSender sender;

  Usage(Billing billing) {
    this.billing = Objects.requireNonNull(billing, "billing");
    this.outbox = new UsageOutbox(billing.config().schema().name(), billing.config().schema().tenantSetting());
    this.sender = new UsageSender(billing.config(), billing.db(), billing.mirror(), billing.stripe());
  }

  /**
   * Records usage of the current tenant ({@link TenantContext}) in its own transaction.
   *
   * @param meter the Stripe meter's event name (1-100 of {@code [A-Za-z0-9_.:-]})
   * @param value the quantity, {@code >= 0}
   * @param idempotencyKey the caller's key for this usage (1-200 characters, no NUL, no unpaired surrogate), e.g. a
   *     request or operation id
   * @return {@code true} when recorded, {@code false} when this tenant already recorded {@code idempotencyKey}
   * @throws MissingTenantException when no tenant is current
   * @throws IllegalArgumentException for a bad meter name, a negative value or a bad key
   * @throws BillingException when the outbox cannot be written
   */
  public boolean record(String meter, long value, String idempotencyKey) {
    UsageOutbox.validate(meter, value, idempotencyKey);
    TenantId tenant = TenantContext.require();
    return billing.db().inTransaction(tenant, "recording usage",
        c -> outbox.insert(c, tenant, meter, value, idempotencyKey, billing.config().clock().instant()));
  }

  /**
   * Records usage of the current tenant in the caller's open transaction on {@code c} (auto-commit off): binds
   * the tenant on that transaction (transaction-local, as saas-tenancy does; unchanged if already bound to it),
   * writes the outbox row and neither commits nor closes; the record exists only if the caller commits.
   *
   * @param c a connection of the application role with a transaction open
   * @return {@code true} when recorded, {@code false} when this tenant already recorded {@code idempotencyKey}
   * @throws MissingTenantException when no tenant is current
   * @throws IllegalArgumentException for a bad meter name, a negative value or a bad key
   * @throws IllegalStateException when {@code c} is in auto-commit mode
   * @throws BillingException when the transaction is bound to another tenant
   * @throws SQLException from the database (the caller's transaction is then to be rolled back)
   */
  public boolean record(Connection c, String meter, long value, String idempotencyKey) throws SQLException {
    Objects.requireNonNull(c, "connection");
    UsageOutbox.validate(meter, value, idempotencyKey);
    TenantId tenant = TenantContext.require();
    outbox.bindCallerTransaction(c, tenant);
    return outbox.insert(c, tenant, meter, value, idempotencyKey, billing.config().clock().instant());
  }

  /**
   * Sends pending usage to Stripe: one batch per tenant with due records (see the class comment). Call it from
   * one recurring job (or several: parallel runs never double count). Needs no current tenant.
   *
   * @return what was sent, already counted, retried and failed
   * @throws BillingException when the database cannot be reached (Stripe failures are reported, not thrown)
   */
  public UsageReport sendPending() {
    return sender.sendPending();
  }

  /** The Stripe meter event identifier of a tenant's idempotency key (what {@link #sendPending()} sends). */
  public static String identifier(TenantId tenant, String idempotencyKey) {
    return UsageOutbox.identifier(Objects.requireNonNull(tenant, "tenant"),
        Objects.requireNonNull(idempotencyKey, "idempotencyKey"));
  }

  UsageSender sender() {
    return sender;
  }
}
