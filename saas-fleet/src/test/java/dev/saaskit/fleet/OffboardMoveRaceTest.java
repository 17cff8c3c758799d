package dev.saaskit.fleet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.core.TenantId;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review of 2026-12-05 (third): an offboarding dropped its dedicated database under a move of another tenant into
 * it that started after the offboarding's "is this database used by others" check; the move's copy then failed and
 * its roll-back could not reach the dropped target, so that tenant stayed {@code moving}. Offboardings and moves now
 * exclude each other through the database's lock, and a roll-back of a move whose target database is gone gives
 * the tenant back its source.
 */
class OffboardMoveRaceTest {
  private static final long WAIT_SECONDS = 60;
  static TestFleet fleet;
  static TenantLifecycle lifecycle;

  @BeforeAll
  static void setUp() {
    fleet = TestFleet.create(1, 1);
    FleetMigrations migrations = FleetMigrations.builder(fleet.directory).locations("classpath:db/app").build();
    String template = fleet.control.server().jdbcUrl("fleet_template_name").replace("fleet_template_name",
        "{database}");
    lifecycle = TenantLifecycle.builder(fleet.directory, fleet.control.adminDataSource(), migrations)
        .jdbcUrlTemplate(template).build();
  }

  @AfterAll
  static void tearDown() {
    fleet.close();
  }

  private static boolean databaseExists(String name) {
    return TestFleet.count(fleet.control.adminDataSource(), "SELECT count(*) FROM pg_database WHERE datname = '"
        + name + "'") == 1;
  }

  /**
   * The move of {@code arriving} into the leaving tenant's database starts while the offboarding is between its
   * check and its drop (the directory's listener hears the tenant turn {@code deleted} there). Whichever wins, the
   * arriving tenant must end {@code active} with every row and no move left running.
   */
  @Test
  void aMoveIntoADatabaseBeingDroppedByAnOffboardingNeverStrandsTheMovingTenant(@TempDir Path exports)
      throws Exception {
    TenantId leaving = TenantId.of("race-leaving");
    TenantId arriving = TenantId.of("race-arriving");
    String dbName = "fleet_race_" + Long.toHexString(System.nanoTime());
    TenantEntry leavingEntry = lifecycle.onboardDedicated(leaving, dbName, "DEDICATED_0");
    Placement.Dedicated leavingDb = (Placement.Dedicated) leavingEntry.placement();
    Placement shard = Placement.shared("shard-0");
    fleet.directory.register(arriving, shard);
    Shop.seed(fleet.shards.get(0), arriving, 6);
    Map<String, String> before = Shop.fingerprint(fleet.shards.get(0), arriving);

    CountDownLatch moveBlocked = new CountDownLatch(1);
    CountDownLatch releaseMove = new CountDownLatch(1);
    TenantMove move = TenantMove.builder(fleet.directory).drainTimeout(java.time.Duration.ZERO)
        .checkpoints((t, point) -> {
          if (point == TenantMove.Checkpoint.TENANT_BLOCKED) {
            moveBlocked.countDown();
            try {
              releaseMove.await(WAIT_SECONDS, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
          }
        }).build();
    AtomicBoolean started = new AtomicBoolean();
    AtomicReference<CompletableFuture<MoveReport>> moving = new AtomicReference<>();
    try (AutoCloseable listening = fleet.directory.addListener(t -> {
      if (t.equals(leaving) && fleet.directory.require(leaving).state() == TenantState.DELETED
          && started.compareAndSet(false, true)) {
        // the offboarding has checked its database and is about to drop it: the move starts now, and is let on
        // until its tenant is moving (journaled), or until it gave up
        CompletableFuture<MoveReport> m = CompletableFuture.supplyAsync(() -> move.move(arriving, leavingDb));
        moving.set(m);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
        while (moveBlocked.getCount() > 0 && !m.isDone() && System.nanoTime() < deadline) {
          try {
            moveBlocked.await(50, TimeUnit.MILLISECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
          }
        }
      }
    })) {
      TenantLifecycle.OffboardReport report = lifecycle.offboard(leaving, exports, TenantData.Format.JSON_LINES);
      assertThat(report.droppedDatabase()).contains(dbName);
    }
    releaseMove.countDown();
    assertThat(started).isTrue();
    try {
      moving.get().get(WAIT_SECONDS, TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException e) {
      // the move may fail (its target is gone, or the offboarding held the database): it must leave nothing behind
    }
    assertThat(databaseExists(dbName)).isFalse();
    assertThat(move.runningStep(arriving)).as("a move of the arriving tenant left running").isEmpty();
    TenantEntry after = fleet.directory.require(arriving);
    assertThat(after.state()).isEqualTo(TenantState.ACTIVE);
    assertThat(after.placement()).isEqualTo(shard);
    assertThat(Shop.fingerprint(fleet.shards.get(0), arriving)).isEqualTo(before);
  }

  /**
   * A move stopped after its copy, whose target database was then dropped (by hand, or by an offboarding before
   * the database lock): the roll-back could not connect to the target and kept failing, the tenant stuck
   * {@code moving}. The source still holds every row, so the roll-back gives the tenant back its source.
   */
  @Test
  void aMoveWhoseTargetDatabaseWasDroppedRollsBackToItsSource() throws Exception {
    TenantId t = TenantId.of("target-gone");
    String dbName = "fleet_gone_" + Long.toHexString(System.nanoTime());
    TenantId holder = TenantId.of("gone-holder");
    Placement.Dedicated target = (Placement.Dedicated) lifecycle.onboardDedicated(holder, dbName, "DEDICATED_0")
        .placement();
    Placement shard = Placement.shared("shard-0");
    fleet.directory.register(t, shard);
    Shop.seed(fleet.shards.get(0), t, 5);
    Map<String, String> before = Shop.fingerprint(fleet.shards.get(0), t);
    TenantMove stopping = TenantMove.builder(fleet.directory).drainTimeout(java.time.Duration.ZERO)
        .checkpoints((tenant, point) -> {
          if (point == TenantMove.Checkpoint.COPY_COMMITTED) {
            throw new IllegalStateException("stopped after the copy");
          }
        }).build();
    assertThatThrownBy(() -> stopping.move(t, target)).hasMessageContaining("stopped after the copy");
    assertThat(fleet.directory.require(t).state()).isEqualTo(TenantState.MOVING);
    try (Connection c = fleet.control.adminDataSource().getConnection(); Statement st = c.createStatement()) {
      st.execute("DROP DATABASE " + dbName + " WITH (FORCE)");
    }

    TenantMove move = TenantMove.builder(fleet.directory).build();
    MoveReport report = move.rollback(t);
    assertThat(report.outcome()).isEqualTo("rolled_back");
    TenantEntry after = fleet.directory.require(t);
    assertThat(after.state()).isEqualTo(TenantState.ACTIVE);
    assertThat(after.placement()).isEqualTo(shard);
    assertThat(move.runningStep(t)).isEmpty();
    assertThat(Shop.fingerprint(fleet.shards.get(0), t)).isEqualTo(before);
  }
}
