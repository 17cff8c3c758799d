package dev.saaskit.jobs;

import java.util.Objects;

/**
 * How many jobs of one queue are in one state, from {@link JobAdmin#counts()}.
 *
 * @param queue the queue name
 * @param state the state
 * @param count the number of jobs, at least 1
 */
public record JobCount(String queue, JobState state, long count) {
  /** Checks the components. */
  public JobCount {
    Objects.requireNonNull(queue, "queue");
    Objects.requireNonNull(state, "state");
  }
}
