package dev.saaskit.jobs.internal;

import java.time.Instant;
import org.jspecify.annotations.Nullable;

/** How one attempt ended, as the flusher writes it. */
record WorkerOutcome(WorkerJob job, Kind kind, @Nullable String resultJson, @Nullable String error,
    @Nullable Instant runAt, WorkerJob.@Nullable Progress progress) {

  enum Kind {
    COMPLETED("completed"),
    RETRY("pending"),
    DEAD("dead"),
    CANCELLED("cancelled"),
    /** Given back at shutdown: pending again, and the attempt does not count. */
    RELEASED("pending");

    final String state;

    Kind(String state) {
      this.state = state;
    }
  }
}
