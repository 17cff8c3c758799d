package dev.saaskit.billing;

import dev.saaskit.core.TenantId;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * What one {@link Usage#sendPending()} did.
 *
 * <p>A final class rather than a record, so that a field can be added without breaking callers (docs/architecture.md).
 */
public final class UsageReport {
  private final int sent;
  private final int alreadyCounted;
  private final int retried;
  private final List<Failure> failed;
  private final List<Failure> retrying;

  private UsageReport(int sent, int alreadyCounted, int retried, List<Failure> failed, List<Failure> retrying) {
    this.sent = sent;
    this.alreadyCounted = alreadyCounted;
    this.retried = retried;
    this.failed = List.copyOf(failed);
    this.retrying = List.copyOf(retrying);
  }

  /**
   * A report (the sender makes these).
   *
   * @param sent records Stripe accepted and counted now
   * @param alreadyCounted records Stripe had already counted (a resend after a crash: the identifier was known), now
   *     marked sent
   * @param retried records that failed in a retryable way (Stripe unreachable, 429, 5xx, no Stripe customer yet) and
   *     stay pending until their next attempt; {@link #retrying()} says why
   * @param failed records that will not be sent (Stripe refused them, or they ran out of attempts): status {@code
   *     failed}, with the error, for an operator
   * @param retrying the retried records with their errors
   */
  public static UsageReport of(int sent, int alreadyCounted, int retried, List<Failure> failed,
      List<Failure> retrying) {
    return new UsageReport(sent, alreadyCounted, retried, failed, retrying);
  }

  /** Records Stripe accepted and counted now. */
  public int sent() {
    return sent;
  }

  /** Records Stripe had already counted (a resend after a crash: the identifier was known), now marked sent. */
  public int alreadyCounted() {
    return alreadyCounted;
  }

  /**
   * Records that failed in a retryable way (Stripe unreachable, 429, 5xx, no Stripe customer yet) and stay pending
   * until their next attempt; {@link #retrying()} says why.
   */
  public int retried() {
    return retried;
  }

  /**
   * Records that will not be sent (Stripe refused them, or they ran out of attempts): status {@code failed}, with the
   * error, for an operator.
   */
  public List<Failure> failed() {
    return failed;
  }

  /** The retried records with their errors. */
  public List<Failure> retrying() {
    return retrying;
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

  @Override
  public boolean equals(@Nullable Object o) {
    if (this == o) {
      return true;
    }
    if (!(o instanceof UsageReport)) {
      return false;
    }
    UsageReport other = (UsageReport) o;
    return sent == other.sent && alreadyCounted == other.alreadyCounted && retried == other.retried
        && Objects.equals(failed, other.failed) && Objects.equals(retrying, other.retrying);
  }

  @Override
  public int hashCode() {
    return Objects.hash(sent, alreadyCounted, retried, failed, retrying);
  }

  @Override
  public String toString() {
    return "UsageReport[sent=" + sent + ", alreadyCounted=" + alreadyCounted + ", retried=" + retried
        + ", failed=" + failed + ", retrying=" + retrying + "]";
  }
}
