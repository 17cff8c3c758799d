package dev.saaskit.jobs.docs;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.jobs.JobAdmin;
import dev.saaskit.jobs.JobCount;
import dev.saaskit.jobs.JobFilter;
import dev.saaskit.jobs.JobId;
import dev.saaskit.jobs.JobQueue;
import dev.saaskit.jobs.JobRequest;
import dev.saaskit.jobs.JobState;
import dev.saaskit.jobs.JobStatus;
import dev.saaskit.jobs.JobType;
import dev.saaskit.jobs.JobWorker;
import dev.saaskit.jobs.JobsSchema;
import dev.saaskit.jobs.SaasJobs;
import dev.saaskit.tenancy.RlsPolicy;
import dev.saaskit.tenancy.TenantColumnType;
import dev.saaskit.tenancy.TenantDataSource;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The code of the queue side of docs/jobs.md, run as it is printed there: the java blocks of the page are the
 * snippet regions of this file (see DocsSnippetsTest).
 */
@ExtendWith(PostgresExtension.class)
class JobsQuickstartTest {
  record ExportReport(String reportId, String format) {}

  record ExportResult(String url) {}

  record ConfirmOrder(long orderId) {}

  // snippet: jobs-types
  static final JobType<ExportReport> EXPORT = JobType.of("report.export", ExportReport.class);
  static final JobType<ConfirmOrder> CONFIRM_ORDER = JobType.of("order.confirm", ConfirmOrder.class);
  // end snippet

  @Test
  void quickstart(TestDatabase db) throws Exception {
    DataSource ownerDataSource = db.ownerDataSource();
    String appRole = db.appRole();
    String workerRole = db.createRole("jobs_worker", "");
    try (Connection c = ownerDataSource.getConnection(); Statement st = c.createStatement()) {
      st.execute("CREATE TABLE orders (id bigint PRIMARY KEY, tenant_id text NOT NULL DEFAULT"
          + " current_setting('app.tenant_id'))");
      st.execute("GRANT SELECT, INSERT ON orders TO " + appRole);
      RlsPolicy.forTable("orders").columnType(TenantColumnType.TEXT).build().apply(c);
    }
    DataSource appDataSource = TenantDataSource.wrap(db.appDataSource());
    try (HikariDataSource workerDataSource = db.newPool(workerRole, db.rolePassword(workerRole), 4)) {

      // snippet: jobs-schema
      JobsSchema schema = JobsSchema.defaults();            // schema saaskit_jobs, tenant setting app.tenant_id
      schema.migrate(ownerDataSource);                      // as the migration role; safe on every start
      try (Connection c = ownerDataSource.getConnection()) {
        schema.grantApp(c, appRole);                        // enqueue, poll, cancel: its current tenant only
        schema.grantWorker(c, workerRole);                  // claim and run: every tenant, by a role-scoped policy
      }
      // end snippet

      // snippet: jobs-entry
      SaasJobs jobs = SaasJobs.builder(appDataSource)       // what enqueues: the app's pool (here its TenantDataSource)
          .workerDataSource(workerDataSource)               // what claims: the worker role's pool
          .build();                                         // one per application, thread-safe; starts nothing
      JobQueue queue = jobs.queue();

      TenantId tenant = TenantId.of("acme");                // set by your authentication filter
      JobId id = TenantContext.call(tenant, () -> queue.enqueue(
          JobRequest.builder(EXPORT, new ExportReport("r-42", "csv"))
              .queue("reports")
              .uniqueKey("export:r-42")                     // a second click returns the same job
              .timeout(Duration.ofMinutes(10))
              .build()));
      // respond 202 Accepted with id.toString()
      // end snippet

      // snippet: jobs-status
      Optional<JobStatus> status = TenantContext.call(tenant, () -> queue.status(JobId.parse(id.toString())));
      // status.get().state(), progress(), progressMessage(), result(ExportResult.class), lastError();
      // empty for other tenants
      // end snippet

      assertThat(status).map(JobStatus::state).contains(JobState.PENDING);
      assertThat(TenantContext.call(tenant, () -> queue.enqueue(
          JobRequest.builder(EXPORT, new ExportReport("r-42", "csv")).queue("reports")
              .uniqueKey("export:r-42").build()))).isEqualTo(id);
      assertThat(TenantContext.call(TenantId.of("globex"), () -> queue.status(id))).isEmpty();

      // snippet: jobs-worker
      JobWorker worker = jobs.worker()                      // on the worker data source, with the shared settings
          .handler(EXPORT, (report, context) -> {
            // runs inside TenantContext of the job's tenant: your TenantDataSource queries see acme's rows only
            for (int part = 1; part <= 10 && !context.isCancellationRequested(); part++) {
              context.progress(part / 10.0, "part " + part + " of 10");
            }
            return new ExportResult("/files/" + report.reportId() + "." + report.format()); // the job's result
          })
          .queue("reports", 4)
          .build()
          .start();
      // on shutdown: worker.close() stops claiming and finishes or releases in-flight jobs within its deadline
      // end snippet

      try {
        dev.saaskit.testing.Await.until("the export finished", Duration.ofSeconds(20), () -> TenantContext.call(
            tenant, () -> queue.status(id)).map(JobStatus::isFinished).orElse(false));
        JobStatus done = TenantContext.call(tenant, () -> queue.status(id)).orElseThrow();
        assertThat(done.result(ExportResult.class)).isEqualTo(new ExportResult("/files/r-42.csv"));
      } finally {
        worker.close();
      }

      // snippet: jobs-transactional
      long orderId = 7;
      TenantContext.run(tenant, () -> {                     // the whole unit of work runs as the tenant
        try (Connection c = appDataSource.getConnection()) {
          c.setAutoCommit(false);
          try (PreparedStatement ps = c.prepareStatement("INSERT INTO orders (id) VALUES (?)")) {
            ps.setLong(1, orderId);                         // the business write: RLS admits it for acme
            ps.executeUpdate();
          }
          queue.enqueue(c, JobRequest.builder(CONFIRM_ORDER, new ConfirmOrder(orderId)).build());
          c.commit();                                       // the job exists if and only if the order does
        }
      });
      // end snippet

      try (Connection c = db.adminDataSource().getConnection(); Statement st = c.createStatement();
          ResultSet rs = st.executeQuery("SELECT (SELECT count(*) FROM orders WHERE tenant_id = 'acme'),"
              + " (SELECT count(*) FROM saaskit_jobs.jobs WHERE type = 'order.confirm' AND tenant_id = 'acme')")) {
        rs.next();
        assertThat(rs.getLong(1)).isEqualTo(1);
        assertThat(rs.getLong(2)).isEqualTo(1);
      }

      // snippet: jobs-batch
      List<JobId> ids = TenantContext.call(tenant, () -> queue.enqueueAll(List.of(
          JobRequest.builder("thumbnail", "img-1.png").build(),
          JobRequest.builder("thumbnail", "img-2.png").build())));
      // end snippet

      assertThat(ids).hasSize(2);

      // snippet: jobs-admin
      JobAdmin admin = jobs.admin();                        // on the worker data source: every tenant
      List<JobStatus> dead = admin.list(JobFilter.builder().states(JobState.DEAD).limit(100).build());
      // end snippet
      // snippet: jobs-prune
      long pruned = admin.prune(Duration.ofDays(7), 1000); // e.g. hourly
      // end snippet

      assertThat(dead).isEmpty();
      assertThat(pruned).isZero();
      assertThat(admin.counts()).contains(new JobCount("default", JobState.PENDING, 3));
    }
  }
}
