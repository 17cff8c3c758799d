package dev.saaskit.jobs;

import dev.saaskit.core.SaasException;
import dev.saaskit.core.TenantId;
import dev.saaskit.jobs.internal.JsonTexts;
import dev.saaskit.jobs.internal.RecurringDefinition;
import dev.saaskit.jobs.internal.RecurringEnqueuer;
import dev.saaskit.jobs.internal.RecurringMeters;
import dev.saaskit.jobs.internal.RecurringScheduler;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;

/**
 * The recurring-job scheduler of one node: registers its {@link RecurringJob}s, then enqueues each due occurrence
 * on its own thread. Run one on every node that should keep schedules alive (no leader is needed): each
 * occurrence is enqueued exactly once however many nodes run, because the node that fires it locks the
 * definition's row, enqueues the job and moves the row's next fire time in one transaction.
 *
 * <pre>{@code
 * RecurringJobs recurring = jobs.recurring()      // jobs: a SaasJobs; its workerDataSource is granted grantWorker
 *     .add(RecurringJob.builder("reports.daily", "0 6 * * *",
 *             JobRequest.builder(DAILY_REPORT, new DailyReport()).noTenant().build())
 *         .zone(ZoneId.of("Europe/Paris"))
 *         .build())
 *     .build()
 *     .start();
 * // at shutdown
 * recurring.close();
 * }</pre>
 *
 * <p>The DataSource must log in as a role granted {@link JobsSchema#grantWorker}: the scheduler reads every
 * definition and enqueues jobs for every tenant. {@link #start()} upserts the node's definitions (the
 * latest start wins; changing a cron expression, syntax or zone restarts that schedule from now, any other change
 * keeps the next fire time). The table is the source of truth: a node fires every enabled definition in it, also
 * ones it does not declare itself, and definitions no node declares any more stay until {@link #remove(String)}.
 *
 * <p>Lifecycle: {@link Builder#build()} checks the settings and starts nothing; {@link #start()} registers the
 * definitions and starts the thread (once: a second call throws); {@link #close()} stops it within
 * {@code closeTimeout}. The schema, the clock (the schedule math), the {@link JobCodec} (template payloads given
 * as objects) and the meter registry come from the {@link SaasJobs}; the settings of this builder and their
 * defaults are {@code tickInterval} one second, {@code batchSize} 100 definitions per transaction,
 * {@code closeTimeout} ten seconds. Thread-safe.
 */
public final class RecurringJobs implements AutoCloseable {
  /** The tick interval used unless set. */
  public static final Duration DEFAULT_TICK_INTERVAL = Duration.ofSeconds(1);
  /** The batch size used unless set. */
  public static final int DEFAULT_BATCH_SIZE = 100;
  /** The close timeout used unless set. */
  public static final Duration DEFAULT_CLOSE_TIMEOUT = Duration.ofSeconds(10);
  /** Bound on the on-time occurrences of one definition enqueued in one pass (a fast schedule, a long threshold). */
  private static final int MAX_ON_TIME_PER_PASS = 10_000;

  private final RecurringScheduler scheduler;
  private final List<RecurringDefinition> definitions;
  private final java.util.concurrent.atomic.AtomicInteger state = new java.util.concurrent.atomic.AtomicInteger();

  private RecurringJobs(RecurringScheduler scheduler, List<RecurringDefinition> definitions) {
    this.scheduler = scheduler;
    this.definitions = List.copyOf(definitions);
  }

  /**
   * A builder for a scheduler on {@code workerDataSource}; {@link SaasJobs#recurring()} is the public way to get
   * one, with the shared settings filled in.
   */
  static Builder builder(DataSource workerDataSource) {
    return new Builder(Objects.requireNonNull(workerDataSource, "workerDataSource"));
  }

  /**
   * Registers the declared jobs and starts the scheduler thread, whose first pass runs at once.
   *
   * @return this scheduler
   * @throws IllegalStateException if it was started or closed before, or closed while this call registered the
   *     definitions (the thread is then not started)
   * @throws SaasException if the definitions cannot be written (schema not migrated, role not granted, database
   *     down); the scheduler is then closed
   */
  public RecurringJobs start() {
    if (!state.compareAndSet(0, 1)) {
      throw new IllegalStateException(state.get() == 1 ? "this RecurringJobs was already started"
          : "this RecurringJobs is closed; build a new one");
    }
    try {
      scheduler.register(definitions);
    } catch (RuntimeException e) {
      state.set(2);
      throw e;
    }
    scheduler.start();
    return this;
  }

  /** Registers the declared jobs without starting the thread: tests drive {@link #tick()}. */
  RecurringJobs registerForTesting() {
    scheduler.register(definitions);
    return this;
  }

  /**
   * Deletes the recurring job {@code name}; returns false if there was none. Jobs it already enqueued are not
   * touched. A node that still declares it registers it again when it next starts: remove it from the code first.
   *
   * @throws SaasException if the database cannot be reached
   */
  public boolean remove(String name) {
    return scheduler.remove(Objects.requireNonNull(name, "name"));
  }

  /**
   * Stops firing the recurring job {@code name} until {@link #enable(String)}; returns false if there is none. The
   * flag survives restarts: registering the definition again does not re-enable it.
   *
   * @throws SaasException if the database cannot be reached
   */
  public boolean disable(String name) {
    return scheduler.disable(Objects.requireNonNull(name, "name"));
  }

  /**
   * Fires the recurring job {@code name} again after {@link #disable(String)}, from its first occurrence after
   * now (the occurrences while it was disabled are not caught up); returns false if there is none.
   *
   * @throws SaasException if the database cannot be reached
   */
  public boolean enable(String name) {
    return scheduler.enable(Objects.requireNonNull(name, "name"));
  }

  /**
   * The next occurrence the recurring job {@code name} will enqueue; empty if there is no such job or its
   * expression has no further occurrence.
   *
   * @throws SaasException if the database cannot be reached
   */
  public Optional<Instant> nextFireAt(String name) {
    return scheduler.nextFireAt(Objects.requireNonNull(name, "name"));
  }

  /** Runs one pass now, on the caller's thread, and returns how many jobs it enqueued. For tests. */
  int tick() {
    return scheduler.tick();
  }

  /**
   * Stops this node's scheduler thread after the pass in progress (interrupted after the close timeout). The
   * definitions stay in the database and other nodes keep firing them. Idempotent.
   */
  @Override
  public void close() {
    state.set(2);
    scheduler.close();
  }

  /**
   * Configures a {@link RecurringJobs}; get one from {@link SaasJobs#recurring()}, which fills in the worker data
   * source, schema, codec, clock and meter registry. Not thread-safe.
   */
  public static final class Builder {
    private final DataSource dataSource;
    private final Map<String, RecurringJob> jobs = new LinkedHashMap<>();
    private JobsSchema schema = JobsSchema.defaults();
    private Clock clock = Clock.systemUTC();
    private JobCodec codec = JobCodec.jackson();
    private @Nullable Object meterRegistry;
    private Duration tickInterval = DEFAULT_TICK_INTERVAL;
    private int batchSize = DEFAULT_BATCH_SIZE;
    private Duration closeTimeout = DEFAULT_CLOSE_TIMEOUT;

    private Builder(DataSource dataSource) {
      this.dataSource = dataSource;
    }

    /** The job schema (from {@link SaasJobs}). */
    Builder schema(JobsSchema schema) {
      this.schema = Objects.requireNonNull(schema, "schema");
      return this;
    }

    /** The clock of the schedule math, which occurrences are due (from {@link SaasJobs}). */
    Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /** Writes template payloads given as objects (from {@link SaasJobs}). */
    Builder codec(JobCodec codec) {
      this.codec = Objects.requireNonNull(codec, "codec");
      return this;
    }

    /** A Micrometer {@code MeterRegistry}, or null (from {@link SaasJobs}). */
    Builder meterRegistry(@Nullable Object meterRegistry) {
      this.meterRegistry = meterRegistry;
      return this;
    }

    /** How often the thread looks for due occurrences, 10 ms to 100 years; default one second. */
    public Builder tickInterval(Duration tickInterval) {
      Objects.requireNonNull(tickInterval, "tickInterval");
      if (tickInterval.compareTo(Duration.ofMillis(10)) < 0) {
        throw new IllegalArgumentException("tickInterval must be at least 10 ms but was " + tickInterval);
      }
      this.tickInterval = atMostLongest("tickInterval", tickInterval);
      return this;
    }

    /** How many due definitions one transaction locks and fires, at least 1; default 100. */
    public Builder batchSize(int batchSize) {
      if (batchSize < 1) {
        throw new IllegalArgumentException("batchSize must be >= 1 but was " + batchSize);
      }
      this.batchSize = batchSize;
      return this;
    }

    /**
     * How long {@link RecurringJobs#close()} waits for a pass in progress, zero to 100 years; default ten seconds.
     */
    public Builder closeTimeout(Duration closeTimeout) {
      Objects.requireNonNull(closeTimeout, "closeTimeout");
      if (closeTimeout.isNegative()) {
        throw new IllegalArgumentException("closeTimeout must not be negative but was " + closeTimeout);
      }
      this.closeTimeout = atMostLongest("closeTimeout", closeTimeout);
      return this;
    }

    /**
     * Both durations become nanoseconds for the scheduler's executor, which overflow a long past 292 years: a
     * longer one was accepted here and then made start() or close() throw ArithmeticException.
     */
    private static Duration atMostLongest(String name, Duration value) {
      if (value.compareTo(Duration.ofDays(36_500)) > 0) {
        throw new IllegalArgumentException(name + " must be at most 100 years but was " + value);
      }
      return value;
    }

    /**
     * Declares a recurring job of this node.
     *
     * @throws IllegalArgumentException if a job of the same name was already added
     */
    public Builder add(RecurringJob job) {
      Objects.requireNonNull(job, "job");
      if (jobs.putIfAbsent(job.name(), job) != null) {
        throw new IllegalArgumentException("recurring job name '" + job.name() + "' was added twice; names must be"
            + " unique (for one schedule in many tenants use '<name>:<tenant>')");
      }
      return this;
    }

    /** Declares several recurring jobs; see {@link #add(RecurringJob)}. */
    public Builder addAll(Collection<RecurringJob> jobs) {
      jobs.forEach(this::add);
      return this;
    }

    /**
     * The scheduler, not started: no thread, no database access. Template payloads given as objects are written
     * as JSON here.
     *
     * @throws SaasException if a template payload cannot be written as JSON by the codec
     */
    public RecurringJobs build() {
      JobQueue queue = JobQueue.builder(dataSource).schema(schema).clock(clock).codec(codec).build();
      List<RecurringDefinition> definitions = new ArrayList<>();
      for (RecurringJob job : jobs.values()) {
        definitions.add(definition(job, codec));
      }
      RecurringEnqueuer enqueuer = (connection, d, occurrences) -> queue.enqueueAll(connection,
          requests(d, occurrences));
      RecurringScheduler scheduler = new RecurringScheduler(dataSource, schema.name(), clock, enqueuer,
          tickInterval, batchSize, MAX_ON_TIME_PER_PASS, closeTimeout, RecurringMeters.of(meterRegistry));
      return new RecurringJobs(scheduler, definitions);
    }

    /** Builds and registers without starting the thread: tests drive {@link RecurringJobs#tick()}. */
    RecurringJobs create() {
      return build().registerForTesting();
    }

    private static RecurringDefinition definition(RecurringJob job, JobCodec codec) {
      JobRequest t = job.template();
      return new RecurringDefinition(job.name(), job.schedule(), t.tenant().map(TenantId::value).orElse(null),
          t.queue(), t.type(), payloadJson(job, codec), t.priority(), t.maxAttempts(), t.timeout().orElse(null),
          job.misfirePolicy(), job.misfireThreshold(), job.maxCatchUp());
    }

    private static String payloadJson(RecurringJob job, JobCodec codec) {
      JobRequest t = job.template();
      if (t.payloadJson().isPresent()) {
        return t.payloadJson().get();
      }
      String json;
      try {
        json = codec.encode(t.payload().orElse(null));
      } catch (RuntimeException e) {
        throw new SaasException("the payload of recurring job '" + job.name() + "' cannot be written as JSON: "
            + e.getMessage() + "; give a value the JobCodec can write, or JSON text (payloadJson)", e);
      }
      String unstorable = JsonTexts.unstorable(json);
      if (unstorable != null) {
        throw new SaasException("the payload of recurring job '" + job.name() + "' cannot be stored: " + unstorable);
      }
      return json;
    }
  }

  /** The job request of each occurrence, from the definition as stored. */
  private static List<JobRequest> requests(RecurringDefinition d, List<Instant> occurrences) {
    List<JobRequest> requests = new ArrayList<>(occurrences.size());
    for (Instant occurrence : occurrences) {
      JobRequest.Builder b = JobRequest.builder(d.type(), null)
          .payloadJson(d.payloadJson())
          .queue(d.queue())
          .priority(d.priority())
          .maxAttempts(d.maxAttempts())
          .runAt(occurrence)
          .uniqueKey(RecurringEnqueuer.uniqueKey(d.name(), occurrence));
      if (d.timeout() != null) {
        b.timeout(d.timeout());
      }
      if (d.tenant() == null) {
        b.noTenant();
      } else {
        b.tenant(TenantId.of(d.tenant()));
      }
      requests.add(b.build());
    }
    return requests;
  }
}
