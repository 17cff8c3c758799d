package dev.saaskit.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.testing.Await;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** A worker in another JVM is killed with SIGKILL while it holds jobs; a worker in this JVM rescues them. */
// process kills test this library, not the server: .ci/run runs them in its first pass only
@Tag("process-kill")
@ExtendWith(PostgresExtension.class)
class ProcessKillTest {
  private static final int JOBS = 5;
  private static WorkerTestKit kit;

  @BeforeAll
  static void setUp(TestDatabase db) throws SQLException {
    kit = WorkerTestKit.setUp(db);
  }

  @Test
  void jobsOfAKilledWorkerProcessAreRescuedAndCompletedOnce(TestDatabase db) throws Exception {
    List<Long> ids = kit.insertMany("acme", "process", "block", JOBS);
    Set<Long> runningInChild = ConcurrentHashMap.newKeySet();
    Process child = startChild(db, "child-worker", JOBS, "process", runningInChild);
    try {
      Await.until("the child runs all jobs", Duration.ofSeconds(60), () -> runningInChild.size() == JOBS);
      assertThat(kit.count("SELECT count(*) FROM saaskit_jobs.jobs WHERE queue = 'process' AND state = 'running'"
          + " AND worker_id = 'child-worker'")).isEqualTo(JOBS);
    } finally {
      child.destroyForcibly(); // SIGKILL: no shutdown hook, no release
    }
    assertThat(child.waitFor(30, TimeUnit.SECONDS)).isTrue();
    long killedAt = System.nanoTime();
    assertThat(child.exitValue()).isEqualTo(137);
    // nobody released them: they are still running under the dead worker's lease
    assertThat(kit.count("SELECT count(*) FROM saaskit_jobs.jobs WHERE queue = 'process' AND state = 'running'"
        + " AND worker_id = 'child-worker'")).isEqualTo(JOBS);

    Map<Long, AtomicInteger> executions = new ConcurrentHashMap<>();
    SimpleMeterRegistry meters = new SimpleMeterRegistry();
    try (HikariDataSource pool = kit.workerPool("in-test-worker", 6);
        JobWorker worker = JobWorker.builder(pool).workerId("survivor").queue("process", 2)
            .leaseDuration(Duration.ofSeconds(2)).pollInterval(Duration.ofMillis(100)).meterRegistry(meters)
            .handler(JobType.of("block", JsonNode.class), (payload, ctx) -> {
              executions.computeIfAbsent(ctx.id().value(), id -> new AtomicInteger()).incrementAndGet();
              return "finished by " + ctx.attempt();
            }).build().start()) {
      Await.until("the jobs are completed", Duration.ofSeconds(60), () -> kit.count(
          "SELECT count(*) FROM saaskit_jobs.jobs WHERE queue = 'process' AND state = 'completed'") == JOBS);
      System.out.printf("process kill: %d jobs completed %d ms after SIGKILL (lease 2 s)%n", JOBS,
          TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killedAt));
    }
    assertThat(executions).containsOnlyKeys(ids);
    assertThat(executions.values()).allSatisfy(n -> assertThat(n.get()).isEqualTo(1));
    for (long id : ids) {
      WorkerTestKit.Row row = kit.row(id);
      assertThat(row.attempts()).isEqualTo(2);
      assertThat(row.leaseEpoch()).isEqualTo(2);
      assertThat(row.workerId()).isEqualTo("survivor");
      assertThat(row.result()).isEqualTo("\"finished by 2\"");
      assertThat(row.lastError()).isEqualTo("lease expired (worker child-worker presumed dead) during attempt 1");
    }
    assertThat(meters.find("saaskit.jobs.rescued").counters().stream().mapToDouble(c -> c.count()).sum())
        .isEqualTo(JOBS);
  }

  /**
   * The child claims 20 jobs with one attempt each: 2 start (and block), 18 wait in its prefetch. Killed, only the
   * 2 it started used their attempt (and are dead); the 18 it never started keep theirs and run once elsewhere.
   */
  @Test
  void prefetchedJobsTheKilledWorkerNeverStartedKeepTheirAttempts(TestDatabase db) throws Exception {
    int jobs = 20;
    int concurrency = 2;
    List<Long> ids = new ArrayList<>();
    for (int i = 0; i < jobs; i++) {
      ids.add(kit.insert("acme", "prefetch", "block", "{\"n\": " + i + "}", 1, null, null));
    }
    Set<Long> runningInChild = ConcurrentHashMap.newKeySet();
    Process child = startChild(db, "child-prefetch", concurrency, "prefetch", runningInChild);
    try {
      Await.until("the child runs 2 jobs", Duration.ofSeconds(60), () -> runningInChild.size() == concurrency);
      // one claim took all of them: the 18 others wait for a free handler thread
      assertThat(kit.count("SELECT count(*) FROM saaskit_jobs.jobs WHERE queue = 'prefetch' AND state = 'running'"
          + " AND worker_id = 'child-prefetch'")).isEqualTo(jobs);
    } finally {
      child.destroyForcibly();
    }
    assertThat(child.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(child.exitValue()).isEqualTo(137);

    Map<Long, Integer> attemptsRun = new ConcurrentHashMap<>();
    try (HikariDataSource pool = kit.workerPool("in-test-prefetch", 6);
        JobWorker worker = JobWorker.builder(pool).workerId("survivor-prefetch").queue("prefetch", 4)
            .leaseDuration(Duration.ofSeconds(2)).pollInterval(Duration.ofMillis(100))
            .handler(JobType.of("block", JsonNode.class), (payload, ctx) -> {
              attemptsRun.merge(ctx.id().value(), ctx.attempt() * 1000, Integer::sum);
              return null;
            }).build().start()) {
      Await.until("every job is finished", Duration.ofSeconds(60), () -> kit.count(
          "SELECT count(*) FROM saaskit_jobs.jobs WHERE queue = 'prefetch' AND state IN ('completed', 'dead')")
          == jobs);
    }
    for (long id : ids) {
      WorkerTestKit.Row row = kit.row(id);
      assertThat(row.attempts()).as("attempts of job %d", id).isEqualTo(1);
      if (runningInChild.contains(id)) {
        // its handler ran: the attempt counts, and it was the last
        assertThat(row.state()).isEqualTo("dead");
        assertThat(row.lastError())
            .isEqualTo("lease expired (worker child-prefetch presumed dead) during attempt 1");
        assertThat(attemptsRun).doesNotContainKey(id);
      } else {
        assertThat(row.state()).as("state of job %d", id).isEqualTo("completed");
        assertThat(row.lastError()).isEqualTo("lease expired (worker child-prefetch presumed dead) before attempt 1"
            + " started; it was not counted");
        assertThat(attemptsRun).containsEntry(id, 1000); // run once, as attempt 1
      }
    }
  }

  private static Process startChild(TestDatabase db, String workerId, int concurrency, String queue,
      Set<Long> running) throws java.io.IOException {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process child = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
        WorkerProcessMain.class.getName(), db.jdbcUrl(), kit.workerRole, db.rolePassword(kit.workerRole),
        workerId, "2000", String.valueOf(concurrency), queue)
        .redirectError(ProcessBuilder.Redirect.INHERIT).start();
    Thread reader = new Thread(() -> {
      try (BufferedReader out = new BufferedReader(
          new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
        for (String line = out.readLine(); line != null; line = out.readLine()) {
          if (line.startsWith("RUNNING ")) {
            running.add(Long.parseLong(line.substring(8)));
          }
        }
      } catch (java.io.IOException e) {
        // the child died: its stream ends
      }
    });
    reader.setDaemon(true);
    reader.start();
    return child;
  }
}
