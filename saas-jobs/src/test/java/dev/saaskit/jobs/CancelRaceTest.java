package dev.saaskit.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.testing.Await;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Review of 2026-12-05: a cancel that reaches a running job after its handler failed but before the worker recorded
 * the failure. {@link JobQueue#cancel} answered true (the worker ends it as cancelled), but the retry outcome put
 * the row back to pending with {@code cancel_requested} set, and the job ran again.
 */
@ExtendWith(PostgresExtension.class)
class CancelRaceTest {
  private static final Duration WAIT = Duration.ofSeconds(20);
  private static WorkerTestKit kit;

  @BeforeAll
  static void setUp(TestDatabase db) throws SQLException {
    kit = WorkerTestKit.setUp(db);
  }

  @Test
  void aCancelAcknowledgedWhileAFailureIsBeingRecordedIsNotRetried(TestDatabase db) throws Exception {
    AtomicInteger runs = new AtomicInteger();
    AtomicInteger acknowledged = new AtomicInteger();
    try (HikariDataSource pool = kit.workerPool("cancel-race-test", 4)) {
      SaasJobs jobs = SaasJobs.builder(db.appDataSource()).workerDataSource(pool).build();
      try (JobWorker worker = jobs.worker().queue("race", 1)
          .retryPolicy(RetryPolicy.exponential(Duration.ofMillis(1), Duration.ofMillis(1)))
          .pollInterval(Duration.ofMillis(50))
          .handler(JobType.of("cancel-then-fail", JsonNode.class), (payload, ctx) -> {
            runs.incrementAndGet();
            // the user's cancel lands now, in the job's tenant, as a request of the application would; the
            // handler then fails before the worker has seen it
            if (jobs.queue().cancel(ctx.id())) {
              acknowledged.incrementAndGet();
            }
            throw new IllegalStateException("failed");
          }).build().start()) {
        long id = kit.insert("acme", "race", "cancel-then-fail", "{}", 5, null, null);
        kit.awaitState(id, "cancelled", WAIT);
        Thread.sleep(300); // a retry would be due at once (1 ms backoff): give it the chance to show
        WorkerTestKit.Row row = kit.row(id);
        assertThat(acknowledged.get()).isEqualTo(1);
        assertThat(runs.get()).as("handler runs after the cancel was acknowledged").isEqualTo(1);
        assertThat(row.state()).isEqualTo("cancelled");
        assertThat(row.attempts()).isEqualTo(1);
        assertThat(row.finishedAt()).isNotNull();
        assertThat(row.lastError()).startsWith("java.lang.IllegalStateException: failed");
      }
    }
  }

  /**
   * The same race with a handler that returns normally: {@link JobQueue#cancel} answered true, and the job ended
   * {@code completed} with its result, although "cancel wins over success" promises that a user who cancelled never
   * sees "completed". A cancel the row holds when the outcome is written wins over a success too.
   */
  @Test
  void aCancelAcknowledgedWhileASuccessIsBeingRecordedWins(TestDatabase db) throws Exception {
    AtomicInteger acknowledged = new AtomicInteger();
    try (HikariDataSource pool = kit.workerPool("cancel-race-success", 4)) {
      SaasJobs jobs = SaasJobs.builder(db.appDataSource()).workerDataSource(pool).build();
      try (JobWorker worker = jobs.worker().queue("race-success", 1)
          .pollInterval(Duration.ofMillis(50))
          .handler(JobType.of("cancel-then-succeed", JsonNode.class), (payload, ctx) -> {
            // the user's cancel lands now; the handler returns before the worker has seen it
            if (jobs.queue().cancel(ctx.id())) {
              acknowledged.incrementAndGet();
            }
            return "done";
          }).build().start()) {
        long id = kit.insert("acme", "race-success", "cancel-then-succeed", "{}", 5, null, null);
        awaitFinished(id);
        WorkerTestKit.Row row = kit.row(id);
        assertThat(acknowledged.get()).isEqualTo(1);
        assertThat(row.state()).as("state after an acknowledged cancel").isEqualTo("cancelled");
        assertThat(row.result()).isNull();
        assertThat(row.finishedAt()).isNotNull();
        assertThat(row.attempts()).isEqualTo(1);
      }
    }
  }

  /** Waits until a job has finished, whatever its final state. */
  private static void awaitFinished(long id) {
    Await.until("job " + id + " finished", WAIT,
        () -> Set.of("completed", "cancelled", "dead").contains(kit.row(id).state()));
  }
}
