package dev.saaskit.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.testing.Await;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import javax.sql.DataSource;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Review of 2026-12-05: the worker's periodic tasks (heartbeats, rescue, gauges) caught only exceptions. A
 * scheduled executor cancels a periodic task for good once a run throws, so one {@link Error} (a DataSource
 * wrapper's failed assertion, a stack overflow) ended the heartbeats for the worker's lifetime: every job it ran
 * from then on lost its lease and was rescued, and so run a second time, while its handler was still running.
 * Likewise an Error in a claim ended the dispatcher thread, and the worker never claimed again.
 */
@ExtendWith(PostgresExtension.class)
class MaintenanceErrorTest {
  private static final Duration WAIT = Duration.ofSeconds(20);
  private static WorkerTestKit kit;

  @BeforeAll
  static void setUp(TestDatabase db) throws SQLException {
    kit = WorkerTestKit.setUp(db);
  }

  /** The same for the dispatcher: one Error in a claim ended its thread, and the worker never claimed again. */
  @Test
  void anErrorInOneClaimDoesNotEndTheClaims(TestDatabase db) throws Exception {
    AtomicBoolean thrown = new AtomicBoolean();
    try (HikariDataSource pool = kit.workerPool("dispatcher-error", 6)) {
      // the first connection the dispatcher asks for fails with an Error; the others are the pool's
      DataSource faulty = (DataSource) Proxy.newProxyInstance(getClass().getClassLoader(),
          new Class<?>[] {DataSource.class}, (proxy, method, args) -> {
            if (method.getName().equals("getConnection")
                && Thread.currentThread().getName().endsWith("-dispatcher") && thrown.compareAndSet(false, true)) {
              throw new AssertionError("a DataSource wrapper's failed assertion");
            }
            try {
              return method.invoke(pool, args);
            } catch (InvocationTargetException e) {
              throw e.getCause();
            }
          });
      SaasJobs jobs = SaasJobs.builder(db.appDataSource()).workerDataSource(faulty).build();
      try (JobWorker worker = jobs.worker().queue("dispatching", 2)
          .pollInterval(Duration.ofMillis(50))
          .handler(JobType.of("quick-job", JsonNode.class), (payload, ctx) -> null).build().start()) {
        Await.until("the first claim failed", WAIT, thrown::get);
        long id = kit.insert("acme", "dispatching", "quick-job", "{}", 5, null, null);
        kit.awaitState(id, "completed", WAIT);
      }
    }
  }

  private static boolean inHeartbeat() {
    return Arrays.stream(Thread.currentThread().getStackTrace())
        .anyMatch(f -> f.getClassName().endsWith("WorkerEngine") && f.getMethodName().equals("heartbeat"));
  }

  @Test
  void anErrorInOneHeartbeatDoesNotEndTheHeartbeats(TestDatabase db) throws Exception {
    AtomicBoolean thrown = new AtomicBoolean();
    AtomicInteger heartbeatsAfter = new AtomicInteger();
    AtomicInteger runs = new AtomicInteger();
    CountDownLatch release = new CountDownLatch(1);
    try (HikariDataSource pool = kit.workerPool("maintenance-error", 6)) {
      // the first connection a heartbeat asks for fails with an Error; the others are the pool's
      DataSource faulty = (DataSource) Proxy.newProxyInstance(getClass().getClassLoader(),
          new Class<?>[] {DataSource.class}, (proxy, method, args) -> {
            if (method.getName().equals("getConnection") && inHeartbeat()) {
              if (thrown.compareAndSet(false, true)) {
                throw new AssertionError("a DataSource wrapper's failed assertion");
              }
              if (thrown.get()) {
                heartbeatsAfter.incrementAndGet();
              }
            }
            try {
              return method.invoke(pool, args);
            } catch (InvocationTargetException e) {
              throw e.getCause();
            }
          });
      SaasJobs jobs = SaasJobs.builder(db.appDataSource()).workerDataSource(faulty).build();
      try (JobWorker worker = jobs.worker().queue("maintenance", 2)
          .leaseDuration(Duration.ofSeconds(6))
          .pollInterval(Duration.ofMillis(50))
          .handler(JobType.of("long-job", JsonNode.class), (payload, ctx) -> {
            runs.incrementAndGet();
            assertThat(release.await(WAIT.toSeconds() * 2, TimeUnit.SECONDS)).isTrue();
            return null;
          }).build().start()) {
        long id = kit.insert("acme", "maintenance", "long-job", "{}", 5, null, null);
        Await.until("the heartbeats go on after the Error", WAIT, () -> heartbeatsAfter.get() >= 3);
        release.countDown();
        kit.awaitState(id, "completed", WAIT);
        assertThat(thrown.get()).isTrue();
        assertThat(runs.get()).as("runs of the job").isEqualTo(1);
        assertThat(kit.row(id).attempts()).isEqualTo(1);
      } finally {
        release.countDown();
      }
    }
  }
}
