package dev.saaskit.jobs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

import com.fasterxml.jackson.databind.JsonNode;
import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.testing.Await;
import dev.saaskit.testing.MutableClock;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Review of 2026-12-05: long retry delays. {@code maxDelay} as "no cap" ({@code ChronoUnit.FOREVER}) made every
 * failure throw ArithmeticException (the outcome was never recorded, the job retried only when its lease ran out);
 * a retry time after the year 2262 overflowed the outcome writer's microsecond arithmetic and ended its thread, after
 * which no outcome of that worker was ever written again and its jobs stayed running (their leases still extended by
 * the heartbeat).
 */
@ExtendWith(PostgresExtension.class)
class RetryDelayBoundsTest {
  private static final Duration WAIT = Duration.ofSeconds(20);
  private static WorkerTestKit kit;

  @BeforeAll
  static void setUp(TestDatabase db) throws SQLException {
    kit = WorkerTestKit.setUp(db);
  }

  @Test
  void delaysOfAnyPolicyAreBoundedAndComputable() {
    RetryPolicy forever = RetryPolicy.exponential(Duration.ofSeconds(1), ChronoUnit.FOREVER.getDuration());
    Random random = new Random(7);
    for (RetryPolicy.Jitter jitter : RetryPolicy.Jitter.values()) {
      RetryPolicy policy = forever.withJitter(jitter);
      for (int attempt : new int[] {1, 2, 30, 40, 63, 64, 1000, Integer.MAX_VALUE}) {
        assertThatCode(() -> policy.delay(attempt, random)).as("%s attempt %s", jitter, attempt)
            .doesNotThrowAnyException();
        assertThat(policy.delay(attempt, random)).isLessThanOrEqualTo(RetryPolicy.MAX_DELAY);
      }
    }
    assertThat(forever.ceiling(1)).isEqualTo(Duration.ofSeconds(1));
    assertThat(forever.ceiling(1000)).isEqualTo(RetryPolicy.MAX_DELAY);
    RetryPolicy longMillis = RetryPolicy.exponential(Duration.ofMillis(1), Duration.ofMillis(Long.MAX_VALUE))
        .withJitter(RetryPolicy.Jitter.FULL);
    assertThatCode(() -> longMillis.delay(64, random)).doesNotThrowAnyException();
    RetryPolicy hugeBase = RetryPolicy.exponential(ChronoUnit.FOREVER.getDuration(),
        ChronoUnit.FOREVER.getDuration());
    assertThat(hugeBase.ceiling(1)).isEqualTo(RetryPolicy.MAX_DELAY);
  }

  /**
   * The outcome writer turned a retry time into epoch microseconds with {@code ChronoUnit.MICROS.between}, which
   * counts nanoseconds first and overflows after the year 2262: a retry 300 years ahead ended the writer's thread.
   * 300,000 years is past what PostgreSQL stores: the policy bounds it.
   */
  @Test
  void aFailureWithAVeryLongDelayIsRecordedAndTheWorkerGoesOnRecordingOutcomes() {
    for (long years : new long[] {300, 300_000}) {
      MutableClock clock = MutableClock.at(Instant.now().truncatedTo(ChronoUnit.SECONDS));
      Duration delay = Duration.ofDays(365L * years);
      RetryPolicy policy = RetryPolicy.exponential(delay, delay).withJitter(RetryPolicy.Jitter.NONE);
      String queue = "bounds" + years;
      try (HikariDataSource pool = kit.workerPool("retry-bounds-test", 4);
          JobWorker worker = JobWorker.builder(pool).queue(queue, 1).clock(clock).random(new Random(1))
              .retryPolicy(policy).pollInterval(Duration.ofMillis(50))
              .handler(JobType.of("fails", JsonNode.class), (payload, ctx) -> {
                throw new IllegalStateException("boom");
              })
              .handler(JobType.of("works", JsonNode.class), (payload, ctx) -> null)
              .build().start()) {
        long failing = kit.insert("acme", queue, "fails", "{}", 5, null, null);
        Await.until("the first attempt failed (" + years + " years)", WAIT, () -> {
          WorkerTestKit.Row r = kit.row(failing);
          return r.state().equals("pending") && r.attempts() == 1;
        });
        WorkerTestKit.Row row = kit.row(failing);
        Instant expected = clock.instant().plus(delay.compareTo(RetryPolicy.MAX_DELAY) > 0 ? RetryPolicy.MAX_DELAY
            : delay);
        assertThat(row.runAt()).isEqualTo(expected);
        assertThat(row.lastError()).startsWith("java.lang.IllegalStateException: boom");

        long next = kit.insert("acme", queue, "works", "{}");
        kit.awaitState(next, "completed", WAIT);
      }
    }
  }
}
