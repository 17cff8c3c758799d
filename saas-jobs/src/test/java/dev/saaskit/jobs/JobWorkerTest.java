package dev.saaskit.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
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
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Handler execution: tenant context, results, progress, cancellation, timeouts, failures, wake-ups, shutdown. */
@ExtendWith(PostgresExtension.class)
class JobWorkerTest {
  private static final Duration WAIT = Duration.ofSeconds(20);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static WorkerTestKit kit;

  @BeforeAll
  static void setUp(TestDatabase db) throws SQLException {
    kit = WorkerTestKit.setUp(db);
    // a tenant table the handlers read through the application's role, fenced by RLS
    try (Connection c = db.ownerDataSource().getConnection(); Statement st = c.createStatement()) {
      st.execute("CREATE TABLE notes (tenant_id text NOT NULL, body text)");
      st.execute("ALTER TABLE notes ENABLE ROW LEVEL SECURITY");
      st.execute("ALTER TABLE notes FORCE ROW LEVEL SECURITY");
      st.execute("CREATE POLICY notes_tenant ON notes USING (tenant_id = current_setting('app.tenant_id', true))");
    }
    kit.execute("INSERT INTO notes VALUES ('acme', 'a1'), ('acme', 'a2'), ('acme', 'a3'), ('globex', 'g1'),"
        + " ('globex', 'g2')");
  }

  private static JobWorker.Builder worker(HikariDataSource pool, String queue) {
    return JobWorker.builder(pool).queue(queue, 4).pollInterval(Duration.ofMillis(200))
        .leaseDuration(Duration.ofSeconds(3)).progressInterval(Duration.ofMillis(100))
        .closeTimeout(Duration.ofSeconds(5));
  }

  /** Counts the notes the application role sees for the current tenant, as a real handler would. */
  private static long visibleNotes(TestDatabase db) throws SQLException {
    try (Connection c = db.appDataSource().getConnection()) {
      c.setAutoCommit(false);
      try (Statement st = c.createStatement()) {
        if (TenantContext.current().isPresent()) {
          st.execute("SELECT set_config('app.tenant_id', '" + TenantContext.require().value() + "', true)");
        }
        try (ResultSet rs = st.executeQuery("SELECT count(*) FROM notes")) {
          rs.next();
          return rs.getLong(1);
        }
      } finally {
        c.rollback();
      }
    }
  }

  @Test
  void handlerRunsInTheTenantContextOfItsJobAndItsResultIsStored(TestDatabase db) throws Exception {
    Map<Long, String> seen = new ConcurrentHashMap<>();
    try (HikariDataSource pool = kit.workerPool("tenant-test", 6);
        JobWorker worker = worker(pool, "tenants").handler(JobType.of("count-notes", JsonNode.class), (payload, ctx) -> {
          seen.put(ctx.id().value(), TenantContext.current().map(TenantId::value).orElse("<none>"));
          assertThat(ctx.tenant()).isEqualTo(TenantContext.current().orElse(null));
          return Map.of("notes", visibleNotes(db), "attempt", ctx.attempt());
        }).build().start()) {
      long acme = kit.insert("acme", "tenants", "count-notes", "{}");
      long globex = kit.insert("globex", "tenants", "count-notes", "{}");
      long system = kit.insert(null, "tenants", "count-notes", "{}");
      for (long id : new long[] {acme, globex, system}) {
        kit.awaitState(id, "completed", WAIT);
      }
      assertThat(seen).containsEntry(acme, "acme").containsEntry(globex, "globex").containsEntry(system, "<none>");
      assertThat(JSON.readTree(kit.row(acme).result())).isEqualTo(JSON.readTree("{\"notes\": 3, \"attempt\": 1}"));
      assertThat(JSON.readTree(kit.row(globex).result())).isEqualTo(JSON.readTree("{\"notes\": 2, \"attempt\": 1}"));
      // a system job has no tenant, and RLS fails closed for it
      assertThat(JSON.readTree(kit.row(system).result()).get("notes").asLong()).isZero();
      WorkerTestKit.Row row = kit.row(acme);
      assertThat(row.attempts()).isEqualTo(1);
      assertThat(row.progress()).isEqualTo(1.0f);
      assertThat(row.finishedAt()).isNotNull();
      assertThat(row.leaseExpiresAt()).isNull();
      assertThat(row.workerId()).isEqualTo(worker.workerId());
    }
  }

  @Test
  void aHandlerReturningNullStoresNoResult() throws Exception {
    try (HikariDataSource pool = kit.workerPool("null-result-test", 6);
        JobWorker worker = worker(pool, "nullresult").handler(JobType.of("r", JsonNode.class), (payload, ctx) -> null)
            .build().start()) {
      long id = kit.insert("acme", "nullresult", "r", "{\"x\": \"hello\"}");
      kit.awaitState(id, "completed", WAIT);
      assertThat(kit.row(id).result()).isNull();
    }
  }

  @Test
  void aNullPayloadReachesTheHandlerAsNull() throws Exception {
    // JobRequest.builder(type, null) stores the JSON null; JobHandler documents that its handler gets null
    AtomicInteger calls = new AtomicInteger();
    AtomicBoolean sawNull = new AtomicBoolean();
    try (HikariDataSource pool = kit.workerPool("null-payload-test", 6);
        JobWorker worker = worker(pool, "nullpayload").handler(JobType.of("n", String.class), (payload, ctx) -> {
          calls.incrementAndGet();
          sawNull.set(payload == null);
          return null;
        }).build().start()) {
      long id = kit.insert("acme", "nullpayload", "n", "null");
      kit.awaitState(id, "completed", WAIT);
    }
    assertThat(calls.get()).isEqualTo(1);
    assertThat(sawNull.get()).isTrue();
  }

  @Test
  void progressIsWrittenWhileRunningAndCancellationIsCooperative() throws Exception {
    AtomicBoolean sawCancel = new AtomicBoolean();
    try (HikariDataSource pool = kit.workerPool("cancel-test", 6);
        // a 30 s lease: the next full heartbeat is 10 s away, the cancel must arrive with a progress tick (100 ms)
        JobWorker worker = worker(pool, "cancel").leaseDuration(Duration.ofSeconds(30))
            .handler(JobType.of("long", JsonNode.class), (payload, ctx) -> {
          ctx.progress(0.25, "a quarter done");
          long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
          while (!ctx.isCancellationRequested() && System.nanoTime() < deadline) {
            Thread.sleep(10);
          }
          sawCancel.set(ctx.isCancellationRequested());
          return "stopped early";
        }).build().start()) {
      long id = kit.insert("acme", "cancel", "long", "{}");
      Await.until("progress 0.25 is visible", WAIT, () -> {
        WorkerTestKit.Row r = kit.row(id);
        return r.progress() != null && r.progress() == 0.25f && "a quarter done".equals(r.progressMessage());
      });
      assertThat(kit.row(id).state()).isEqualTo("running");
      // what JobQueue.cancel does for a running job
      kit.execute("UPDATE saaskit_jobs.jobs SET cancel_requested = true WHERE id = " + id);
      kit.awaitState(id, "cancelled", Duration.ofSeconds(5));
      assertThat(sawCancel).isTrue();
      WorkerTestKit.Row row = kit.row(id);
      assertThat(row.result()).isNull();
      assertThat(row.finishedAt()).isNotNull();
      assertThat(row.progressMessage()).isEqualTo("a quarter done");
    }
  }

  @Test
  void timeoutInterruptsTheHandlerAndFailsTheAttempt() {
    AtomicInteger interrupted = new AtomicInteger();
    try (HikariDataSource pool = kit.workerPool("timeout-test", 6);
        JobWorker worker = worker(pool, "timeouts").handler(JobType.of("stuck", JsonNode.class), (payload, ctx) -> {
          try {
            new CountDownLatch(1).await();
          } catch (InterruptedException e) {
            interrupted.incrementAndGet();
            throw e;
          }
          return null;
        }, JobWorker.HandlerOptions.defaults().withTimeout(Duration.ofMillis(400))).build().start()) {
      long own = kit.insert("acme", "timeouts", "stuck", "{}", 1, 300L, null);
      long typeDefault = kit.insert("acme", "timeouts", "stuck", "{}", 1, null, null);
      kit.awaitState(own, "dead", WAIT);
      kit.awaitState(typeDefault, "dead", WAIT);
      assertThat(interrupted).hasValue(2);
      // the job's own timeout wins over the handler's default
      assertThat(kit.row(own).lastError()).startsWith("timed out after 300 ms")
          .contains("java.lang.InterruptedException");
      assertThat(kit.row(typeDefault).lastError()).startsWith("timed out after 400 ms");
    }
  }

  @Test
  void permanentFailureAndUnreadablePayloadAreDeadAtOnce() {
    record Invoice(String number) {}
    try (HikariDataSource pool = kit.workerPool("permanent-test", 6);
        JobWorker worker = worker(pool, "permanent").handler(JobType.of("invoice", Invoice.class), (invoice, ctx) -> {
          throw new JobFailedPermanently("invoice " + invoice.number() + " does not exist");
        }).build().start()) {
      long missing = kit.insert("acme", "permanent", "invoice", "{\"number\": \"INV-7\"}", 5, null, null);
      long garbled = kit.insert("acme", "permanent", "invoice", "[1, 2, 3]", 5, null, null);
      kit.awaitState(missing, "dead", WAIT);
      kit.awaitState(garbled, "dead", WAIT);
      assertThat(kit.row(missing).attempts()).isEqualTo(1);
      assertThat(kit.row(missing).lastError())
          .contains("JobFailedPermanently: invoice INV-7 does not exist").contains("\tat ");
      assertThat(kit.row(garbled).attempts()).isEqualTo(1);
      assertThat(kit.row(garbled).lastError()).contains("cannot be read as");
    }
  }

  @Test
  void jobsOfTypesWithoutHandlerAreLeftPending() {
    SimpleMeterRegistry meters = new SimpleMeterRegistry();
    try (HikariDataSource pool = kit.workerPool("types-test", 6);
        JobWorker worker = worker(pool, "types").meterRegistry(meters)
            .handler(JobType.of("known", JsonNode.class), (payload, ctx) -> null).build().start()) {
      long unknown = kit.insert("acme", "types", "unknown", "{}");
      long known = kit.insert("acme", "types", "known", "{}");
      kit.awaitState(known, "completed", WAIT);
      long claims = claimCount(meters, "types");
      Await.until("two more polls", WAIT, () -> claimCount(meters, "types") >= claims + 2);
      WorkerTestKit.Row row = kit.row(unknown);
      assertThat(row.state()).isEqualTo("pending");
      assertThat(row.attempts()).isZero();
    }
  }

  @Test
  void resultLargerThanTheBoundIsDroppedWithANote() {
    try (HikariDataSource pool = kit.workerPool("result-size-test", 6);
        JobWorker worker = worker(pool, "big").maxResultBytes(64)
            .handler(JobType.of("big", JsonNode.class), (payload, ctx) -> "x".repeat(1000)).build().start()) {
      long id = kit.insert("acme", "big", "big", "{}");
      kit.awaitState(id, "completed", WAIT);
      assertThat(kit.row(id).result()).isNull();
      assertThat(kit.row(id).lastError()).contains("exceed maxResultBytes 64");
    }
  }

  @Test
  void notifyWakesTheWorkerLongBeforeThePollInterval() {
    SimpleMeterRegistry meters = new SimpleMeterRegistry();
    try (HikariDataSource pool = kit.workerPool("notify-test", 6);
        JobWorker worker = JobWorker.builder(pool).queue("notified", 2).pollInterval(Duration.ofMinutes(1))
            .meterRegistry(meters).handler(JobType.of("ping", JsonNode.class), (payload, ctx) -> null).build().start()) {
      // the first poll runs at start; after it only a NOTIFY can wake the worker for a minute
      Await.until("the first poll", WAIT, () -> claimCount(meters, "notified") >= 1);
      for (int i = 0; i < 3; i++) {
        long started = System.nanoTime();
        long id = kit.insert("acme", "notified", "ping", "{}");
        kit.awaitState(id, "completed", Duration.ofSeconds(5));
        assertThat(System.nanoTime() - started).isLessThan(TimeUnit.SECONDS.toNanos(5));
      }
    }
  }

  @Test
  void aKilledListenConnectionIsReplacedAndWakeUpsWorkAgain() {
    String listening = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'relisten-test'"
        + " AND query LIKE 'LISTEN%'";
    try (HikariDataSource pool = kit.workerPool("relisten-test", 6);
        JobWorker worker = JobWorker.builder(pool).queue("relisten", 2).pollInterval(Duration.ofMinutes(1))
            .handler(JobType.of("ping", JsonNode.class), (payload, ctx) -> null).build().start()) {
      Await.until("the worker listens", WAIT, () -> kit.count(listening) == 1);
      long pid = kit.count(listening.replace("count(*)", "pid"));
      assertThat(kit.count("SELECT count(pg_terminate_backend(" + pid + "))")).isEqualTo(1);
      Await.until("a new LISTEN session", WAIT, () -> kit.count(listening + " AND pid <> " + pid) == 1);
      // the poll is a minute away: only the new LISTEN can start this job in time
      long id = kit.insert("acme", "relisten", "ping", "{}");
      kit.awaitState(id, "completed", Duration.ofSeconds(5));
    }
  }

  @Test
  void pollingModeRunsJobsWithoutListen() {
    try (HikariDataSource pool = kit.workerPool("polling-test", 6);
        JobWorker worker = worker(pool, "polled").listen(false).pollInterval(Duration.ofMillis(100))
            .handler(JobType.of("ping", JsonNode.class), (payload, ctx) -> "pong").build().start()) {
      long id = kit.insert("acme", "polled", "ping", "{}");
      kit.awaitState(id, "completed", WAIT);
      assertThat(kit.count("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'polling-test'"
          + " AND query ILIKE 'LISTEN%'")).isZero();
    }
  }

  @Test
  void closeFinishesJobsWithinTheDeadlineAndReleasesTheRest() throws Exception {
    CountDownLatch bothStarted = new CountDownLatch(2);
    AtomicBoolean stuckInterrupted = new AtomicBoolean();
    HikariDataSource pool = kit.workerPool("shutdown-test", 6);
    JobWorker worker = worker(pool, "shutdown").closeTimeout(Duration.ofMillis(800))
        .handler(JobType.of("quick", JsonNode.class), (payload, ctx) -> {
          bothStarted.countDown();
          bothStarted.await();
          Thread.sleep(200);
          return "done";
        })
        .handler(JobType.of("stuck", JsonNode.class), (payload, ctx) -> {
          bothStarted.countDown();
          try {
            new CountDownLatch(1).await();
          } catch (InterruptedException e) {
            stuckInterrupted.set(true);
            throw e;
          }
          return null;
        }).build().start();
    try {
      long quick = kit.insert("acme", "shutdown", "quick", "{}");
      long stuck = kit.insert("acme", "shutdown", "stuck", "{}");
      assertThat(bothStarted.await(20, TimeUnit.SECONDS)).isTrue();
      long started = System.nanoTime();
      worker.close();
      long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
      assertThat(tookMillis).isLessThan(5000);
      assertThat(kit.row(quick).state()).isEqualTo("completed");
      WorkerTestKit.Row released = kit.row(stuck);
      assertThat(released.state()).isEqualTo("pending");
      assertThat(released.attempts()).isZero();
      assertThat(released.workerId()).isNull();
      assertThat(released.leaseExpiresAt()).isNull();
      assertThat(stuckInterrupted).isTrue();
      worker.close(); // idempotent
    } finally {
      worker.close();
      pool.close();
    }
  }

  @Test
  void prefetchedJobsNoHandlerStartedAreGivenBackAtCloseWithoutUsingAnAttempt() throws Exception {
    CountDownLatch running = new CountDownLatch(4);
    CountDownLatch release = new CountDownLatch(1);
    HikariDataSource pool = kit.workerPool("prefetch-test", 6);
    List<Long> ids = new ArrayList<>();
    for (int i = 0; i < 12; i++) {
      ids.add(kit.insert("acme", "prefetch", "slow", "{}"));
    }
    // 4 handler threads and a claim batch of 8: 4 jobs run, up to 8 more wait in the worker, claimed
    JobWorker worker = worker(pool, "prefetch").batchSize(8).closeTimeout(Duration.ofSeconds(10))
        .handler(JobType.of("slow", JsonNode.class), (payload, ctx) -> {
          running.countDown();
          release.await();
          return "done";
        }).build().start();
    try {
      assertThat(running.await(20, TimeUnit.SECONDS)).isTrue();
      Await.until("jobs prefetched", Duration.ofSeconds(20),
          () -> ids.stream().filter(id -> kit.row(id).state().equals("running")).count() > 4);
      Thread closer = new Thread(worker::close);
      closer.start();
      Await.until("the prefetched jobs given back", Duration.ofSeconds(20),
          () -> ids.stream().filter(id -> kit.row(id).state().equals("running")).count() == 4);
      release.countDown();
      closer.join(TimeUnit.SECONDS.toMillis(20));
      long completed = ids.stream().filter(id -> kit.row(id).state().equals("completed")).count();
      assertThat(completed).isEqualTo(4);
      for (long id : ids) {
        WorkerTestKit.Row row = kit.row(id);
        if (row.state().equals("pending")) {
          assertThat(row.attempts()).isZero();
          assertThat(row.workerId()).isNull();
        }
      }
      assertThat(ids.stream().filter(id -> kit.row(id).state().equals("pending")).count()).isEqualTo(8);
    } finally {
      release.countDown();
      worker.close();
      pool.close();
    }
  }

  static long claimCount(SimpleMeterRegistry meters, String queue) {
    var timer = meters.find("saaskit.jobs.claim").tag("queue", queue).timer();
    return timer == null ? 0 : timer.count();
  }
}
