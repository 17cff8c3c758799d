package dev.saaskit.jobs.internal;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;

/**
 * Puts the jobs of due occurrences into the job table, on the scheduler's connection and inside its transaction
 * (never committing or rolling back), so the jobs exist if and only if the advance of the definition's next fire
 * time commits. Not API.
 */
@FunctionalInterface
public interface RecurringEnqueuer {

  /**
   * Enqueues one job per occurrence of {@code definition}, each with the unique key
   * {@link #uniqueKey(String, Instant)} and its occurrence as run time.
   */
  void enqueue(Connection connection, RecurringDefinition definition, List<Instant> occurrences) throws SQLException;

  /**
   * The unique key of the job of one occurrence, {@code cron:<name>:<occurrence>} (ISO-8601 UTC): while that job
   * is pending or running, enqueueing the same occurrence again (by hand, say) returns the existing job.
   */
  static String uniqueKey(String name, Instant occurrence) {
    return "cron:" + name + ":" + occurrence;
  }
}
