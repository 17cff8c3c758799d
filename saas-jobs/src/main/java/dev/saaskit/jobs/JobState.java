package dev.saaskit.jobs;

import java.util.Locale;

/**
 * Where a job is in its life. {@link #PENDING} jobs wait for their run time and a worker; a failed attempt with
 * attempts left goes back to {@link #PENDING} with a later run time; the last failed attempt ends in {@link #DEAD},
 * kept for inspection and manual retry.
 */
public enum JobState {
  /** Waiting to be claimed (possibly not due yet, or waiting for a retry). */
  PENDING,
  /** Claimed by a worker, which holds a lease on it. */
  RUNNING,
  /** Finished successfully. */
  COMPLETED,
  /** Failed its last allowed attempt (or failed permanently); can be retried by hand. */
  DEAD,
  /** Cancelled before it finished. */
  CANCELLED;

  /** True for the states a job does not leave by itself: completed, dead, cancelled. */
  public boolean isFinished() {
    return this == COMPLETED || this == DEAD || this == CANCELLED;
  }

  /** The value stored in the {@code state} column. */
  public String dbValue() {
    return name().toLowerCase(Locale.ROOT);
  }

  /**
   * The state stored as {@code value} in the {@code state} column.
   *
   * @throws IllegalArgumentException for an unknown value
   */
  public static JobState fromDbValue(String value) {
    return valueOf(value.toUpperCase(Locale.ROOT));
  }
}
