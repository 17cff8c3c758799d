package dev.saaskit.billing;

import dev.saaskit.core.SaasException;
import org.jspecify.annotations.Nullable;

/**
 * A billing operation failed: Stripe refused or could not be reached, the mirror could not be written, or the input
 * was wrong. {@link #stripeStatus()} carries Stripe's HTTP status when Stripe answered (0 otherwise) and {@link
 * #stripeCode()} its error code ({@code resource_missing}, {@code rate_limit}...), so callers can tell a retryable
 * outage from a request that will never succeed. Messages never contain API keys or webhook secrets.
 */
public class BillingException extends SaasException {
  private static final long serialVersionUID = 1L;

  private final int stripeStatus;
  private final @Nullable String stripeCode;

  /** A failure that did not come from a Stripe answer. */
  public BillingException(String message) {
    this(message, 0, null, null);
  }

  /** A failure that did not come from a Stripe answer, with its cause. */
  public BillingException(String message, Throwable cause) {
    this(message, 0, null, cause);
  }

  /**
   * A failure Stripe reported (or a transport failure, status 0).
   *
   * @param stripeStatus the HTTP status Stripe answered, 0 if none
   * @param stripeCode Stripe's error code, if it gave one
   */
  public BillingException(String message, int stripeStatus, @Nullable String stripeCode, @Nullable Throwable cause) {
    super(message);
    if (cause != null) {
      initCause(cause);
    }
    this.stripeStatus = stripeStatus;
    this.stripeCode = stripeCode;
  }

  /** The HTTP status Stripe answered, 0 when Stripe did not answer (or was not involved). */
  public int stripeStatus() {
    return stripeStatus;
  }

  /** Stripe's error code, if it gave one. */
  public @Nullable String stripeCode() {
    return stripeCode;
  }

  /** Whether trying again later may succeed: Stripe unreachable, 429, 409 (lock timeout) or 5xx. */
  public boolean retryable() {
    return stripeStatus == 0 && getCause() != null || stripeStatus == 409 || stripeStatus == 429 || stripeStatus >= 500;
  }
}
