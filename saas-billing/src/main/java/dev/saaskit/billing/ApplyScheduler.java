package dev.saaskit.billing;

import java.sql.Connection;
import java.sql.SQLException;

/**
 * Moves the apply step of webhook events onto a job queue (saas-jobs), so the endpoint acknowledges at once.
 * {@link #schedule} runs in the transaction that records the event in the inbox, on its connection: enqueue there
 * and the job exists exactly when the event does. The job then calls {@link BillingWebhooks#apply(String)}.
 */
@FunctionalInterface
public interface ApplyScheduler {
  /**
   * Schedules {@code BillingWebhooks.apply(eventId)}.
   *
   * @throws SQLException to refuse the delivery (nothing is recorded; the endpoint answers 500 and Stripe retries)
   */
  void schedule(Connection connection, String eventId) throws SQLException;
}
