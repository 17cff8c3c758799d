package dev.saaskit.jobs.docs;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.jobs.JobId;
import dev.saaskit.jobs.JobQueue;
import dev.saaskit.jobs.JobRequest;
import dev.saaskit.jobs.JobState;
import dev.saaskit.jobs.JobStatus;
import dev.saaskit.jobs.JobType;
import dev.saaskit.jobs.JobWorker;
import dev.saaskit.jobs.JobsSchema;
import dev.saaskit.jobs.SaasJobs;
import dev.saaskit.testing.Await;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The code of docs/jobs-workers.md, run as it is printed there: enqueue with JobQueue, run with JobWorker. */
@ExtendWith(PostgresExtension.class)
class WorkerQuickstartTest {
  record ExportReport(String reportId, String format) {}

  static final JobType<ExportReport> EXPORT = JobType.of("report.export", ExportReport.class);

  @Test
  void quickstart(TestDatabase db) throws Exception {
    String workerRole = db.createRole("jobs_worker", "");
    JobsSchema schema = JobsSchema.defaults();
    schema.migrate(db.ownerDataSource());
    try (Connection c = db.ownerDataSource().getConnection()) {
      schema.grantApp(c, db.appRole());
      schema.grantWorker(c, workerRole);
    }
    DataSource appDataSource = db.appDataSource();
    try (HikariDataSource workerDataSource = db.newPool(workerRole, db.rolePassword(workerRole), 6)) {
      // snippet: workers-quickstart
      SaasJobs jobs = SaasJobs.builder(appDataSource)
          .workerDataSource(workerDataSource)                   // a pool logged in as the worker role
          .build();
      JobWorker worker = jobs.worker()
          .handler(EXPORT, (job, ctx) -> {
            // runs inside TenantContext of the job's tenant: RLS-scoped queries see that tenant only
            ctx.progress(0.5, "rendering " + job.reportId());
            if (ctx.isCancellationRequested()) {
              return null;                                      // the job ends CANCELLED
            }
            return Map.of("url", "/files/" + ctx.tenant() + "/" + job.reportId() + "." + job.format());
          }, JobWorker.HandlerOptions.defaults().withLeaseDuration(Duration.ofMinutes(1)))
          .queue("reports", 4)                                  // at most 4 exports at once on this node
          .queue("default", 8, 2)                               // ...and at most 2 per tenant across all nodes
          .build()
          .start();                                             // returns once LISTEN is up
      // ... on shutdown
      // worker.close();                                        // finish or release within closeTimeout
      // end snippet
      JobQueue queue = jobs.queue();

      try {
        TenantId tenant = TenantId.of("acme");
        JobId id = TenantContext.call(tenant, () -> queue.enqueue(
            JobRequest.builder(EXPORT, new ExportReport("r-42", "csv")).queue("reports").build()));
        Await.until("the export finished", Duration.ofSeconds(20), () -> {
          try {
            return TenantContext.call(tenant, () -> queue.status(id)).map(JobStatus::isFinished).orElse(false);
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
        });
        Optional<JobStatus> status = TenantContext.call(tenant, () -> queue.status(id));
        assertThat(status).map(JobStatus::state).contains(JobState.COMPLETED);
        assertThat(status.get().resultJson()).isEqualTo("{\"url\": \"/files/acme/r-42.csv\"}");
        assertThat(status.get().progress()).isEqualTo(1.0);
        assertThat(status.get().progressMessage()).isEqualTo("rendering r-42");
        assertThat(status.get().attempts()).isEqualTo(1);
      } finally {
        worker.close();
      }
    }
  }
}
