package dev.saaskit.benchmarks.jobs;

import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.testing.TestDatabase;
import java.time.Duration;
import java.util.stream.Stream;
import org.jobrunr.configuration.JobRunr;
import org.jobrunr.configuration.JobRunrConfiguration.JobRunrConfigurationResult;
import org.jobrunr.scheduling.JobScheduler;
import org.jobrunr.server.BackgroundJobServer;
import org.jobrunr.server.BackgroundJobServerConfiguration;
import org.jobrunr.storage.sql.postgres.PostgresStorageProvider;
import org.jobrunr.utils.mapper.jackson.JacksonJsonMapper;

/**
 * JobRunr 8.7.0 (open source) configured with its fluent API as its documentation shows for plain Java:
 *
 * <ul>
 *   <li>{@code JobRunr.configure().useJsonMapper(new JacksonJsonMapper())
 *       .useStorageProvider(new PostgresStorageProvider(dataSource))
 *       .useBackgroundJobServer(usingStandardBackgroundJobServerConfiguration().andWorkerCount(n)
 *       .andPollInterval(5 s), false).initialize()}; no {@code useDashboard()}, so no dashboard web server (checked);
 *       the storage provider creates its tables (its own migrations, default {@code DatabaseOptions.CREATE});</li>
 *   <li>poll interval 5 s: the smallest JobRunr accepts for a SQL database ({@code AbstractStorageProvider}
 *       rejects less with "The smallest supported pollInterval is 5 seconds"; the default is 15 s). Idle workers
 *       only see new jobs on the next poll; busy workers fetch more as they free up;</li>
 *   <li>job: {@code JobRunrNoOpJob.run(long)}, a static method, enqueued as a lambda (the {@code long} is the job's
 *       argument in its JSON); batch enqueue: {@code jobScheduler.enqueue(Stream, lambda)}, which saves the jobs
 *       in batches; single enqueue: {@code jobScheduler.enqueue(lambda)};</li>
 *   <li>pool: HikariCP, {@code workers + 4} connections, owner role.</li>
 * </ul>
 */
public final class JobRunrEngine implements JobEngine {

  static final String VERSION = "8.7.0";
  /** JobRunr's minimum for SQL storage providers. */
  static final Duration POLL_INTERVAL = Duration.ofSeconds(5);

  private HikariDataSource pool;
  private JobScheduler jobScheduler;
  private BackgroundJobServer server;
  private int workers;

  @Override
  public String name() {
    return "jobrunr";
  }

  @Override
  public String settings() {
    return VERSION + " OSS, " + workers + " workers, poll interval " + POLL_INTERVAL.toSeconds()
        + " s (its minimum), PostgresStorageProvider, JacksonJsonMapper, no dashboard, pool " + (workers + 4);
  }

  @Override
  public void setUp(TestDatabase database, int workerThreads, JobProbe probe) {
    workers = workerThreads;
    JobRunrNoOpJob.probe = probe;
    pool = database.newPool(database.ownerRole(), database.ownerPassword(), workerThreads + 4);
    JobRunrConfigurationResult jobRunr = JobRunr.configure()
        .useJsonMapper(new JacksonJsonMapper())
        .useStorageProvider(new PostgresStorageProvider(pool))
        .useBackgroundJobServer(BackgroundJobServerConfiguration.usingStandardBackgroundJobServerConfiguration()
            .andWorkerCount(workerThreads)
            .andPollInterval(POLL_INTERVAL), false)
        .initialize();
    if (jobRunr.getDashboardWebServer() != null) {
      throw new IllegalStateException("the JobRunr dashboard must not run during the benchmark");
    }
    jobScheduler = jobRunr.getJobScheduler();
    server = jobRunr.getBackgroundJobServer();
  }

  @Override
  public void enqueueBatch(int count) {
    jobScheduler.enqueue(Stream.generate(() -> JobProbe.UNTIMED).limit(count), nanos -> JobRunrNoOpJob.run(nanos));
  }

  @Override
  public void startWorkers() {
    server.start();
  }

  @Override
  public void enqueueOne(long enqueuedAtNanos) {
    jobScheduler.enqueue(() -> JobRunrNoOpJob.run(enqueuedAtNanos));
  }

  @Override
  public void close() {
    try {
      // stops the background job server and closes the storage provider
      JobRunr.destroy();
    } finally {
      JobRunrNoOpJob.probe = null;
      if (pool != null) {
        pool.close();
      }
    }
  }
}
