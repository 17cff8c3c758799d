package dev.saaskit.fleet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.MutableClock;
import dev.saaskit.testing.TestDatabase;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A running fleet follows what operators change under it (a shard's URL, a rotated password), a bad directory row
 * hides no other tenant, a move racing a resume of itself ends well-defined, and a move's cleanup waits for readers
 * on the source's replicas.
 */
class FleetChangesFollowedTest {
  static TestFleet fleet;

  @BeforeAll
  static void setUp() {
    fleet = TestFleet.create(2, 1);
  }

  @AfterAll
  static void tearDown() {
    fleet.close();
  }

  private static String database(Connection c) throws SQLException {
    try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT current_database()")) {
      rs.next();
      return rs.getString(1);
    }
  }

  private static void await(String what, BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (!condition.getAsBoolean()) {
      assertThat(System.nanoTime() - deadline).as("waiting for " + what).isNegative();
      Thread.sleep(20);
    }
  }

  /**
   * An operator points a shard at another database (a failover, a restored copy) in the control database. The
   * shard's pool used to keep the old URL for the life of the process; now, once the cached shard entry expires,
   * new connections go to the new database, the connection borrowed before finishes on the old one, and the old
   * pool closes when it is returned, both pools drawing on the one budget meanwhile.
   */
  @Test
  void aShardsNewUrlReachesNewConnectionsWhileABorrowedOneFinishesOnTheOldDatabase() throws Exception {
    TenantId t = TenantId.of("follows-shard-url");
    fleet.directory.register(t, Placement.shared("shard-0"));
    TestDatabase before = fleet.shards.get(0);
    TestDatabase after = fleet.shards.get(1);
    MutableClock clock = MutableClock.atSystemTime();
    try (FleetDataSource ds = FleetDataSource.builder(fleet.directory).clock(clock).budget(2)
        .acquireTimeout(Duration.ofSeconds(60)).build()) {
      Connection old = TenantContext.call(t, ds::getConnection);
      assertThat(database(old)).isEqualTo(before.name());
      try {
        // the operator's change, made in the control database directly (not through this directory instance)
        try (Connection c = fleet.control.ownerDataSource().getConnection();
            var ps = c.prepareStatement("UPDATE saaskit_fleet.shards SET jdbc_url = ?, credentials_ref = 'SHARD_1'"
                + " WHERE name = 'shard-0'")) {
          ps.setString(1, after.jdbcUrl());
          assertThat(ps.executeUpdate()).isEqualTo(1);
        }
        clock.advance(Duration.ofSeconds(6)); // past the directory cache TTL (5 s)
        try (Connection fresh = TenantContext.call(t, ds::getConnection)) {
          assertThat(database(fresh)).isEqualTo(after.name());
        }
        assertThat(database(old)).as("the borrowed connection finishes on the old database").isEqualTo(
            before.name());
      } finally {
        old.close();
      }
      String oldRole = before.appRole().toLowerCase(Locale.ROOT);
      await("the old pool to close", () -> TestFleet.count(fleet.control.adminDataSource(),
          "SELECT count(*) FROM pg_stat_activity WHERE usename = '" + oldRole + "'") == 0);
      assertThat(ds.stats().peakOpenConnections()).isLessThanOrEqualTo(2);
      try (Connection again = TenantContext.call(t, ds::getConnection)) {
        assertThat(database(again)).isEqualTo(after.name());
      }
    } finally {
      fleet.directory.addShard(Shard.of("shard-0", before.jdbcUrl(), "SHARD_0"));
      fleet.directory.setState(t, TenantState.DELETED);
    }
  }

  /**
   * With a budget of one, the new pool of a repointed shard opens its connection only once the old pool's
   * connection is closed: the two pools never hold more than the budget together.
   */
  @Test
  void theOldAndTheNewPoolOfARepointedShardShareTheBudget() throws Exception {
    TenantId t = TenantId.of("follows-shard-budget");
    fleet.directory.register(t, Placement.shared("shard-0"));
    TestDatabase before = fleet.shards.get(0);
    TestDatabase after = fleet.shards.get(1);
    try (FleetDataSource ds = FleetDataSource.builder(fleet.directory).budget(1)
        .acquireTimeout(Duration.ofSeconds(60)).build()) {
      try (Connection c = TenantContext.call(t, ds::getConnection)) {
        assertThat(database(c)).isEqualTo(before.name());
      }
      // changed through the data source's own directory: it hears the change at once, no TTL to wait for
      fleet.directory.addShard(Shard.of("shard-0", after.jdbcUrl(), "SHARD_1"));
      try (Connection c = TenantContext.call(t, ds::getConnection)) {
        assertThat(database(c)).isEqualTo(after.name());
      }
      assertThat(ds.stats().peakOpenConnections()).isEqualTo(1);
    } finally {
      fleet.directory.addShard(Shard.of("shard-0", before.jdbcUrl(), "SHARD_0"));
      fleet.directory.setState(t, TenantState.DELETED);
    }
  }

  /**
   * Borrowers keep coming while the shard is repointed, with no directory cache: every connection taken after the
   * change committed lands on the new database, the old pool closes, and the two pools never held more than the
   * budget together.
   */
  @Test
  void borrowersRacingARepointedShardLandOnTheNewDatabaseWithinTheBudget() throws Exception {
    List<TenantId> tenants = List.of(TenantId.of("race-url-a"), TenantId.of("race-url-b"));
    for (TenantId t : tenants) {
      fleet.directory.register(t, Placement.shared("shard-0"));
    }
    TestDatabase before = fleet.shards.get(0);
    TestDatabase after = fleet.shards.get(1);
    int threads = 4;
    int rounds = 30; // per thread, after the change
    java.util.concurrent.atomic.AtomicBoolean repointed = new java.util.concurrent.atomic.AtomicBoolean();
    java.util.concurrent.CountDownLatch warm = new java.util.concurrent.CountDownLatch(threads);
    java.util.concurrent.ConcurrentLinkedQueue<String> wrong = new java.util.concurrent.ConcurrentLinkedQueue<>();
    java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(threads);
    try (FleetDataSource ds = FleetDataSource.builder(fleet.directory).budget(3).perTenantCap(3)
        .directoryCacheTtl(Duration.ZERO).acquireTimeout(Duration.ofSeconds(60)).build()) {
      List<java.util.concurrent.Future<?>> done = new java.util.ArrayList<>();
      for (int i = 0; i < threads; i++) {
        TenantId t = tenants.get(i % tenants.size());
        done.add(pool.submit(() -> {
          int afterRounds = 0;
          for (int r = 0; afterRounds < rounds; r++) {
            assertThat(r).as("rounds before the repointing was seen").isLessThan(1_000_000);
            boolean afterChange = repointed.get();
            if (afterChange) {
              afterRounds++;
            }
            String db = TenantContext.call(t, () -> {
              try (Connection c = ds.getConnection()) {
                return database(c);
              }
            });
            if (afterChange && !db.equals(after.name())) {
              wrong.add("round " + r + " of " + t.value() + " on " + db);
            }
            if (r == 4) {
              warm.countDown();
            }
          }
          return null;
        }));
      }
      assertThat(warm.await(60, TimeUnit.SECONDS)).isTrue();
      try (Connection c = fleet.control.ownerDataSource().getConnection();
          var ps = c.prepareStatement("UPDATE saaskit_fleet.shards SET jdbc_url = ?, credentials_ref = 'SHARD_1'"
              + " WHERE name = 'shard-0'")) {
        ps.setString(1, after.jdbcUrl());
        ps.executeUpdate();
      }
      repointed.set(true);
      for (java.util.concurrent.Future<?> f : done) {
        f.get(120, TimeUnit.SECONDS);
      }
      assertThat(wrong).isEmpty();
      assertThat(ds.stats().peakOpenConnections()).isLessThanOrEqualTo(3);
      String oldRole = before.appRole().toLowerCase(Locale.ROOT);
      await("the old pool to close", () -> TestFleet.count(fleet.control.adminDataSource(),
          "SELECT count(*) FROM pg_stat_activity WHERE usename = '" + oldRole + "'") == 0);
      assertThat(ds.stats().pools()).isEqualTo(1);
    } finally {
      pool.shutdownNow();
      fleet.directory.addShard(Shard.of("shard-0", before.jdbcUrl(), "SHARD_0"));
      for (TenantId t : tenants) {
        fleet.directory.setState(t, TenantState.DELETED);
      }
    }
  }

  /**
   * The application role's password is rotated ({@code ALTER ROLE ... PASSWORD}) and the resolver answers the new
   * one. The pool used to keep the password it was opened with, so every new physical connection failed
   * authentication until a restart; now each new connection resolves the credentials again, and those already open
   * stay logged in. The embedded server trusts local connections, so the test makes the server check this role's
   * password (an {@code md5} line for it in {@code pg_hba.conf}, reloaded) for its duration.
   */
  @Test
  void aRotatedPasswordReachesNewConnectionsOfARunningPool() throws Exception {
    TestDatabase db = fleet.dedicated.get(0);
    String role = db.appRole().toLowerCase(Locale.ROOT);
    DataSource admin = fleet.control.adminDataSource();
    Path hba = Path.of(query(admin, "SHOW hba_file"));
    assumeThat(Files.isWritable(hba)).as("the server's pg_hba.conf is writable from the tests").isTrue();
    String original = Files.readString(hba, StandardCharsets.UTF_8);
    TenantId t = TenantId.of("rotated-password");
    fleet.directory.register(t, fleet.dedicatedPlacement(0));
    String oldPassword = db.appPassword();
    try {
      Files.writeString(hba, "host all " + role + " all md5\n" + original, StandardCharsets.UTF_8);
      assertThat(query(admin, "SELECT pg_reload_conf()::text")).isEqualTo("true");
      try (FleetDataSource ds = FleetDataSource.builder(fleet.directory).acquireTimeout(Duration.ofSeconds(10))
          .build()) {
        Connection first = TenantContext.call(t, ds::getConnection);
        try {
          assertThat(database(first)).isEqualTo(db.name());
          execute(admin, "ALTER ROLE " + role + " PASSWORD 'rotated-Secret-1'");
          fleet.secrets.put("DEDICATED_0_PASSWORD", "rotated-Secret-1");
          // the first connection is still borrowed: the pool must open a second physical connection
          try (Connection second = TenantContext.call(t, ds::getConnection)) {
            assertThat(database(second)).isEqualTo(db.name());
          }
          assertThat(database(first)).as("an open session survives the rotation").isEqualTo(db.name());
        } finally {
          first.close();
        }
      }
      // the old password is refused now: the check above did go through password authentication
      assertThatThrownBy(() -> java.sql.DriverManager.getConnection(db.jdbcUrl(), role, oldPassword).close())
          .isInstanceOf(SQLException.class);
    } finally {
      execute(admin, "ALTER ROLE " + role + " PASSWORD '" + oldPassword.replace("'", "''") + "'");
      fleet.secrets.put("DEDICATED_0_PASSWORD", oldPassword);
      Files.writeString(hba, original, StandardCharsets.UTF_8);
      query(admin, "SELECT pg_reload_conf()::text");
      fleet.directory.setState(t, TenantState.DELETED);
    }
  }

  /**
   * A tenant row inserted by hand with an id {@link TenantId#of} refuses used to make {@code list()} (and
   * {@code placements()}, so migrations and cross-placement work) fail as a whole; now the row is skipped, with a
   * warning, and every other tenant is listed.
   */
  @Test
  void aHandInsertedRowWithAnInvalidTenantIdHidesNoOtherTenant() throws Exception {
    TenantId good = TenantId.of("listed-despite-bad-row");
    fleet.directory.register(good, fleet.dedicatedPlacement(0));
    execute(fleet.control.ownerDataSource(), "INSERT INTO saaskit_fleet.tenants (tenant_id, shard, state) VALUES "
        + "(' padded ', 'shard-0', 'active'), (E'line\\nbreak', 'shard-1', 'active')");
    try {
      List<TenantEntry> all = fleet.directory.list();
      assertThat(all).extracting(TenantEntry::tenant).contains(good);
      assertThat(all).extracting(e -> e.tenant().value()).doesNotContain(" padded ", "line\nbreak");
      assertThat(fleet.directory.placements()).contains(fleet.dedicatedPlacement(0), Placement.shared("shard-0"));
      assertThat(fleet.directory.require(good).placement()).isEqualTo(fleet.dedicatedPlacement(0));
    } finally {
      execute(fleet.control.ownerDataSource(), "DELETE FROM saaskit_fleet.tenants WHERE tenant_id IN (' padded ', "
          + "E'line\\nbreak')");
      fleet.directory.setState(good, TenantState.DELETED);
    }
  }

  /**
   * {@code move()} journals its move, then takes the tenant's lock. A {@code resume} elsewhere could take the lock
   * first and finish that very move; {@code move()} then failed with "vanished from the journal" although the
   * tenant had moved. Now it reports the move done.
   */
  @Test
  void aMoveThatAConcurrentResumeFinishedFirstReportsItDone() {
    TenantId t = TenantId.of("move-finished-by-resume");
    fleet.directory.register(t, Placement.shared("shard-0"));
    Shop.seed(fleet.shards.get(0), t, 3);
    TenantMove elsewhere = TenantMove.builder(fleet.directory).build();
    TenantMove move = TenantMove.builder(fleet.directory).observer((tenant, step) -> {
      if (step == MoveStep.STARTED) {
        elsewhere.resume(tenant); // journaled, lock not taken yet: another process resumes it first
      }
    }).build();
    MoveReport report = move.move(t, Placement.shared("shard-1"));
    assertThat(report.outcome()).isEqualTo("done");
    assertThat(report.target()).isEqualTo(Placement.shared("shard-1"));
    assertThat(report.rowsCopied()).isEqualTo(15);
    assertThat(report.tables()).hasSize(Shop.TABLES.size()).allMatch(MoveReport.TableCheck::matches);
    assertThat(fleet.directory.require(t).placement()).isEqualTo(Placement.shared("shard-1"));
    assertThat(fleet.directory.require(t).state()).isEqualTo(TenantState.ACTIVE);
    assertThat(Shop.rows(fleet.shards.get(0), t)).isZero();
    assertThat(Shop.rows(fleet.shards.get(1), t)).isEqualTo(15);
  }

  /** A move that a concurrent roll-back undid before it could run says so, instead of "vanished". */
  @Test
  void aMoveThatAConcurrentRollbackUndidFirstSaysSo() {
    TenantId t = TenantId.of("move-undone-by-rollback");
    fleet.directory.register(t, Placement.shared("shard-0"));
    Shop.seed(fleet.shards.get(0), t, 2);
    TenantMove elsewhere = TenantMove.builder(fleet.directory).build();
    TenantMove move = TenantMove.builder(fleet.directory).observer((tenant, step) -> {
      if (step == MoveStep.STARTED) {
        elsewhere.rollback(tenant);
      }
    }).build();
    assertThatThrownBy(() -> move.move(t, Placement.shared("shard-1"))).isInstanceOf(FleetException.class)
        .hasMessageContaining("rolled back by another process");
    assertThat(fleet.directory.require(t).placement()).isEqualTo(Placement.shared("shard-0"));
    assertThat(fleet.directory.require(t).state()).isEqualTo(TenantState.ACTIVE);
    assertThat(move.runningStep(t)).isEmpty();
    assertThat(Shop.rows(fleet.shards.get(0), t)).isEqualTo(10);
  }

  /**
   * The contrived sequence: after {@code move()} journaled its move, another process finished it and began a later
   * move of the tenant (back again), which stopped. {@code move()} looked the journal up by tenant and carried on
   * that later move, taking the tenant back to where it came from. Now it reports its own move and leaves the
   * later one to its own resume or roll-back.
   */
  @Test
  void aMoveNeverCarriesOnALaterMoveOfTheTenant() {
    TenantId t = TenantId.of("move-then-later-move");
    fleet.directory.register(t, Placement.shared("shard-0"));
    Shop.seed(fleet.shards.get(0), t, 2);
    TenantMove elsewhere = TenantMove.builder(fleet.directory).build();
    TenantMove later = TenantMove.builder(fleet.directory).checkpoints((tenant, point) -> {
      if (point == TenantMove.Checkpoint.TENANT_BLOCKED) {
        throw new IllegalStateException("the later move stops here");
      }
    }).build();
    TenantMove move = TenantMove.builder(fleet.directory).observer((tenant, step) -> {
      if (step == MoveStep.STARTED) {
        elsewhere.resume(tenant);
        assertThatThrownBy(() -> later.move(tenant, Placement.shared("shard-0")))
            .hasMessageContaining("the later move stops here");
      }
    }).build();
    MoveReport report = move.move(t, Placement.shared("shard-1"));
    assertThat(report.outcome()).isEqualTo("done");
    assertThat(report.target()).isEqualTo(Placement.shared("shard-1"));
    assertThat(move.runningStep(t)).as("the later move is left as it stopped").contains(MoveStep.STARTED);
    assertThat(fleet.directory.require(t).placement()).isEqualTo(Placement.shared("shard-1"));
    assertThat(Shop.rows(fleet.shards.get(1), t)).isEqualTo(10);
    assertThat(Shop.rows(fleet.shards.get(0), t)).isZero();
    assertThat(later.rollback(t).outcome()).isEqualTo("rolled_back");
    assertThat(fleet.directory.require(t).state()).isEqualTo(TenantState.ACTIVE);
    assertThat(fleet.directory.require(t).placement()).isEqualTo(Placement.shared("shard-1"));
  }

  /**
   * A reader on a replica of the move's source (taken before the flip, still reading) used to be invisible to the
   * move's wait before it deletes the source's rows: the replica replays that delete and the reader saw the
   * tenant empty. Now replica connections count like the primary's. The source database itself stands in for an
   * up-to-date replica (it shows the delete at once), reached through its own pool.
   */
  @Test
  void aMoveKeepsTheSourceRowsWhileAReaderOnTheSourcesReplicaStillReads() throws Exception {
    TenantId t = TenantId.of("replica-reader-during-move");
    fleet.directory.register(t, Placement.shared("shard-0"));
    Shop.seed(fleet.shards.get(0), t, 6);
    TestDatabase source = fleet.shards.get(0);
    try (var replica = source.newPool(source.appRole(), source.appPassword(), 2,
            java.util.Map.of("ApplicationName", "stand-in-replica"));
        FleetDataSource ds = FleetDataSource.builder(fleet.directory)
            .replicas(Placement.shared("shard-0"), List.of(replica))
            .lagProbe(c -> Duration.ZERO).readYourWritesWindow(Duration.ZERO).build()) {
      Connection reader = TenantContext.call(t, ds::getReadOnlyConnection);
      try {
        assertThat(query(reader, "SELECT current_setting('application_name')")).isEqualTo("stand-in-replica");
        TenantMove move = TenantMove.builder(fleet.directory).fleet(ds).drainTimeout(Duration.ofMillis(300))
            .build();
        assertThatThrownBy(() -> move.move(t, fleet.dedicatedPlacement(0))).isInstanceOf(FleetException.class)
            .hasMessageContaining("still open");
        assertThat(move.runningStep(t)).contains(MoveStep.FLIPPED);
        assertThat(TenantContext.call(t, () -> query(reader, "SELECT count(*) FROM customers"))).isEqualTo("6");
      } finally {
        reader.close();
      }
      assertThat(TenantMove.builder(fleet.directory).fleet(ds).build().resume(t).outcome()).isEqualTo("done");
    }
    assertThat(Shop.rows(fleet.shards.get(0), t)).isZero();
    assertThat(Shop.rows(fleet.dedicated.get(0), t)).isEqualTo(30);
  }

  private static String query(Connection c, String sql) throws SQLException {
    try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
      rs.next();
      return rs.getString(1);
    }
  }

  private static String query(DataSource ds, String sql) throws SQLException {
    try (Connection c = ds.getConnection(); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
      rs.next();
      return rs.getString(1);
    }
  }

  private static void execute(DataSource ds, String sql) throws SQLException {
    try (Connection c = ds.getConnection(); Statement st = c.createStatement()) {
      st.execute(sql);
    }
  }
}
