package dev.saaskit.jobs;

import dev.saaskit.jobs.internal.Channels;
import dev.saaskit.jobs.internal.LocalWakeups;
import dev.saaskit.jobs.internal.WorkerConfig;
import dev.saaskit.jobs.internal.WorkerEngine;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.random.RandomGenerator;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;

/**
 * Runs jobs: claims them from the job table fairly across tenants, runs each handler inside
 * {@link dev.saaskit.core.TenantContext} of the job's tenant on a bounded pool per queue, records outcomes in
 * batches, retries failures with backoff, keeps leases alive with heartbeats and rescues the jobs of workers that
 * died. Any number of workers, in one process or many, may serve the same queues.
 *
 * <pre>{@code
 * JobWorker worker = jobs.worker()          // jobs: a SaasJobs; its workerDataSource is granted grantWorker
 *     .handler(SEND_INVOICE, (job, ctx) -> invoices.send(job.invoiceId()))
 *     .queue("default", 8)
 *     .build()
 *     .start();
 * ...
 * worker.close();                                                // graceful: finish or release, then stop
 * }</pre>
 *
 * <p>The worker's data source must log in as a role granted with {@link JobsSchema#grantWorker}: it sees the jobs
 * of every tenant through its own policy, without owning the table or bypassing RLS. The worker uses three
 * connections at a time (claims, outcomes, heartbeats), plus one held for {@code LISTEN} with {@code listen(true)};
 * handlers use the application's own data source.
 *
 * <p>Guarantees: a job's handler runs at least once per attempt and may run again if a worker dies or stalls past
 * its lease; a job is completed at most once (outcomes are fenced by the lease epoch). See docs/jobs-workers.md.
 */
public final class JobWorker implements AutoCloseable {
  private final WorkerEngine engine;

  private JobWorker(WorkerEngine engine) {
    this.engine = engine;
  }

  /**
   * A builder for a worker that claims through {@code workerDataSource}; {@link SaasJobs#worker()} is the public
   * way to get one, with the shared settings filled in.
   */
  static Builder builder(DataSource workerDataSource) {
    return new Builder(Objects.requireNonNull(workerDataSource, "workerDataSource"));
  }

  /**
   * Starts claiming: checks that the job table is readable, opens the {@code LISTEN} connection (when enabled),
   * then starts the threads. Returns once wake-ups are being listened for.
   *
   * @return this worker
   * @throws dev.saaskit.core.SaasException if the table cannot be read, the role may not update it (the
   *     application's role instead of one granted {@link JobsSchema#grantWorker}) or LISTEN fails; the message says
   *     what to fix
   * @throws IllegalStateException if the worker was started or closed before, or was closed while this call waited
   *     on the database
   */
  public JobWorker start() {
    engine.start();
    return this;
  }

  /** This worker's id, stored in the {@code worker_id} column of the jobs it holds and in its logs. */
  public String workerId() {
    return engine.workerId();
  }

  /**
   * Graceful shutdown: stops claiming, waits up to {@code closeTimeout} for running handlers, then interrupts
   * the others and releases their jobs (pending again, the attempt not counted), records all outcomes, and stops
   * heartbeats and the LISTEN connection. Idempotent; concurrent callers wait for the first. Called from one of this
   * worker's handlers, it starts the shutdown and returns at once (the shutdown waits for that handler to return).
   * Called while {@link #start()} still waits on the database, it returns at once and that start throws
   * {@link IllegalStateException}. If the calling thread
   * is interrupted meanwhile, it returns at once with its interrupt flag set: heartbeats stop and the jobs not given
   * back are rescued by other workers once their leases expire.
   */
  @Override
  public void close() {
    engine.close();
  }

  /** Test hook: dies like a killed process (nothing released, nothing written). Not API. */
  void crashForTesting() {
    engine.crash();
  }

  /** Test hook: stalls claims, heartbeats and rescue while handlers run on. Not API. */
  void freezeForTesting() {
    engine.freeze();
  }

  /**
   * Per job type settings. Unset values fall back to the worker's defaults ({@link Builder#leaseDuration},
   * {@link Builder#retryPolicy}); a job's own timeout (set at enqueue) wins over {@code timeout}.
   *
   * @param leaseDuration how long a claim lasts without a heartbeat before the job is rescued; null = default
   * @param retryPolicy the backoff between attempts; null = default
   * @param timeout the time limit of one attempt for jobs enqueued without one; null = no limit
   */
  public record HandlerOptions(@Nullable Duration leaseDuration, @Nullable RetryPolicy retryPolicy,
      @Nullable Duration timeout) {

    /**
     * @throws IllegalArgumentException if the lease is shorter than {@link Builder#MIN_LEASE} or the timeout is
     *     under 1 ms
     */
    public HandlerOptions {
      if (leaseDuration != null) {
        requireLease(leaseDuration);
      }
      // compared, not converted: toMillis() of the longest durations throws ArithmeticException
      if (timeout != null && timeout.compareTo(Duration.ofMillis(1)) < 0) {
        throw new IllegalArgumentException("timeout must be >= 1 ms but was " + timeout);
      }
      if (timeout != null && timeout.compareTo(RetryPolicy.MAX_DELAY) > 0) {
        throw new IllegalArgumentException("timeout must be at most 1000 years (as JobRequest.timeout) but was "
            + timeout);
      }
    }

    /** No overrides. */
    public static HandlerOptions defaults() {
      return new HandlerOptions(null, null, null);
    }

    /** These options with another lease duration. */
    public HandlerOptions withLeaseDuration(Duration leaseDuration) {
      return new HandlerOptions(Objects.requireNonNull(leaseDuration, "leaseDuration"), retryPolicy, timeout);
    }

    /** These options with another retry policy. */
    public HandlerOptions withRetryPolicy(RetryPolicy retryPolicy) {
      return new HandlerOptions(leaseDuration, Objects.requireNonNull(retryPolicy, "retryPolicy"), timeout);
    }

    /** These options with a time limit for jobs enqueued without one. */
    public HandlerOptions withTimeout(Duration timeout) {
      return new HandlerOptions(leaseDuration, retryPolicy, Objects.requireNonNull(timeout, "timeout"));
    }
  }

  private static Duration requireLease(Duration lease) {
    if (lease.compareTo(Builder.MIN_LEASE) < 0) {
      throw new IllegalArgumentException("leaseDuration must be >= " + Builder.MIN_LEASE.toMillis() + " ms but was "
          + lease.toMillis() + " ms");
    }
    return atMostLongest("leaseDuration", lease);
  }

  /**
   * The longest duration a worker setting accepts, 100 years. The worker adds its settings to
   * {@code System.nanoTime()}: past 292 years they overflow a long of nanoseconds, and a longer one was accepted and
   * then broke the worker (a closeTimeout meant as "wait for ever" made close() throw ArithmeticException and leave
   * every thread running; a longer lease made each job see its lease as lost at once; a longer poll interval ended
   * the claiming thread).
   */
  private static final Duration LONGEST = Duration.ofDays(36_500);

  private static Duration atMostLongest(String name, Duration value) {
    if (value.compareTo(LONGEST) > 0) {
      throw new IllegalArgumentException(name + " must be at most 100 years but was " + value);
    }
    return value;
  }

  /**
   * Builds a {@link JobWorker}; get one from {@link SaasJobs#worker()}, which fills in the worker data source, the
   * schema, the codec, the clock and the meter registry shared by the whole module. Every setting here has a
   * default except the handlers: at least one is required. Setters check their argument at once and name the bad
   * value.
   */
  public static final class Builder {
    /** The shortest lease accepted: heartbeats run every third of it, so shorter leases expire on a busy host. */
    public static final Duration MIN_LEASE = Duration.ofMillis(500);

    private static final AtomicInteger WORKERS_IN_JVM = new AtomicInteger();

    private final DataSource dataSource;
    private @Nullable DataSource listenDataSource;
    private JobsSchema schema = JobsSchema.defaults();
    private final Map<String, PendingHandler> handlers = new LinkedHashMap<>();
    private final Map<String, WorkerConfig.Queue> queues = new LinkedHashMap<>();
    private JobCodec codec = JobCodec.jackson();
    private Clock clock = Clock.systemUTC();
    private @Nullable RandomGenerator random;
    private Duration pollInterval = Duration.ofSeconds(1);
    private boolean listen = true;
    private int batchSize = 32;
    private int maxBatchSize;
    private Duration closeTimeout = Duration.ofSeconds(30);
    private @Nullable String workerId;
    private @Nullable Object meterRegistry;
    private Duration leaseDuration = Duration.ofSeconds(30);
    private RetryPolicy retryPolicy = RetryPolicy.defaults();
    private Duration progressInterval = Duration.ofSeconds(1);
    private Duration metricsInterval = Duration.ofSeconds(15);
    private int maxResultBytes = 64 * 1024;
    private @Nullable LocalWakeups localWakeups;

    private Builder(DataSource dataSource) {
      this.dataSource = dataSource;
    }

    private record PendingHandler(String type, Class<?> payloadType, JobHandler<Object> handler,
        HandlerOptions options) {}

    /** The in-process wake-ups of the {@link SaasJobs} this worker comes from: its queue's enqueues wake it. */
    Builder localWakeups(LocalWakeups localWakeups) {
      this.localWakeups = Objects.requireNonNull(localWakeups, "localWakeups");
      return this;
    }

    /** The schema holding the job table (from {@link SaasJobs}). */
    Builder schema(JobsSchema schema) {
      this.schema = Objects.requireNonNull(schema, "schema");
      return this;
    }

    /**
     * Registers the handler of a job type, with the worker's default lease and retry policy. The worker claims
     * only jobs of registered types; jobs of other types stay pending for workers that have their handler. The
     * handler gets each payload decoded into {@link JobType#payloadType()} by the {@link JobCodec}.
     *
     * @param type the job type, the same token given to {@link JobRequest#builder(JobType, Object)}
     * @throws IllegalArgumentException if a handler for a type of the same name is already registered
     */
    public <P> Builder handler(JobType<P> type, JobHandler<P> handler) {
      return handler(type, handler, HandlerOptions.defaults());
    }

    /** Like {@link #handler(JobType, JobHandler)}, with per-type options (lease, retry policy, timeout). */
    @SuppressWarnings("unchecked")
    public <P> Builder handler(JobType<P> type, JobHandler<P> handler, HandlerOptions options) {
      Objects.requireNonNull(type, "type");
      Objects.requireNonNull(handler, "handler");
      Objects.requireNonNull(options, "options");
      if (handlers.containsKey(type.name())) {
        throw new IllegalArgumentException("a handler for job type '" + type.name() + "' is already registered");
      }
      handlers.put(type.name(), new PendingHandler(type.name(), type.payloadType(), (JobHandler<Object>) handler,
          options));
      return this;
    }

    /**
     * Serves {@code name} with at most {@code concurrency} handlers running at once. Without any call, the worker
     * serves queue {@code "default"} with concurrency 8.
     *
     * @throws IllegalArgumentException if the name is blank, already added, or concurrency is under 1
     */
    public Builder queue(String name, int concurrency) {
      return queue(name, concurrency, 0);
    }

    /**
     * Serves {@code name} like {@link #queue(String, int)}, running at most {@code tenantConcurrencyCap} jobs of
     * any one tenant at once across all workers of this queue (enforced in the claim; claims of a capped queue
     * take turns through an advisory lock). 0 means no cap.
     *
     * @throws IllegalArgumentException if the cap is negative
     */
    public Builder queue(String name, int concurrency, int tenantConcurrencyCap) {
      Objects.requireNonNull(name, "name");
      if (name.isBlank()) {
        throw new IllegalArgumentException("queue name must not be blank");
      }
      if (queues.containsKey(name)) {
        throw new IllegalArgumentException("queue '" + name + "' is already added");
      }
      if (concurrency < 1) {
        throw new IllegalArgumentException("concurrency must be >= 1 but was " + concurrency);
      }
      if (tenantConcurrencyCap < 0) {
        throw new IllegalArgumentException("tenantConcurrencyCap must be >= 0 (0 = no cap) but was "
            + tenantConcurrencyCap);
      }
      queues.put(name, new WorkerConfig.Queue(name, concurrency, tenantConcurrencyCap));
      return this;
    }

    /** Reads payloads and writes results (from {@link SaasJobs}). */
    Builder codec(JobCodec codec) {
      this.codec = Objects.requireNonNull(codec, "codec");
      return this;
    }

    /**
     * The clock for scheduling decisions (from {@link SaasJobs}): a retry runs at this clock's time of the failure
     * plus the backoff, and a job is due when {@code run_at <= greatest(database now(), clock)}. Leases use the
     * database clock.
     */
    Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /** The source of retry jitter (used under a lock, so any generator works). Default a new {@link Random}. */
    public Builder random(RandomGenerator random) {
      this.random = Objects.requireNonNull(random, "random");
      return this;
    }

    /**
     * How often each queue is polled when no NOTIFY arrives: the fallback when notifications are lost and the
     * only trigger with {@code listen(false)}. It also bounds how late a delayed job or a retry starts. Default 1 s.
     */
    public Builder pollInterval(Duration pollInterval) {
      this.pollInterval = positive("pollInterval", pollInterval, Duration.ofMillis(10));
      return this;
    }

    /**
     * Whether to hold a connection in {@code LISTEN <schema>_wakeup} for instant wake-ups on enqueue. Turn it off
     * behind PgBouncer in transaction pooling mode (LISTEN needs a session), or give {@link #listenDataSource}
     * a direct connection. Default true.
     */
    public Builder listen(boolean listen) {
      this.listen = listen;
      return this;
    }

    /** Where the LISTEN connection comes from. Default: the worker data source. */
    public Builder listenDataSource(DataSource listenDataSource) {
      this.listenDataSource = Objects.requireNonNull(listenDataSource, "listenDataSource");
      return this;
    }

    /**
     * Jobs one claim query takes for a queue while its handlers keep up (never more than its free slots). Default 32.
     * When the handlers run out of claimed jobs while a full claim is on its way, the queue doubles its claim size
     * (and the jobs it holds ready), up to {@link #maxBatchSize(int)}, and halves it again once claims come back
     * short; see docs/jobs-workers.md.
     */
    public Builder batchSize(int batchSize) {
      if (batchSize < 1 || batchSize > 1000) {
        throw new IllegalArgumentException("batchSize must be within [1, 1000] but was " + batchSize);
      }
      this.batchSize = batchSize;
      return this;
    }

    /**
     * The largest claim a queue grows to when its handlers finish jobs faster than claims arrive. Default 8 x
     * {@link #batchSize(int)}, at most 1,000; set it equal to {@code batchSize} for a fixed claim size.
     */
    public Builder maxBatchSize(int maxBatchSize) {
      if (maxBatchSize < 1 || maxBatchSize > 1000) {
        throw new IllegalArgumentException("maxBatchSize must be within [1, 1000] but was " + maxBatchSize);
      }
      this.maxBatchSize = maxBatchSize;
      return this;
    }

    /**
     * How long {@link JobWorker#close()} waits for running handlers before releasing their jobs (the lifecycle's
     * close bound; then close takes at most about 2 s more to release and record). Default 30 s, longer than the
     * 10 s of components without handlers, so that ordinary jobs can finish during a rolling deploy.
     */
    public Builder closeTimeout(Duration closeTimeout) {
      Objects.requireNonNull(closeTimeout, "closeTimeout");
      if (closeTimeout.isNegative()) {
        throw new IllegalArgumentException("closeTimeout must not be negative but was " + closeTimeout);
      }
      this.closeTimeout = atMostLongest("closeTimeout", closeTimeout);
      return this;
    }

    /** This worker's id in the job rows and logs. Default {@code <host>-<pid>-<n>}. */
    public Builder workerId(String workerId) {
      Objects.requireNonNull(workerId, "workerId");
      if (workerId.isBlank() || workerId.length() > 200 || workerId.indexOf('\0') >= 0) {
        throw new IllegalArgumentException("workerId must be 1 to 200 printable characters but was '" + workerId
            + "'");
      }
      this.workerId = workerId;
      return this;
    }

    /** Registers the worker's meters ({@code saaskit.jobs.*}; from {@link SaasJobs}). */
    Builder meterRegistry(MeterRegistry meterRegistry) {
      this.meterRegistry = Objects.requireNonNull(meterRegistry, "meterRegistry");
      return this;
    }

    /** Like {@link #meterRegistry(MeterRegistry)}, from a value typed Object (Micrometer is optional). */
    Builder meterRegistryObject(Object meterRegistry) {
      this.meterRegistry = Objects.requireNonNull(meterRegistry, "meterRegistry");
      return this;
    }

    /**
     * The default lease of a claimed job: without a heartbeat for this long (on the database clock) it is rescued
     * and retried by another worker. Heartbeats run every third of the shortest lease. Default 30 s, at least
     * {@link #MIN_LEASE}.
     */
    public Builder leaseDuration(Duration leaseDuration) {
      this.leaseDuration = requireLease(Objects.requireNonNull(leaseDuration, "leaseDuration"));
      return this;
    }

    /** The default retry policy. Default {@link RetryPolicy#defaults()}. */
    public Builder retryPolicy(RetryPolicy retryPolicy) {
      this.retryPolicy = Objects.requireNonNull(retryPolicy, "retryPolicy");
      return this;
    }

    /** How often reported progress is written (between heartbeats). Default 1 s. */
    public Builder progressInterval(Duration progressInterval) {
      this.progressInterval = positive("progressInterval", progressInterval, Duration.ofMillis(50));
      return this;
    }

    /** How often the queue depth and age gauges are refreshed (only with a meter registry). Default 15 s. */
    public Builder metricsInterval(Duration metricsInterval) {
      this.metricsInterval = positive("metricsInterval", metricsInterval, Duration.ofMillis(100));
      return this;
    }

    /**
     * The largest JSON result stored, in UTF-8 bytes; a larger result is dropped (the job still completes, with a
     * note in {@code last_error}). Default 64 KiB.
     */
    public Builder maxResultBytes(int maxResultBytes) {
      if (maxResultBytes < 16) {
        throw new IllegalArgumentException("maxResultBytes must be >= 16 but was " + maxResultBytes);
      }
      this.maxResultBytes = maxResultBytes;
      return this;
    }

    private static Duration positive(String name, Duration value, Duration min) {
      Objects.requireNonNull(value, name);
      if (value.compareTo(min) < 0) {
        throw new IllegalArgumentException(name + " must be >= " + min.toMillis() + " ms but was " + value);
      }
      return atMostLongest(name, value);
    }

    /**
     * The worker, not started yet.
     *
     * @throws IllegalStateException if no handler was registered
     */
    public JobWorker build() {
      if (handlers.isEmpty()) {
        throw new IllegalStateException("a JobWorker needs at least one handler: call handler(jobType, handler)"
            + " before build()");
      }
      List<WorkerConfig.Queue> served = new ArrayList<>(queues.values());
      if (served.isEmpty()) {
        served.add(new WorkerConfig.Queue("default", 8, 0));
      }
      Map<String, WorkerConfig.Handler> resolved = new LinkedHashMap<>();
      for (PendingHandler h : handlers.values()) {
        Duration lease = h.options().leaseDuration() != null ? h.options().leaseDuration() : leaseDuration;
        RetryPolicy retry = h.options().retryPolicy() != null ? h.options().retryPolicy() : retryPolicy;
        resolved.put(h.type(), new WorkerConfig.Handler(h.type(), h.payloadType(), h.handler(), lease, retry,
            h.options().timeout()));
      }
      if (maxBatchSize != 0 && maxBatchSize < batchSize) {
        throw new IllegalStateException("maxBatchSize (" + maxBatchSize + ") must not be below batchSize ("
            + batchSize + ")");
      }
      int largestBatch = maxBatchSize != 0 ? maxBatchSize : Math.min(1000, 8 * batchSize);
      String id = workerId != null ? workerId : defaultWorkerId();
      Channels.wakeup(schema.name()); // fails fast on a schema name too long for a channel
      WorkerConfig config = new WorkerConfig(dataSource, listenDataSource != null ? listenDataSource : dataSource,
          schema, resolved, served,
          codec, clock,
          random != null ? random : new Random(), pollInterval, listen, batchSize, largestBatch, closeTimeout,
          id, meterRegistry, progressInterval, metricsInterval, maxResultBytes, localWakeups);
      return new JobWorker(new WorkerEngine(config));
    }

    private static String defaultWorkerId() {
      String host = System.getenv("HOSTNAME");
      if (host == null || host.isBlank()) {
        host = "host";
      }
      return host.toLowerCase(Locale.ROOT) + "-" + ProcessHandle.current().pid() + "-"
          + WORKERS_IN_JVM.incrementAndGet();
    }
  }
}
