package dev.saaskit.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.testing.Await;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Outcomes waiting to be written hold their slot: a worker whose outcome writer cannot write (here a trigger makes
 * the outcome statement wait for a lock the test holds) stops claiming once its unwritten outcomes exceed their
 * allowance, instead of running job after job whose outcome then piles up in memory (and whose work is repeated
 * after a crash, since the rows still say running).
 */
@ExtendWith(PostgresExtension.class)
class OutcomeBoundTest {
  private static final long LOCK = 4242;
  private static WorkerTestKit kit;

  @BeforeAll
  static void setUp(TestDatabase db) throws SQLException {
    kit = WorkerTestKit.setUp(db);
    try (Connection c = db.ownerDataSource().getConnection(); Statement st = c.createStatement()) {
      st.execute("CREATE FUNCTION public.hold_outcomes() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
          + " PERFORM pg_advisory_xact_lock_shared(" + LOCK + "); RETURN NEW; END $$");
      st.execute("CREATE TRIGGER hold_outcomes BEFORE UPDATE ON saaskit_jobs.jobs FOR EACH ROW"
          + " WHEN (OLD.state = 'running' AND NEW.state = 'completed' AND NEW.queue = 'bounded')"
          + " EXECUTE FUNCTION public.hold_outcomes()");
    }
  }

  @Test
  void unwrittenOutcomesCountAsBusySlots(TestDatabase db) throws Exception {
    int jobs = 200;
    kit.insertMany("acme", "bounded", "noop", jobs);
    AtomicInteger boundedRuns = new AtomicInteger();
    AtomicInteger probeRuns = new AtomicInteger();
    // concurrency 8 and claims of one job, so prefetch = max(concurrency, claim size) = 8: at most 8 + 8 jobs waiting
    // for or in a handler, and at most 2 x (8 + 8) more whose outcome is not written. The handlers are idle at every
    // claim, so each claim records the start of its job and no handler waits for the (blocked) outcome writer: only
    // the unwritten outcomes can stop the claims.
    int bound = 48;
    try (Connection holder = db.adminDataSource().getConnection(); Statement lock = holder.createStatement();
        HikariDataSource pool = kit.workerPool("bounded-worker", 6)) {
      lock.execute("SELECT pg_advisory_lock(" + LOCK + ")");
      try (JobWorker worker = JobWorker.builder(pool).workerId("bounded").queue("bounded", 8).queue("probe", 1)
          .batchSize(1).maxBatchSize(1).pollInterval(Duration.ofMillis(20))
          .handler(JobType.of("noop", JsonNode.class), (payload, ctx) -> {
            boundedRuns.incrementAndGet();
            return null;
          })
          .handler(JobType.of("probe", JsonNode.class), (payload, ctx) -> {
            probeRuns.incrementAndGet();
            return null;
          }).build().start()) {
        try {
          Await.until("the worker holds more jobs than it can run at once", Duration.ofSeconds(60),
              () -> held() > 16);
          // from here on the worker must never hold more than the bound while jobs are still pending, and it must
          // stop claiming: the window ends when a job of another queue served by the same dispatcher (which polls
          // 'bounded' every 20 ms) has run and the count held has not moved for a second (some 50 polls). The exact
          // count depends on how handlers and claims interleave on a loaded machine, so it is bounded, not predicted.
          kit.insert("acme", "probe", "probe", "{}");
          long[] last = {-1, System.nanoTime()};
          Await.until("the worker stops claiming, the bound holding all along", Duration.ofSeconds(90), () -> {
            long now = held();
            assertThat(now).isLessThanOrEqualTo(bound);
            if (now != last[0]) {
              last[0] = now;
              last[1] = System.nanoTime();
              return false;
            }
            return probeRuns.get() == 1 && System.nanoTime() - last[1] > Duration.ofSeconds(1).toNanos();
          });
          long heldAtTheEnd = held();
          assertThat(heldAtTheEnd).isBetween(17L, (long) bound);
          assertThat(kit.count("SELECT count(*) FROM saaskit_jobs.jobs WHERE queue = 'bounded' AND state = 'pending'"))
              .isGreaterThanOrEqualTo(jobs - bound);
          assertThat(boundedRuns.get()).isLessThanOrEqualTo(bound);
        } finally {
          lock.execute("SELECT pg_advisory_unlock(" + LOCK + ")");
        }
        Await.until("every job completed", Duration.ofSeconds(60), () -> kit.count(
            "SELECT count(*) FROM saaskit_jobs.jobs WHERE queue = 'bounded' AND state = 'completed'") == jobs);
        assertThat(boundedRuns.get()).isEqualTo(jobs);
      }
    }
  }

  private static long held() {
    return kit.count("SELECT count(*) FROM saaskit_jobs.jobs WHERE queue = 'bounded' AND state = 'running'");
  }
}
