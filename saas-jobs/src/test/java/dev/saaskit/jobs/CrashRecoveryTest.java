package dev.saaskit.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.testing.Await;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Crashes inside one JVM: three nodes share 20,000 jobs while one dies mid-batch (threads stopped without cleanup,
 * its database sessions terminated); and a stalled node that lost its lease tries to finish a job another node
 * already finished.
 */
@ExtendWith(PostgresExtension.class)
class CrashRecoveryTest {
  private static final Duration LEASE = Duration.ofSeconds(2);
  private static WorkerTestKit kit;

  @BeforeAll
  static void setUp(TestDatabase db) throws SQLException {
    kit = WorkerTestKit.setUp(db);
    // every transition into 'completed' is recorded by the database itself, whoever wrote it
    try (Connection c = db.ownerDataSource().getConnection(); Statement st = c.createStatement()) {
      st.execute("CREATE TABLE completions (job_id bigint NOT NULL, lease_epoch bigint NOT NULL, worker_id text)");
      st.execute("GRANT INSERT, SELECT ON completions TO " + kit.workerRole);
      st.execute("CREATE FUNCTION record_completion() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
          + " INSERT INTO public.completions VALUES (NEW.id, NEW.lease_epoch, NEW.worker_id); RETURN NEW; END $$");
      st.execute("CREATE TRIGGER record_completion AFTER UPDATE ON saaskit_jobs.jobs FOR EACH ROW"
          + " WHEN (OLD.state <> 'completed' AND NEW.state = 'completed') EXECUTE FUNCTION record_completion()");
    }
  }

  @Test
  void noJobIsLostOrCompletedTwiceWhenANodeDiesMidBatch() throws Exception {
    int tenants = 20;
    int perTenant = 1000;
    int total = tenants * perTenant;
    for (int t = 0; t < tenants; t++) {
      kit.insertMany("crash-" + t, "crash", "work", perTenant);
    }
    // (job id, attempt) -> executions
    Map<String, AtomicInteger> executions = new ConcurrentHashMap<>();
    Set<Long> startedByVictim = ConcurrentHashMap.newKeySet();
    LongAdder executed = new LongAdder();
    AtomicBoolean victimStalls = new AtomicBoolean();
    AtomicInteger victimStalled = new AtomicInteger();
    CountDownLatch never = new CountDownLatch(1);
    List<HikariDataSource> pools = new ArrayList<>();
    List<JobWorker> nodes = new ArrayList<>();
    List<SimpleMeterRegistry> meters = new ArrayList<>();
    try {
      for (int n = 0; n < 3; n++) {
        int node = n;
        HikariDataSource pool = kit.workerPool("crash-node-" + n, 8);
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        pools.add(pool);
        meters.add(registry);
        nodes.add(JobWorker.builder(pool).workerId("node-" + n).queue("crash", 8).batchSize(32)
            .leaseDuration(LEASE).pollInterval(Duration.ofMillis(200)).meterRegistry(registry)
            .handler(JobType.of("work", JsonNode.class), (payload, ctx) -> {
              executions.computeIfAbsent(ctx.id().value() + "/" + ctx.attempt(), k -> new AtomicInteger())
                  .incrementAndGet();
              executed.increment();
              if (node == 1) {
                startedByVictim.add(ctx.id().value());
              }
              if (node == 1 && victimStalls.get()) {
                // the victim's threads fill up with jobs it will never finish
                victimStalled.incrementAndGet();
                never.await();
              }
              return null;
            }).build());
      }
      nodes.forEach(JobWorker::start);

      Await.until("a quarter of the jobs ran", Duration.ofMinutes(2), () -> executed.sum() >= total / 4);
      victimStalls.set(true);
      Await.until("the victim holds 8 running jobs", Duration.ofSeconds(60), () -> victimStalled.get() >= 8);
      nodes.get(1).crashForTesting();
      long terminated = kit.count("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
          + " WHERE application_name = 'crash-node-1'");
      assertThat(terminated).isPositive();
      // pg_terminate_backend only signals: a statement of the victim already running (an outcome batch) may still
      // commit, so the victim's holdings are read once its backends are gone
      Await.until("the victim's sessions ended", Duration.ofSeconds(30), () -> kit.count(
          "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'crash-node-1'") == 0);
      List<Long> held = ids("SELECT id FROM saaskit_jobs.jobs WHERE state = 'running' AND worker_id = 'node-1'");
      assertThat(held).hasSizeGreaterThanOrEqualTo(8);

      Await.until("every job completed", Duration.ofSeconds(150), () -> kit.count(
          "SELECT count(*) FROM saaskit_jobs.jobs WHERE queue = 'crash' AND state = 'completed'") == total);

      assertThat(kit.count("SELECT count(*) FROM saaskit_jobs.jobs WHERE queue = 'crash'")).isEqualTo(total);
      // completed exactly once, as the database saw it
      assertThat(kit.count("SELECT count(*) FROM completions")).isEqualTo(total);
      assertThat(kit.count("SELECT count(DISTINCT job_id) FROM completions")).isEqualTo(total);
      // every job ran, and no attempt ran twice
      assertThat(executions.values()).allSatisfy(n -> assertThat(n.get()).isEqualTo(1));
      assertThat(executions.keySet().stream().map(k -> k.substring(0, k.indexOf('/'))).distinct().count())
          .isEqualTo(total);
      // the dead node's jobs were rescued after their lease and finished by the others; those it had started
      // used an attempt there. Of those it held in its prefetch, one whose start it had not recorded used none;
      // one whose start it had recorded ahead (its threads were about to take it) used one, the safe side.
      int heldUnstarted = 0;
      String unstarted = "lease expired (worker node-1 presumed dead) before attempt 1 started; it was not counted";
      for (long id : held) {
        WorkerTestKit.Row row = kit.row(id);
        assertThat(row.workerId()).isNotEqualTo("node-1");
        if (unstarted.equals(row.lastError())) {
          heldUnstarted++;
          assertThat(startedByVictim).doesNotContain(id);
          assertThat(row.attempts()).isEqualTo(1);
        } else {
          assertThat(row.attempts()).isGreaterThanOrEqualTo(2);
          assertThat(row.lastError()).startsWith("lease expired (worker node-1 presumed dead) during attempt ");
        }
      }
      double rescued = meters.get(0).find("saaskit.jobs.rescued").counters().stream().mapToDouble(c -> c.count())
          .sum() + meters.get(2).find("saaskit.jobs.rescued").counters().stream().mapToDouble(c -> c.count()).sum();
      assertThat(rescued).isGreaterThanOrEqualTo(held.size());
      // the nodes shared the backlog: claims running side by side each took jobs
      Map<String, Long> perNode = new HashMap<>();
      try (Connection c = kit.admin().getConnection(); Statement st = c.createStatement();
          ResultSet rs = st.executeQuery("SELECT worker_id, count(*) FROM completions GROUP BY worker_id")) {
        while (rs.next()) {
          perNode.put(rs.getString(1), rs.getLong(2));
        }
      }
      assertThat(perNode.get("node-0")).isGreaterThan(total / 10);
      assertThat(perNode.get("node-2")).isGreaterThan(total / 10);
      System.out.printf("crash test: %d jobs, %d executions, %d held by the dead node (%d never started), %.0f"
          + " rescued, completed by node %s%n", total, executed.sum(), held.size(), heldUnstarted, rescued,
          new TreeMap<>(perNode));
    } finally {
      never.countDown();
      for (int n = 0; n < nodes.size(); n++) {
        if (n != 1) {
          nodes.get(n).close();
        }
      }
      pools.forEach(HikariDataSource::close);
    }
  }

  @Test
  void aWorkerThatLostItsLeaseCannotCompleteOrFailTheJob() throws Exception {
    CountDownLatch zombieRunning = new CountDownLatch(2);
    CountDownLatch zombieResumes = new CountDownLatch(1);
    Map<String, Boolean> zombieSawCancellation = new ConcurrentHashMap<>();
    SimpleMeterRegistry zombieMeters = new SimpleMeterRegistry();
    ObjectMapper json = new ObjectMapper();
    try (HikariDataSource zombiePool = kit.workerPool("zombie-node", 6);
        HikariDataSource rescuerPool = kit.workerPool("rescuer-node", 6);
        JobWorker zombie = JobWorker.builder(zombiePool).workerId("zombie").queue("zombie", 2)
            .leaseDuration(Duration.ofSeconds(1)).pollInterval(Duration.ofMillis(100)).meterRegistry(zombieMeters)
            .handler(JobType.of("work", JsonNode.class), (payload, ctx) -> {
              zombieRunning.countDown();
              zombieResumes.await();
              zombieSawCancellation.put(payload.get("do").asText(), ctx.isCancellationRequested());
              if (payload.get("do").asText().equals("fail")) {
                throw new IllegalStateException("zombie failure");
              }
              return "zombie result";
            }).build().start()) {
      long completes = kit.insert("acme", "zombie", "work", "{\"do\": \"complete\"}");
      long fails = kit.insert("acme", "zombie", "work", "{\"do\": \"fail\"}");
      assertThat(zombieRunning.await(30, TimeUnit.SECONDS)).isTrue();
      assertThat(kit.row(completes).leaseEpoch()).isEqualTo(1);
      zombie.freezeForTesting(); // a long pause: no heartbeats from here on

      try (JobWorker rescuer = JobWorker.builder(rescuerPool).workerId("rescuer").queue("zombie", 2)
          .leaseDuration(Duration.ofSeconds(1)).pollInterval(Duration.ofMillis(100))
          .handler(JobType.of("work", JsonNode.class), (payload, ctx) -> "rescuer result").build().start()) {
        kit.awaitState(completes, "completed", Duration.ofSeconds(30));
        kit.awaitState(fails, "completed", Duration.ofSeconds(30));
      }
      Map<Long, WorkerTestKit.Row> before = new HashMap<>();
      for (long id : new long[] {completes, fails}) {
        WorkerTestKit.Row row = kit.row(id);
        assertThat(row.workerId()).isEqualTo("rescuer");
        assertThat(row.leaseEpoch()).isEqualTo(2);
        assertThat(json.readTree(row.result()).asText()).isEqualTo("rescuer result");
        before.put(id, row);
      }

      zombieResumes.countDown(); // the zombie wakes up and reports its outcomes
      Await.until("both zombie outcomes are rejected", Duration.ofSeconds(30), () -> zombieMeters
          .find("saaskit.jobs.zombie.rejected").counters().stream().mapToDouble(c -> c.count()).sum() == 2);
      for (long id : new long[] {completes, fails}) {
        assertThat(kit.row(id)).isEqualTo(before.get(id));
      }
      assertThat(kit.count("SELECT count(*) FROM completions WHERE job_id IN (" + completes + ", " + fails + ")"))
          .isEqualTo(2);
      // its local lease deadline had passed, so the handler could have known to stop
      assertThat(zombieSawCancellation).containsEntry("complete", true).containsEntry("fail", true);
    }
  }

  private static List<Long> ids(String sql) throws SQLException {
    List<Long> ids = new ArrayList<>();
    try (Connection c = kit.admin().getConnection(); Statement st = c.createStatement();
        ResultSet rs = st.executeQuery(sql)) {
      while (rs.next()) {
        ids.add(rs.getLong(1));
      }
    }
    return ids;
  }
}
