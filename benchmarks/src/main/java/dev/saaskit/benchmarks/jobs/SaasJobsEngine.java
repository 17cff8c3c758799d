package dev.saaskit.benchmarks.jobs;

import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.jobs.JobQueue;
import dev.saaskit.jobs.JobRequest;
import dev.saaskit.jobs.JobWorker;
import dev.saaskit.jobs.JobsSchema;
import dev.saaskit.jobs.JobType;
import dev.saaskit.jobs.SaasJobs;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.util.ArrayList;
import java.util.List;

/**
 * saas-jobs as its guides set it up: the schema migrated by the owner role, jobs enqueued through {@link JobQueue} by
 * the application role (RLS on, one tenant), run by a {@link JobWorker} logged in as a worker role with its
 * role-scoped policy, woken by LISTEN/NOTIFY.
 *
 * <ul>
 *   <li>enqueue: {@code JobQueue.enqueueAll} (one statement per batch) and {@code JobQueue.enqueue}; the
 *       {@code long} is the JSON payload; queue and worker come from one {@code SaasJobs}, so a single enqueue while a
 *       handler thread is idle inserts the job already claimed by the worker (docs/jobs-workers.md, "Wake-ups");</li>
 *   <li>worker: one queue with {@code concurrency = threads}, default claim batch (32, growing up to 8x while the handlers outpace the claims), default lease (30 s), LISTEN
 *       on, poll interval 1 s (the default);</li>
 *   <li>pools: HikariCP, app role 4 connections, worker role 8 (handlers need none: claims, outcome batches,
 *       heartbeats and the LISTEN connection do);</li>
 *   <li>finished jobs stay in the table (status polling), as by default: nothing is deleted during the run.</li>
 * </ul>
 */
public final class SaasJobsEngine implements JobEngine {
  private static final TenantId TENANT = TenantId.of("bench");
  private static final JobType<Long> TYPE = JobType.of("noop", Long.class);

  private HikariDataSource appPool;
  private HikariDataSource workerPool;
  private JobQueue queue;
  private JobWorker worker;
  private int threads;

  @Override
  public String name() {
    return "saas-jobs";
  }

  @Override
  public String settings() {
    return "0.1.0-SNAPSHOT, concurrency " + threads + ", claim batch 32 growing to 256 while handlers outpace claims"
        + " (prefetch = claim size), LISTEN/NOTIFY + 1 s poll, a single enqueue starts on an idle worker of the same"
        + " SaasJobs, JSON payload, RLS on (app role enqueues, worker role runs), pools app 4 + worker 8";
  }

  @Override
  public void setUp(TestDatabase database, int workerThreads, JobProbe probe) throws Exception {
    threads = workerThreads;
    JobsSchema schema = JobsSchema.defaults();
    schema.migrate(database.ownerDataSource());
    String workerRole = database.createRole("bench_worker", "");
    try (Connection c = database.ownerDataSource().getConnection()) {
      schema.grantApp(c, database.appRole());
      schema.grantWorker(c, workerRole);
    }
    appPool = database.newPool(database.appRole(), database.appPassword(), 4);
    workerPool = database.newPool(workerRole, database.rolePassword(workerRole), 8);
    SaasJobs jobs = SaasJobs.builder(appPool).workerDataSource(workerPool).schema(schema).build();
    queue = jobs.queue();
    worker = jobs.worker()
        .handler(TYPE, (enqueuedAt, context) -> {
          probe.jobStarted(enqueuedAt);
          return null;
        })
        .queue(JobRequest.DEFAULT_QUEUE, workerThreads)
        .build();
  }

  @Override
  public void enqueueBatch(int count) throws Exception {
    List<JobRequest> batch = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      batch.add(JobRequest.builder(TYPE, JobProbe.UNTIMED).tenant(TENANT).build());
    }
    TenantContext.call(TENANT, () -> queue.enqueueAll(batch));
  }

  @Override
  public void startWorkers() {
    worker.start();
  }

  @Override
  public void enqueueOne(long enqueuedAtNanos) throws Exception {
    TenantContext.call(TENANT, () -> queue.enqueue(JobRequest.builder(TYPE, enqueuedAtNanos).build()));
  }

  @Override
  public void close() {
    if (worker != null) {
      worker.close();
    }
    if (workerPool != null) {
      workerPool.close();
    }
    if (appPool != null) {
      appPool.close();
    }
  }
}
