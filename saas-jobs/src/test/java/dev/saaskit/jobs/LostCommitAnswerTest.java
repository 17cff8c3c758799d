package dev.saaskit.jobs;

import static dev.saaskit.jobs.JdbcProxies.proxy;
import static org.assertj.core.api.Assertions.assertThat;

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
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import javax.sql.DataSource;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Review of 2026-12-05 (third): the outcome writer's statement committed (auto-commit) but its answer was lost, as
 * when the connection dies during COMMIT. The writer retries; the retry matches no running row, and the worker
 * logged a zombie and counted {@code saaskit.jobs.zombie.rejected} (and never {@code completed}) although the row
 * held exactly this attempt's outcome. The statement now reports such an outcome as written already.
 */
@ExtendWith(PostgresExtension.class)
class LostCommitAnswerTest {
  private static final Duration WAIT = Duration.ofSeconds(20);
  private static WorkerTestKit kit;

  @BeforeAll
  static void setUp(TestDatabase db) throws SQLException {
    kit = WorkerTestKit.setUp(db);
  }

  @Test
  void aCompletionWhoseCommitAnswerWasLostIsCountedOnceAsCompletedNotAsAZombie() throws Exception {
    assertCountedAfterLostAnswer("lost-ok", (payload, ctx) -> "done", "completed", "saaskit.jobs.completed");
  }

  @Test
  void aFailureWhoseCommitAnswerWasLostIsCountedOnceAsFailedNotAsAZombie() throws Exception {
    assertCountedAfterLostAnswer("lost-fail", (payload, ctx) -> {
      throw new IllegalStateException("failed once");
    }, "pending", "saaskit.jobs.retried");
  }

  private void assertCountedAfterLostAnswer(String queue, JobHandler<JsonNode> handler, String state,
      String meter) throws Exception {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    AtomicInteger lost = new AtomicInteger();
    long id;
    try (HikariDataSource pool = kit.workerPool(queue, 4)) {
      DataSource losing = losingFirstOutcomeAnswer(pool, lost);
      try (JobWorker worker = JobWorker.builder(losing).queue(queue, 1).meterRegistry(registry)
          .retryPolicy(RetryPolicy.exponential(Duration.ofHours(1), Duration.ofHours(1)))
          .pollInterval(Duration.ofMillis(50))
          .handler(JobType.of("lost", JsonNode.class), handler).build().start()) {
        id = kit.insert("acme", queue, "lost", "{}", 5, null, null);
        Await.until("the outcome counted", WAIT,
            () -> registry.counter(meter, "queue", queue, "type", "lost").count()
                + registry.counter("saaskit.jobs.zombie.rejected", "queue", queue, "type", "lost").count() >= 1);
      }
    }
    assertThat(lost.get()).as("answers lost after the commit").isEqualTo(1);
    assertThat(kit.row(id).state()).isEqualTo(state);
    assertThat(registry.counter("saaskit.jobs.zombie.rejected", "queue", queue, "type", "lost").count())
        .as("zombie rejections counted").isZero();
    assertThat(registry.counter(meter, "queue", queue, "type", "lost").count()).isEqualTo(1);
  }

  /**
   * The worker's data source, except that the first outcome statement runs (and commits: the writer uses
   * auto-commit) and then throws as if the connection had died before the answer arrived.
   */
  private static DataSource losingFirstOutcomeAnswer(DataSource real, AtomicInteger lost) {
    return proxy(DataSource.class, real, (method, args, result) -> {
      if (method.getName().equals("getConnection")) {
        Connection c = (Connection) result;
        return proxy(Connection.class, c, (m, a, r) -> {
          if (m.getName().equals("prepareStatement") && a != null && a[0] instanceof String sql
              && sql.contains(" finished AS (")) {
            return proxy(PreparedStatement.class, (PreparedStatement) r, (sm, sa, sr) -> {
              if (sm.getName().equals("executeQuery") && lost.get() == 0) {
                try (ResultSet answer = (ResultSet) sr) {
                  answer.next();
                }
                lost.incrementAndGet();
                throw new SQLException("An I/O error occurred while sending to the backend (test: the answer of a"
                    + " committed statement was lost)", "08006");
              }
              return sr;
            });
          }
          return r;
        });
      }
      return result;
    });
  }
}
