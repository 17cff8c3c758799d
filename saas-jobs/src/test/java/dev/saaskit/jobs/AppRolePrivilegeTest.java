package dev.saaskit.jobs;

import static dev.saaskit.jobs.QueueFixtures.ACME;
import static dev.saaskit.jobs.QueueFixtures.as;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.testing.Await;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * What the application's role (grantApp) may write to the job table, tried with plain SQL as code with an
 * injection would: only the rows {@link JobQueue} writes, and only cancellations of live jobs, so no row it
 * writes can stop other tenants' claims, escape rescue, or make a finished job run again.
 */
@ExtendWith(PostgresExtension.class)
class AppRolePrivilegeTest {
  record Work(String name) {}

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

  /** Runs {@code sql} as the application role with tenant mallory; returns the rows it changed. */
  private static int asMallory(TestDatabase db, String sql) throws SQLException {
    try (Connection c = db.appDataSource().getConnection(); Statement st = c.createStatement()) {
      st.execute("SELECT set_config('app.tenant_id', 'mallory', false)");
      try {
        return st.executeUpdate(sql);
      } finally {
        st.execute("SELECT set_config('app.tenant_id', '', false)");
      }
    }
  }

  private static long insertAsWorker(TestDatabase db, String state) {
    Object id = QueueFixtures.rows(db.adminDataSource(), "INSERT INTO saaskit_jobs.jobs (tenant_id, queue, type,"
        + " payload, state, attempts, finished_at) VALUES ('mallory', 'priv', 'priv.work', '{}', ?, 1,"
        + " CASE WHEN ? IN ('completed', 'dead', 'cancelled') THEN now() END) RETURNING id", state, state)
        .get(0).get("id");
    return ((Number) id).longValue();
  }

  private static @Nullable Object column(TestDatabase db, long id, String column) {
    return QueueFixtures.rows(db.adminDataSource(), "SELECT " + column + " FROM saaskit_jobs.jobs WHERE id = ?", id)
        .get(0).get(column);
  }

  @Test
  void aRowWithCountersAtTheirMaximumIsRefusedAndOtherTenantsJobsStillRun(TestDatabase db) throws Exception {
    // before: the row went in, and every claim of queue 'poison' failed with "integer out of range" from then on,
    // for every tenant
    assertThatThrownBy(() -> asMallory(db, "INSERT INTO saaskit_jobs.jobs (tenant_id, queue, type, payload,"
            + " attempts, max_attempts) VALUES ('mallory', 'poison', 'poison.work', '{}', 2147483647, 2147483647)"))
        .hasMessageContaining("row-level security");
    assertThatThrownBy(() -> asMallory(db, "INSERT INTO saaskit_jobs.jobs (tenant_id, queue, type, payload,"
            + " lease_epoch) VALUES ('mallory', 'poison', 'poison.work', '{}', 9223372036854775807)"))
        .hasMessageContaining("row-level security");
    JobType<Work> type = JobType.of("poison.work", Work.class);
    JobId id = as(ACME, () -> jobs.queue().enqueue(JobRequest.builder(type, new Work("a")).queue("poison").build()));
    try (JobWorker w = jobs.worker().queue("poison", 2).handler(type, (p, ctx) -> "ok").build().start()) {
      Await.until("acme's job completes", WAIT,
          () -> as(ACME, () -> jobs.queue().status(id)).orElseThrow().state() == JobState.COMPLETED);
    }
  }

  @Test
  void aHandWrittenRowWithCountersAtTheirMaximumIsLeftPendingAndTheQueueRuns(TestDatabase db) throws Exception {
    // written by a role the policies do not limit (an operator, the worker role, or the application role before
    // grantApp was run again after the upgrade): before, every claim of the queue failed while it was pending
    QueueFixtures.update(db, "INSERT INTO saaskit_jobs.jobs (tenant_id, queue, type, payload, attempts, max_attempts)"
        + " VALUES ('mallory', 'poison-old', 'poison.work', '{}', 2147483647, 2147483647)");
    QueueFixtures.update(db, "INSERT INTO saaskit_jobs.jobs (tenant_id, queue, type, payload, lease_epoch)"
        + " VALUES (NULL, 'poison-old', 'poison.work', '{}', 9223372036854775807)");
    JobType<Work> type = JobType.of("poison.work", Work.class);
    JobId id = as(ACME, () -> jobs.queue().enqueue(JobRequest.builder(type, new Work("a")).queue("poison-old")
        .build()));
    try (JobWorker w = jobs.worker().queue("poison-old", 2).handler(type, (p, ctx) -> "ok").build().start()) {
      Await.until("acme's job completes", WAIT,
          () -> as(ACME, () -> jobs.queue().status(id)).orElseThrow().state() == JobState.COMPLETED);
    }
    assertThat(QueueFixtures.count(db, "queue = 'poison-old' AND state = 'pending'")).isEqualTo(2);
  }

  @Test
  void noRowCanBeInsertedAlreadyClaimedWithoutALeaseOrFinished(TestDatabase db) {
    for (String values : new String[] {
        // the queue is 'priv-insert' in each, for the check at the end
        "state, worker_id) VALUES ('mallory', 'priv-insert', 'priv.work', '{}', 'running', 'w1'",
        "state, attempts, lease_epoch, worker_id, lease_expires_at) VALUES ('mallory', 'priv-insert', 'priv.work',"
            + " '{}', 'running', 1, 1, 'w1', 'infinity'",
        "state, attempts, lease_epoch, worker_id, lease_expires_at) VALUES ('mallory', 'priv-insert', 'priv.work',"
            + " '{}', 'running', 2, 1, 'w1', now()",
        "state, finished_at) VALUES ('mallory', 'priv-insert', 'priv.work', '{}', 'completed', now()",
        "attempts) VALUES ('mallory', 'priv-insert', 'priv.work', '{}', -5",
        "cancel_requested) VALUES ('mallory', 'priv-insert', 'priv.work', '{}', true"}) {
      assertThatThrownBy(() -> asMallory(db,
              "INSERT INTO saaskit_jobs.jobs (tenant_id, queue, type, payload, " + values + ")"))
          .as(values).hasMessageContaining("row-level security");
    }
    assertThat(QueueFixtures.count(db, "tenant_id = 'mallory' AND queue = 'priv-insert' AND state <> 'pending'"))
        .isZero();
  }

  @Test
  void anUpdateOnlyCancelsALiveJob(TestDatabase db) throws SQLException {
    long pending = insertAsWorker(db, "pending");
    assertThatThrownBy(() -> asMallory(db, "UPDATE saaskit_jobs.jobs SET state = 'running' WHERE id = " + pending))
        .hasMessageContaining("row-level security");
    assertThatThrownBy(() -> asMallory(db, "UPDATE saaskit_jobs.jobs SET state = 'completed', finished_at = now()"
        + " WHERE id = " + pending)).hasMessageContaining("row-level security");
    // finished jobs are out of reach: before, setting one back to 'pending' ran it again
    for (String state : new String[] {"completed", "dead", "cancelled"}) {
      long finished = insertAsWorker(db, state);
      assertThat(asMallory(db, "UPDATE saaskit_jobs.jobs SET state = 'pending', finished_at = NULL,"
          + " cancel_requested = false WHERE id = " + finished)).as(state).isZero();
      assertThat(column(db, finished, "state")).isEqualTo(state);
    }
    assertThat(column(db, pending, "state")).isEqualTo("pending");
  }

  @Test
  void theQueuesOwnWritesStillPass(TestDatabase db) throws Exception {
    JobType<Work> type = JobType.of("priv.own", Work.class);
    JobQueue queue = jobs.queue();
    JobId pending = as(ACME, () -> queue.enqueue(JobRequest.builder(type, new Work("p")).queue("priv-own").build()));
    JobId unique = as(ACME, () -> queue.enqueue(JobRequest.builder(type, new Work("u")).queue("priv-own")
        .uniqueKey("k").build()));
    assertThat(as(ACME, () -> queue.enqueue(JobRequest.builder(type, new Work("u2")).queue("priv-own")
        .uniqueKey("k").build()))).isEqualTo(unique);
    assertThat(as(ACME, () -> queue.cancel(pending))).isTrue();
    assertThat(as(ACME, () -> queue.status(pending)).orElseThrow().state()).isEqualTo(JobState.CANCELLED);
    assertThat(as(ACME, () -> queue.cancel(pending))).isFalse();
    assertThat(as(ACME, () -> queue.cancel(unique))).isTrue();

    // started by the enqueue on an idle worker of this SaasJobs (the insert writes it running), then cancelled
    CountDownLatch running = new CountDownLatch(1);
    CountDownLatch stop = new CountDownLatch(1);
    try (JobWorker w = jobs.worker().queue("priv-run", 1).handler(type, (p, ctx) -> {
      running.countDown();
      stop.await(30, TimeUnit.SECONDS);
      return ctx.isCancellationRequested() ? null : "done";
    }).build().start()) {
      JobId started = as(ACME, () -> queue.enqueue(JobRequest.builder(type, new Work("r")).queue("priv-run")
          .build()));
      assertThat(running.await(30, TimeUnit.SECONDS)).isTrue();
      assertThat(as(ACME, () -> queue.cancel(started))).isTrue();
      Map<String, @Nullable Object> row = QueueFixtures.job(db, started);
      assertThat(row.get("state")).isEqualTo("running");
      assertThat(row.get("cancel_requested")).isEqualTo(true);
      stop.countDown();
      Await.until("the cancelled job ends", WAIT,
          () -> as(ACME, () -> queue.status(started)).orElseThrow().state() == JobState.CANCELLED);
    }
  }

  @Test
  void aRoleGrantedBothWaysKeepsTheWorkersRights(TestDatabase db) throws SQLException {
    String both = db.createRole("both", "");
    try (Connection c = db.ownerDataSource().getConnection()) {
      WorkerTestKit.SCHEMA.grantWorker(c, both);
      WorkerTestKit.SCHEMA.grantApp(c, both);
    }
    assertThat(appPolicies(db, both)).isZero();
    try (Connection c = db.ownerDataSource().getConnection()) {
      WorkerTestKit.SCHEMA.grantApp(c, db.appRole());
    }
    assertThat(appPolicies(db, db.appRole())).isEqualTo(2);
  }

  private static long appPolicies(TestDatabase db, String role) {
    Object n = QueueFixtures.rows(db.adminDataSource(), "SELECT count(*) AS n FROM pg_policies WHERE schemaname ="
        + " 'saaskit_jobs' AND tablename = 'jobs' AND policyname LIKE 'jobs_app_%' AND ? = ANY (roles::text[])", role)
        .get(0).get("n");
    return ((Number) n).longValue();
  }
}
