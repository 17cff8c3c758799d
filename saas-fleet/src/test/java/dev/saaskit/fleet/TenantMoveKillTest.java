package dev.saaskit.fleet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.TestDatabase;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A move killed for real: the move runs in a child JVM ({@link MoveKillChild}) that halts itself
 * ({@code Runtime.halt(137)}: no finally block, no shutdown hook, the kernel drops its sockets and PostgreSQL aborts
 * its open transactions) at one point of the move: before the journal, after each recorded step, and inside the
 * steps, in the middle of a table's {@code COPY} stream, after the copy's commit and before its record, between the
 * directory flip and the source delete, in the middle of the source delete. This JVM then resumes or rolls back the
 * move with a fresh {@link TenantMove} that knows only the journal, and proves per table (count and checksum) that
 * no row was lost or duplicated, that the other database holds none of the tenant's rows, that the directory entry
 * is consistent, and that the tenant's traffic works where the directory points.
 *
 * <p>Each case moves a tenant of 5 tables x {@value #ROWS} rows; the directions alternate (shared to dedicated,
 * dedicated to shared, shard to shard). A bystander tenant on every database must not change.
 */
// process kills test this library, not the server: .ci/run runs them in its first pass only
@Tag("process-kill")
class TenantMoveKillTest {
  static final int ROWS = 2_000; // > TenantMove.COPY_CHECKPOINT_ROWS: the kill lands inside a table's COPY
  static final TenantId BYSTANDER = TenantId.of("bystander");
  static final AtomicInteger CASES = new AtomicInteger();

  static TestFleet fleet;
  static Map<TestDatabase, Map<String, String>> bystander;

  @BeforeAll
  static void setUp() {
    fleet = TestFleet.create(2, 3);
    bystander = new java.util.HashMap<>();
    for (TestDatabase db : fleet.databases()) {
      Shop.seed(db, BYSTANDER, 25);
      bystander.put(db, Shop.fingerprint(db, BYSTANDER));
    }
  }

  @AfterAll
  static void tearDown() {
    if (fleet != null) {
      fleet.close();
    }
  }

  /** How the parent recovers after the kill. */
  enum Recovery { RESUME, ROLLBACK }

  /**
   * Where the child dies and what the journal and the databases must say right after.
   *
   * @param step the step the journal holds as last recorded (null: no move is running)
   * @param state the tenant's state in the directory
   * @param flipped whether the directory points at the target already
   * @param targetHasCopy whether the target holds a committed copy of every row
   * @param sourceHasRows whether the source still holds every row (else none)
   */
  record Kill(String at, @Nullable MoveStep step, TenantState state, boolean flipped, boolean targetHasCopy,
      boolean sourceHasRows) {
    @Override
    public String toString() {
      return at;
    }
  }

  static final List<Kill> KILLS = List.of(
      new Kill("at:BEFORE_JOURNAL", null, TenantState.ACTIVE, false, false, true),
      new Kill("after:STARTED", MoveStep.STARTED, TenantState.ACTIVE, false, false, true),
      new Kill("at:TENANT_BLOCKED", MoveStep.STARTED, TenantState.MOVING, false, false, true),
      new Kill("after:BLOCKED", MoveStep.BLOCKED, TenantState.MOVING, false, false, true),
      // 1,000 rows into the third table's COPY: two tables inserted and one streaming, none committed
      new Kill("at:COPY_STREAMING#3", MoveStep.BLOCKED, TenantState.MOVING, false, false, true),
      // the copy is committed in the target, the journal does not know it
      new Kill("at:COPY_COMMITTED", MoveStep.BLOCKED, TenantState.MOVING, false, true, true),
      new Kill("after:COPIED", MoveStep.COPIED, TenantState.MOVING, false, true, true),
      new Kill("at:VERIFY_DONE", MoveStep.COPIED, TenantState.MOVING, false, true, true),
      new Kill("after:VERIFIED", MoveStep.VERIFIED, TenantState.MOVING, false, true, true),
      // the directory points at the target, the journal does not know it
      new Kill("at:DIRECTORY_FLIPPED", MoveStep.VERIFIED, TenantState.ACTIVE, true, true, true),
      // between the flip and the source delete
      new Kill("after:FLIPPED", MoveStep.FLIPPED, TenantState.ACTIVE, true, true, true),
      // two of the five source tables deleted, not committed
      new Kill("at:SOURCE_DELETING#2", MoveStep.FLIPPED, TenantState.ACTIVE, true, true, true),
      new Kill("at:SOURCE_CLEANED", MoveStep.FLIPPED, TenantState.ACTIVE, true, true, false),
      new Kill("after:CLEANED", MoveStep.CLEANED, TenantState.ACTIVE, true, true, false));

  static Stream<Arguments> kills() {
    List<Arguments> out = new ArrayList<>();
    for (Kill k : KILLS) {
      out.add(Arguments.of(k, Recovery.RESUME));
      if (!k.flipped()) {
        out.add(Arguments.of(k, Recovery.ROLLBACK));
      }
    }
    return out.stream();
  }

  @ParameterizedTest(name = "killed {0}, then {1}")
  @MethodSource("kills")
  void aMoveKilledAnywhereResumesOrRollsBackWithNoRowLostOrDuplicated(Kill kill, Recovery recovery)
      throws Exception {
    Case c = newCase(kill.at() + "-" + recovery);
    Map<String, String> before = Shop.fingerprint(c.sourceDb, c.tenant);

    Child child = runChild(c.tenant, "move", kill.at(), c.target);
    assertThat(child.exitCode).as("the child halted at %s:%n%s", kill.at(), child.output)
        .isEqualTo(MoveKillChild.KILLED);
    assertThat(child.output).contains("halting at " + kill.at());

    // What the dead process left: the journal, the directory and the databases as this kill point implies.
    TenantMove fresh = TenantMove.builder(fleet.directory).build();
    assertThat(fresh.runningStep(c.tenant)).isEqualTo(Optional.ofNullable(kill.step()));
    TenantEntry entry = fleet.directory.require(c.tenant);
    assertThat(entry.state()).isEqualTo(kill.state());
    assertThat(entry.placement()).isEqualTo(kill.flipped() ? c.target : c.source);
    if (kill.sourceHasRows()) {
      assertThat(Shop.fingerprint(c.sourceDb, c.tenant)).isEqualTo(before);
    } else {
      assertThat(Shop.rows(c.sourceDb, c.tenant)).isZero();
    }
    if (kill.targetHasCopy()) {
      assertThat(Shop.fingerprint(c.targetDb, c.tenant)).isEqualTo(before);
    } else {
      assertThat(Shop.rows(c.targetDb, c.tenant)).as("nothing of an uncommitted copy is visible").isZero();
    }
    // Meanwhile the tenant reads all its rows wherever the directory points, and a moving tenant refuses writes.
    try (FleetDataSource ds = FleetDataSource.builder(fleet.directory).budget(4).build()) {
      TenantContext.run(c.tenant, () -> {
        assertThat(count(ds, "SELECT count(*) FROM payments")).isEqualTo(ROWS);
        if (kill.state() == TenantState.MOVING) {
          assertThatThrownBy(() -> count(ds, "INSERT INTO notes (body) VALUES ('x') RETURNING 1"))
              .isInstanceOf(TenantReadOnlyException.class);
        }
      });
    }

    if (recovery == Recovery.RESUME) {
      if (kill.step() == null) {
        assertThatThrownBy(() -> fresh.resume(c.tenant)).hasMessageContaining("no move of tenant");
        fresh.move(c.tenant, c.target); // nothing was recorded: the operator runs the move again
      } else {
        if (kill.flipped()) {
          assertThatThrownBy(() -> fresh.rollback(c.tenant)).hasMessageContaining("resume it instead");
        }
        MoveReport report = fresh.resume(c.tenant);
        assertThat(report.tables()).hasSize(5).allMatch(MoveReport.TableCheck::matches);
      }
      assertMoved(c, before);
    } else {
      if (kill.step() == null) {
        assertThatThrownBy(() -> fresh.rollback(c.tenant)).hasMessageContaining("no move of tenant");
      } else {
        assertThat(fresh.rollback(c.tenant).outcome()).isEqualTo("rolled_back");
      }
      assertStayed(c, before);
    }
  }

  /** A roll-back killed after it cleared the target: rolling back again finishes it. */
  @Test
  void aRollbackKilledHalfwayRollsBackAgain() throws Exception {
    Case c = newCase("rollback-killed");
    Map<String, String> before = Shop.fingerprint(c.sourceDb, c.tenant);
    Child move = runChild(c.tenant, "move", "after:COPIED", c.target);
    assertThat(move.exitCode).as(move.output).isEqualTo(MoveKillChild.KILLED);
    Child rollback = runChild(c.tenant, "rollback", "at:ROLLBACK_TARGET_CLEARED", null);
    assertThat(rollback.exitCode).as(rollback.output).isEqualTo(MoveKillChild.KILLED);

    TenantMove fresh = TenantMove.builder(fleet.directory).build();
    assertThat(fresh.runningStep(c.tenant)).contains(MoveStep.BLOCKED);
    assertThat(fleet.directory.require(c.tenant).state()).isEqualTo(TenantState.MOVING);
    assertThat(Shop.rows(c.targetDb, c.tenant)).isZero();
    assertThat(fresh.rollback(c.tenant).outcome()).isEqualTo("rolled_back");
    assertStayed(c, before);
  }

  @Test
  void aRollbackKilledHalfwayCanBeResumedInsteadInOneGo() throws Exception {
    Case c = newCase("rollback-killed-resumed");
    Map<String, String> before = Shop.fingerprint(c.sourceDb, c.tenant);
    Child move = runChild(c.tenant, "move", "after:VERIFIED", c.target);
    assertThat(move.exitCode).as(move.output).isEqualTo(MoveKillChild.KILLED);
    Child rollback = runChild(c.tenant, "rollback", "at:ROLLBACK_TARGET_CLEARED", null);
    assertThat(rollback.exitCode).as(rollback.output).isEqualTo(MoveKillChild.KILLED);

    TenantMove fresh = TenantMove.builder(fleet.directory).build();
    assertThat(fresh.runningStep(c.tenant)).as("the roll-back took the move back to its copy step")
        .contains(MoveStep.BLOCKED);
    assertThat(fresh.resume(c.tenant).tables()).hasSize(5).allMatch(MoveReport.TableCheck::matches);
    assertMoved(c, before);
  }

  /** One tenant, its source and target, seeded. */
  private record Case(TenantId tenant, Placement source, Placement target, TestDatabase sourceDb,
      TestDatabase targetDb) {}

  private static Case newCase(String label) {
    int i = CASES.getAndIncrement();
    TenantId tenant = TenantId.of("kill-" + i + "-" + label.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]+", "-"));
    Placement source;
    Placement target;
    switch (i % 3) {
      case 0: // shared -> dedicated
        source = Placement.shared("shard-" + (i % 2));
        target = fleet.dedicatedPlacement(i % 3);
        break;
      case 1: // dedicated -> shared
        source = fleet.dedicatedPlacement(i % 3);
        target = Placement.shared("shard-" + (i % 2));
        break;
      default: // shard -> shard
        source = Placement.shared("shard-" + (i % 2));
        target = Placement.shared("shard-" + ((i + 1) % 2));
        break;
    }
    fleet.directory.register(tenant, source);
    TestDatabase sourceDb = fleet.database(source);
    Shop.seed(sourceDb, tenant, ROWS);
    return new Case(tenant, source, target, sourceDb, fleet.database(target));
  }

  private static void assertMoved(Case c, Map<String, String> before) throws Exception {
    assertThat(Shop.fingerprint(c.targetDb, c.tenant)).as("every row once in the target").isEqualTo(before);
    assertThat(Shop.rows(c.sourceDb, c.tenant)).as("nothing left in the source").isZero();
    TenantEntry entry = fleet.directory.require(c.tenant);
    assertThat(entry.placement()).isEqualTo(c.target);
    assertThat(entry.state()).isEqualTo(TenantState.ACTIVE);
    assertThat(lastMoveStatus(c.tenant)).isEqualTo("done");
    assertTrafficWorks(c, c.targetDb);
  }

  private static void assertStayed(Case c, Map<String, String> before) throws Exception {
    assertThat(Shop.fingerprint(c.sourceDb, c.tenant)).as("every row still in the source").isEqualTo(before);
    assertThat(Shop.rows(c.targetDb, c.tenant)).as("nothing left in the target").isZero();
    TenantEntry entry = fleet.directory.require(c.tenant);
    assertThat(entry.placement()).isEqualTo(c.source);
    assertThat(entry.state()).isEqualTo(TenantState.ACTIVE);
    assertThat(lastMoveStatus(c.tenant)).isIn("rolled_back", null);
    assertTrafficWorks(c, c.sourceDb);
  }

  /** Writes and reads of the tenant through a fresh FleetDataSource reach {@code expected}; the bystander is intact. */
  private static void assertTrafficWorks(Case c, TestDatabase expected) throws Exception {
    try (FleetDataSource ds = FleetDataSource.builder(fleet.directory).budget(4).build()) {
      TenantContext.run(c.tenant, () -> {
        try (Connection conn = ds.getConnection(); Statement st = conn.createStatement()) {
          conn.setAutoCommit(false);
          st.executeUpdate("INSERT INTO customers (name) VALUES ('after the crash')");
          st.executeUpdate("INSERT INTO orders (customer_id, total) SELECT max(id), 9.99 FROM customers");
          try (ResultSet rs = st.executeQuery("SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM "
              + "orders), current_database()")) {
            rs.next();
            assertThat(rs.getLong(1)).isEqualTo(ROWS + 1);
            assertThat(rs.getLong(2)).isEqualTo(ROWS + 1);
            assertThat(rs.getString(3)).isEqualTo(expected.name());
          }
          conn.commit();
        }
      });
    }
    for (TestDatabase db : fleet.databases()) {
      assertThat(Shop.fingerprint(db, BYSTANDER)).as("the bystander on %s", db.name()).isEqualTo(bystander.get(db));
    }
  }

  private static @Nullable String lastMoveStatus(TenantId tenant) {
    List<String> status = dev.saaskit.fleet.internal.Jdbc.query(fleet.control.ownerDataSource(),
        "SELECT status FROM saaskit_fleet.moves WHERE tenant_id = ? ORDER BY id DESC LIMIT 1", rs -> rs.getString(1),
        tenant.value());
    return status.isEmpty() ? null : status.get(0);
  }

  private static long count(FleetDataSource ds, String sql) throws Exception {
    try (Connection conn = ds.getConnection(); Statement st = conn.createStatement();
        ResultSet rs = st.executeQuery(sql)) {
      rs.next();
      return rs.getLong(1);
    }
  }

  /** A finished child process: its exit code and what it printed. */
  private record Child(int exitCode, String output) {}

  /** Runs {@link MoveKillChild} on this JVM's class path and waits for it to end (bounded). */
  private static Child runChild(TenantId tenant, String mode, String killAt, @Nullable Placement target)
      throws IOException, InterruptedException {
    List<String> command = new ArrayList<>(List.of(
        Paths.get(System.getProperty("java.home"), "bin", "java").toString(),
        "-XX:TieredStopAtLevel=1", "-Xshare:auto", // a short-lived JVM: start fast
        "-cp", System.getProperty("java.class.path"),
        MoveKillChild.class.getName(),
        fleet.control.jdbcUrl(), fleet.control.ownerRole(), tenant.value(), mode, killAt));
    if (target != null) {
      command.add(MoveKillChild.describe(target));
    }
    Path log = Files.createTempFile("saaskit-move-kill", ".log");
    try {
      ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
      // secrets go through the environment, not the command line (which any local user can read)
      pb.environment().putAll(fleet.secrets);
      pb.environment().put("CONTROL_PASSWORD", fleet.control.ownerPassword());
      Process process = pb.start();
      if (!process.waitFor(3, TimeUnit.MINUTES)) {
        process.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
        throw new AssertionError("the child did not end within 3 minutes:\n" + read(log));
      }
      return new Child(process.exitValue(), read(log));
    } finally {
      Files.deleteIfExists(log);
    }
  }

  private static String read(Path log) throws IOException {
    return Files.readString(log, StandardCharsets.UTF_8);
  }
}
