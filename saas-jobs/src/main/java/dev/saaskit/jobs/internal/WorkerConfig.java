package dev.saaskit.jobs.internal;

import dev.saaskit.jobs.JobCodec;
import dev.saaskit.jobs.JobHandler;
import dev.saaskit.jobs.JobsSchema;
import dev.saaskit.jobs.RetryPolicy;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.random.RandomGenerator;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;

/**
 * A validated worker configuration, built by {@code JobWorker.Builder}. Immutable apart from the objects it refers
 * to (data sources, codec, clock, random, the in-process wake-ups of its {@code SaasJobs}), which the application
 * shares with the worker on purpose.
 */
public record WorkerConfig(
    DataSource dataSource,
    DataSource listenDataSource,
    JobsSchema schema,
    Map<String, Handler> handlers,
    List<Queue> queues,
    JobCodec codec,
    Clock clock,
    RandomGenerator random,
    Duration pollInterval,
    boolean listen,
    int batchSize,
    int maxBatchSize,
    Duration closeTimeout,
    String workerId,
    @Nullable Object meterRegistry,
    Duration progressInterval,
    Duration metricsInterval,
    int maxResultBytes,
    @Nullable LocalWakeups localWakeups) {

  /** Copies the collections, so the configuration cannot change after it is built. */
  public WorkerConfig {
    handlers = Map.copyOf(handlers);
    queues = List.copyOf(queues);
  }

  /** A job type this worker runs; {@code timeout} applies to jobs enqueued without one (null = none). */
  public record Handler(String type, Class<?> payloadType, JobHandler<Object> handler, Duration leaseDuration,
      RetryPolicy retryPolicy, @Nullable Duration timeout) {}

  /** A queue this worker serves. {@code tenantCap} 0 means no per-tenant cap. */
  public record Queue(String name, int concurrency, int tenantCap) {}

  /** The shortest lease of any handler: heartbeats and rescue run at fractions of it. */
  Duration shortestLease() {
    return handlers.values().stream().map(Handler::leaseDuration).min(Duration::compareTo).orElseThrow();
  }
}
