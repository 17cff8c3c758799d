package dev.saaskit.fleet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Moves between shards and dedicated databases, interrupted at every recorded step and then resumed or rolled back
 * by a fresh TenantMove (a crash is simulated by a failure injected at the step boundary: the failing instance
 * does nothing more, exactly as a killed process, and the new instance knows only the journal).
 */
class TenantMoveTest {
  static TestFleet fleet;

  @BeforeAll
  static void setUp() {
    fleet = TestFleet.create(2, 3);
  }

  @AfterAll
  static void tearDown() {
    fleet.close();
  }

  private static final class Crash extends RuntimeException {
    private static final long serialVersionUID = 1L;

    Crash(MoveStep step) {
      super("simulated crash after " + step);
    }
  }

  private static TenantMove crashingAt(MoveStep at) {
    return TenantMove.builder(fleet.directory).observer((tenant, step) -> {
      if (step == at) {
        throw new Crash(step);
      }
    }).build();
  }

  @Test
  void aMoveInterruptedAtAnyStepResumesWithNoRowLostOrDuplicated() {
    int i = 0;
    for (MoveStep step : MoveStep.values()) {
      TenantId t = TenantId.of("resume-" + step.name().toLowerCase(java.util.Locale.ROOT));
      // shared -> dedicated and shard -> shard, alternately
      Placement source = Placement.shared("shard-" + (i % 2));
      Placement target = i % 2 == 0 ? fleet.dedicatedPlacement(i % 3) : Placement.shared("shard-0");
      i++;
      fleet.directory.register(t, source);
      Shop.seed(fleet.database(source), t, 40);
      Map<String, String> before = Shop.fingerprint(fleet.database(source), t);

      assertThatThrownBy(() -> crashingAt(step).move(t, target)).isInstanceOf(Crash.class);
      TenantMove fresh = TenantMove.builder(fleet.directory).build();
      assertThat(fresh.runningStep(t)).contains(step);
      MoveReport report = fresh.resume(t);

      assertThat(report.outcome()).isEqualTo("done");
      assertThat(report.tables()).hasSize(5).allMatch(MoveReport.TableCheck::matches);
      assertThat(Shop.fingerprint(fleet.database(target), t)).as("after a crash at %s", step).isEqualTo(before);
      assertThat(Shop.rows(fleet.database(source), t)).isZero();
      TenantEntry entry = fleet.directory.require(t);
      assertThat(entry.placement()).isEqualTo(target);
      assertThat(entry.state()).isEqualTo(TenantState.ACTIVE);
      assertThat(fresh.runningStep(t)).isEmpty();
    }
  }

  @Test
  void aMoveInterruptedBeforeItsFlipRollsBackWithNoRowLostOrLeftBehind() {
    int i = 0;
    for (MoveStep step : List.of(MoveStep.STARTED, MoveStep.BLOCKED, MoveStep.COPIED, MoveStep.VERIFIED)) {
      TenantId t = TenantId.of("rollback-" + step.name().toLowerCase(java.util.Locale.ROOT));
      // dedicated -> shared
      Placement source = fleet.dedicatedPlacement(i++ % 3);
      Placement target = Placement.shared("shard-1");
      fleet.directory.register(t, source);
      Shop.seed(fleet.database(source), t, 30);
      Map<String, String> before = Shop.fingerprint(fleet.database(source), t);

      assertThatThrownBy(() -> crashingAt(step).move(t, target)).isInstanceOf(Crash.class);
      MoveReport report = TenantMove.builder(fleet.directory).build().rollback(t);

      assertThat(report.outcome()).isEqualTo("rolled_back");
      assertThat(Shop.fingerprint(fleet.database(source), t)).as("after a crash at %s", step).isEqualTo(before);
      assertThat(Shop.rows(fleet.database(target), t)).isZero();
      TenantEntry entry = fleet.directory.require(t);
      assertThat(entry.placement()).isEqualTo(source);
      assertThat(entry.state()).isEqualTo(TenantState.ACTIVE);
    }
  }

  @Test
  void aMoveThatFlippedCannotRollBackOnlyResume() {
    TenantId t = TenantId.of("flipped");
    fleet.directory.register(t, Placement.shared("shard-0"));
    Shop.seed(fleet.shards.get(0), t, 5);
    assertThatThrownBy(() -> crashingAt(MoveStep.FLIPPED).move(t, fleet.dedicatedPlacement(0)))
        .isInstanceOf(Crash.class);
    TenantMove fresh = TenantMove.builder(fleet.directory).build();
    assertThatThrownBy(() -> fresh.rollback(t)).isInstanceOf(FleetException.class)
        .hasMessageContaining("resume it instead");
    assertThatThrownBy(() -> fresh.move(t, Placement.shared("shard-1"))).hasMessageContaining("being moved already");
    fresh.resume(t);
    assertThat(Shop.rows(fleet.shards.get(0), t)).isZero();
    assertThat(Shop.rows(fleet.dedicated.get(0), t)).isEqualTo(25);
  }

  @Test
  void badMovesAreRefusedBeforeAnythingChanges() {
    TenantId t = TenantId.of("stay");
    fleet.directory.register(t, Placement.shared("shard-0"));
    TenantMove move = TenantMove.builder(fleet.directory).build();
    assertThatThrownBy(() -> move.move(t, Placement.shared("shard-0"))).hasMessageContaining("already");
    assertThatThrownBy(() -> move.move(t, Placement.shared("shard-9"))).hasMessageContaining("does not exist");
    assertThatThrownBy(() -> move.move(TenantId.of("ghost"), Placement.shared("shard-1")))
        .isInstanceOf(TenantUnavailableException.class);
    assertThatThrownBy(() -> move.resume(t)).hasMessageContaining("no move of tenant 'stay' is running");
    fleet.directory.setState(t, TenantState.SUSPENDED);
    assertThatThrownBy(() -> move.move(t, Placement.shared("shard-1"))).hasMessageContaining("is suspended");
    assertThat(fleet.directory.require(t).placement()).isEqualTo(Placement.shared("shard-0"));
  }

  @Test
  void aTenantWith100kRowsMovesUnderLoadReadsKeepWorkingAndWritesGetAClearError() throws Exception {
    TenantId big = TenantId.of("big");
    TenantId w1 = TenantId.of("neighbour-1");
    TenantId w2 = TenantId.of("neighbour-2");
    fleet.directory.register(big, Placement.shared("shard-0"));
    fleet.directory.register(w1, Placement.shared("shard-0"));
    fleet.directory.register(w2, Placement.shared("shard-1"));
    Shop.seed(fleet.shards.get(0), big, 20_000);
    Map<String, String> seeded = Shop.fingerprint(fleet.shards.get(0), big);
    Placement target = fleet.dedicatedPlacement(2);
    TestDatabase targetDb = fleet.dedicated.get(2);

    try (FleetDataSource ds = FleetDataSource.builder(fleet.directory).budget(10).perTenantCap(3).build()) {
      Load load = new Load(ds, List.of(w1, w2), big);
      load.start();
      load.awaitWarm();
      MoveReport report = TenantMove.builder(fleet.directory).fleet(ds).build().move(big, target);
      load.stop();

      assertThat(load.failures).isEmpty();
      assertThat(load.bigReads.get()).isGreaterThan(0);
      assertThat(load.bigRefused.get()).as("writes refused during the move").isGreaterThan(0);
      assertThat(report.rowsCopied()).isEqualTo(100_000 + load.bigWritesBefore.get());
      assertThat(report.tables()).hasSize(5).allMatch(MoveReport.TableCheck::matches);
      assertThat(report.writeBlocked()).isPositive();
      System.out.printf("move of 100k rows: %.0f rows/s, writes blocked %d ms, copy %d ms%n",
          report.rowsPerSecond(), report.writeBlocked().toMillis(), report.copyTime().toMillis());

      // nothing of the tenant is left in the source; the neighbours lost nothing
      assertThat(Shop.rows(fleet.shards.get(0), big)).isZero();
      assertThat(TestFleet.rows(fleet.shards.get(0), "customers", w1)).isEqualTo(load.written.get(w1).get());
      assertThat(TestFleet.rows(fleet.shards.get(1), "customers", w2)).isEqualTo(load.written.get(w2).get());
      // the seeded rows arrived intact, plus every write that succeeded, before or after the move
      Map<String, String> moved = Shop.fingerprint(targetDb, big);
      assertThat(moved.get("orders")).isEqualTo(seeded.get("orders"));
      assertThat(moved.get("payments")).isEqualTo(seeded.get("payments"));
      assertThat(TestFleet.rows(targetDb, "customers", big))
          .isEqualTo(20_000 + load.bigWritesBefore.get() + load.bigWritesAfter.get());

      // its traffic works against the new database, ids continue past the copied ones
      TenantContext.run(big, () -> {
        try (Connection c = ds.getConnection(); Statement st = c.createStatement()) {
          st.executeUpdate("INSERT INTO customers (name) VALUES ('after the move')");
          try (ResultSet rs = st.executeQuery("SELECT count(*), current_database() FROM customers")) {
            rs.next();
            assertThat(rs.getLong(1)).isEqualTo(20_001 + load.bigWritesBefore.get() + load.bigWritesAfter.get());
            assertThat(rs.getString(2)).isEqualTo(targetDb.name());
          }
        }
      });
    }
  }

  /** Writers for the neighbours, a reader and a writer for the moving tenant, all through the fleet. */
  private static final class Load {
    final FleetDataSource ds;
    final List<TenantId> neighbours;
    final TenantId big;
    final Map<TenantId, java.util.concurrent.atomic.AtomicLong> written = new java.util.concurrent.ConcurrentHashMap<>();
    final java.util.concurrent.atomic.AtomicLong bigReads = new java.util.concurrent.atomic.AtomicLong();
    final java.util.concurrent.atomic.AtomicLong bigRefused = new java.util.concurrent.atomic.AtomicLong();
    final java.util.concurrent.atomic.AtomicLong bigWritesBefore = new java.util.concurrent.atomic.AtomicLong();
    final java.util.concurrent.atomic.AtomicLong bigWritesAfter = new java.util.concurrent.atomic.AtomicLong();
    final List<Throwable> failures = new java.util.concurrent.CopyOnWriteArrayList<>();
    final java.util.concurrent.atomic.AtomicBoolean running = new java.util.concurrent.atomic.AtomicBoolean(true);
    final java.util.concurrent.atomic.AtomicBoolean refusedSeen = new java.util.concurrent.atomic.AtomicBoolean();
    final List<Thread> threads = new ArrayList<>();

    Load(FleetDataSource ds, List<TenantId> neighbours, TenantId big) {
      this.ds = ds;
      this.neighbours = neighbours;
      this.big = big;
    }

    void start() {
      for (TenantId n : neighbours) {
        written.put(n, new java.util.concurrent.atomic.AtomicLong());
        threads.add(new Thread(() -> loop(n, () -> {
          try (Connection c = ds.getConnection(); Statement st = c.createStatement()) {
            st.executeUpdate("INSERT INTO customers (name) VALUES ('n')");
          }
          written.get(n).incrementAndGet();
        })));
      }
      threads.add(new Thread(() -> loop(big, () -> {
        try (Connection c = ds.getConnection(); Statement st = c.createStatement();
            ResultSet rs = st.executeQuery("SELECT count(*) FROM orders")) {
          rs.next();
          assertThat(rs.getLong(1)).isEqualTo(20_000);
          bigReads.incrementAndGet();
        }
      })));
      threads.add(new Thread(() -> loop(big, () -> {
        try (Connection c = ds.getConnection(); Statement st = c.createStatement()) {
          st.executeUpdate("INSERT INTO customers (name) VALUES ('during load')");
          (refusedSeen.get() ? bigWritesAfter : bigWritesBefore).incrementAndGet();
        } catch (TenantReadOnlyException e) {
          assertThat(e.getMessage()).contains("is being moved");
          refusedSeen.set(true);
          bigRefused.incrementAndGet();
        }
      })));
      threads.forEach(Thread::start);
    }

    void awaitWarm() {
      dev.saaskit.testing.Await.until("load is running",
          () -> bigReads.get() > 0 && bigWritesBefore.get() > 0 && written.values().stream().allMatch(a -> a.get() > 0));
    }

    void loop(TenantId tenant, dev.saaskit.core.CheckedRunnable<Exception> body) {
      while (running.get()) {
        try {
          TenantContext.run(tenant, body);
        } catch (Throwable e) {
          failures.add(e);
          return;
        }
      }
    }

    void stop() throws InterruptedException {
      // let the moving tenant write once more after the flip
      dev.saaskit.testing.Await.until("a write after the move", () -> bigWritesAfter.get() > 0 || !failures.isEmpty());
      running.set(false);
      for (Thread t : threads) {
        t.join();
      }
    }
  }
}
