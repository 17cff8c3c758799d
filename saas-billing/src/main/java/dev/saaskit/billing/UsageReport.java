package dev.saaskit.billing;

import dev.saaskit.core.TenantId;
import java.util.List;
import java.util.Objects;

/**
 * What one {@link Usage#sendPending()} did.
 *
 * @param sent records Stripe accepted and counted now
 * @param alreadyCounted records Stripe had already counted (a resend after a crash: the identifier was known), now
 *     marked sent
 * @param retried records that failed in a retryable way (Stripe unreachable, 429, 5xx, no Stripe customer yet) and
 *     stay pending until their next attempt; {@link #retrying()} says why
 * @param failed records that will not be sent (Stripe refused them, or they ran out of attempts): status
 *     {@code failed}, with the error, for an operator
 * @param retrying the retried records with their errors
 */
public record UsageReport(int sent, int alreadyCounted, int retried, List<Failure> failed, List<Failure> retrying) {
  /** Copies the lists. */
  public UsageReport {
    failed = List.copyOf(failed);
    retrying = List.copyOf(retrying);
  }

  /**
   * A record that was not sent.
   *
   * @param id the outbox row's id
   * @param tenant its tenant
   * @param meter the meter event name
   * @param attempts the attempts made so far, this one included
   * @param error why (Stripe's message, or what was missing)
   */
  public record Failure(long id, TenantId tenant, String meter, int attempts, String error) {
    /** Checks for nulls. */
    public Failure {
      Objects.requireNonNull(tenant, "tenant");
      Objects.requireNonNull(meter, "meter");
      Objects.requireNonNull(error, "error");
    }
  }

  /** Whether nothing was sent, retried or failed. */
  public boolean isEmpty() {
    return sent == 0 && alreadyCounted == 0 && retried == 0 && failed.isEmpty();
  }
}
