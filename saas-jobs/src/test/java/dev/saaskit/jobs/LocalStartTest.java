package dev.saaskit.jobs;

import static dev.saaskit.jobs.QueueFixtures.ACME;
import static dev.saaskit.jobs.QueueFixtures.as;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.core.SaasException;
import dev.saaskit.core.TenantContext;
import dev.saaskit.testing.Await;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Jobs enqueued in this process for an idle worker of the same {@link SaasJobs} are inserted already claimed by it
 * and start without a claim statement; every other job is enqueued pending as before. A deferred constraint trigger
 * records the state of each job at every commit that wrote it, so the tests see which path each job took.
 */
@ExtendWith(PostgresExtension.class)
class LocalStartTest {
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static final Duration NEVER = Duration.ofMinutes(10);
  private static final JobType<String> PING = JobType.of("ping", String.class);

  private static WorkerTestKit kit;
  private static HikariDataSource workerPool;

  @BeforeAll
  static void setUp(TestDatabase db) throws SQLException {
    kit = WorkerTestKit.setUp(db);
    workerPool = kit.workerPool("local-start", 8);
    try (Connection c = db.ownerDataSource().getConnection(); Statement st = c.createStatement()) {
      st.execute("CREATE TABLE commits (job_id bigint NOT NULL, op text NOT NULL, state text NOT NULL,"
          + " worker_id text, n bigserial)");
      st.execute("CREATE FUNCTION record_commit() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER"
          + " SET search_path = pg_catalog, public AS $$ BEGIN"
          + " INSERT INTO public.commits(job_id, op, state, worker_id) VALUES (NEW.id, TG_OP, NEW.state,"
          + " NEW.worker_id); RETURN NULL; END $$");
      st.execute("CREATE CONSTRAINT TRIGGER record_commit AFTER INSERT OR UPDATE ON saaskit_jobs.jobs"
          + " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION record_commit()");
      // a database failure on demand: an insert whose payload is "boom" fails
      st.execute("CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
          + " IF NEW.payload = '\"boom\"'::jsonb THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$");
      st.execute("CREATE TRIGGER refuse_boom BEFORE INSERT ON saaskit_jobs.jobs FOR EACH ROW"
          + " EXECUTE FUNCTION refuse_boom()");
    }
  }

  @AfterAll
  static void tearDown() {
    workerPool.close();
  }

  private static SaasJobs jobs(TestDatabase db) {
    return SaasJobs.builder(db.appDataSource()).workerDataSource(workerPool).build();
  }

  private static void awaitFirstPoll(SimpleMeterRegistry meters, String queue) {
    Await.until("the first poll of " + queue, WAIT, () -> JobWorkerTest.claimCount(meters, queue) >= 1);
  }

  private static JobId enqueue(SaasJobs jobs, JobRequest request) {
    return as(ACME, () -> jobs.queue().enqueue(request));
  }

  /** The state the job's row was inserted with. */
  private static String insertedAs(JobId id) {
    return commits(id).get(0);
  }

  /** "OP state worker" of every commit that wrote job {@code id}, in commit order. */
  private static List<String> commits(JobId id) {
    List<String> out = new ArrayList<>();
    try (Connection c = kit.admin().getConnection(); Statement st = c.createStatement();
        ResultSet rs = st.executeQuery("SELECT op, state, worker_id FROM public.commits WHERE job_id = " + id.value()
            + " ORDER BY n")) {
      while (rs.next()) {
        out.add(rs.getString(1) + " " + rs.getString(2) + " " + rs.getString(3));
      }
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
    return out;
  }

  @Test
  void anEnqueueHereWithAnIdleThreadInsertsTheJobRunningOnThatWorker(TestDatabase db) {
    SaasJobs jobs = jobs(db);
    SimpleMeterRegistry meters = new SimpleMeterRegistry();
    try (JobWorker worker = jobs.worker().workerId("here").listen(false).pollInterval(NEVER).meterRegistry(meters)
        .handler(PING, (payload, ctx) -> "pong:" + payload + ":" + ctx.attempt())
        .queue("started", 2).build().start()) {
      awaitFirstPoll(meters, "started");
      for (int i = 0; i < 3; i++) {
        long claims = JobWorkerTest.claimCount(meters, "started");
        JobId id = enqueue(jobs, JobRequest.builder(PING, "n" + i).tenant(ACME).queue("started").build());
        kit.awaitState(id.value(), "completed", WAIT);
        // inserted running on this worker, then completed: no claim in between
        assertThat(commits(id)).containsExactly("INSERT running here", "UPDATE completed here");
        WorkerTestKit.Row row = kit.row(id.value());
        assertThat(row.attempts()).isEqualTo(1);
        assertThat(row.leaseEpoch()).isEqualTo(1);
        assertThat(row.result()).isEqualTo("\"pong:n" + i + ":1\"");
        // the insert counts as the claim that took the job
        assertThat(JobWorkerTest.claimCount(meters, "started")).isEqualTo(claims + 1);
      }
    }
  }

  @Test
  void jobsThatCannotFairlyStartAtOnceAreEnqueuedPending(TestDatabase db) throws Exception {
    SaasJobs jobs = jobs(db);
    SaasJobs otherProcess = SaasJobs.builder(db.appDataSource()).build();
    SimpleMeterRegistry meters = new SimpleMeterRegistry();
    CountDownLatch holding = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    JobType<String> hold = JobType.of("hold", String.class);
    JobType<String> unknown = JobType.of("unknown", String.class);
    try (JobWorker worker = jobs.worker().workerId("picky").listen(false).pollInterval(Duration.ofMillis(200))
        .meterRegistry(meters)
        .handler(PING, (payload, ctx) -> "pong")
        .handler(hold, (payload, ctx) -> {
          holding.countDown();
          release.await();
          return null;
        })
        .queue("one-thread", 1).queue("capped", 2, 1).build().start()) {
      awaitFirstPoll(meters, "one-thread");
      awaitFirstPoll(meters, "capped");
      List<JobId> pending = new ArrayList<>();
      pending.add(enqueue(jobs, JobRequest.builder(PING, "u").tenant(ACME).queue("one-thread").uniqueKey("k").build()));
      pending.add(enqueue(otherProcess, JobRequest.builder(PING, "other").tenant(ACME).queue("one-thread").build()));
      pending.add(enqueue(jobs, JobRequest.builder(PING, "capped").tenant(ACME).queue("capped").build()));
      JobId delayed = enqueue(jobs, JobRequest.builder(PING, "later").tenant(ACME).queue("one-thread").delay(Duration.ofHours(1))
          .build());
      JobId unserved = enqueue(jobs, JobRequest.builder(PING, "x").tenant(ACME).queue("nobody-serves-this").build());
      JobId unhandled = enqueue(jobs, JobRequest.builder(unknown, "x").tenant(ACME).queue("one-thread").build());
      JobId inTransaction;
      try (HikariDataSource app = db.newPool(db.appRole(), db.appPassword(), 1); Connection c = app.getConnection()) {
        c.setAutoCommit(false);
        inTransaction = TenantContext.call(ACME, () -> jobs.queue().enqueue(c,
            JobRequest.builder(PING, "tx").tenant(ACME).queue("one-thread").build()));
        c.commit();
      }
      pending.add(inTransaction);
      for (JobId id : pending) {
        kit.awaitState(id.value(), "completed", WAIT);
      }
      // the one thread busy: the next job waits pending for it
      JobId holder = enqueue(jobs, JobRequest.builder(hold, "h").tenant(ACME).queue("one-thread").build());
      assertThat(holding.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
      assertThat(insertedAs(holder)).isEqualTo("INSERT running picky");
      JobId waiting = enqueue(jobs, JobRequest.builder(PING, "waits").tenant(ACME).queue("one-thread").build());
      pending.add(waiting);
      release.countDown();
      kit.awaitState(waiting.value(), "completed", WAIT);

      for (JobId id : pending) {
        assertThat(insertedAs(id)).as("job %s", id).isEqualTo("INSERT pending null");
        assertThat(kit.row(id.value()).state()).isEqualTo("completed");
        assertThat(kit.row(id.value()).attempts()).isEqualTo(1);
      }
      for (JobId id : List.of(delayed, unserved, unhandled)) {
        assertThat(commits(id)).as("job %s", id).containsExactly("INSERT pending null");
      }
    } finally {
      release.countDown();
    }
  }

  @Test
  void anInsertThatFailsGivesTheReservedThreadBack(TestDatabase db) {
    SaasJobs jobs = jobs(db);
    SimpleMeterRegistry meters = new SimpleMeterRegistry();
    try (JobWorker worker = jobs.worker().workerId("single").listen(false).pollInterval(NEVER).meterRegistry(meters)
        .handler(PING, (payload, ctx) -> "pong").queue("fails", 1).build().start()) {
      awaitFirstPoll(meters, "fails");
      for (int i = 0; i < 3; i++) {
        assertThatThrownBy(() -> enqueue(jobs, JobRequest.builder(PING, "boom").tenant(ACME).queue("fails").build()))
            .isInstanceOf(SaasException.class).hasMessageContaining("refused");
        // a thread still reserved by the failed enqueue would leave none idle: this job would be enqueued pending
        // and, with the poll ten minutes away, never run
        JobId id = enqueue(jobs, JobRequest.builder(PING, "ok").tenant(ACME).queue("fails").build());
        kit.awaitState(id.value(), "completed", WAIT);
        assertThat(insertedAs(id)).isEqualTo("INSERT running single");
      }
      assertThat(kit.count("SELECT count(*) FROM saaskit_jobs.jobs WHERE queue = 'fails'")).isEqualTo(3);
    }
  }

  @Test
  void concurrentEnqueuesNeverRunMoreHandlersThanThreadsAndLoseNoJob(TestDatabase db) throws Exception {
    SaasJobs jobs = jobs(db);
    SimpleMeterRegistry meters = new SimpleMeterRegistry();
    AtomicInteger running = new AtomicInteger();
    AtomicInteger maxRunning = new AtomicInteger();
    Map<Long, AtomicInteger> executions = new ConcurrentHashMap<>();
    Map<String, CountDownLatch> done = new ConcurrentHashMap<>();
    int threads = 8;
    int perThread = 40;
    List<JobId> ids = new ArrayList<>();
    try (JobWorker worker = jobs.worker().workerId("busy").pollInterval(Duration.ofMillis(100)).meterRegistry(meters)
        .handler(PING, (payload, ctx) -> {
          int now = running.incrementAndGet();
          maxRunning.accumulateAndGet(now, Math::max);
          executions.computeIfAbsent(ctx.id().value(), k -> new AtomicInteger()).incrementAndGet();
          Thread.sleep(2);
          running.decrementAndGet();
          done.get(payload).countDown();
          return null;
        }).queue("crowd", 2).build().start()) {
      awaitFirstPoll(meters, "crowd");
      ExecutorService pool = Executors.newFixedThreadPool(threads);
      try {
        List<Future<List<JobId>>> futures = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
          futures.add(pool.submit(() -> {
            List<JobId> mine = new ArrayList<>();
            for (int i = 0; i < perThread; i++) {
              // each thread waits for its job before the next, so the worker keeps going idle and the eight
              // threads' enqueues race for its two threads
              String token = Thread.currentThread().getName() + "/" + i;
              CountDownLatch finished = new CountDownLatch(1);
              done.put(token, finished);
              mine.add(enqueue(jobs, JobRequest.builder(PING, token).tenant(ACME).queue("crowd").build()));
              assertThat(finished.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
            }
            return mine;
          }));
        }
        for (Future<List<JobId>> f : futures) {
          ids.addAll(f.get(2, TimeUnit.MINUTES));
        }
      } finally {
        pool.shutdownNow();
      }
      Await.until("every job completed", Duration.ofMinutes(2), () -> kit.count(
          "SELECT count(*) FROM saaskit_jobs.jobs WHERE queue = 'crowd' AND state = 'completed'") == ids.size());
    }
    assertThat(ids).hasSize(threads * perThread).doesNotHaveDuplicates();
    assertThat(executions).hasSize(ids.size());
    assertThat(executions.values()).allSatisfy(n -> assertThat(n.get()).isEqualTo(1));
    assertThat(maxRunning.get()).isBetween(1, 2);
    assertThat(kit.count("SELECT count(*) FROM saaskit_jobs.jobs WHERE queue = 'crowd' AND attempts = 1"))
        .isEqualTo(ids.size());
    long startedHere = kit.count("SELECT count(*) FROM public.commits c JOIN saaskit_jobs.jobs j ON j.id = c.job_id"
        + " WHERE j.queue = 'crowd' AND c.op = 'INSERT' AND c.state = 'running'");
    System.out.printf("local start: %d of %d jobs inserted running, at most %d handlers at once%n", startedHere,
        ids.size(), maxRunning.get());
    // while jobs wait pending, fairness sends new ones the same way; the first ones found the threads idle
    assertThat(startedHere).isPositive();
  }

  @Test
  void closingTheWorkerWhileThisProcessEnqueuesLeavesNoJobRunningOnIt(TestDatabase db) throws Exception {
    SaasJobs jobs = jobs(db);
    SimpleMeterRegistry meters = new SimpleMeterRegistry();
    Map<Long, AtomicInteger> executions = new ConcurrentHashMap<>();
    JobWorker closing = jobs.worker().workerId("closing").pollInterval(Duration.ofMillis(100)).meterRegistry(meters)
        .handler(PING, (payload, ctx) -> {
          executions.computeIfAbsent(ctx.id().value(), k -> new AtomicInteger()).incrementAndGet();
          return null;
        }).queue("closing", 2).build().start();
    awaitFirstPoll(meters, "closing");
    AtomicBoolean stop = new AtomicBoolean();
    List<JobId> ids = java.util.Collections.synchronizedList(new ArrayList<>());
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      List<Future<?>> futures = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        futures.add(pool.submit(() -> {
          while (!stop.get()) {
            ids.add(enqueue(jobs, JobRequest.builder(PING, "c").tenant(ACME).queue("closing").build()));
          }
          return null;
        }));
      }
      Await.until("enqueues under way", WAIT, () -> ids.size() >= 50);
      closing.close();
      // nothing of the closed worker is left running: every job it took was finished or given back
      assertThat(kit.count("SELECT count(*) FROM saaskit_jobs.jobs WHERE queue = 'closing' AND state = 'running'"
          + " AND worker_id = 'closing'")).isZero();
      stop.set(true);
      for (Future<?> f : futures) {
        f.get(1, TimeUnit.MINUTES);
      }
    } finally {
      stop.set(true);
      pool.shutdownNow();
    }
    try (JobWorker next = jobs.worker().workerId("next").pollInterval(Duration.ofMillis(100))
        .handler(PING, (payload, ctx) -> {
          executions.computeIfAbsent(ctx.id().value(), k -> new AtomicInteger()).incrementAndGet();
          return null;
        }).queue("closing", 2).build().start()) {
      Await.until("every job completed", Duration.ofMinutes(2), () -> kit.count(
          "SELECT count(*) FROM saaskit_jobs.jobs WHERE queue = 'closing' AND state = 'completed'") == ids.size());
    }
    assertThat(executions).hasSize(ids.size());
    assertThat(executions.values()).allSatisfy(n -> assertThat(n.get()).isEqualTo(1));
    // a job given back before it ran has its attempt taken back: each counts the one attempt that ran it
    assertThat(kit.count("SELECT count(*) FROM saaskit_jobs.jobs WHERE queue = 'closing' AND attempts = 1"))
        .isEqualTo(ids.size());
  }

  @Test
  void aJobStartedHereOnAWorkerThatDiesIsRescuedAfterItsLease(TestDatabase db) throws Exception {
    SaasJobs jobs = jobs(db);
    SimpleMeterRegistry meters = new SimpleMeterRegistry();
    CountDownLatch running = new CountDownLatch(1);
    CountDownLatch never = new CountDownLatch(1);
    JobWorker dying = jobs.worker().workerId("dying").listen(false).pollInterval(NEVER).meterRegistry(meters)
        .leaseDuration(Duration.ofSeconds(1))
        .handler(PING, (payload, ctx) -> {
          running.countDown();
          never.await();
          return null;
        }).queue("dies", 1).build().start();
    try {
      awaitFirstPoll(meters, "dies");
      JobId id = enqueue(jobs, JobRequest.builder(PING, "d").tenant(ACME).queue("dies").build());
      assertThat(running.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
      assertThat(insertedAs(id)).isEqualTo("INSERT running dying");
      dying.crashForTesting();
      try (HikariDataSource rescuerPool = kit.workerPool("rescuer", 4);
          JobWorker rescuer = JobWorker.builder(rescuerPool).workerId("rescuer").leaseDuration(Duration.ofSeconds(1))
              .pollInterval(Duration.ofMillis(100)).handler(PING, (payload, ctx) -> "rescued:" + ctx.attempt())
              .queue("dies", 1).build().start()) {
        kit.awaitState(id.value(), "completed", WAIT);
      }
      WorkerTestKit.Row row = kit.row(id.value());
      assertThat(row.workerId()).isEqualTo("rescuer");
      assertThat(row.attempts()).isEqualTo(2);
      assertThat(row.result()).isEqualTo("\"rescued:2\"");
      assertThat(row.lastError()).isEqualTo("lease expired (worker dying presumed dead) during attempt 1");
    } finally {
      never.countDown();
    }
  }
}
