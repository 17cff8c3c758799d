package dev.saaskit.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.testing.Await;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Review of 2026-12-06: the application's role may lock its own tenant's job rows (SELECT ... FOR UPDATE in a long
 * transaction, a transaction around JobQueue.cancel). The worker's batched progress/heartbeat write and its batched
 * outcome write (one UPDATE for many jobs) then waited on that one row, and every other job's heartbeat and outcome
 * waited behind it. They now skip a locked row and write it later.
 */
@ExtendWith(PostgresExtension.class)
class LockedRowTest {
  private static final Duration WAIT = Duration.ofSeconds(20);
  private static WorkerTestKit kit;

  @BeforeAll
  static void setUp(TestDatabase db) throws SQLException {
    kit = WorkerTestKit.setUp(db);
  }

  @Test
  void aRowTheApplicationHoldsLockedDoesNotHoldUpTheOtherJobsProgressAndOutcomes(TestDatabase db) throws Exception {
    String queue = "locked";
    List<Long> ids = kit.insertMany("acme", queue, "locked.work", 3);
    long lockedId = ids.get(0);
    CountDownLatch started = new CountDownLatch(3);
    CountDownLatch report = new CountDownLatch(1);
    CountDownLatch finish = new CountDownLatch(1);
    Map<Long, Integer> runs = new ConcurrentHashMap<>();
    try (HikariDataSource pool = kit.workerPool(queue, 6);
        JobWorker worker = JobWorker.builder(pool).listen(false).pollInterval(Duration.ofMillis(50))
            .progressInterval(Duration.ofMillis(100)).leaseDuration(Duration.ofMinutes(5)).queue(queue, 3)
            .handler(JobType.of("locked.work", JsonNode.class), (payload, ctx) -> {
              runs.merge(ctx.id().value(), 1, Integer::sum);
              started.countDown();
              await(report);
              ctx.progress(0.5, "half");
              await(finish);
              return null;
            }).build().start();
        Connection app = db.appDataSource().getConnection()) {
      assertThat(started.await(WAIT.toSeconds(), TimeUnit.SECONDS)).as("all three jobs started").isTrue();
      app.setAutoCommit(false);
      try {
        // the application's role, in its tenant, locks one running job's row and keeps its transaction open
        try (PreparedStatement st = app.prepareStatement("SELECT set_config('app.tenant_id', 'acme', true)")) {
          st.executeQuery().close();
        }
        try (PreparedStatement st = app.prepareStatement("SELECT id FROM saaskit_jobs.jobs WHERE id = ? FOR UPDATE")) {
          st.setLong(1, lockedId);
          try (ResultSet rs = st.executeQuery()) {
            assertThat(rs.next()).as("the application's role locked its row").isTrue();
          }
        }
        report.countDown();
        // progress (the heartbeat's statement) of the other two is written while the row stays locked
        for (long id : ids.subList(1, 3)) {
          Await.until("job " + id + "'s progress written", WAIT,
              () -> Float.valueOf(0.5f).equals(kit.row(id).progress()));
        }
        assertThat(kit.row(lockedId).progress()).as("the locked row is not written").isNull();
        finish.countDown();
        // and so are their outcomes
        for (long id : ids.subList(1, 3)) {
          kit.awaitState(id, "completed", WAIT);
        }
        assertThat(kit.row(lockedId).state()).as("the locked row waits").isEqualTo("running");
        app.commit();
      } finally {
        report.countDown();
        finish.countDown();
        app.rollback();
      }
      // once the lock is gone, the locked job's outcome is written too
      kit.awaitState(lockedId, "completed", WAIT);
    }
    for (long id : ids) {
      WorkerTestKit.Row row = kit.row(id);
      assertThat(row.state()).isEqualTo("completed");
      assertThat(row.attempts()).isEqualTo(1);
      assertThat(row.leaseEpoch()).isEqualTo(1);
    }
    assertThat(runs).containsOnlyKeys(ids).allSatisfy((id, n) -> assertThat(n).isEqualTo(1));
  }

  private static void await(CountDownLatch latch) {
    try {
      if (!latch.await(60, TimeUnit.SECONDS)) {
        throw new IllegalStateException("the test never released the handler");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
