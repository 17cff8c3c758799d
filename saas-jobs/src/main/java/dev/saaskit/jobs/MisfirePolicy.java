package dev.saaskit.jobs;

/**
 * What a recurring job does about occurrences it missed, typically because no scheduler was running at the time.
 * An occurrence counts as <em>missed</em> only when a scheduler finds it more than the job's
 * {@linkplain RecurringJob#misfireThreshold() misfire threshold} late (default one minute); occurrences found
 * less late are <em>on time</em> and are always enqueued, whatever the policy. In every case the schedule then
 * continues from the first occurrence after the scheduler's current time.
 */
public enum MisfirePolicy {
  /**
   * The default: the missed occurrences together are enqueued once, as the latest of them. If an on-time
   * occurrence is enqueued in the same pass, that run stands for the missed ones and no extra run is added.
   */
  FIRE_ONCE,
  /**
   * Each missed occurrence is enqueued, up to the job's {@linkplain RecurringJob#maxCatchUp() catch-up limit}
   * (default 100): the latest ones are kept, older ones are skipped.
   */
  FIRE_ALL,
  /** Missed occurrences are not enqueued at all. */
  SKIP
}
