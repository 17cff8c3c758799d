package dev.saaskit.jobs.internal;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;

/**
 * The recurring-job scheduler's meters on a Micrometer registry, tagged by job {@code type} only (a tag per
 * recurring job name would be a time series per tenant for per-tenant schedules). Not API.
 */
final class MicrometerRecurringMeters implements RecurringMeters {
  static final String PREFIX = "saaskit.jobs.recurring.";

  private final MeterRegistry registry;
  private final Counter parked;

  MicrometerRecurringMeters(Object registry) {
    this.registry = (MeterRegistry) registry;
    this.parked = Counter.builder(PREFIX + "parked")
        .description("Unreadable recurring job definitions parked (they fire no more until registered again)")
        .register(this.registry);
  }

  @Override
  public void fired(String type, Duration lag) {
    Counter.builder(PREFIX + "fired").description("Occurrences of recurring jobs enqueued").tag("type", type)
        .register(registry).increment();
    Timer.builder(PREFIX + "lag").description("How long after its scheduled time an occurrence was enqueued")
        .tag("type", type).register(registry).record(lag.isNegative() ? Duration.ZERO : lag);
  }

  @Override
  public void misfired(String type) {
    Counter.builder(PREFIX + "misfired")
        .description("Passes that found missed occurrences of a recurring job (its misfire policy decided)")
        .tag("type", type).register(registry).increment();
  }

  @Override
  public void parked() {
    parked.increment();
  }

  @Override
  public void failed(String type) {
    Counter.builder(PREFIX + "failed")
        .description("Recurring job occurrences that could not be enqueued (retried on the next pass)")
        .tag("type", type).register(registry).increment();
  }
}
