package dev.saaskit.billing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.billing.internal.StripeJson;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.jobs.JobRequest;
import dev.saaskit.jobs.JobType;
import dev.saaskit.jobs.JobWorker;
import dev.saaskit.jobs.JobsSchema;
import dev.saaskit.jobs.RecurringJob;
import dev.saaskit.jobs.RecurringJobs;
import dev.saaskit.jobs.SaasJobs;
import dev.saaskit.testing.Await;
import dev.saaskit.testing.MutableClock;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.StripeEmulator;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The usage sender as the app runs it: a saas-jobs recurring job (every minute) whose handler calls {@link
 * Usage#sendPending()}. saas-billing does not depend on saas-jobs; the app wires the two, as here.
 */
@ExtendWith(PostgresExtension.class)
class UsageSenderOnJobsTest {
  /** The job's payload (nothing to carry: the sender finds the pending usage itself). */
  record SendUsage(int version) {}

  static final JobType<SendUsage> SEND_USAGE = JobType.of("billing.usage.send", SendUsage.class);

  @Test
  void aRecurringJobSendsTheUsageOutbox(TestDatabase db) throws Exception {
    BillingTestSupport.migrate(db);
    MutableClock clock = MutableClock.at(Instant.parse("2026-06-01T00:00:30Z"));
    try (StripeEmulator emu = StripeEmulator.builder().clock(clock).seed(5).start()) {
      Billing billing = Billing.create(BillingConfig.builder().stripeApiKey(emu.apiKey()).stripeApiBase(emu.apiBase())
          .webhookSecrets(emu.webhookSecret()).clock(clock).build(), db.appDataSource());
      TenantId tenant = TenantId.of("jobs-acme");
      String customer = StripeJson.text(billing.stripe().post("/v1/customers",
          Map.of("metadata", Map.of("tenant_id", tenant.value())), null).json(), "id");
      billing.db().inTransaction(tenant, "test", c -> billing.mirror().upsertCustomer(c, tenant,
          StripeJson.parseObject("{\"id\":\"" + customer + "\",\"object\":\"customer\"}"), clock.instant()));
      for (int i = 1; i <= 5; i++) {
        int v = i * 10;
        TenantContext.run(tenant, () -> billing.usage().record("api_calls", v, "call-" + v));
      }

      String workerRole = db.createRole("billing_jobs_worker", "");
      DataSource workerPool = db.newPool(workerRole, db.rolePassword(workerRole), 4);
      JobsSchema.defaults().migrate(db.ownerDataSource());
      try (Connection c = db.ownerDataSource().getConnection()) {
        JobsSchema.defaults().grantWorker(c, workerRole);
      }
      // snippet: usage-sender-on-jobs
      SaasJobs jobs = SaasJobs.builder(workerPool).clock(clock).build();
      JobWorker worker = jobs.worker()
          .handler(SEND_USAGE, (payload, ctx) -> {
            UsageReport report = billing.usage().sendPending();   // no tenant needed: it visits each tenant
            return report.sent() + report.alreadyCounted();       // failures are in report.failed()
          })
          .pollInterval(Duration.ofMillis(50))
          .build()
          .start();
      RecurringJobs recurring = jobs.recurring()
          .add(RecurringJob.builder("billing.usage.send", "* * * * *",
              JobRequest.builder(SEND_USAGE, new SendUsage(1)).noTenant().build()).build())
          .tickInterval(Duration.ofMillis(50))
          .build()
          .start();
      // end snippet
      try {
        assertThat(emu.meterEventTotal(customer, "api_calls")).isZero();
        clock.set(Instant.parse("2026-06-01T00:01:05Z")); // the minute's run falls due
        Await.until("the usage sent by the recurring job", Duration.ofSeconds(30),
            () -> emu.meterEventTotal(customer, "api_calls") == 150);
        Await.until("the outbox drained", Duration.ofSeconds(30), () -> BillingTestSupport.count(db,
            "SELECT count(*) FROM saaskit_billing.usage_outbox WHERE status <> 'sent'") == 0);
      } finally {
        recurring.close();
        worker.close();
      }
      assertThat(emu.meterEventTotal(customer, "api_calls")).isEqualTo(150);
    }
  }
}
