package dev.saaskit.fleet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Moves and offboarding where the placements' databases are not what their names suggest, and several nodes. */
class FleetReviewTest {
  static TestFleet fleet;

  @BeforeAll
  static void setUp() {
    fleet = TestFleet.create(2, 2);
  }

  @AfterAll
  static void tearDown() {
    fleet.close();
  }

  @Test
  void aMoveToAPlacementThatIsTheSourceDatabaseUnderAnotherNameIsRefusedAndLosesNothing() {
    TenantId t = TenantId.of("same-db");
    fleet.directory.register(t, Placement.shared("shard-0"));
    Shop.seed(fleet.shards.get(0), t, 10);
    Map<String, String> before = Shop.fingerprint(fleet.shards.get(0), t);
    String url = fleet.shards.get(0).jdbcUrl();
    fleet.directory.addShard(new Shard("shard-0-alias", url, "SHARD_0", false));
    TenantMove move = TenantMove.builder(fleet.directory).build();

    // the same database, as a dedicated placement and as another shard name
    assertThatThrownBy(() -> move.move(t, Placement.dedicated(url, "SHARD_0"))).isInstanceOf(FleetException.class)
        .hasMessageContaining("same database");
    assertThatThrownBy(() -> move.move(t, Placement.shared("shard-0-alias"))).isInstanceOf(FleetException.class)
        .hasMessageContaining("same database");

    assertThat(Shop.fingerprint(fleet.shards.get(0), t)).isEqualTo(before);
    assertThat(fleet.directory.require(t).placement()).isEqualTo(Placement.shared("shard-0"));
    assertThat(fleet.directory.require(t).state()).isEqualTo(TenantState.ACTIVE);
    assertThat(move.runningStep(t)).isEmpty();
  }

  @Test
  void anotherNodeThatStillRoutesToTheSourceAfterTheFlipDoesNotReadAnEmptyTenant() throws Exception {
    TenantId t = TenantId.of("two-nodes");
    fleet.directory.register(t, Placement.shared("shard-1"));
    Shop.seed(fleet.shards.get(1), t, 10);
    Duration ttl = Duration.ofSeconds(2);
    // the other node: its own directory instance (it hears no change made here) and cache TTL
    TenantDirectory otherDirectory = TenantDirectory.builder(fleet.control.ownerDataSource())
        .credentialResolver(CredentialResolver.fromLookup(fleet.secrets::get)).build();
    try (FleetDataSource here = FleetDataSource.builder(fleet.directory).build();
        FleetDataSource other = FleetDataSource.builder(otherDirectory).directoryCacheTtl(ttl).build()) {
      assertThat(customers(other, t)).isEqualTo(10);
      TenantMove move = TenantMove.builder(fleet.directory).fleet(here).drainWait(ttl)
          .checkpoints((tenant, point) -> {
            if (point == TenantMove.Checkpoint.VERIFY_DONE) {
              // the other node routes a read now: it caches 'moving' on shard-1 for its TTL
              assertThat(customers(other, t)).isEqualTo(10);
            }
          }).build();
      move.move(t, fleet.dedicatedPlacement(0));

      assertThat(customers(here, t)).isEqualTo(10);
      assertThat(customers(other, t)).as("the other node, right after the move").isEqualTo(10);
    }
    assertThat(Shop.rows(fleet.shards.get(1), t)).isZero();
  }

  private static long customers(FleetDataSource ds, TenantId t) {
    try {
      return TenantContext.call(t, () -> {
        try (Connection c = ds.getConnection(); Statement st = c.createStatement();
            ResultSet rs = st.executeQuery("SELECT count(*) FROM customers")) {
          rs.next();
          return rs.getLong(1);
        }
      });
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  @Test
  void offboardingATenantOfADedicatedDatabaseThatHoldsAnotherTenantDoesNotDropTheOthersData(
      @TempDir Path exports) {
    TenantId leaving = TenantId.of("leaving");
    TenantId staying = TenantId.of("staying");
    Placement.Dedicated shared = fleet.dedicatedPlacement(1);
    fleet.directory.register(leaving, shared);
    fleet.directory.register(staying, shared);
    Shop.seed(fleet.dedicated.get(1), leaving, 3);
    Shop.seed(fleet.dedicated.get(1), staying, 4);
    FleetMigrations migrations = FleetMigrations.builder(fleet.directory).locations("classpath:db/app").build();
    TenantLifecycle lifecycle = TenantLifecycle.builder(fleet.directory, fleet.control.adminDataSource(),
        migrations).jdbcUrlTemplate(fleet.control.server().jdbcUrl("x_name").replace("x_name", "{database}"))
        .build();

    TenantLifecycle.OffboardReport report = lifecycle.offboard(leaving, exports, TenantData.Format.CSV);

    assertThat(report.export().complete()).isTrue();
    assertThat(TestFleet.count(fleet.control.adminDataSource(), "SELECT count(*) FROM pg_database WHERE datname = '"
        + fleet.dedicated.get(1).name() + "'")).as("the database of another tenant still exists").isEqualTo(1);
    assertThat(Shop.rows(fleet.dedicated.get(1), staying)).isEqualTo(20);
    assertThat(Shop.rows(fleet.dedicated.get(1), leaving)).isZero();
    assertThat(report.droppedDatabase()).isEmpty();
    assertThat(report.erasure()).hasValueSatisfying(e -> assertThat(e.complete()).isTrue());
    assertThat(fleet.directory.require(leaving).state()).isEqualTo(TenantState.DELETED);
    assertThat(fleet.directory.require(staying).state()).isEqualTo(TenantState.ACTIVE);
  }

  @Test
  void aBorrowerInterruptedWhileWaitingForTheBudgetGivesItsTenantPermitBack() throws Exception {
    TenantId t = TenantId.of("interrupted");
    TenantId hog = TenantId.of("interrupted-hog");
    fleet.directory.register(t, Placement.shared("shard-0"));
    fleet.directory.register(hog, Placement.shared("shard-1"));
    try (FleetDataSource ds = FleetDataSource.builder(fleet.directory).budget(1).perTenantCap(1)
        .acquireTimeout(Duration.ofSeconds(2)).build()) {
      Connection held = TenantContext.call(hog, ds::getConnection);
      java.util.concurrent.atomic.AtomicReference<Throwable> failure = new java.util.concurrent.atomic.AtomicReference<>();
      Thread waiter = new Thread(() -> {
        try {
          TenantContext.run(t, () -> ds.getConnection().close());
        } catch (Throwable e) {
          failure.set(e);
        }
      });
      waiter.start();
      dev.saaskit.testing.Await.until("it waits for the budget",
          () -> waiter.getState() == Thread.State.TIMED_WAITING);
      waiter.interrupt(); // a request timeout, an executor shutting down
      waiter.join(10_000);
      assertThat(failure.get()).isInstanceOf(java.sql.SQLTransientConnectionException.class)
          .hasMessageContaining("interrupted");
      held.close();

      // the tenant's one permit is back: it gets a connection
      assertThat(customers(ds, t)).isZero();
    }
  }

  @Test
  void aRollBackAndAResumeOfTheSameMoveAtOnceDoNotLoseTheTenant() throws Exception {
    TenantId t = TenantId.of("resume-vs-rollback");
    fleet.directory.register(t, Placement.shared("shard-0"));
    Shop.seed(fleet.shards.get(0), t, 10);
    Map<String, String> before = Shop.fingerprint(fleet.shards.get(0), t);
    Placement target = fleet.dedicatedPlacement(0);
    // a move that stopped after its copy (a crash)
    assertThatThrownBy(() -> TenantMove.builder(fleet.directory).observer((tenant, step) -> {
      if (step == MoveStep.COPIED) {
        throw new IllegalStateException("crash");
      }
    }).build().move(t, target)).hasMessage("crash");

    // two operators: one resumes, the other rolls back, at the same time
    java.util.concurrent.CountDownLatch verified = new java.util.concurrent.CountDownLatch(1);
    java.util.concurrent.CountDownLatch goResume = new java.util.concurrent.CountDownLatch(1);
    java.util.concurrent.CountDownLatch cleared = new java.util.concurrent.CountDownLatch(1);
    java.util.concurrent.CountDownLatch goRollback = new java.util.concurrent.CountDownLatch(1);
    TenantMove resumer = TenantMove.builder(fleet.directory).checkpoints((tenant, point) -> {
      if (point == TenantMove.Checkpoint.VERIFY_DONE) {
        verified.countDown();
        await(goResume);
      }
    }).build();
    TenantMove rollbacker = TenantMove.builder(fleet.directory).checkpoints((tenant, point) -> {
      if (point == TenantMove.Checkpoint.ROLLBACK_TARGET_CLEARED) {
        cleared.countDown();
        await(goRollback);
      }
    }).build();
    java.util.concurrent.ExecutorService both = java.util.concurrent.Executors.newFixedThreadPool(2);
    try {
      java.util.concurrent.Future<MoveReport> resume = both.submit(() -> resumer.resume(t));
      assertThat(verified.await(30, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
      java.util.concurrent.Future<MoveReport> rollback = both.submit(() -> rollbacker.rollback(t));
      // the roll-back cleared the target, or gave up (it waits 5 s for the move lock): whichever comes first
      long giveUp = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(15);
      while (!cleared.await(20, java.util.concurrent.TimeUnit.MILLISECONDS) && !rollback.isDone()
          && System.nanoTime() - giveUp < 0) {
        // the await in the condition is the pause
      }
      goResume.countDown();
      Throwable resumeFailure = outcome(resume);
      goRollback.countDown();
      Throwable rollbackFailure = outcome(rollback);
      assertThat(resumeFailure == null || rollbackFailure == null).as("one of them completes: %s / %s",
          resumeFailure, rollbackFailure).isTrue();
    } finally {
      goResume.countDown();
      goRollback.countDown();
      both.shutdownNow();
    }

    // wherever the tenant is now, all of its rows are there
    TenantEntry entry = fleet.directory.require(t);
    assertThat(Shop.fingerprint(fleet.database(entry.placement()), t)).isEqualTo(before);
  }

  private static void await(java.util.concurrent.CountDownLatch latch) {
    try {
      latch.await(60, java.util.concurrent.TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static Throwable outcome(java.util.concurrent.Future<MoveReport> f) throws InterruptedException {
    try {
      f.get(60, java.util.concurrent.TimeUnit.SECONDS);
      return null;
    } catch (java.util.concurrent.ExecutionException e) {
      return e.getCause();
    } catch (java.util.concurrent.TimeoutException e) {
      return e;
    }
  }

  @Test
  void aMoveIsRefusedWhileATableWithoutTheTenantColumnReferencesTenantRows() throws Exception {
    TenantId t = TenantId.of("referenced");
    fleet.directory.register(t, Placement.shared("shard-0"));
    Shop.seed(fleet.shards.get(0), t, 5);
    Map<String, String> before = Shop.fingerprint(fleet.shards.get(0), t);
    try (Connection c = fleet.shards.get(0).ownerDataSource().getConnection(); Statement st = c.createStatement()) {
      st.execute("CREATE TABLE legacy_flags (owner text NOT NULL, customer_id bigint NOT NULL,"
          + " FOREIGN KEY (owner, customer_id) REFERENCES customers (tenant_id, id) ON DELETE CASCADE)");
    }
    try {
      TenantMove move = TenantMove.builder(fleet.directory).build();
      // its rows would be neither copied nor kept: the cleaning of the source would cascade to them
      assertThatThrownBy(() -> move.move(t, Placement.shared("shard-1"))).isInstanceOf(FleetException.class)
          .hasMessageContaining("legacy_flags -> customers").hasMessageContaining("no column tenant_id");
      assertThat(Shop.fingerprint(fleet.shards.get(0), t)).isEqualTo(before);
      assertThat(fleet.directory.require(t).placement()).isEqualTo(Placement.shared("shard-0"));
      assertThat(move.runningStep(t)).isEmpty();
    } finally {
      try (Connection c = fleet.shards.get(0).ownerDataSource().getConnection();
          Statement st = c.createStatement()) {
        st.execute("DROP TABLE legacy_flags");
      }
    }
  }
}
