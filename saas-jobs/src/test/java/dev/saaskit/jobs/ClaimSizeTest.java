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
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The adaptive claim size: a queue whose handlers finish jobs faster than claims come back claims more per round
 * trip (up to maxBatchSize); a queue whose jobs are slow keeps claiming batchSize and holds no more than it did.
 */
@ExtendWith(PostgresExtension.class)
class ClaimSizeTest {
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static WorkerTestKit kit;

  @BeforeAll
  static void setUp(TestDatabase db) throws SQLException {
    kit = WorkerTestKit.setUp(db);
  }

  @Test
  void claimsGrowWhileHandlersRunDryBetweenThem() {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    AtomicInteger done = new AtomicInteger();
    kit.insertMany("acme", "fast", "noop", 5_000);
    try (HikariDataSource pool = kit.workerPool("claim-size-fast", 6);
        JobWorker worker = JobWorker.builder(pool).queue("fast", 2).batchSize(8).meterRegistry(registry)
            .handler(JobType.of("noop", JsonNode.class), (payload, ctx) -> {
              done.incrementAndGet();
              return null;
            }).build().start()) {
      Await.until("5,000 jobs ran", WAIT, () -> done.get() >= 5_000);
      double claimed = registry.counter("saaskit.jobs.claimed", "queue", "fast").count();
      long claims = registry.find("saaskit.jobs.claim").tag("queue", "fast").timer().count();
      System.out.printf("no-op jobs, batchSize 8 (max 64): %.0f jobs in %d claims%n", claimed, claims);
      // a fixed claim of 8 would have needed at least 625 claims
      assertThat(claimed / claims).isGreaterThan(16);
    }
    long largestClaim = kit.count("SELECT max(n) FROM (SELECT count(*) AS n FROM saaskit_jobs.jobs"
        + " WHERE queue = 'fast' GROUP BY started_at) AS claims");
    assertThat(largestClaim).isGreaterThan(8).isLessThanOrEqualTo(64);
  }

  @Test
  void slowJobsKeepTheClaimSize() {
    AtomicInteger done = new AtomicInteger();
    kit.insertMany("acme", "slow", "sleepy", 16);
    try (HikariDataSource pool = kit.workerPool("claim-size-slow", 6);
        JobWorker worker = JobWorker.builder(pool).queue("slow", 2).batchSize(4)
            .handler(JobType.of("sleepy", JsonNode.class), (payload, ctx) -> {
              Thread.sleep(400);
              done.incrementAndGet();
              return null;
            }).build().start()) {
      Await.until("16 jobs ran", WAIT, () -> done.get() >= 16);
    }
    // one claim = one transaction = one started_at; the handlers never ran dry (the prefetch holds 800 ms of work,
    // far more than a claim takes even on a loaded machine), so no claim grew past 4
    long largestClaim = kit.count("SELECT max(n) FROM (SELECT count(*) AS n FROM saaskit_jobs.jobs"
        + " WHERE queue = 'slow' GROUP BY started_at) AS claims");
    long claims = kit.count("SELECT count(DISTINCT started_at) FROM saaskit_jobs.jobs WHERE queue = 'slow'");
    System.out.printf("400 ms jobs, batchSize 4: 16 jobs in %d claims, the largest %d%n", claims, largestClaim);
    assertThat(largestClaim).isBetween(1L, 4L);
  }
}
