package dev.saaskit.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.testing.Await;
import dev.saaskit.testing.MutableClock;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Retries are scheduled by the worker's clock and random: driven here by a MutableClock and a seeded Random. */
@ExtendWith(PostgresExtension.class)
class RetryBackoffTest {
  private static final Duration WAIT = Duration.ofSeconds(20);
  private static WorkerTestKit kit;

  @BeforeAll
  static void setUp(TestDatabase db) throws SQLException {
    kit = WorkerTestKit.setUp(db);
  }

  @Test
  void eachRetryRunsAtTheFailureTimePlusTheJitteredBackoffAndNotBefore() {
    // a day ahead of the database clock, so only the test clock can make a retry due
    Instant start = Instant.now().plus(Duration.ofDays(1)).truncatedTo(ChronoUnit.SECONDS);
    MutableClock clock = MutableClock.at(start);
    long seed = 20260101L;
    SimpleMeterRegistry meters = new SimpleMeterRegistry();
    RetryPolicy policy = RetryPolicy.exponential(Duration.ofSeconds(10), Duration.ofSeconds(25));
    try (HikariDataSource pool = kit.workerPool("backoff-test", 6);
        JobWorker worker = JobWorker.builder(pool).queue("retries", 2).clock(clock).random(new Random(seed))
            .retryPolicy(policy).pollInterval(Duration.ofMillis(50)).meterRegistry(meters)
            .handler(JobType.of("flaky", JsonNode.class), (payload, ctx) -> {
              throw new IllegalStateException("boom on attempt " + ctx.attempt());
            }).build().start()) {
      long id = kit.insert("acme", "retries", "flaky", "{}", 4, null, null);
      Random expected = new Random(seed);
      for (int attempt = 1; attempt <= 3; attempt++) {
        int n = attempt;
        Await.until("attempt " + n + " failed", WAIT, () -> {
          WorkerTestKit.Row r = kit.row(id);
          return r.state().equals("pending") && r.attempts() == n;
        });
        Instant failedAt = clock.instant();
        long ceiling = Math.min(25_000, 10_000L << (attempt - 1));
        long half = ceiling / 2;
        long delay = half + expected.nextLong(ceiling - half + 1);
        WorkerTestKit.Row row = kit.row(id);
        assertThat(row.runAt()).isEqualTo(failedAt.plusMillis(delay));
        assertThat(row.lastError()).startsWith("java.lang.IllegalStateException: boom on attempt " + attempt);

        // one millisecond early: polls run, the job stays put
        clock.set(row.runAt().minusMillis(1));
        long claims = JobWorkerTest.claimCount(meters, "retries");
        Await.until("two polls after moving the clock", WAIT,
            () -> JobWorkerTest.claimCount(meters, "retries") >= claims + 2);
        assertThat(kit.row(id).attempts()).isEqualTo(attempt);
        assertThat(kit.row(id).state()).isEqualTo("pending");

        clock.set(row.runAt());
      }
      kit.awaitState(id, "dead", WAIT);
      WorkerTestKit.Row dead = kit.row(id);
      assertThat(dead.attempts()).isEqualTo(4);
      assertThat(dead.lastError()).startsWith("java.lang.IllegalStateException: boom on attempt 4")
          .contains("\tat dev.saaskit.jobs.");
      assertThat(dead.finishedAt()).isNotNull();
      // counted once the outcome's statement has committed, a moment after the row changed
      Await.until("the dead job is counted", WAIT,
          () -> meters.counter("saaskit.jobs.dead", "queue", "retries", "type", "flaky").count() == 1);
      assertThat(meters.counter("saaskit.jobs.retried", "queue", "retries", "type", "flaky").count()).isEqualTo(3);
    }
  }

  @Test
  void lastErrorIsBoundedAndMarkedWhenCut() {
    try (HikariDataSource pool = kit.workerPool("error-size-test", 6);
        JobWorker worker = JobWorker.builder(pool).queue("noisy", 1).pollInterval(Duration.ofMillis(50))
            .handler(JobType.of("noisy", JsonNode.class), (payload, ctx) -> {
              throw new IllegalArgumentException("x".repeat(100_000), new RuntimeException("root cause"));
            }).build().start()) {
      long id = kit.insert(null, "noisy", "noisy", "{}", 1, null, null);
      kit.awaitState(id, "dead", WAIT);
      String error = kit.row(id).lastError();
      assertThat(error).hasSizeLessThanOrEqualTo(8192).startsWith("java.lang.IllegalArgumentException: xxx")
          .endsWith("... (truncated)");
    }
  }
}
