package dev.saaskit.jobs.docs;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.jobs.JobId;
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
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The jobs part of README.md ("Background jobs and caching"), run as printed there. */
@ExtendWith(PostgresExtension.class)
class JobsReadmeTest {
  record ExportReport(String reportId, String format) {}

  record Export(String url) {}

  /** Where progress goes: {@code context::progress} fits. */
  interface Progress {
    void report(double fraction, String message);
  }

  /** The application's exporter, as the README imagines it. */
  static final class Exporter {
    Export run(ExportReport report, Progress progress) {
      progress.report(1.0, "done");
      return new Export("/files/" + report.reportId() + ".csv");
    }
  }

  static final JobType<ExportReport> EXPORT = JobType.of("report.export", ExportReport.class);

  @Test
  void readme(TestDatabase db) throws Exception {
    String workerRole = db.createRole("jobs_worker", "");
    JobsSchema.defaults().migrate(db.ownerDataSource());
    try (Connection c = db.ownerDataSource().getConnection()) {
      JobsSchema.defaults().grantApp(c, db.appRole());
      JobsSchema.defaults().grantWorker(c, workerRole);
    }
    DataSource appDataSource = db.appDataSource();
    Exporter exporter = new Exporter();
    AtomicReference<JobId> enqueued = new AtomicReference<>();
    try (HikariDataSource workerPool = db.newPool(workerRole, db.rolePassword(workerRole), 6)) {
      // snippet: readme-jobs
      // one entry per application: the app's pool enqueues, the worker role's pool runs
      SaasJobs jobs = SaasJobs.builder(appDataSource).workerDataSource(workerPool).build();

      // a worker (its own role, fair across tenants) runs each job in the job's TenantContext
      JobWorker worker = jobs.worker()
          .handler(EXPORT, (report, context) -> exporter.run(report, context::progress))   // returns the result
          .build().start();
      // end snippet
      try {
        TenantContext.run(TenantId.of("acme"), () -> {
          try (Connection connection = appDataSource.getConnection()) {
            connection.setAutoCommit(false);
            // snippet: readme-enqueue
            // in a request: returns at once; the job exists if and only if your transaction commits
            JobId id = jobs.queue().enqueue(connection, JobRequest.builder(EXPORT, new ExportReport("r-42", "csv")).build());
            Optional<JobStatus> status = jobs.queue().status(id);    // state, progress, result(..): this tenant only
            // end snippet
            connection.commit();
            enqueued.set(id);
            assertThat(status).isEmpty(); // not committed when it was read, on another connection
          }
        });
        JobId id = enqueued.get();
        Await.until("the export ran", Duration.ofSeconds(20), () -> TenantContext.call(TenantId.of("acme"),
            () -> jobs.queue().status(id)).map(JobStatus::isFinished).orElse(false));
        JobStatus done = TenantContext.call(TenantId.of("acme"), () -> jobs.queue().status(id)).orElseThrow();
        assertThat(done.state()).isEqualTo(JobState.COMPLETED);
        assertThat(done.result(Export.class)).isEqualTo(new Export("/files/r-42.csv"));
      } finally {
        worker.close();
      }
    }
  }
}
