package dev.saaskit.jobs.internal;

import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * What the recurring-job scheduler measures. Micrometer is an optional dependency: only {@link #of(Object)} with a
 * registry touches {@link MicrometerRecurringMeters}, so without a registry no Micrometer class is loaded. Not API.
 */
public interface RecurringMeters {

  /** Meters on {@code meterRegistry} (a Micrometer {@code MeterRegistry}), or none when it is null. */
  static RecurringMeters of(@Nullable Object meterRegistry) {
    return meterRegistry == null ? NONE : new MicrometerRecurringMeters(meterRegistry);
  }

  /** Measures nothing. */
  RecurringMeters NONE = new RecurringMeters() {};

  /** One occurrence enqueued, {@code lag} after its scheduled time. */
  default void fired(String type, Duration lag) {}

  /** A pass found missed occurrences of a definition (its misfire policy decided about them). */
  default void misfired(String type) {}

  /** An unreadable definition was parked (it fires no more until registered again). */
  default void parked() {}

  /** A definition's occurrences could not be enqueued; it stays due. */
  default void failed(String type) {}
}
