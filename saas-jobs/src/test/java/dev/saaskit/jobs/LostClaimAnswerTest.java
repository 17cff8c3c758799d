package dev.saaskit.jobs;

import static dev.saaskit.jobs.JdbcProxies.proxy;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.testing.Await;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import javax.sql.DataSource;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Review of 2026-12-06: a claim committed but its answer never reached the worker (the connection died in between:
 * a network drop, a killed backend, a restarted proxy). Its rows stayed running until their leases expired, and the
 * rescue then charged the attempt the claim had counted: a job of {@code maxAttempts(1)} ended dead without ever
 * having run. The worker now gives such a claim's rows back, found by the claim's token, on a fresh connection.
 *
 * <p>The lease is ten minutes in every test, so only the give-back can explain a run within the test's wait.
 */
@ExtendWith(PostgresExtension.class)
class LostClaimAnswerTest {
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static final Duration LONG_LEASE = Duration.ofMinutes(10);
  private static WorkerTestKit kit;

  @BeforeAll
  static void setUp(TestDatabase db) throws SQLException {
    kit = WorkerTestKit.setUp(db);
  }

  @Test
  void aJobOfOneAttemptWhoseClaimAnswerWasLostRunsOnceWithOneAttempt() throws Exception {
    assertRunsOnceAfterLostAnswer("lost-claim", false);
  }

  @Test
  void aJobOfOneAttemptWhoseCappedClaimCommitAnswerWasLostRunsOnceWithOneAttempt() throws Exception {
    assertRunsOnceAfterLostAnswer("lost-capped", true);
  }

  private void assertRunsOnceAfterLostAnswer(String queue, boolean capped) throws Exception {
    AtomicInteger lost = new AtomicInteger();
    Map<Long, Integer> runs = new ConcurrentHashMap<>();
    Map<Long, Integer> attemptsSeen = new ConcurrentHashMap<>();
    long id = kit.insert("acme", queue, "once", "{}", 1, null, null);
    try (HikariDataSource pool = kit.workerPool(queue, 4)) {
      DataSource losing = losingFirstClaimAnswer(pool, capped, lost, () -> {});
      JobWorker.Builder builder = JobWorker.builder(losing).listen(false).pollInterval(Duration.ofMillis(50))
          .leaseDuration(LONG_LEASE)
          .handler(JobType.of("once", JsonNode.class), (payload, ctx) -> {
            runs.merge(ctx.id().value(), 1, Integer::sum);
            attemptsSeen.put(ctx.id().value(), ctx.attempt());
            return null;
          });
      builder = capped ? builder.queue(queue, 1, 1) : builder.queue(queue, 1);
      try (JobWorker worker = builder.build().start()) {
        Await.until("the job completed", WAIT, () -> kit.row(id).state().equals("completed"));
      }
    }
    assertThat(lost.get()).as("claim answers lost").isEqualTo(1);
    assertThat(runs).containsExactly(Map.entry(id, 1));
    assertThat(attemptsSeen).containsExactly(Map.entry(id, 1));
    assertThat(kit.row(id).attempts()).isEqualTo(1);
    assertThat(kit.row(id).maxAttempts()).isEqualTo(1);
  }

  @Test
  void aJobWhoseClaimByIdAnswerWasLostRunsOnceWithOneAttempt(TestDatabase db) throws Exception {
    String queue = "lost-by-id";
    AtomicInteger lost = new AtomicInteger();
    Map<Long, Integer> runs = new ConcurrentHashMap<>();
    Map<Long, Integer> attemptsSeen = new ConcurrentHashMap<>();
    JobType<String> type = JobType.of("by-id", String.class);
    long id;
    try (HikariDataSource pool = kit.workerPool(queue, 4)) {
      // the claim by id: the statement that takes jobs enqueued in this process by their ids
      DataSource losing = losingFirstAnswer(pool, "locked AS (", false, lost, () -> {});
      SaasJobs jobs = SaasJobs.builder(db.appDataSource()).workerDataSource(losing).build();
      SimpleMeterRegistry meters = new SimpleMeterRegistry();
      try (JobWorker worker = jobs.worker().listen(false).pollInterval(Duration.ofMinutes(10)).meterRegistry(meters)
          .leaseDuration(LONG_LEASE).queue(queue, 1)
          .handler(type, (payload, ctx) -> {
            runs.merge(ctx.id().value(), 1, Integer::sum);
            attemptsSeen.put(ctx.id().value(), ctx.attempt());
            return null;
          }).build().start();
          Connection c = db.appDataSource().getConnection()) {
        c.setAutoCommit(true);
        // after the worker's first (fair) poll, which found nothing, the worker is idle and has no backlog
        Await.until("the first poll", WAIT, () -> JobWorkerTest.claimCount(meters, queue) >= 1);
        // on the caller's auto-commit connection: inserted pending, then claimed by id by the idle worker
        id = QueueFixtures.as(QueueFixtures.ACME, () -> jobs.queue().enqueue(c,
            JobRequest.builder(type, "x").queue(queue).maxAttempts(1).build())).value();
        Await.until("the job completed", WAIT, () -> kit.row(id).state().equals("completed"));
      }
    }
    assertThat(lost.get()).as("claim answers lost").isEqualTo(1);
    assertThat(runs).containsExactly(Map.entry(id, 1));
    assertThat(attemptsSeen).containsExactly(Map.entry(id, 1));
    assertThat(kit.row(id).attempts()).isEqualTo(1);
  }

  @Test
  void theGiveBackLeavesARowRescuedAndClaimedAgainMeanwhileAlone() throws Exception {
    String queue = "lost-moved";
    Map<Long, Integer> runs = new ConcurrentHashMap<>();
    List<Long> ids = kit.insertMany("acme", queue, "moved", 2);
    AtomicInteger lost = new AtomicInteger();
    // after the lost claim and before the worker hears of it: the first job is rescued and claimed again (a new
    // epoch and token, the same worker id, as this worker's own next claim would leave it)
    long moved = ids.get(0);
    long kept = ids.get(1);
    try (HikariDataSource pool = kit.workerPool(queue, 4)) {
      DataSource losing = losingFirstClaimAnswer(pool, false, lost, () -> kit.execute(
          "UPDATE saaskit_jobs.jobs SET lease_epoch = lease_epoch + 1, claim_token = claim_token + 1"
              + " WHERE id = " + moved));
      try (JobWorker worker = JobWorker.builder(losing).listen(false).pollInterval(Duration.ofMillis(50))
          .leaseDuration(LONG_LEASE).queue(queue, 2).batchSize(2)
          .handler(JobType.of("moved", JsonNode.class), (payload, ctx) -> {
            runs.merge(ctx.id().value(), 1, Integer::sum);
            return null;
          }).build().start()) {
        // the kept job was given back by the same statement that looked at the moved one
        Await.until("the kept job completed", WAIT, () -> kit.row(kept).state().equals("completed"));
        WorkerTestKit.Row row = kit.row(moved);
        assertThat(row.state()).isEqualTo("running");
        assertThat(row.leaseEpoch()).isEqualTo(2);
        assertThat(row.attempts()).isEqualTo(1);
        assertThat(row.leaseExpiresAt()).isNotNull();
        assertThat(row.workerId()).isNotNull();
      }
    }
    assertThat(lost.get()).isEqualTo(1);
    assertThat(runs).containsExactly(Map.entry(kept, 1));
    assertThat(kit.row(kept).attempts()).isEqualTo(1);
  }

  @Test
  void theApplicationsRoleCannotWriteAClaimToken(TestDatabase db) throws Exception {
    try (Connection c = db.appDataSource().getConnection(); Statement st = c.createStatement()) {
      st.execute("SELECT set_config('app.tenant_id', 'acme', false)");
      try {
        assertThatThrownBy(() -> st.executeUpdate("INSERT INTO saaskit_jobs.jobs (tenant_id, queue, type, payload,"
            + " claim_token) VALUES ('acme', 'token', 'token.work', '{}', 42)"))
            .isInstanceOf(SQLException.class).hasMessageContaining("row-level security");
        assertThat(st.executeUpdate("INSERT INTO saaskit_jobs.jobs (tenant_id, queue, type, payload)"
            + " VALUES ('acme', 'token', 'token.work', '{}')")).isEqualTo(1);
        assertThatThrownBy(() -> st.executeUpdate("UPDATE saaskit_jobs.jobs SET claim_token = 42"
            + " WHERE queue = 'token'")).isInstanceOf(SQLException.class).hasMessageContaining("permission denied");
      } finally {
        st.execute("SELECT set_config('app.tenant_id', '', false)");
      }
    }
  }

  /**
   * The worker's data source, except that its first claim runs for real and commits (the fair claim in auto-commit;
   * the capped claim's COMMIT) and then, instead of its answer, the worker gets SQLState 08006 while the physical
   * connection is closed, as when the connection dies before the answer arrives. {@code meanwhile} runs in between.
   */
  private static DataSource losingFirstClaimAnswer(HikariDataSource real, boolean atCommit, AtomicInteger lost,
      Runnable meanwhile) {
    return losingFirstAnswer(real, "walk_after", atCommit, lost, meanwhile);
  }

  /** Like {@link #losingFirstClaimAnswer}, for the first statement whose text contains {@code marker}. */
  private static DataSource losingFirstAnswer(HikariDataSource real, String marker, boolean atCommit,
      AtomicInteger lost, Runnable meanwhile) {
    return proxy(DataSource.class, real, (method, args, result) -> {
      if (!method.getName().equals("getConnection")) {
        return result;
      }
      Connection c = (Connection) result;
      boolean[] claimed = new boolean[1];
      return proxy(Connection.class, c, (m, a, r) -> {
        if (atCommit && m.getName().equals("commit") && claimed[0] && lost.get() == 0) {
          return lose(real, c, lost, meanwhile);
        }
        if (m.getName().equals("prepareStatement") && a != null && a[0] instanceof String sql
            && sql.contains(marker)) {
          return proxy(PreparedStatement.class, (PreparedStatement) r, (sm, sa, sr) -> {
            if (sm.getName().equals("executeQuery") && lost.get() == 0) {
              claimed[0] = true;
              if (!atCommit) {
                try (ResultSet answer = (ResultSet) sr) {
                  answer.next();
                }
                return lose(real, c, lost, meanwhile);
              }
            }
            return sr;
          });
        }
        return r;
      });
    });
  }

  private static Object lose(HikariDataSource pool, Connection c, AtomicInteger lost, Runnable meanwhile)
      throws SQLException {
    lost.incrementAndGet();
    pool.evictConnection(c); // closes the physical connection
    meanwhile.run();
    throw new SQLException("An I/O error occurred while sending to the backend (test: the claim's answer was lost)",
        "08006");
  }
}
