package dev.saaskit.jobs.internal;

import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * What the worker measures. Micrometer is an optional dependency: only {@link #of(Object, List)} with a registry
 * touches {@link MicrometerWorkerMeters}, so without a registry no Micrometer class is ever loaded.
 */
interface WorkerMeters {

  static WorkerMeters of(@Nullable Object meterRegistry, List<String> queues) {
    return meterRegistry == null ? NONE : new MicrometerWorkerMeters(meterRegistry, queues);
  }

  WorkerMeters NONE = new WorkerMeters() {};

  /** Whether queue depth is worth querying. */
  default boolean wantsDepth() {
    return false;
  }

  default void claimed(String queue, long nanos, int jobs) {}

  default void executed(String queue, String type, long nanos) {}

  default void completed(String queue, String type) {}

  /** A failed attempt; {@code retried} says whether another attempt is scheduled (else the job is dead). */
  default void failed(String queue, String type, boolean retried) {}

  default void cancelled(String queue, String type) {}

  default void released(String queue, String type) {}

  default void rescued(String queue, String type) {}

  default void zombieRejected(String queue, String type) {}

  default void depth(String queue, long pending, double oldestAgeSeconds) {}

  default void close() {}
}
