package dev.saaskit.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.testing.Await;
import dev.saaskit.testing.MutableClock;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import javax.sql.DataSource;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Review of 2026-12-05: the recurring scheduler's thread caught only exceptions from a tick. A scheduled executor
 * never runs a periodic task again once a run throws, so one {@link Error} in a tick (a DataSource wrapper's failed
 * assertion, a stack overflow) silently ended every recurring job on that node for the life of the process.
 */
@ExtendWith(PostgresExtension.class)
class RecurringTickErrorTest {
  private static WorkerTestKit kit;

  @BeforeAll
  static void setUp(TestDatabase db) throws SQLException {
    kit = WorkerTestKit.setUp(db);
  }

  @Test
  void anErrorInOneTickDoesNotStopTheScheduler(TestDatabase db) throws Exception {
    AtomicBoolean thrown = new AtomicBoolean();
    MutableClock clock = MutableClock.at(Instant.parse("2026-06-01T00:00:30Z"));
    try (HikariDataSource pool = kit.workerPool("recurring-tick-error", 2)) {
      // the first connection the scheduler's thread asks for fails with an Error; the others are the pool's
      DataSource faulty = (DataSource) Proxy.newProxyInstance(getClass().getClassLoader(),
          new Class<?>[] {DataSource.class}, (proxy, method, args) -> {
            if (method.getName().equals("getConnection")
                && Thread.currentThread().getName().startsWith("saaskit-recurring-")
                && thrown.compareAndSet(false, true)) {
              throw new AssertionError("a DataSource wrapper's failed assertion");
            }
            try {
              return method.invoke(pool, args);
            } catch (InvocationTargetException e) {
              throw e.getCause();
            }
          });
      SaasJobs jobs = SaasJobs.builder(faulty).clock(clock).build();
      try (RecurringJobs recurring = jobs.recurring()
          .tickInterval(Duration.ofMillis(50))
          .add(RecurringJob.builder("tick-error.minutely", "* * * * *",
              JobRequest.builder("tick-error.minutely", Map.of()).noTenant().build()).build())
          .build()
          .start()) {
        Await.until("the first tick failed", Duration.ofSeconds(20), thrown::get);
        clock.set(Instant.parse("2026-06-01T00:01:05Z"));
        Await.until("the 00:01 occurrence is enqueued by a later tick", Duration.ofSeconds(20),
            () -> kit.count("SELECT count(*) FROM saaskit_jobs.jobs WHERE type = 'tick-error.minutely'") == 1);
        assertThat(recurring.nextFireAt("tick-error.minutely")).contains(Instant.parse("2026-06-01T00:02:00Z"));
      }
    }
  }
}
