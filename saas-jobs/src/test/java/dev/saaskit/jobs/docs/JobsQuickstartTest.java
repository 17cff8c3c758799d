package dev.saaskit.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The code of the queue side of docs/jobs.md, run as it is printed there. */
@ExtendWith(PostgresExtension.class)
class JobsQuickstartTest {
  record ExportReport(String reportId, String format) {}

  record ConfirmOrder(long orderId) {}

  @Test
  void quickstart(TestDatabase db) throws Exception {
    DataSource ownerDataSource = db.ownerDataSource();
    DataSource appDataSource = db.appDataSource();
    String appRole = db.appRole();
    String workerRole = db.createRole("jobs_worker", "");
    try (Connection c = ownerDataSource.getConnection(); Statement st = c.createStatement()) {
      st.execute("CREATE TABLE orders (id bigint PRIMARY KEY, tenant_id text NOT NULL)");
    }

    // --- docs/jobs.md: 1. schema and roles
    JobsSchema schema = JobsSchema.defaults();            // schema saaskit_jobs, tenant setting app.tenant_id
    schema.migrate(ownerDataSource);                      // as the migration role; safe on every start
    try (Connection c = ownerDataSource.getConnection()) {
      schema.grantApp(c, appRole);                        // enqueue, poll, cancel: its current tenant only
      schema.grantWorker(c, workerRole);                  // claim and run: every tenant, by a role-scoped policy
    }

    // --- docs/jobs.md: 2. enqueue from a request handler
    JobQueue queue = JobQueue.builder(appDataSource).build();   // one per application, thread-safe

    TenantId tenant = TenantId.of("acme");                // set by your authentication filter
    JobId id = TenantContext.call(tenant, () -> queue.enqueue(
        JobRequest.builder("report.export", new ExportReport("r-42", "csv"))
            .queue("reports")
            .uniqueKey("export:r-42")                     // a second click returns the same job
            .timeout(Duration.ofMinutes(10))
            .build()));
    // respond 202 Accepted with id.toString()

    // --- docs/jobs.md: 3. poll the status
    Optional<JobStatus> status = TenantContext.call(tenant, () -> queue.status(JobId.parse(id.toString())));
    // status.get().state(), progress(), progressMessage(), result(...), lastError(); empty for other tenants

    assertThat(status).map(JobStatus::state).contains(JobState.PENDING);
    assertThat(TenantContext.call(tenant, () -> queue.enqueue(
        JobRequest.builder("report.export", new ExportReport("r-42", "csv")).queue("reports")
            .uniqueKey("export:r-42").build()))).isEqualTo(id);
    assertThat(TenantContext.call(TenantId.of("globex"), () -> queue.status(id))).isEmpty();

    // --- docs/jobs.md: transactional enqueue
    long orderId = 7;
    try (Connection c = appDataSource.getConnection()) {
      c.setAutoCommit(false);
      try (PreparedStatement ps = c.prepareStatement(
          "SELECT set_config('app.tenant_id', ?, true); INSERT INTO orders (id, tenant_id) VALUES (?, ?)")) {
        ps.setString(1, tenant.value());
        ps.setLong(2, orderId);
        ps.setString(3, tenant.value());
        ps.execute();
      }
      TenantContext.call(tenant, () -> queue.enqueue(c, JobRequest.builder("order.confirm",
          new ConfirmOrder(orderId)).build()));
      c.commit();                                         // the job exists if and only if the order does
    }

    // --- docs/jobs.md: batch enqueue
    List<JobId> ids = TenantContext.call(tenant, () -> queue.enqueueAll(List.of(
        JobRequest.builder("thumbnail", "img-1.png").build(),
        JobRequest.builder("thumbnail", "img-2.png").build())));

    assertThat(ids).hasSize(2);
    // --- docs/jobs.md: operators
    try (var workerDataSource = db.newPool(workerRole, db.rolePassword(workerRole), 2)) {
      JobAdmin admin = JobAdmin.builder(workerDataSource).build();
      List<JobStatus> dead = admin.list(JobFilter.builder().states(JobState.DEAD).limit(100).build());
      long pruned = admin.prune(Duration.ofDays(7), 1000); // e.g. hourly

      assertThat(dead).isEmpty();
      assertThat(pruned).isZero();
      assertThat(admin.counts()).contains(new JobCount("default", JobState.PENDING, 3));
    }
  }
}
