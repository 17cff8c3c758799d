package dev.saaskit.jobs;

import static dev.saaskit.jobs.QueueFixtures.ACME;
import static dev.saaskit.jobs.QueueFixtures.GLOBEX;
import static dev.saaskit.jobs.QueueFixtures.as;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.core.SaasException;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.Await;
import dev.saaskit.testing.MutableClock;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Logger;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The contract, checked the way an outside harness would: only through {@link SaasJobs} and the public
 * types it hands out (no package-private builder, no test hook), on the default schema with an application role
 * and a worker role.
 */
@ExtendWith(PostgresExtension.class)
class JobsContractTest {
  record Work(String name) {}

  record Done(String text) {}

  private static final Duration WAIT = Duration.ofSeconds(30);
  private static HikariDataSource workerPool;
  private static SaasJobs jobs;

  @BeforeAll
  static void setUp(TestDatabase db) throws SQLException {
    String worker = QueueFixtures.setUp(db);
    workerPool = db.newPool(worker, db.rolePassword(worker), 8);
    jobs = SaasJobs.builder(db.appDataSource()).workerDataSource(workerPool).build();
  }

  @AfterAll
  static void tearDown() {
    workerPool.close();
  }

  private static JobStatus statusOf(TenantId tenant, JobId id) {
    return as(tenant, () -> jobs.queue().status(id)).orElseThrow();
  }

  private static void awaitState(TenantId tenant, JobId id, JobState state) {
    Await.until("job " + id + " " + state, WAIT, () -> statusOf(tenant, id).state() == state);
  }

  @Test
  void aJobRunsAsItsTenantReportsProgressAndItsResultIsPolledByThatTenantOnly() throws Exception {
    JobType<Work> type = JobType.of("contract.progress", Work.class);
    Map<String, Optional<TenantId>> seenTenant = new ConcurrentHashMap<>();
    CountDownLatch finish = new CountDownLatch(1);
    try (JobWorker worker = jobs.worker().queue("contract-progress", 2).progressInterval(Duration.ofMillis(50))
        .handler(type, (work, ctx) -> {
          seenTenant.put(work.name(), TenantContext.current());
          seenTenant.put(work.name() + " ctx", Optional.ofNullable(ctx.tenant()));
          ctx.progress(0.5, "half of " + work.name());
          if (!finish.await(WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
            throw new IllegalStateException("the test never let the job finish");
          }
          return new Done("done " + work.name());
        }).build().start()) {
      JobId id = as(ACME, () -> jobs.queue().enqueue(JobRequest.builder(type, new Work("w1"))
          .queue("contract-progress").build()));

      Await.until("progress visible while running", WAIT, () -> {
        JobStatus s = statusOf(ACME, id);
        return s.state() == JobState.RUNNING && Double.valueOf(0.5).equals(s.progress());
      });
      JobStatus running = statusOf(ACME, id);
      assertThat(running.progressMessage()).isEqualTo("half of w1");
      assertThat(running.attempts()).isEqualTo(1);
      assertThat(running.startedAt()).isNotNull();
      assertThat(running.finishedAt()).isNull();
      // visible to its tenant only: another tenant and a request with no tenant see no such job
      assertThat(as(GLOBEX, () -> jobs.queue().status(id))).isEmpty();
      assertThat(jobs.queue().status(id)).isEmpty();
      assertThat(as(GLOBEX, () -> jobs.queue().cancel(id))).isFalse();

      finish.countDown();
      awaitState(ACME, id, JobState.COMPLETED);
      JobStatus done = statusOf(ACME, id);
      assertThat(done.result(Done.class)).isEqualTo(new Done("done w1"));
      assertThat(done.tenant()).isEqualTo(ACME);
      assertThat(done.attempts()).isEqualTo(1);
      assertThat(done.lastError()).isNull();
      assertThat(done.createdAt()).isNotNull();
      assertThat(done.finishedAt()).isNotNull().isAfterOrEqualTo(done.startedAt());
      assertThat(seenTenant).containsEntry("w1", Optional.of(ACME)).containsEntry("w1 ctx", Optional.of(ACME));
      // an operator sees every tenant's jobs
      assertThat(jobs.admin().show(id)).map(JobStatus::state).contains(JobState.COMPLETED);
    }
  }

  @Test
  void aFailingJobIsRetriedUntilDeadKeepsItsErrorAndAnOperatorRetryRunsItAgain() throws Exception {
    JobType<Work> type = JobType.of("contract.failing", Work.class);
    AtomicBoolean failing = new AtomicBoolean(true);
    AtomicInteger calls = new AtomicInteger();
    try (JobWorker worker = jobs.worker().queue("contract-failing", 1).pollInterval(Duration.ofMillis(20))
        .retryPolicy(RetryPolicy.exponential(Duration.ofMillis(1), Duration.ofMillis(5)))
        .handler(type, (work, ctx) -> {
          calls.incrementAndGet();
          if (failing.get()) {
            throw new IllegalStateException("boom on attempt " + ctx.attempt());
          }
          return new Done("ok");
        }).build().start()) {
      JobId id = as(ACME, () -> jobs.queue().enqueue(JobRequest.builder(type, new Work("f"))
          .queue("contract-failing").maxAttempts(3).build()));

      awaitState(ACME, id, JobState.DEAD);
      JobStatus dead = statusOf(ACME, id);
      assertThat(dead.attempts()).isEqualTo(3);
      assertThat(calls.get()).isEqualTo(3);
      assertThat(dead.lastError()).contains("IllegalStateException").contains("boom on attempt 3")
          .contains("\tat ");
      assertThat(dead.finishedAt()).isNotNull();
      assertThat(jobs.admin().list(JobFilter.builder().states(JobState.DEAD).tenant(ACME).build()))
          .extracting(JobStatus::id).contains(id);

      failing.set(false);
      assertThat(jobs.admin().retry(id)).isTrue();
      awaitState(ACME, id, JobState.COMPLETED);
      assertThat(statusOf(ACME, id).attempts()).isEqualTo(1);
      assertThat(calls.get()).isEqualTo(4);
      assertThat(jobs.admin().retry(id)).as("a completed job is not retried").isFalse();
    }
  }

  @Test
  void cancelEndsAPendingJobAtOnceAndAsksARunningHandlerToStop() throws Exception {
    JobType<Work> type = JobType.of("contract.cancel", Work.class);
    CountDownLatch started = new CountDownLatch(1);
    AtomicBoolean sawCancel = new AtomicBoolean();
    try (JobWorker worker = jobs.worker().queue("contract-cancel", 1).progressInterval(Duration.ofMillis(50))
        .handler(type, (work, ctx) -> {
          started.countDown();
          while (!ctx.isCancellationRequested()) {
            Thread.sleep(5); // a handler's own work between checks of the flag
          }
          sawCancel.set(true);
          return null;
        }).build().start()) {
      JobId later = as(ACME, () -> jobs.queue().enqueue(JobRequest.builder(type, new Work("later"))
          .queue("contract-cancel").delay(Duration.ofHours(1)).build()));
      assertThat(as(ACME, () -> jobs.queue().cancel(later))).isTrue();
      JobStatus cancelled = statusOf(ACME, later);
      assertThat(cancelled.state()).isEqualTo(JobState.CANCELLED);
      assertThat(cancelled.finishedAt()).isNotNull();
      assertThat(as(ACME, () -> jobs.queue().cancel(later))).as("already finished").isFalse();

      JobId running = as(ACME, () -> jobs.queue().enqueue(JobRequest.builder(type, new Work("now"))
          .queue("contract-cancel").build()));
      assertThat(started.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
      assertThat(as(ACME, () -> jobs.queue().cancel(running))).isTrue();
      awaitState(ACME, running, JobState.CANCELLED);
      assertThat(sawCancel).isTrue();
      assertThat(statusOf(ACME, running).cancelRequested()).isTrue();
    }
  }

  @Test
  void aUniqueKeyReturnsTheLiveJobAndIsFreeAgainOnceItFinished() throws Exception {
    JobType<Work> type = JobType.of("contract.unique", Work.class);
    JobRequest request = as(ACME, () -> JobRequest.builder(type, new Work("u")).queue("contract-unique")
        .uniqueKey("export:42").build());
    JobId first = as(ACME, () -> jobs.queue().enqueue(request));
    assertThat(as(ACME, () -> jobs.queue().enqueue(request))).isEqualTo(first);
    assertThat(as(ACME, () -> jobs.queue().enqueueAll(List.of(request, request)))).containsExactly(first, first);
    // another tenant's key and a system job's key never collide with it
    JobId globex = as(GLOBEX, () -> jobs.queue().enqueue(JobRequest.builder(type, new Work("u"))
        .queue("contract-unique").uniqueKey("export:42").build()));
    assertThat(globex).isNotEqualTo(first);

    try (JobWorker worker = jobs.worker().queue("contract-unique", 2).handler(type, (work, ctx) -> "ok").build()
        .start()) {
      awaitState(ACME, first, JobState.COMPLETED);
    }
    JobId second = as(ACME, () -> jobs.queue().enqueue(request));
    assertThat(second).isNotEqualTo(first);
    assertThat(statusOf(ACME, second).state()).isEqualTo(JobState.PENDING);
  }

  /**
   * Issue 10, point 9, through the public API: {@code * 2 * * *} in Australia/Lord_Howe on 2026-10-04 (local),
   * whose clocks go from 02:00 +10:30 to 02:30 +11:00 at 2026-10-03T15:30Z. 02:00-02:29 do not exist and fire once,
   * at the end of the gap; 02:30-02:59 exist and each fires. cron-utils answered the next day from 15:29:59Z.
   */
  @Test
  void cronOnTheLordHoweSpringForwardDayKeepsTheHalfHourAfterTheGap() {
    ZoneId lordHowe = ZoneId.of("Australia/Lord_Howe");
    JobType<Work> type = JobType.of("contract.cron", Work.class);
    for (String[] c : new String[][] {
        {"2026-10-03T14:59:59Z", "2026-10-03T15:30:00Z"},
        {"2026-10-03T15:29:59Z", "2026-10-03T15:30:00Z"},
        {"2026-10-03T15:30:00Z", "2026-10-03T15:31:00Z"},
        {"2026-10-03T15:58:30Z", "2026-10-03T15:59:00Z"},
        {"2026-10-03T15:59:00Z", "2026-10-04T15:00:00Z"}}) {
      MutableClock clock = MutableClock.at(Instant.parse(c[0]));
      SaasJobs atThatTime = SaasJobs.builder(workerPool).clock(clock).build();
      String name = "lord-howe-" + c[0];
      try (RecurringJobs recurring = atThatTime.recurring()
          .add(RecurringJob.builder(name, "* 2 * * *",
              JobRequest.builder(type, new Work("tick")).noTenant().queue("contract-cron").build())
              .zone(lordHowe).build())
          .build().start()) {
        assertThat(recurring.nextFireAt(name)).as("next after %s", c[0]).contains(Instant.parse(c[1]));
        assertThat(recurring.remove(name)).isTrue();
      }
    }
  }

  @Test
  void anAttemptOverItsTimeoutIsInterruptedAndCountsAsAFailure() throws Exception {
    JobType<Work> type = JobType.of("contract.timeout", Work.class);
    try (JobWorker worker = jobs.worker().queue("contract-timeout", 1).handler(type, (work, ctx) -> {
      Thread.sleep(WAIT.toMillis()); // interrupted by the timeout
      return "too late";
    }).build().start()) {
      JobId id = as(ACME, () -> jobs.queue().enqueue(JobRequest.builder(type, new Work("slow"))
          .queue("contract-timeout").timeout(Duration.ofMillis(200)).maxAttempts(1).build()));
      awaitState(ACME, id, JobState.DEAD);
      assertThat(statusOf(ACME, id).lastError()).contains("timed out after 200 ms");
    }
  }

  /**
   * The newcomer's mistake: no {@code workerDataSource}, so the worker runs on the application's role. That role
   * reads its tenant's jobs, so the old check (is the table readable?) let the worker start, and then every claim
   * failed with "permission denied" in the log, every second, while no job ever ran. It is refused at start now.
   */
  @Test
  void aWorkerOnTheApplicationsRoleIsRefusedAtStartWithWhatToDo(TestDatabase db) {
    SaasJobs appOnly = SaasJobs.builder(db.appDataSource()).build();
    JobWorker worker = appOnly.worker().handler(JobType.of("contract.app-role", Work.class), (work, ctx) -> null)
        .build();
    try {
      assertThatThrownBy(worker::start).isInstanceOf(SaasException.class)
          .hasMessageContaining("cannot update saaskit_jobs.jobs")
          .hasMessageContaining("JobsSchema.grantWorker(connection, role)")
          .hasMessageContaining("workerDataSource(");
    } finally {
      worker.close();
    }
    // the same settings on the worker role start
    try (JobWorker onWorkerRole = jobs.worker().handler(JobType.of("contract.app-role", Work.class),
        (work, ctx) -> null).build().start()) {
      assertThat(onWorkerRole.workerId()).isNotBlank();
    }
  }

  /**
   * A worker that stops reaching the database (its pool refuses connections: a network partition, a long GC pause)
   * loses its lease on the database clock; another worker rescues the job within seconds and runs it again, and
   * the first worker, once it comes back, can neither complete the job nor touch it: its lease epoch is stale.
   */
  @Test
  void aWorkerThatLostItsLeaseCannotCompleteTheJobItsRescuerNowHolds() throws Exception {
    JobType<Work> type = JobType.of("contract.zombie", Work.class);
    CutOffDataSource cutOff = new CutOffDataSource(workerPool);
    SimpleMeterRegistry zombieMeters = new SimpleMeterRegistry();
    SimpleMeterRegistry rescuerMeters = new SimpleMeterRegistry();
    SaasJobs zombieSide = SaasJobs.builder(workerPool).workerDataSource(cutOff).meterRegistry(zombieMeters).build();
    SaasJobs rescuerSide = SaasJobs.builder(workerPool).meterRegistry(rescuerMeters).build();
    CountDownLatch zombieRunning = new CountDownLatch(1);
    CountDownLatch zombieResumes = new CountDownLatch(1);
    CountDownLatch rescuerRunning = new CountDownLatch(1);
    CountDownLatch rescuerResumes = new CountDownLatch(1);
    try (JobWorker zombie = zombieSide.worker().queue("contract-zombie", 1).listen(false)
        .pollInterval(Duration.ofMillis(50)).leaseDuration(Duration.ofSeconds(1))
        .handler(type, (work, ctx) -> {
          zombieRunning.countDown();
          zombieResumes.await();
          return new Done("zombie");
        }).build().start()) {
      JobId id = as(ACME, () -> jobs.queue().enqueue(JobRequest.builder(type, new Work("z"))
          .queue("contract-zombie").build()));
      assertThat(zombieRunning.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
      cutOff.cut.set(true); // no heartbeat reaches the database from here on

      try (JobWorker rescuer = rescuerSide.worker().queue("contract-zombie", 1)
          .pollInterval(Duration.ofMillis(50)).leaseDuration(Duration.ofSeconds(1))
          .handler(type, (work, ctx) -> {
            rescuerRunning.countDown();
            rescuerResumes.await();
            return new Done("rescuer");
          }).build().start()) {
        assertThat(rescuerRunning.await(WAIT.toSeconds(), TimeUnit.SECONDS)).as("rescued and run again").isTrue();
        JobStatus rescued = statusOf(ACME, id);
        assertThat(rescued.state()).isEqualTo(JobState.RUNNING);
        assertThat(rescued.attempts()).isEqualTo(2);
        Await.until("the rescue is counted", WAIT, () -> rescuerMeters.find("saaskit.jobs.rescued").counters()
            .stream().mapToDouble(c -> c.count()).sum() == 1);

        cutOff.cut.set(false);
        zombieResumes.countDown(); // the first worker comes back and reports its outcome
        Await.until("the zombie's completion is rejected", WAIT, () -> zombieMeters
            .find("saaskit.jobs.zombie.rejected").counters().stream().mapToDouble(c -> c.count()).sum() == 1);
        JobStatus stillRunning = statusOf(ACME, id);
        assertThat(stillRunning.state()).isEqualTo(JobState.RUNNING);
        assertThat(stillRunning.resultJson()).isNull();

        rescuerResumes.countDown();
        awaitState(ACME, id, JobState.COMPLETED);
        assertThat(statusOf(ACME, id).result(Done.class)).isEqualTo(new Done("rescuer"));
        assertThat(statusOf(ACME, id).attempts()).isEqualTo(2);
      }
    } finally {
      zombieResumes.countDown();
      rescuerResumes.countDown();
    }
  }

  /**
   * {@code close()} stops within its timeout even when the database stops answering: a claim waiting on it (here a
   * connection that never comes, as a half-open socket would leave it) no longer holds the caller until it answers.
   */
  @Test
  void closeReturnsWithinItsTimeoutWhileAClaimWaitsOnADatabaseThatDoesNotAnswer() throws Exception {
    JobType<Work> type = JobType.of("contract.hung", Work.class);
    CutOffDataSource hung = new CutOffDataSource(workerPool);
    SaasJobs side = SaasJobs.builder(workerPool).workerDataSource(hung).build();
    CountDownLatch answer = new CountDownLatch(1);
    JobWorker worker = side.worker().queue("contract-hung", 1).listen(false).pollInterval(Duration.ofMillis(50))
        .closeTimeout(Duration.ofSeconds(1)).handler(type, (work, ctx) -> new Done("never")).build().start();
    try {
      hung.hang.set(answer);
      assertThat(hung.dispatcherHanging.await(WAIT.toSeconds(), TimeUnit.SECONDS))
          .as("the worker's claim waits on the database").isTrue();
      java.util.concurrent.CompletableFuture<Void> closing =
          java.util.concurrent.CompletableFuture.runAsync(worker::close);
      // generous: the bound under test is 1 s plus the few seconds the heartbeats and the writer are given
      closing.get(WAIT.toSeconds(), TimeUnit.SECONDS);
      assertThat(answer.getCount()).as("close() returned while the database still did not answer").isEqualTo(1);
    } finally {
      answer.countDown();
      worker.close();
    }
  }

  /**
   * A second {@code close()} (a shutdown hook next to the application's own close) waits for the first and both
   * return. The second used to wait holding the lock the first needs to finish: both hung for ever.
   */
  @Test
  void aSecondCloseWhileTheFirstWaitsForARunningHandlerReturnsWithIt() throws Exception {
    JobType<Work> type = JobType.of("contract.twice", Work.class);
    CountDownLatch running = new CountDownLatch(1);
    CountDownLatch finish = new CountDownLatch(1);
    JobWorker worker = jobs.worker().queue("contract-twice", 1).listen(false).pollInterval(Duration.ofMillis(50))
        .closeTimeout(Duration.ofMinutes(5)).handler(type, (work, ctx) -> {
          running.countDown();
          finish.await();
          return new Done("done");
        }).build().start();
    String dispatcher = "saaskit-jobs-" + worker.workerId() + "-dispatcher";
    AtomicInteger closerNumber = new AtomicInteger();
    java.util.concurrent.ExecutorService closers = java.util.concurrent.Executors.newFixedThreadPool(2,
        r -> new Thread(r, "contract-closer-" + closerNumber.incrementAndGet()));
    try {
      JobId id = as(ACME, () -> jobs.queue().enqueue(JobRequest.builder(type, new Work("t"))
          .queue("contract-twice").build()));
      assertThat(running.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
      java.util.concurrent.Future<?> first = closers.submit(worker::close);
      // the first close() has stopped claiming once the dispatcher thread is gone; it now waits for the handler
      Await.until("the first close() is under way", WAIT, () -> Thread.getAllStackTraces().keySet().stream()
          .noneMatch(t -> t.getName().equals(dispatcher)));
      java.util.concurrent.Future<?> second = closers.submit(worker::close);
      Await.until("the second close() waits for the first", WAIT, () -> Thread.getAllStackTraces().entrySet()
          .stream().anyMatch(e -> e.getKey().getName().equals("contract-closer-2") && java.util.Arrays
              .stream(e.getValue()).anyMatch(f -> f.getMethodName().equals("awaitClosed"))));
      finish.countDown();
      first.get(WAIT.toSeconds(), TimeUnit.SECONDS);
      second.get(WAIT.toSeconds(), TimeUnit.SECONDS);
      awaitState(ACME, id, JobState.COMPLETED);
    } finally {
      finish.countDown();
      closers.shutdownNow();
    }
  }

  /**
   * {@code close()} racing a {@code start()} that waits on a database that does not answer (a shutdown hook during
   * startup) returns at once, and the start then throws and starts nothing. close() used to wait for the lock the
   * start held through its database probe, for as long as the database did not answer.
   */
  @Test
  void closeWhileStartWaitsOnADatabaseThatDoesNotAnswerReturnsAndTheStartThrows() throws Exception {
    JobType<Work> type = JobType.of("contract.startclose", Work.class);
    CutOffDataSource hung = new CutOffDataSource(workerPool);
    SaasJobs side = SaasJobs.builder(workerPool).workerDataSource(hung).build();
    JobWorker worker = side.worker().queue("contract-startclose", 1).listen(true)
        .closeTimeout(Duration.ofSeconds(1)).handler(type, (work, ctx) -> new Done("never")).build();
    CountDownLatch answer = new CountDownLatch(1);
    hung.hang.set(answer);
    java.util.concurrent.ExecutorService starter = java.util.concurrent.Executors.newSingleThreadExecutor(
        r -> new Thread(r, "contract-starter"));
    try {
      java.util.concurrent.Future<JobWorker> starting = starter.submit(worker::start);
      Await.until("start() waits on the database", WAIT, () -> Thread.getAllStackTraces().entrySet().stream()
          .anyMatch(e -> e.getKey().getName().equals("contract-starter") && java.util.Arrays.stream(e.getValue())
              .anyMatch(f -> f.getClassName().endsWith("CutOffDataSource"))));
      java.util.concurrent.CompletableFuture<Void> closing =
          java.util.concurrent.CompletableFuture.runAsync(worker::close);
      closing.get(WAIT.toSeconds(), TimeUnit.SECONDS);
      assertThat(answer.getCount()).as("close() returned while the database still did not answer").isEqualTo(1);
      answer.countDown();
      assertThatThrownBy(() -> starting.get(WAIT.toSeconds(), TimeUnit.SECONDS))
          .hasCauseInstanceOf(IllegalStateException.class).hasMessageContaining("closed while it was starting");
      String prefix = "saaskit-jobs-" + worker.workerId() + "-";
      assertThat(Thread.getAllStackTraces().keySet().stream().map(Thread::getName)
          .filter(n -> n.startsWith(prefix))).as("no thread of the closed worker").isEmpty();
    } finally {
      answer.countDown();
      starter.shutdownNow();
      worker.close();
    }
  }

  /**
   * A handler that closes its own worker (a "drain this node" job) is not waited for by that close: its job
   * completes, and the worker stops once it returned. The handler used to wait the whole close timeout for its own
   * return, then was interrupted and its job released to run again.
   */
  @Test
  void aHandlerThatClosesItsOwnWorkerCompletesItsJobAndTheWorkerStops() throws Exception {
    JobType<Work> type = JobType.of("contract.selfclose", Work.class);
    java.util.concurrent.atomic.AtomicReference<@org.jspecify.annotations.Nullable JobWorker> self =
        new java.util.concurrent.atomic.AtomicReference<>();
    AtomicInteger runs = new AtomicInteger();
    JobWorker worker = jobs.worker().queue("contract-selfclose", 1).listen(false)
        .pollInterval(Duration.ofMillis(50)).closeTimeout(Duration.ofMinutes(1)).handler(type, (work, ctx) -> {
          runs.incrementAndGet();
          java.util.Objects.requireNonNull(self.get()).close();
          return new Done("closed");
        }).build();
    self.set(worker);
    worker.start();
    try {
      JobId id = as(ACME, () -> jobs.queue().enqueue(JobRequest.builder(type, new Work("t"))
          .queue("contract-selfclose").build()));
      awaitState(ACME, id, JobState.COMPLETED);
      worker.close(); // waits for the shutdown the handler began
      String prefix = "saaskit-jobs-" + worker.workerId() + "-";
      Await.until("the worker's threads end", WAIT, () -> Thread.getAllStackTraces().keySet().stream()
          .noneMatch(t -> t.getName().startsWith(prefix) && t.isAlive()));
      assertThat(runs.get()).as("the handler ran once").isEqualTo(1);
    } finally {
      worker.close();
    }
  }

  /**
   * A data source that refuses every new connection while {@link #cut} is set, like a partitioned network, and
   * whose connections never come while {@link #hang} holds a latch, like a database that stopped answering.
   */
  private static final class CutOffDataSource implements DataSource {
    final AtomicBoolean cut = new AtomicBoolean();
    final java.util.concurrent.atomic.AtomicReference<@org.jspecify.annotations.Nullable CountDownLatch> hang =
        new java.util.concurrent.atomic.AtomicReference<>();
    final CountDownLatch dispatcherHanging = new CountDownLatch(1);
    private final DataSource delegate;

    CutOffDataSource(DataSource delegate) {
      this.delegate = delegate;
    }

    @Override
    public Connection getConnection() throws SQLException {
      CountDownLatch until = hang.get();
      if (until != null) {
        if (Thread.currentThread().getName().endsWith("-dispatcher")) {
          dispatcherHanging.countDown();
        }
        boolean interrupted = false;
        while (until.getCount() > 0) {
          try {
            until.await();
          } catch (InterruptedException e) {
            interrupted = true;   // a socket read ignores interrupts too
          }
        }
        if (interrupted) {
          Thread.currentThread().interrupt();
        }
      }
      if (cut.get()) {
        throw new SQLException("cut off from the database (test)", "08001");
      }
      return delegate.getConnection();
    }

    @Override
    public Connection getConnection(String user, String password) throws SQLException {
      throw new SQLFeatureNotSupportedException("not used");
    }

    @Override
    public PrintWriter getLogWriter() throws SQLException {
      return delegate.getLogWriter();
    }

    @Override
    public void setLogWriter(PrintWriter out) throws SQLException {
      delegate.setLogWriter(out);
    }

    @Override
    public void setLoginTimeout(int seconds) throws SQLException {
      delegate.setLoginTimeout(seconds);
    }

    @Override
    public int getLoginTimeout() throws SQLException {
      return delegate.getLoginTimeout();
    }

    @Override
    public Logger getParentLogger() throws SQLFeatureNotSupportedException {
      return delegate.getParentLogger();
    }

    @Override
    public <T> T unwrap(Class<T> iface) throws SQLException {
      return delegate.unwrap(iface);
    }

    @Override
    public boolean isWrapperFor(Class<?> iface) throws SQLException {
      return delegate.isWrapperFor(iface);
    }
  }
}
