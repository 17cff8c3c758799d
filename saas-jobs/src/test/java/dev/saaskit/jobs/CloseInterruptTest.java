package dev.saaskit.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.testing.Await;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.SQLException;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Review of 2026-12-05: a {@link JobWorker#close()} whose thread is interrupted (a container's stop hook that gives
 * up, an executor shut down with {@code shutdownNow}) logged that the unfinished jobs "are rescued after their
 * leases expire", but left the heartbeat thread running: the leases of the jobs it held were renewed for as long as
 * the process lived, so no other worker ever rescued them while a handler that ignored the interrupt was stuck.
 */
@ExtendWith(PostgresExtension.class)
class CloseInterruptTest {
  private static final Duration WAIT = Duration.ofSeconds(20);
  private static final JobType<JsonNode> STUCK = JobType.of("close-interrupt", JsonNode.class);
  private static WorkerTestKit kit;

  @BeforeAll
  static void setUp(TestDatabase db) throws SQLException {
    kit = WorkerTestKit.setUp(db);
  }

  @Test
  void anInterruptedCloseLeavesItsJobsToTheRescue(TestDatabase db) throws Exception {
    CountDownLatch running = new CountDownLatch(1);
    CountDownLatch unblock = new CountDownLatch(1);
    AtomicInteger runs = new AtomicInteger();
    try (HikariDataSource firstPool = kit.workerPool("close-interrupt-first", 6);
        HikariDataSource secondPool = kit.workerPool("close-interrupt-second", 6)) {
      SaasJobs first = SaasJobs.builder(db.appDataSource()).workerDataSource(firstPool).build();
      JobWorker stuck = first.worker().queue("closing", 1)
          .workerId("stuck-worker")
          .leaseDuration(Duration.ofMillis(600))
          .closeTimeout(Duration.ofMinutes(5))
          .pollInterval(Duration.ofMillis(50))
          .handler(STUCK, (payload, ctx) -> {
            runs.incrementAndGet();
            running.countDown();
            // a handler that ignores interrupts and cancellation until the test lets it go
            while (true) {
              try {
                if (unblock.await(10, TimeUnit.SECONDS)) {
                  return "late";
                }
              } catch (InterruptedException ignored) {
                // ignored on purpose
              }
            }
          }).build().start();
      long id = kit.insert("acme", "closing", STUCK.name(), "{}", 5, null, null);
      assertThat(running.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();

      Thread closer = new Thread(stuck::close, "interrupted-closer");
      closer.start();
      // close() now waits (up to five minutes) for the stuck handler: interrupt that wait
      Await.until("close() is waiting for the handler", WAIT,
          () -> closer.getState() == Thread.State.TIMED_WAITING || closer.getState() == Thread.State.WAITING);
      closer.interrupt();
      closer.join(WAIT.toMillis());
      assertThat(closer.isAlive()).as("close() returned once interrupted").isFalse();
      stuck.close(); // a second close returns at once

      SaasJobs second = SaasJobs.builder(db.appDataSource()).workerDataSource(secondPool).build();
      try (JobWorker rescuer = second.worker().queue("closing", 1)
          .workerId("rescuer")
          .leaseDuration(Duration.ofSeconds(1)) // rescues every half second
          .pollInterval(Duration.ofMillis(50))
          .handler(STUCK, (payload, ctx) -> {
            runs.incrementAndGet();
            return "rescued";
          }).build().start()) {
        kit.awaitState(id, "completed", WAIT);
      } finally {
        unblock.countDown();
      }
      WorkerTestKit.Row row = kit.row(id);
      assertThat(runs.get()).isEqualTo(2);
      assertThat(row.attempts()).isEqualTo(2);
      assertThat(row.result()).isEqualTo("\"rescued\"");
      assertThat(row.lastError()).contains("lease expired (worker stuck-worker presumed dead) during attempt 1");
    }
  }
}
