package dev.saaskit.benchmarks.jobs;

import com.github.kagkarlsson.scheduler.Scheduler;
import com.github.kagkarlsson.scheduler.SchedulerClient;
import com.github.kagkarlsson.scheduler.task.TaskInstance;
import com.github.kagkarlsson.scheduler.task.helper.OneTimeTask;
import com.github.kagkarlsson.scheduler.task.helper.Tasks;
import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * db-scheduler 16.7.1 in its {@code lock-and-fetch} polling strategy (one {@code SELECT ... FOR UPDATE SKIP LOCKED}
 * that picks a batch, one {@code DELETE} per finished one-time execution), the strategy its README recommends above
 * 1,000 executions per second.
 *
 * <ul>
 *   <li>table: the README's {@code postgresql_tables.sql} for 16.x ({@link #DDL}: {@code scheduled_tasks} and its
 *       three indexes);</li>
 *   <li>task: {@code Tasks.oneTime("noop", Long.class)}; the {@code long} is the task data, stored by the default
 *       serializer (Java serialization);</li>
 *   <li>scheduler: {@code threads(n)}, {@code pollUsingLockAndFetch(lower, upper)} with the README's "high
 *       throughput" example {@code 1.0, 4.0} by default, {@code enableImmediateExecution()} (the README's way to
 *       run executions scheduled for now without waiting for the next poll), {@code pollingInterval} 1 s
 *       (default 10 s; with immediate execution it only bounds how late a job enqueued by another process
 *       starts);</li>
 *   <li>batch enqueue: {@code SchedulerClient.scheduleBatch(List<TaskInstance>, Instant)} on a client that is not
 *       the scheduler, so nothing runs before {@link #startWorkers()}; single enqueue:
 *       {@code scheduler.schedule(instance, Instant.now())} on the running scheduler, which triggers the immediate
 *       check;</li>
 *   <li>pool: HikariCP, {@code threads + 4} connections, owner role.</li>
 * </ul>
 *
 * <p>Immediate execution is an in-process shortcut: only {@code schedule} calls on the {@code Scheduler} object
 * itself trigger it. The variant {@code db-scheduler-client} ({@link #fromOtherProcess}) enqueues its single jobs
 * through a plain {@code SchedulerClient}, as a web node without a scheduler would, so they wait for the next
 * poll; everything else is the same.
 */
public final class DbSchedulerEngine implements JobEngine {

  /**
   * db-scheduler's {@code postgresql_tables.sql} as of 16.x (the repository's later revisions add a {@code state}
   * column and relax {@code execution_time}, which 16.7.1 does not use).
   */
  static final String DDL = """
      create table scheduled_tasks (
        task_name text not null,
        task_instance text not null,
        task_data bytea,
        execution_time timestamp with time zone not null,
        picked boolean not null,
        picked_by text,
        last_success timestamp with time zone,
        last_failure timestamp with time zone,
        consecutive_failures int,
        last_heartbeat timestamp with time zone,
        version bigint not null,
        priority smallint,
        primary key (task_name, task_instance)
      );
      create index execution_time_idx on scheduled_tasks (execution_time);
      create index last_heartbeat_idx on scheduled_tasks (last_heartbeat);
      create index priority_execution_time_idx on scheduled_tasks (priority desc, execution_time asc);
      """;

  static final String VERSION = "16.7.1";
  static final Duration POLLING_INTERVAL = Duration.ofSeconds(1);

  private final double lowerLimitFractionOfThreads;
  private final double upperLimitFractionOfThreads;
  private final boolean singleJobsFromClient;

  private HikariDataSource pool;
  private OneTimeTask<Long> task;
  private SchedulerClient client;
  private Scheduler scheduler;
  private int threads;
  private long nextInstance;

  /** With the README's high-throughput limits, {@code 1.0, 4.0}. */
  public DbSchedulerEngine() {
    this(1.0, 4.0, false);
  }

  private DbSchedulerEngine(double lowerLimitFractionOfThreads, double upperLimitFractionOfThreads,
      boolean singleJobsFromClient) {
    this.lowerLimitFractionOfThreads = lowerLimitFractionOfThreads;
    this.upperLimitFractionOfThreads = upperLimitFractionOfThreads;
    this.singleJobsFromClient = singleJobsFromClient;
  }

  /** With other {@code pollUsingLockAndFetch} limits; single jobs scheduled on the scheduler itself. */
  public static DbSchedulerEngine withLimits(double lowerLimitFractionOfThreads, double upperLimitFractionOfThreads) {
    return new DbSchedulerEngine(lowerLimitFractionOfThreads, upperLimitFractionOfThreads, false);
  }

  /** Single jobs scheduled through a separate {@code SchedulerClient}, as from another process. */
  public static DbSchedulerEngine fromOtherProcess(double lowerLimitFractionOfThreads,
      double upperLimitFractionOfThreads) {
    return new DbSchedulerEngine(lowerLimitFractionOfThreads, upperLimitFractionOfThreads, true);
  }

  @Override
  public String name() {
    return singleJobsFromClient ? "db-scheduler-client" : "db-scheduler";
  }

  @Override
  public String settings() {
    return VERSION + ", lock-and-fetch " + lowerLimitFractionOfThreads + "/" + upperLimitFractionOfThreads
        + ", " + threads + " threads, immediate execution, polling interval " + POLLING_INTERVAL.toMillis()
        + " ms, Java-serialized Long task data, pool " + (threads + 4)
        + (singleJobsFromClient ? ", single jobs through a separate SchedulerClient (no immediate trigger)" : "");
  }

  @Override
  public void setUp(TestDatabase database, int workerThreads, JobProbe probe) throws Exception {
    threads = workerThreads;
    pool = database.newPool(database.ownerRole(), database.ownerPassword(), workerThreads + 4);
    try (Connection c = pool.getConnection(); Statement s = c.createStatement()) {
      s.execute(DDL);
    }
    task = Tasks.oneTime("noop", Long.class).execute((instance, context) -> probe.jobStarted(instance.getData()));
    client = SchedulerClient.Builder.create(pool, task).build();
    scheduler = Scheduler.create(pool, task)
        .threads(workerThreads)
        .pollUsingLockAndFetch(lowerLimitFractionOfThreads, upperLimitFractionOfThreads)
        .pollingInterval(POLLING_INTERVAL)
        .enableImmediateExecution()
        .build();
  }

  @Override
  public void enqueueBatch(int count) {
    List<TaskInstance<?>> batch = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      batch.add(task.instance(Long.toString(nextInstance++), JobProbe.UNTIMED));
    }
    client.scheduleBatch(batch, Instant.now());
  }

  @Override
  public void startWorkers() {
    scheduler.start();
  }

  // deprecation: db-scheduler 16 deprecates the plain schedule(..) for the ScheduleOptions variants, but the
  // benchmark measures the call its users have run so far; revisit when the peer's version is next raised
  @SuppressWarnings("deprecation")
  @Override
  public void enqueueOne(long enqueuedAtNanos) {
    SchedulerClient scheduling = singleJobsFromClient ? client : scheduler;
    scheduling.schedule(task.instance(Long.toString(nextInstance++), enqueuedAtNanos), Instant.now());
  }

  @Override
  public void close() {
    try {
      if (scheduler != null) {
        scheduler.stop();
      }
    } finally {
      if (pool != null) {
        pool.close();
      }
    }
  }
}
