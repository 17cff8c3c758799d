package dev.saaskit.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.core.TenantId;
import dev.saaskit.testing.Await;
import dev.saaskit.testing.MutableClock;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.util.Map;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The quickstart of docs/jobs-cron.md, run as written (plus a test clock). */
@ExtendWith(PostgresExtension.class)
class RecurringJobsQuickstartTest {

  @Test
  void quickstart(TestDatabase db) throws SQLException {
    String workerRole = db.createRole("jobs_worker", "");
    DataSource ownerDataSource = db.ownerDataSource();
    DataSource workerDataSource = db.newPool(workerRole, db.rolePassword(workerRole), 2);
    MutableClock clock = MutableClock.at(Instant.parse("2026-06-01T00:00:30Z"));

    RecurringJobs recurring = start(ownerDataSource, workerDataSource, workerRole, clock);
    try {
      assertThat(recurring.nextFireAt("reports.nightly")).contains(Instant.parse("2026-06-01T00:30:00Z"));
      clock.set(Instant.parse("2026-06-01T00:30:05Z")); // 02:30 in Paris (CEST)
      recurring.tick(); // the started thread may get there first
      Await.until("three jobs enqueued", Duration.ofSeconds(30), () -> jobCount(db, "true") >= 3);
      // the nightly report (system job), and the 00:15 and 00:30 usage syncs of acme; nothing twice
      assertThat(jobCount(db, "tenant_id IS NULL AND type = 'reports.nightly'")).isEqualTo(1);
      assertThat(jobCount(db, "tenant_id = 'acme' AND type = 'usage.sync'")).isEqualTo(2);
      assertThat(jobCount(db, "true")).isEqualTo(3);
    } finally {
      recurring.close();
    }
  }

  private static long jobCount(TestDatabase db, String condition) throws SQLException {
    try (Connection c = db.adminDataSource().getConnection(); Statement st = c.createStatement();
        ResultSet rs = st.executeQuery("SELECT count(*) FROM saaskit_jobs.jobs WHERE " + condition)) {
      rs.next();
      return rs.getLong(1);
    }
  }

  private static RecurringJobs start(DataSource ownerDataSource, DataSource workerDataSource, String workerRole,
      Clock clock) throws SQLException {
    // snippet: cron-quickstart
    JobsSchema schema = JobsSchema.defaults();
    schema.migrate(ownerDataSource);                       // as the migration role, once per deploy
    try (Connection c = ownerDataSource.getConnection()) {
      schema.grantWorker(c, workerRole);                   // the role of workerDataSource
    }

    SaasJobs jobs = SaasJobs.builder(workerDataSource)    // here only recurring jobs: the worker pool is enough
        .clock(clock)                                      // omit in production: the system clock
        .build();
    RecurringJobs recurring = jobs.recurring()
        .add(RecurringJob.builder("reports.nightly", "30 2 * * *",
                JobRequest.builder("reports.nightly", Map.of("format", "pdf")).noTenant().build())
            .zone(ZoneId.of("Europe/Paris"))
            .build())
        .add(RecurringJob.builder("usage.sync:acme", "*/15 * * * *",
                JobRequest.builder("usage.sync", Map.of()).tenant(TenantId.of("acme")).build())
            .misfirePolicy(MisfirePolicy.FIRE_ALL)
            .misfireThreshold(Duration.ofMinutes(30))
            .build())
        .build()
        .start();
    // ... and at shutdown: recurring.close();
    // end snippet
    return recurring;
  }
}
