package dev.saaskit.jobs.internal;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;

/**
 * The worker's meters on a Micrometer registry. Tags are {@code queue} and {@code type} only: a tenant tag would
 * create a time series per tenant.
 */
final class MicrometerWorkerMeters implements WorkerMeters {
  static final String PREFIX = "saaskit.jobs.";

  private final MeterRegistry registry;
  private final Map<String, Object> meters = new ConcurrentHashMap<>();
  private final Map<String, AtomicLong> depth = new ConcurrentHashMap<>();
  private final Map<String, AtomicLong> ageMillis = new ConcurrentHashMap<>();
  private final List<Meter> gauges = new ArrayList<>();

  MicrometerWorkerMeters(Object registry, List<String> queues) {
    this.registry = (MeterRegistry) registry;
    for (String queue : queues) {
      AtomicLong d = new AtomicLong();
      AtomicLong a = new AtomicLong();
      depth.put(queue, d);
      ageMillis.put(queue, a);
      gauges.add(Gauge.builder(PREFIX + "queue.depth", d, AtomicLong::get)
          .description("Due pending jobs in the queue (refreshed every metricsInterval)")
          .tag("queue", queue).register(this.registry));
      gauges.add(Gauge.builder(PREFIX + "queue.age", a, v -> v.get() / 1000.0)
          .description("Age of the oldest due pending job in the queue")
          .baseUnit("seconds").tag("queue", queue).register(this.registry));
    }
  }

  @Override
  public boolean wantsDepth() {
    return true;
  }

  @SuppressWarnings("unchecked")
  private <M> M meter(String name, String queue, String type, Function<Tags, M> create) {
    String key = name + '\0' + queue + '\0' + type;
    return (M) meters.computeIfAbsent(key, k -> create.apply(
        type.isEmpty() ? Tags.of("queue", queue) : Tags.of("queue", queue, "type", type)));
  }

  private Counter counter(String name, String description, String queue, String type) {
    return meter(name, queue, type, tags -> Counter.builder(PREFIX + name).description(description).tags(tags)
        .register(registry));
  }

  private Timer timer(String name, String description, String queue, String type) {
    return meter(name, queue, type, tags -> Timer.builder(PREFIX + name).description(description).tags(tags)
        .register(registry));
  }

  @Override
  public void claimed(String queue, long nanos, int jobs) {
    timer("claim", "Time of one claim query", queue, "").record(nanos, TimeUnit.NANOSECONDS);
    if (jobs > 0) {
      counter("claimed", "Jobs claimed", queue, "").increment(jobs);
    }
  }

  @Override
  public void executed(String queue, String type, long nanos) {
    timer("execution", "Time spent in the handler", queue, type).record(nanos, TimeUnit.NANOSECONDS);
  }

  @Override
  public void completed(String queue, String type) {
    counter("completed", "Jobs completed", queue, type).increment();
  }

  @Override
  public void failed(String queue, String type, boolean retried) {
    counter("failed", "Failed attempts", queue, type).increment();
    if (retried) {
      counter("retried", "Failed attempts scheduled for a retry", queue, type).increment();
    } else {
      counter("dead", "Jobs that became dead", queue, type).increment();
    }
  }

  @Override
  public void cancelled(String queue, String type) {
    counter("cancelled", "Running jobs that ended cancelled", queue, type).increment();
  }

  @Override
  public void released(String queue, String type) {
    counter("released", "Jobs given back at shutdown", queue, type).increment();
  }

  @Override
  public void rescued(String queue, String type) {
    counter("rescued", "Jobs rescued after their lease expired", queue, type).increment();
  }

  @Override
  public void zombieRejected(String queue, String type) {
    counter("zombie.rejected", "Outcomes rejected because the lease was lost", queue, type).increment();
  }

  @Override
  public void depth(String queue, long pending, double oldestAgeSeconds) {
    AtomicLong d = depth.get(queue);
    AtomicLong a = ageMillis.get(queue);
    if (d != null && a != null) {
      d.set(pending);
      a.set(Math.round(oldestAgeSeconds * 1000));
    }
  }

  @Override
  public void close() {
    for (Meter gauge : gauges) {
      registry.remove(gauge);
    }
  }
}
