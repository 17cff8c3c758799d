package dev.saaskit.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.MutableClock;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Three scheduler nodes, each with its own pool, hammer {@code tick()} from two threads each while a driver moves
 * the shared clock through 200 minutes of every-minute schedules. A completer thread keeps finishing the enqueued
 * jobs, so the unique key (which only covers pending and running jobs) cannot hide a second enqueue: exactly once
 * must come from the row lock.
 */
@ExtendWith(PostgresExtension.class)
class RecurringJobsExactlyOnceTest {
  private static final Instant START = Instant.parse("2026-01-01T00:00:10Z");
  private static final int MINUTES = 200;
  private static final List<String> TENANTS = List.of("t1", "t2", "t3");

  @Test
  void everyOccurrenceIsEnqueuedExactlyOnceAcrossThreeNodes(TestDatabase db) throws Exception {
    String workerRole = db.createRole("cron_nodes", "");
    JobsSchema.defaults().migrate(db.ownerDataSource());
    try (Connection c = db.ownerDataSource().getConnection()) {
      JobsSchema.defaults().grantWorker(c, workerRole);
    }
    MutableClock clock = MutableClock.at(START);
    List<RecurringJob> definitions = new ArrayList<>();
    definitions.add(RecurringJob.builder("sys.minutely", "* * * * *",
            JobRequest.builder("cron.test", Map.of("kind", "system")).noTenant().build())
        .misfirePolicy(MisfirePolicy.FIRE_ALL).maxCatchUp(10_000).build());
    for (String tenant : TENANTS) {
      definitions.add(RecurringJob.builder("tenant.minutely:" + tenant, "* * * * *",
              JobRequest.builder("cron.test", Map.of("kind", "tenant")).tenant(TenantId.of(tenant)).build())
          .misfirePolicy(MisfirePolicy.FIRE_ALL).maxCatchUp(10_000).build());
    }

    List<HikariDataSource> pools = new ArrayList<>();
    List<RecurringJobs> nodes = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      HikariDataSource pool = db.newPool(workerRole, db.rolePassword(workerRole), 2);
      pools.add(pool);
      nodes.add(RecurringJobs.builder(pool).clock(clock).batchSize(2).addAll(definitions).create());
    }

    AtomicBoolean driving = new AtomicBoolean(true);
    AtomicLong ticks = new AtomicLong();
    AtomicLong enqueuedByTicks = new AtomicLong();
    ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
    ExecutorService threads = Executors.newFixedThreadPool(8);
    try {
      List<Future<?>> futures = new ArrayList<>();
      for (RecurringJobs node : nodes) {
        for (int t = 0; t < 2; t++) {
          futures.add(threads.submit(() -> {
            while (driving.get()) {
              try {
                enqueuedByTicks.addAndGet(node.tick());
              } catch (RuntimeException e) {
                failures.add(e);
              }
              ticks.incrementAndGet();
            }
          }));
        }
      }
      futures.add(threads.submit(() -> {
        while (driving.get()) {
          completePendingJobs(db);
        }
        return null;
      }));

      // Move the clock 20 s at a time, each step only after the nodes ticked a few times: the ticks interleave with
      // the clock instead of finding everything due at the end.
      Instant end = START.plus(Duration.ofMinutes(MINUTES));
      while (clock.instant().isBefore(end)) {
        long seen = ticks.get();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (ticks.get() < seen + 3 && System.nanoTime() < deadline) {
          Thread.onSpinWait();
        }
        clock.advance(Duration.ofSeconds(20));
      }
      driving.set(false);
      for (Future<?> f : futures) {
        f.get(60, TimeUnit.SECONDS);
      }
    } finally {
      driving.set(false);
      threads.shutdownNow();
      threads.awaitTermination(30, TimeUnit.SECONDS);
    }
    // a last pass picks up what was due when the hammering stopped
    enqueuedByTicks.addAndGet(nodes.get(0).tick());
    for (HikariDataSource pool : pools) {
      pool.close();
    }

    assertThat(failures).isEmpty();
    int names = definitions.size();
    assertThat(enqueuedByTicks.get()).as("occurrences enqueued by all ticks together").isEqualTo((long) names * MINUTES);
    Map<String, List<Instant>> runAts = runAtsByUniqueKeyPrefix(db);
    List<Instant> expected = new ArrayList<>();
    for (int m = 1; m <= MINUTES; m++) {
      expected.add(Instant.parse("2026-01-01T00:00:00Z").plus(Duration.ofMinutes(m)));
    }
    assertThat(runAts).hasSize(names);
    for (RecurringJob d : definitions) {
      assertThat(runAts.get(d.name())).as(d.name()).containsExactlyElementsOf(expected);
    }
    try (Connection c = db.adminDataSource().getConnection(); Statement st = c.createStatement();
        ResultSet rs = st.executeQuery("SELECT count(*), count(DISTINCT (coalesce(tenant_id, ''), unique_key)),"
            + " count(*) FILTER (WHERE tenant_id IS NULL) FROM saaskit_jobs.jobs WHERE type = 'cron.test'")) {
      rs.next();
      assertThat(rs.getLong(1)).isEqualTo((long) names * MINUTES);
      assertThat(rs.getLong(2)).isEqualTo((long) names * MINUTES);
      assertThat(rs.getLong(3)).isEqualTo(MINUTES);
    }
  }

  private static void completePendingJobs(TestDatabase db) {
    try (Connection c = db.adminDataSource().getConnection(); Statement st = c.createStatement()) {
      st.executeUpdate("UPDATE saaskit_jobs.jobs SET state = 'completed', finished_at = now()"
          + " WHERE type = 'cron.test' AND state = 'pending'");
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Run times of the jobs per recurring job name, ordered, duplicates kept. */
  private static Map<String, List<Instant>> runAtsByUniqueKeyPrefix(TestDatabase db) throws SQLException {
    Map<String, List<Instant>> out = new HashMap<>();
    try (Connection c = db.adminDataSource().getConnection();
        PreparedStatement ps = c.prepareStatement("SELECT unique_key, run_at FROM saaskit_jobs.jobs"
            + " WHERE type = 'cron.test' ORDER BY run_at, id");
        ResultSet rs = ps.executeQuery()) {
      while (rs.next()) {
        String key = rs.getString(1);
        // cron:<name>:<instant>; the instant has colons too, the name ends before "2026-"
        String name = key.substring("cron:".length(), key.indexOf(":2026-"));
        Instant runAt = rs.getObject(2, java.time.OffsetDateTime.class).toInstant();
        assertThat(key).endsWith(":" + runAt);
        out.computeIfAbsent(name, k -> new ArrayList<>()).add(runAt);
      }
    }
    return out;
  }
}
