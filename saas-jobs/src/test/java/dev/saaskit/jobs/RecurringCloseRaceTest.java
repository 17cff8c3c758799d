package dev.saaskit.jobs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.sql.SQLException;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import javax.sql.DataSource;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Review of 2026-12-05: {@link RecurringJobs#close()} called while {@link RecurringJobs#start()} was registering the
 * definitions (a shutdown hook during a slow start) found no thread to stop; {@code start()} then started the tick
 * thread anyway, and that closed scheduler went on firing recurring jobs for the life of the process.
 */
@ExtendWith(PostgresExtension.class)
class RecurringCloseRaceTest {
  private static WorkerTestKit kit;

  @BeforeAll
  static void setUp(TestDatabase db) throws SQLException {
    kit = WorkerTestKit.setUp(db);
  }

  @Test
  void aCloseDuringStartLeavesNoSchedulerThreadRunning(TestDatabase db) throws Exception {
    CountDownLatch registering = new CountDownLatch(1);
    CountDownLatch closedMeanwhile = new CountDownLatch(1);
    CountDownLatch ticked = new CountDownLatch(1);
    AtomicBoolean first = new AtomicBoolean(true);
    try (HikariDataSource pool = kit.workerPool("recurring-close-race", 2)) {
      // the registration's connection waits until close() has run; a tick thread's connection is noted
      DataSource gated = (DataSource) Proxy.newProxyInstance(getClass().getClassLoader(),
          new Class<?>[] {DataSource.class}, (proxy, method, args) -> {
            if (method.getName().equals("getConnection")) {
              if (Thread.currentThread().getName().startsWith("saaskit-recurring-")) {
                ticked.countDown();
              } else if (first.compareAndSet(true, false)) {
                registering.countDown();
                assertThat(closedMeanwhile.await(20, TimeUnit.SECONDS)).isTrue();
              }
            }
            try {
              return method.invoke(pool, args);
            } catch (InvocationTargetException e) {
              throw e.getCause();
            }
          });
      RecurringJobs recurring = SaasJobs.builder(gated).build().recurring()
          .add(RecurringJob.builder("close-race.minutely", "* * * * *",
              JobRequest.builder("close-race.minutely", Map.of()).noTenant().build()).build())
          .build();
      CompletableFuture<RecurringJobs> starting = CompletableFuture.supplyAsync(recurring::start);
      assertThat(registering.await(20, TimeUnit.SECONDS)).isTrue();
      recurring.close();
      closedMeanwhile.countDown();
      assertThatThrownBy(() -> starting.get(20, TimeUnit.SECONDS))
          .hasCauseInstanceOf(IllegalStateException.class)
          .hasMessageContaining("closed");
      // the first tick of a started thread would run at once
      assertThat(ticked.await(3, TimeUnit.SECONDS)).as("a tick ran after close()").isFalse();
      recurring.close(); // still idempotent
    }
  }
}
