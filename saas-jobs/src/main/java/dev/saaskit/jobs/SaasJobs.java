package dev.saaskit.jobs;

import dev.saaskit.jobs.internal.LocalWakeups;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Clock;
import java.util.Objects;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;

/**
 * The one entry to saas-jobs: built once from the data sources, the schema, the codec, the clock and the meter
 * registry, it hands out the parts, all sharing those settings, so they cannot disagree.
 *
 * <pre>{@code
 * SaasJobs jobs = SaasJobs.builder(appDataSource)      // what enqueues: the app's pool or its TenantDataSource
 *     .workerDataSource(workerPool)                     // the worker role's pool (JobsSchema.grantWorker)
 *     .build();
 *
 * JobQueue queue = jobs.queue();                        // enqueue, poll, cancel (current tenant)
 * JobWorker worker = jobs.worker()                      // handlers and queues are the worker's own options
 *     .handler(SEND_EMAIL, (email, ctx) -> mailer.send(email))
 *     .build()
 *     .start();
 * JobAdmin admin = jobs.admin();                        // operators: every tenant
 * }</pre>
 *
 * <ul>
 *   <li>{@link #queue()} enqueues through the application data source: its role was granted
 *       {@link JobsSchema#grantApp} and the job table's row-level security admits only the current tenant's jobs.
 *   <li>{@link #worker()}, {@link #recurring()} and {@link #admin()} use the worker data source, whose role was
 *       granted {@link JobsSchema#grantWorker}: they see the jobs of every tenant through the worker policy.
 * </ul>
 *
 * <p>Settings and defaults: {@code workerDataSource} the application data source (fine for a single-role
 * set-up in tests; give the worker role's pool in production), {@code schema} {@link JobsSchema#defaults()},
 * {@code codec} {@link JobCodec#jackson()}, {@code clock} {@link Clock#systemUTC()}, {@code meterRegistry} none,
 * {@code maxPayloadBytes} {@value #DEFAULT_MAX_PAYLOAD_BYTES}. Building starts nothing and touches no database:
 * threads start with {@link JobWorker#start()} and {@link RecurringJobs#start()}. Immutable and thread-safe.
 */
public final class SaasJobs {
  /** The payload size limit used unless set: 256 KiB of JSON. */
  public static final int DEFAULT_MAX_PAYLOAD_BYTES = 256 * 1024;

  private final DataSource appDataSource;
  private final DataSource workerDataSource;
  private final JobsSchema schema;
  private final JobCodec codec;
  private final Clock clock;
  private final @Nullable Object meterRegistry;
  private final JobQueue queue;
  private final JobAdmin admin;
  private final LocalWakeups wakeups = new LocalWakeups();

  private SaasJobs(Builder b) {
    this.appDataSource = b.appDataSource;
    this.workerDataSource = b.workerDataSource != null ? b.workerDataSource : b.appDataSource;
    this.schema = b.schema;
    this.codec = b.codec;
    this.clock = b.clock;
    this.meterRegistry = b.meterRegistry;
    this.queue = JobQueue.builder(appDataSource).schema(schema).codec(codec).clock(clock)
        .maxPayloadBytes(b.maxPayloadBytes).wakeups(wakeups).build();
    this.admin = JobAdmin.builder(workerDataSource).schema(schema).codec(codec).clock(clock).build();
  }

  /**
   * A builder for the module on {@code appDataSource}, the data source jobs are enqueued through: the
   * application's pool (a role granted {@link JobsSchema#grantApp}), plain or wrapped in saas-tenancy's
   * {@code TenantDataSource}.
   */
  public static Builder builder(DataSource appDataSource) {
    return new Builder(Objects.requireNonNull(appDataSource, "appDataSource"));
  }

  /** The queue: enqueue, poll and cancel the current tenant's jobs. The same instance on every call. */
  public JobQueue queue() {
    return queue;
  }

  /** The operators' view of every tenant's jobs, on the worker data source. The same instance on every call. */
  public JobAdmin admin() {
    return admin;
  }

  /**
   * A new worker builder on the worker data source, with this module's schema, codec, clock and meter registry
   * filled in; add handlers and queues, then {@code build().start()}. A started worker from here is also woken in
   * process by {@link #queue()}: once an enqueue that commits on its own (or on an auto-commit connection) has
   * committed a job due now, the worker claims at once instead of waiting for the NOTIFY's trip through the server
   * (docs/jobs-workers.md, "Wake-ups").
   */
  public JobWorker.Builder worker() {
    JobWorker.Builder b = JobWorker.builder(workerDataSource).schema(schema).codec(codec).clock(clock)
        .localWakeups(wakeups);
    if (meterRegistry != null) {
      b.meterRegistryObject(meterRegistry);
    }
    return b;
  }

  /**
   * A new recurring-job builder on the worker data source, with this module's schema, codec, clock and meter
   * registry filled in; add {@link RecurringJob}s, then {@code build().start()}.
   */
  public RecurringJobs.Builder recurring() {
    return RecurringJobs.builder(workerDataSource).schema(schema).codec(codec).clock(clock)
        .meterRegistry(meterRegistry);
  }

  /** Test hook: the in-process wake-ups the queue and the workers of this instance share. Not API. */
  LocalWakeups localWakeupsForTesting() {
    return wakeups;
  }

  /** The schema every part works on. */
  public JobsSchema schema() {
    return schema;
  }

  /** The codec of payloads and results. */
  public JobCodec codec() {
    return codec;
  }

  /** The clock of delays, retries, schedules and retention. */
  public Clock clock() {
    return clock;
  }

  /** Builds a {@link SaasJobs}. Setters check their argument at once. Not thread-safe. */
  public static final class Builder {
    private final DataSource appDataSource;
    private @Nullable DataSource workerDataSource;
    private JobsSchema schema = JobsSchema.defaults();
    private JobCodec codec = JobCodec.jackson();
    private Clock clock = Clock.systemUTC();
    private @Nullable Object meterRegistry;
    private int maxPayloadBytes = DEFAULT_MAX_PAYLOAD_BYTES;

    private Builder(DataSource appDataSource) {
      this.appDataSource = appDataSource;
    }

    /**
     * The worker role's pool (a role granted {@link JobsSchema#grantWorker}), used by workers, recurring jobs and
     * the admin; default the application data source. A worker started on a role that may not update the job
     * table (the application's role, granted {@link JobsSchema#grantApp} only) throws a {@code SaasException} at
     * {@link JobWorker#start()} that says to set this.
     */
    public Builder workerDataSource(DataSource workerDataSource) {
      this.workerDataSource = Objects.requireNonNull(workerDataSource, "workerDataSource");
      return this;
    }

    /** The schema (its name and tenant setting); default {@link JobsSchema#defaults()}. */
    public Builder schema(JobsSchema schema) {
      this.schema = Objects.requireNonNull(schema, "schema");
      return this;
    }

    /** The codec of payloads and results; default {@link JobCodec#jackson()}. */
    public Builder codec(JobCodec codec) {
      this.codec = Objects.requireNonNull(codec, "codec");
      return this;
    }

    /**
     * The clock: turns a request's delay into a run time, places retries, decides which cron occurrences are due
     * and which finished jobs are past their retention; default {@link Clock#systemUTC()}.
     */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * Registers the meters of workers and recurring jobs ({@code saaskit.jobs.*}, see docs/jobs-workers.md and
     * docs/jobs-cron.md); default none. Micrometer is an optional dependency of saas-jobs.
     */
    public Builder meterRegistry(MeterRegistry meterRegistry) {
      this.meterRegistry = Objects.requireNonNull(meterRegistry, "meterRegistry");
      return this;
    }

    /** The largest payload accepted, in bytes of JSON, at least 16; default 262144 (256 KiB). */
    public Builder maxPayloadBytes(int maxPayloadBytes) {
      if (maxPayloadBytes < 16) {
        throw new IllegalArgumentException("maxPayloadBytes must be >= 16 but was " + maxPayloadBytes);
      }
      this.maxPayloadBytes = maxPayloadBytes;
      return this;
    }

    /**
     * The module. Starts nothing and touches no database.
     *
     * @throws IllegalArgumentException if the schema name is too long for its wake-up channel (over 56 bytes)
     */
    public SaasJobs build() {
      return new SaasJobs(this);
    }
  }
}
