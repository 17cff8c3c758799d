package dev.saaskit.cache.postgres;

import static dev.saaskit.cache.postgres.BusFixture.count;
import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.cache.Invalidation;
import dev.saaskit.cache.InvalidationListener;
import dev.saaskit.testing.Await;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Pruning: by age without hurting live nodes, past a stalled node (which must flush), by count, concurrently. */
@ExtendWith(PostgresExtension.class)
class PruneTest {
  static BusFixture fx;
  static DataSource admin;

  @BeforeAll
  static void setUp(TestDatabase db) throws SQLException {
    BusFixture.migrate(db);
    fx = new BusFixture(db);
    admin = db.adminDataSource();
  }

  @AfterEach
  void closeNodes() {
    fx.close();
  }

  @AfterAll
  static void tearDown() {
    fx.close();
  }

  @Test
  void anAgeLongerThanAnyHorizonPrunesNothingInsteadOfThrowing() throws Exception {
    PostgresInvalidationBus a = fx.node("a");
    a.publish(Invalidation.tag("kept"));
    long rows = count(admin, "SELECT count(*) FROM saaskit_cache.invalidation_log");
    assertThat(rows).isPositive();
    // 100,000 years left PostgreSQL's timestamp range (SaasException "timestamp out of range"), and the longest
    // Duration overflowed toMillis() (ArithmeticException)
    assertThat(a.pruneOlderThan(Duration.ofDays(365L * 100_000))).isZero();
    assertThat(a.pruneOlderThan(Duration.ofSeconds(Long.MAX_VALUE, 999_999_999))).isZero();
    assertThat(count(admin, "SELECT count(*) FROM saaskit_cache.invalidation_log")).isEqualTo(rows);
  }

  @Test
  void aNodeWhosePositionWasPrunedFlushesAndContinuesFromTheHead() throws Exception {
    PostgresInvalidationBus a = fx.node("a");
    PostgresInvalidationBus b = fx.node("b", x -> x.pollInterval(Duration.ofMillis(50)));
    Invalidation block = Invalidation.tag("block");
    CountDownLatch blocked = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    RecordingListener onB = new RecordingListener();
    // b's reader is stuck in this delivery: b stops reading the log, as a paused or partitioned node would
    b.subscribe(new InvalidationListener() {
      @Override
      public void onInvalidation(Invalidation invalidation) {
        if (invalidation.equals(block)) {
          blocked.countDown();
          try {
            release.await(1, TimeUnit.MINUTES);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        }
      }

      @Override
      public void onLostInvalidations() {}
    });
    b.subscribe(onB);
    try {
      a.publish(block);
      assertThat(blocked.await(30, TimeUnit.SECONDS)).isTrue();
      publishAndPruneWhileBlocked(a, onB);
    } finally {
      release.countDown();
    }
    Await.until("b flushes", () -> onB.flushes.get() == 1);
    Invalidation after = Invalidation.tag("after");
    a.publish(after);
    Await.until("b continues after the flush", () -> onB.has(after));
    assertThat(onB.received).filteredOn(i -> i.value().startsWith("missed-")).isEmpty();
    assertThat(onB.flushes).hasValue(1);
    assertThat(b.stats().flushes()).isEqualTo(1);
  }

  private static void publishAndPruneWhileBlocked(PostgresInvalidationBus a, RecordingListener onB) {

    List<Invalidation> missed = IntStream.range(0, 10).mapToObj(i -> Invalidation.tag("missed-" + i)).toList();
    missed.forEach(a::publish);
    // ZERO: delete every finished transaction's rows now (retried: a transaction elsewhere on the server may hold
    // the horizon back for a moment)
    Await.until("the rows b has not read are pruned", () -> {
      a.pruneOlderThan(Duration.ZERO);
      return rows("value LIKE 'missed-%'") == 0;
    });
    assertThat(a.stats().pruned()).isGreaterThanOrEqualTo(10);
    assertThat(onB.flushes).hasValue(0);
  }

  @Test
  void pruningByAgeLeavesLiveNodesAndOpenTransactionsAlone() throws Exception {
    PostgresInvalidationBus a = fx.node("a");
    PostgresInvalidationBus b = fx.node("b", x -> x.pollInterval(Duration.ofMillis(50)));
    RecordingListener onB = new RecordingListener();
    b.subscribe(onB);
    List<Invalidation> old = IntStream.range(0, 20).mapToObj(i -> Invalidation.tag("old-" + i)).toList();
    old.forEach(a::publish);
    Await.until("b read them", () -> onB.hasAll(old));

    Invalidation pending = Invalidation.tag("pending");
    try (Connection t = fx.db.appDataSource().getConnection()) {
      t.setAutoCommit(false);
      a.publish(t, pending);
      assertThat(a.pruneOlderThan(Duration.ofSeconds(1))).as("no horizon is a second old yet").isZero();
      // each run records a horizon; after a second one qualifies and the old rows go
      Await.until("rows of transactions finished a second ago are pruned", () -> {
        a.pruneOlderThan(Duration.ofSeconds(1));
        return rows("value LIKE 'old-%'") == 0;
      });
      assertThat(count(t, "SELECT count(*) FROM saaskit_cache.invalidation_log WHERE value = 'pending'"))
          .as("the open transaction's row").isEqualTo(1);
      t.commit();
    }
    Await.until("the pending invalidation after its commit", () -> onB.has(pending));
    assertThat(onB.flushes).as("b read within the last second, so pruning by age cannot hurt it").hasValue(0);
  }

  @Test
  void pruneKeepingNewestKeepsExactlyThatMany() throws SQLException {
    PostgresInvalidationBus a = fx.node("a");
    IntStream.range(0, 30).forEach(i -> a.publish(Invalidation.tag("n-" + i)));
    long before = rows("true");
    assertThat(a.pruneKeepingNewest(10)).isEqualTo(before - 10);
    assertThat(rows("true")).isEqualTo(10);
    assertThat(rows("value IN ('n-20', 'n-29')")).isEqualTo(2);
    assertThat(a.pruneKeepingNewest(10)).isZero();
  }

  @Test
  void concurrentPrunersDeleteEveryRowExactlyOnce() throws Exception {
    List<PostgresInvalidationBus> nodes = new ArrayList<>();
    for (String name : List.of("p1", "p2", "p3")) {
      nodes.add(fx.node(name, x -> x.pruneBatchSize(7)));
    }
    try (Connection c = fx.db.appDataSource().getConnection()) {
      c.setAutoCommit(false);
      for (int i = 0; i < 300; i++) {
        nodes.get(0).publish(c, Invalidation.tag("bulk-" + i));
      }
      c.commit();
    }
    long rowsBefore = rows("true");
    long prunedBefore = count(admin, "SELECT pruned_rows FROM saaskit_cache.prune_state");
    ExecutorService threads = Executors.newFixedThreadPool(3);
    List<Future<Long>> results = new ArrayList<>();
    try {
      for (PostgresInvalidationBus node : nodes) {
        results.add(threads.submit(() -> {
          long deleted = 0;
          long deadline = System.nanoTime() + BusFixture.BOUND.toNanos();
          while (rows("true") > 0 && System.nanoTime() < deadline) {
            deleted += node.pruneOlderThan(Duration.ZERO);
          }
          return deleted;
        }));
      }
      long total = 0;
      for (Future<Long> f : results) {
        total += f.get(1, TimeUnit.MINUTES);
      }
      assertThat(rows("true")).isZero();
      assertThat(total).isEqualTo(rowsBefore);
      assertThat(count(admin, "SELECT pruned_rows FROM saaskit_cache.prune_state") - prunedBefore)
          .isEqualTo(rowsBefore);
      assertThat(nodes.stream().mapToLong(n -> n.stats().pruned()).sum()).isEqualTo(rowsBefore);
    } finally {
      threads.shutdownNow();
    }
  }

  @Test
  void theAutomaticScheduleEnforcesRetentionAndTheRowCap() throws SQLException {
    PostgresInvalidationBus a = fx.node("a", x -> x.pollInterval(Duration.ofMillis(50))
        .pruneInterval(Duration.ofMillis(100)).retention(Duration.ofMillis(300)));
    RecordingListener onA = new RecordingListener();
    a.subscribe(onA);
    List<Invalidation> aged = IntStream.range(0, 10).mapToObj(i -> Invalidation.tag("aged-" + i)).toList();
    aged.forEach(a::publish);
    Await.until("the schedule prunes them after the retention", () -> rows("value LIKE 'aged-%'") == 0);
    assertThat(onA.hasAll(aged)).isTrue();
    assertThat(onA.flushes).hasValue(0);
    a.close();

    PostgresInvalidationBus capped = fx.node("capped", x -> x.pruneInterval(Duration.ofMillis(100)).maxRows(5));
    IntStream.range(0, 20).forEach(i -> capped.publish(Invalidation.tag("capped-" + i)));
    Await.until("the schedule keeps the newest 5", () -> rows("true") <= 5);
    assertThat(rows("value = 'capped-19'")).isEqualTo(1);
  }

  private static long rows(String where) {
    try {
      return count(admin, "SELECT count(*) FROM saaskit_cache.invalidation_log WHERE " + where);
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }
}
