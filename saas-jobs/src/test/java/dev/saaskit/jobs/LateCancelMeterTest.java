package dev.saaskit.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.testing.Await;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.sql.SQLException;
import java.time.Duration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Review of 2026-12-05 (third): a job that the late-cancel race of {@link CancelRaceTest} turned to
 * {@code cancelled} was counted in {@code saaskit.jobs.completed} (or {@code failed}), because the outcome writer's
 * answer said only "applied", not which state the row ended in. The meters now count what the row shows.
 */
@ExtendWith(PostgresExtension.class)
class LateCancelMeterTest {
  private static final Duration WAIT = Duration.ofSeconds(20);
  private static WorkerTestKit kit;

  @BeforeAll
  static void setUp(TestDatabase db) throws SQLException {
    kit = WorkerTestKit.setUp(db);
  }

  @Test
  void aSuccessOvertakenByALateCancelCountsAsCancelledNotCompleted(TestDatabase db) throws Exception {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    long id;
    try (HikariDataSource pool = kit.workerPool("late-cancel-meter", 4)) {
      SaasJobs jobs = SaasJobs.builder(db.appDataSource()).workerDataSource(pool).meterRegistry(registry).build();
      try (JobWorker worker = jobs.worker().queue("late-meter", 1)
          .pollInterval(Duration.ofMillis(50))
          .handler(JobType.of("cancel-then-succeed", JsonNode.class), (payload, ctx) -> {
            // the cancel lands after the handler's last look and before the worker writes the outcome
            assertThat(jobs.queue().cancel(ctx.id())).isTrue();
            return "done";
          }).build().start()) {
        id = kit.insert("acme", "late-meter", "cancel-then-succeed", "{}", 5, null, null);
        Await.until("the cancellation counted", WAIT, () -> registry.counter("saaskit.jobs.cancelled",
            "queue", "late-meter", "type", "cancel-then-succeed").count() == 1);
      }
    }
    assertThat(kit.row(id).state()).isEqualTo("cancelled");
    assertThat(registry.counter("saaskit.jobs.completed", "queue", "late-meter", "type", "cancel-then-succeed")
        .count()).as("completions counted for a job that ended cancelled").isZero();
  }

  @Test
  void aFailureOvertakenByALateCancelCountsAsCancelledNotFailed(TestDatabase db) throws Exception {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    long id;
    try (HikariDataSource pool = kit.workerPool("late-cancel-fail-meter", 4)) {
      SaasJobs jobs = SaasJobs.builder(db.appDataSource()).workerDataSource(pool).meterRegistry(registry).build();
      try (JobWorker worker = jobs.worker().queue("late-fail-meter", 1)
          .retryPolicy(RetryPolicy.exponential(Duration.ofMillis(1), Duration.ofMillis(1)))
          .pollInterval(Duration.ofMillis(50))
          .handler(JobType.of("cancel-then-fail", JsonNode.class), (payload, ctx) -> {
            assertThat(jobs.queue().cancel(ctx.id())).isTrue();
            throw new IllegalStateException("failed");
          }).build().start()) {
        id = kit.insert("acme", "late-fail-meter", "cancel-then-fail", "{}", 5, null, null);
        Await.until("the cancellation counted", WAIT, () -> registry.counter("saaskit.jobs.cancelled",
            "queue", "late-fail-meter", "type", "cancel-then-fail").count() == 1);
      }
    }
    assertThat(kit.row(id).state()).isEqualTo("cancelled");
    assertThat(registry.find("saaskit.jobs.failed").counters()).as("failures counted for a job that ended cancelled")
        .allSatisfy(c -> assertThat(c.count()).isZero());
  }
}
