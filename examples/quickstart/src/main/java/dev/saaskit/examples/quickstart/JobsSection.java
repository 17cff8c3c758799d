package dev.saaskit.examples.quickstart;

import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.jobs.JobId;
import dev.saaskit.jobs.JobQueue;
import dev.saaskit.jobs.JobRequest;
import dev.saaskit.jobs.JobStatus;
import dev.saaskit.jobs.JobType;
import dev.saaskit.jobs.JobWorker;
import dev.saaskit.jobs.JobsSchema;
import dev.saaskit.jobs.SaasJobs;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import javax.sql.DataSource;

/**
 * The background-jobs part of the quickstart: a request enqueues a job and answers at once with its id, a worker
 * (on its own role) runs it in the job's tenant, and the "browser" polls its status.
 */
final class JobsSection {
  /** The payload of the demo job: which note list to summarise. */
  record SummarizeNotes(String requestedBy) {}

  /** The job type: its name, stored with each job, and its payload class, shared by enqueue and handler. */
  static final JobType<SummarizeNotes> SUMMARIZE = JobType.of("notes.summarize", SummarizeNotes.class);

  private JobsSection() {}

  /** As the owner role (a migration): the jobs schema and the rights of the app and worker roles. */
  static void migrate(DataSource owner, String appRole, String workerRole) throws Exception {
    JobsSchema schema = JobsSchema.defaults();
    schema.migrate(owner);
    try (Connection c = owner.getConnection()) {
      schema.grantApp(c, appRole);       // enqueue, poll, cancel: its current tenant's jobs only
      schema.grantWorker(c, workerRole); // claim and run every tenant's jobs, through a policy scoped to the role
    }
  }

  /**
   * Runs the demo: {@code db} is the application's tenant-aware DataSource, {@code workerPool} a pool logged in as
   * the worker role.
   */
  static void run(DataSource db, DataSource workerPool, TenantId first, TenantId second) throws Exception {
    SaasJobs jobs = SaasJobs.builder(db)     // enqueues through the app's tenant-aware DataSource
        .workerDataSource(workerPool)          // workers claim through the worker role's pool
        .build();
    JobQueue queue = jobs.queue();
    try (JobWorker worker = jobs.worker()
        .handler(SUMMARIZE, (job, context) -> {
          // runs inside TenantContext of the job's tenant: the same RLS-scoped DataSource sees that tenant only
          context.progress(0.5, "counting notes");
          return Map.of("notes", countNotes(db), "requestedBy", job.requestedBy());
        })
        .build()
        .start()) {

      JobId firstJob = TenantContext.call(first, () -> queue.enqueue(
          JobRequest.builder(SUMMARIZE, new SummarizeNotes("wile.e")).build()));
      JobId secondJob = TenantContext.call(second, () -> queue.enqueue(
          JobRequest.builder(SUMMARIZE, new SummarizeNotes("hank")).build()));
      System.out.println("  enqueued job " + firstJob + " for " + first.value() + " and job " + secondJob + " for "
          + second.value() + " (enqueue returns at once)");

      for (var entry : List.of(Map.entry(first, firstJob), Map.entry(second, secondJob))) {
        JobStatus done = awaitFinished(queue, entry.getKey(), entry.getValue());
        System.out.println("  " + entry.getKey().value() + " polls job " + entry.getValue() + ": " + done.state()
            + " after " + done.attempts() + " attempt(s), result " + done.resultJson());
      }
      Optional<JobStatus> foreign = TenantContext.call(second, () -> queue.status(firstJob));
      System.out.println("  " + second.value() + " polls " + first.value() + "'s job " + firstJob + ": "
          + (foreign.isPresent() ? "visible (unexpected!)" : "not found (row-level security)"));
    }
  }

  private static JobStatus awaitFinished(JobQueue queue, TenantId tenant, JobId id) throws Exception {
    Instant deadline = Instant.now().plusSeconds(30);
    while (true) {
      Optional<JobStatus> status = TenantContext.call(tenant, () -> queue.status(id));
      if (status.isPresent() && status.get().isFinished()) {
        return status.get();
      }
      if (Instant.now().isAfter(deadline)) {
        throw new IllegalStateException("job " + id + " did not finish within 30 s: " + status);
      }
      Thread.sleep(Duration.ofMillis(50).toMillis()); // a browser would poll every second
    }
  }

  private static long countNotes(DataSource db) throws Exception {
    try (Connection c = db.getConnection();
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT count(*) FROM notes")) {
      rs.next();
      return rs.getLong(1);
    }
  }
}
