package dev.saaskit.billing;

import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * What {@link BillingWebhooks#handle} did with one delivery, and the HTTP status to answer Stripe with. The
 * message is short and safe to send back or log: it never holds a stack trace, a secret or the payload.
 *
 * @param status the HTTP status to answer (2xx only when the event is durably recorded)
 * @param outcome what happened
 * @param message a short human-readable reason
 * @param eventId the event's id when the body could be read as an event
 */
public record WebhookResult(int status, Outcome outcome, String message, @Nullable String eventId) {
  /** What happened to a delivery. */
  public enum Outcome {
    /** Recorded and applied to the mirror now: 200. */
    APPLIED,
    /** Already recorded and applied (or being applied by a parallel delivery): 200. */
    DUPLICATE,
    /** Recorded, and its apply step scheduled on the job queue ({@link ApplyScheduler}): 200. */
    QUEUED,
    /** Recorded; a type the mirror does not use (status {@code ignored}): 200. */
    IGNORED,
    /**
     * Recorded, but applying it failed: 500, so Stripe delivers it again; the inbox keeps it {@code failed} with
     * its error and {@link BillingWebhooks#retryDue()} tries it again.
     */
    FAILED,
    /** Refused (bad signature, stale timestamp, not an event, too large...): 4xx, nothing recorded. */
    REJECTED,
    /** Not recorded because of a problem on our side (no secret configured, database down...): 500. */
    ERROR,
    /**
     * Recorded and parked: it names a Stripe customer linked to no tenant yet (status {@code parked}): 200, since
     * a retry by Stripe could not succeed either and an endpoint that keeps failing gets disabled. It is applied
     * as soon as the customer is linked (a checkout, {@code ensureCustomer}, a reconciler fix, {@link
     * BillingWebhooks#retryDue()}); operators list, retry or discard it through the inbox.
     */
    PARKED
  }

  /** Checks the fields. */
  public WebhookResult {
    Objects.requireNonNull(outcome, "outcome");
    Objects.requireNonNull(message, "message");
    if (status < 100 || status > 599) {
      throw new IllegalArgumentException("status must be an HTTP status but was " + status);
    }
  }

  /** Whether the status is 2xx (the event is durably recorded). */
  public boolean acknowledged() {
    return status >= 200 && status < 300;
  }
}
