package dev.saaskit.jobs;

import static dev.saaskit.jobs.QueueFixtures.ACME;
import static dev.saaskit.jobs.QueueFixtures.as;
import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.testing.Await;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * In-process wake-ups: an enqueue through {@link SaasJobs#queue()} that has committed wakes the idle workers of the
 * same {@link SaasJobs} at once. Every worker here has LISTEN off and a poll ten minutes away, so after its first
 * poll nothing but the in-process wake-up can start a job within the tests' bound.
 */
@ExtendWith(PostgresExtension.class)
class LocalWakeupTest {
  private static final Duration WAIT = Duration.ofSeconds(20);
  private static final Duration NEVER = Duration.ofMinutes(10);
  private static final JobType<String> PING = JobType.of("ping", String.class);

  private static HikariDataSource workerPool;

  @BeforeAll
  static void setUp(TestDatabase db) throws SQLException {
    String worker = QueueFixtures.setUp(db);
    workerPool = db.newPool(worker, db.rolePassword(worker), 6);
  }

  @AfterAll
  static void tearDown() {
    workerPool.close();
  }

  private static SaasJobs jobs(TestDatabase db) {
    return SaasJobs.builder(db.appDataSource()).workerDataSource(workerPool).build();
  }

  private static JobWorker.Builder idleWorker(SaasJobs jobs, SimpleMeterRegistry meters) {
    return jobs.worker().listen(false).pollInterval(NEVER).meterRegistry(meters)
        .handler(PING, (payload, ctx) -> "pong:" + payload);
  }

  private static void awaitFirstPoll(SimpleMeterRegistry meters, String... queues) {
    for (String queue : queues) {
      Await.until("the first poll of " + queue, WAIT, () -> JobWorkerTest.claimCount(meters, queue) >= 1);
    }
  }

  private static void awaitCompleted(SaasJobs jobs, JobId id) {
    Await.until("job " + id + " completed", WAIT,
        () -> as(ACME, () -> jobs.queue().status(id)).map(s -> s.state() == JobState.COMPLETED).orElse(false));
  }

  @Test
  void anEnqueueInThisProcessWakesAnIdleWorkerWithoutNotifyOrPoll(TestDatabase db) {
    SaasJobs jobs = jobs(db);
    SimpleMeterRegistry meters = new SimpleMeterRegistry();
    try (JobWorker worker = idleWorker(jobs, meters).queue("local", 2).build().start()) {
      awaitFirstPoll(meters, "local");
      for (int i = 0; i < 3; i++) {
        String payload = "n" + i;
        JobId id = as(ACME, () -> jobs.queue().enqueue(JobRequest.builder(PING, payload).queue("local").build()));
        awaitCompleted(jobs, id);
        assertThat(as(ACME, () -> jobs.queue().status(id)).orElseThrow().result(String.class))
            .isEqualTo("pong:" + payload);
      }
    }
  }

  @Test
  void anIdleWorkerClaimsAJobEnqueuedHereByItsIdInOneClaim(TestDatabase db) throws SQLException {
    SaasJobs jobs = jobs(db);
    SimpleMeterRegistry meters = new SimpleMeterRegistry();
    try (JobWorker worker = idleWorker(jobs, meters).queue("by-id", 2).build().start()) {
      awaitFirstPoll(meters, "by-id");
      for (int i = 0; i < 3; i++) {
        long claims = JobWorkerTest.claimCount(meters, "by-id");
        // on the caller's connection in auto-commit mode: inserted pending, then claimed by id (an enqueue on the
        // queue's own connection would insert it already claimed, see LocalStartTest)
        JobId id;
        try (Connection c = db.appDataSource().getConnection()) {
          id = as(ACME, () -> jobs.queue().enqueue(c, JobRequest.builder(PING, "id").queue("by-id").build()));
        }
        awaitCompleted(jobs, id);
        // the claim by id took it: no fair claim after it (that would count 2 or 3: the fallback, its refill)
        assertThat(JobWorkerTest.claimCount(meters, "by-id")).isEqualTo(claims + 1);
        assertThat(as(ACME, () -> jobs.queue().status(id)).orElseThrow().attempts()).isEqualTo(1);
      }
    }
  }

  @Test
  void aUniqueKeyHitNamingARunningJobDoesNotRunItAgain(TestDatabase db) throws Exception {
    SaasJobs jobs = jobs(db);
    SimpleMeterRegistry meters = new SimpleMeterRegistry();
    CountDownLatch running = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    AtomicInteger runs = new AtomicInteger();
    JobType<String> hold = JobType.of("hold", String.class);
    try (JobWorker worker = jobs.worker().listen(false).pollInterval(NEVER).meterRegistry(meters)
        .handler(hold, (payload, ctx) -> {
          runs.incrementAndGet();
          running.countDown();
          release.await();
          return null;
        })
        .queue("unique", 2).build().start()) {
      awaitFirstPoll(meters, "unique");
      JobRequest request = JobRequest.builder(hold, "u").tenant(ACME).queue("unique").uniqueKey("only-one").build();
      JobId first = as(ACME, () -> jobs.queue().enqueue(request));
      assertThat(running.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
      long claims = JobWorkerTest.claimCount(meters, "unique");
      // the hit returns the running job's id, which the worker is told about: its claim by id must skip it
      JobId again = as(ACME, () -> jobs.queue().enqueue(request));
      assertThat(again).isEqualTo(first);
      Await.until("the claim by id and the fair claim after it", WAIT,
          () -> JobWorkerTest.claimCount(meters, "unique") >= claims + 2);
      release.countDown();
      awaitCompleted(jobs, first);
      assertThat(runs).hasValue(1);
      assertThat(as(ACME, () -> jobs.queue().status(first)).orElseThrow().attempts()).isEqualTo(1);
    }
  }

  @Test
  void aBatchWakesEveryQueueItFilled(TestDatabase db) {
    SaasJobs jobs = jobs(db);
    SimpleMeterRegistry meters = new SimpleMeterRegistry();
    try (JobWorker worker = idleWorker(jobs, meters).queue("batch-a", 2).queue("batch-b", 2).build().start()) {
      awaitFirstPoll(meters, "batch-a", "batch-b");
      List<JobId> ids = as(ACME, () -> jobs.queue().enqueueAll(List.of(
          JobRequest.builder(PING, "a").queue("batch-a").build(),
          JobRequest.builder(PING, "b").queue("batch-b").build())));
      ids.forEach(id -> awaitCompleted(jobs, id));
    }
  }

  @Test
  void anEnqueueOnAnAutoCommitConnectionWakesToo(TestDatabase db) throws SQLException {
    SaasJobs jobs = jobs(db);
    SimpleMeterRegistry meters = new SimpleMeterRegistry();
    try (JobWorker worker = idleWorker(jobs, meters).queue("autocommit", 2).build().start();
        Connection c = db.appDataSource().getConnection()) {
      awaitFirstPoll(meters, "autocommit");
      c.setAutoCommit(true);
      JobId id = as(ACME, () -> jobs.queue().enqueue(c, JobRequest.builder(PING, "x").queue("autocommit").build()));
      awaitCompleted(jobs, id);
    }
  }

  @Test
  void aWorkerOfAnotherSaasJobsIsNotWoken(TestDatabase db) {
    SaasJobs mine = jobs(db);
    SaasJobs other = jobs(db);
    SimpleMeterRegistry meters = new SimpleMeterRegistry();
    try (JobWorker worker = idleWorker(mine, meters).queue("elsewhere", 2).build().start()) {
      awaitFirstPoll(meters, "elsewhere");
      assertThat(mine.localWakeupsForTesting().hasWorkers()).isTrue();
      // instances share nothing: the other one's queue has no worker to tell (its job waits for a NOTIFY or a poll)
      assertThat(other.localWakeupsForTesting().hasWorkers()).isFalse();
    }
  }

  @Test
  void onlyAStartedWorkerIsWoken(TestDatabase db) {
    SaasJobs jobs = jobs(db);
    SimpleMeterRegistry meters = new SimpleMeterRegistry();
    JobWorker worker = idleWorker(jobs, meters).queue("closing", 2).build();
    assertThat(jobs.localWakeupsForTesting().hasWorkers()).as("not before start").isFalse();
    worker.start();
    assertThat(jobs.localWakeupsForTesting().hasWorkers()).isTrue();
    worker.close();
    assertThat(jobs.localWakeupsForTesting().hasWorkers()).isFalse();
    // an enqueue after the close finds nobody to wake and does not fail
    JobId id = as(ACME, () -> jobs.queue().enqueue(JobRequest.builder(PING, "late").queue("closing").build()));
    assertThat(as(ACME, () -> jobs.queue().status(id)).orElseThrow().state()).isEqualTo(JobState.PENDING);
  }
}
