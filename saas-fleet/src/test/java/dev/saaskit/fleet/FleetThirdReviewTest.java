package dev.saaskit.fleet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.nio.file.Path;
import java.sql.ResultSet;
import java.sql.SQLException;
import org.junit.jupiter.api.io.TempDir;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Findings of the third review of saas-fleet: operator and application mistakes around moves and states. */
class FleetThirdReviewTest {
  static TestFleet fleet;

  @BeforeAll
  static void setUp() {
    fleet = TestFleet.create(1, 1);
  }

  @AfterAll
  static void tearDown() {
    fleet.close();
  }

  /**
   * A read-only (or moving) tenant gets {@code BEGIN READ ONLY} transactions, and the tenancy wrapper sends
   * transaction-mode statements without the tenant setting, so they are the first statement of the transaction:
   * PostgreSQL then lets {@code SET TRANSACTION READ WRITE} (or {@code START TRANSACTION READ WRITE}, which inside a
   * transaction only warns but still applies its modes) switch the transaction to read-write. Writes during a move
   * would land on the source after its copy, and be deleted with it.
   */
  @Test
  void aReadOnlyTenantCannotSwitchItsTransactionToReadWrite() throws Exception {
    TenantId t = TenantId.of("ro-escape");
    fleet.directory.register(t, Placement.shared("shard-0"));
    fleet.directory.setState(t, TenantState.READ_ONLY);
    List<String> escapes = List.of("SET TRANSACTION READ WRITE", "start transaction read write",
        "BEGIN ISOLATION LEVEL READ COMMITTED, READ WRITE", "set transaction isolation level serializable read write");
    try (FleetDataSource ds = FleetDataSource.builder(fleet.directory).build()) {
      for (String escape : escapes) {
        TenantContext.run(t, () -> {
          try (Connection c = ds.getConnection()) {
            c.setAutoCommit(false);
            try (Statement st = c.createStatement()) {
              assertThatThrownBy(() -> {
                st.execute(escape);
                st.executeUpdate("INSERT INTO customers (name) VALUES ('escaped')");
              }).as(escape).isInstanceOf(TenantReadOnlyException.class);
            }
            c.rollback();
          }
          try (Connection c = ds.getConnection()) {
            c.setAutoCommit(false);
            assertThatThrownBy(() -> {
              try (PreparedStatement ps = c.prepareStatement(escape)) {
                ps.execute();
              }
              try (PreparedStatement ps = c.prepareStatement("INSERT INTO customers (name) VALUES (?)")) {
                ps.setString(1, "escaped");
                ps.executeUpdate();
              }
            }).as(escape).isInstanceOf(TenantReadOnlyException.class);
            c.rollback();
          }
          try (Connection c = ds.getConnection(); Statement st = c.createStatement()) {
            // auto-commit as the application sees it: the statement runs in the data source's read-only transaction
            assertThatThrownBy(() -> st.execute(escape)).as(escape).isInstanceOf(TenantReadOnlyException.class);
          }
        });
      }
      // transaction modes that do not ask for writes still work on a read-only tenant
      TenantContext.run(t, () -> {
        try (Connection c = ds.getConnection()) {
          c.setAutoCommit(false);
          try (Statement st = c.createStatement()) {
            st.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
            st.executeQuery("SELECT count(*) FROM customers").close();
          }
          c.rollback();
        }
      });
    }
    assertThat(TestFleet.rows(fleet.shards.get(0), "customers", t)).isZero();
  }

  /**
   * A move stopped after its journal entry and before it made the tenant {@code moving} (a crash, or the "changed
   * concurrently; resume the move" failure when an operator changed the tenant's state at the same moment) leaves the
   * tenant settable. An operator then suspends (or deletes) it; a resume used to make it {@code moving} regardless,
   * and the flip gave it back the state recorded when the move began: the suspension was silently lifted, and a
   * deleted tenant came back active on the target.
   */
  @Test
  void aResumeDoesNotLiftAStateTheOperatorSetAfterTheMoveStopped() {
    for (TenantState operatorState : List.of(TenantState.SUSPENDED, TenantState.DELETED, TenantState.READ_ONLY)) {
      TenantId t = TenantId.of("resume-keeps-" + operatorState.sqlName());
      Placement source = Placement.shared("shard-0");
      fleet.directory.register(t, source);
      Shop.seed(fleet.shards.get(0), t, 5);
      Map<String, String> before = Shop.fingerprint(fleet.shards.get(0), t);
      TenantMove crashing = TenantMove.builder(fleet.directory).observer((tenant, step) -> {
        if (step == MoveStep.STARTED) {
          throw new IllegalStateException("simulated crash after STARTED");
        }
      }).build();
      assertThatThrownBy(() -> crashing.move(t, fleet.dedicatedPlacement(0)))
          .isInstanceOf(IllegalStateException.class);
      fleet.directory.setState(t, operatorState);

      TenantMove fresh = TenantMove.builder(fleet.directory).build();
      assertThatThrownBy(() -> fresh.resume(t)).as(operatorState.sqlName()).isInstanceOf(FleetException.class)
          .hasMessageContaining(operatorState.sqlName()).hasMessageContaining("roll");
      TenantEntry entry = fleet.directory.require(t);
      assertThat(entry.state()).as(operatorState.sqlName()).isEqualTo(operatorState);
      assertThat(entry.placement()).isEqualTo(source);
      assertThat(Shop.rows(fleet.dedicated.get(0), t)).isZero();

      assertThat(fresh.rollback(t).outcome()).isEqualTo("rolled_back");
      assertThat(fresh.runningStep(t)).isEmpty();
      assertThat(fleet.directory.require(t).state()).isEqualTo(operatorState);
      assertThat(Shop.fingerprint(fleet.shards.get(0), t)).isEqualTo(before);
    }
  }

  /**
   * Offboarding drops a dedicated database unless a shard or another live tenant's entry names it. A tenant being
   * moved into that database is not named there until its flip: the database was dropped under the copy, and the
   * move's resume flipped the tenant to a database that no longer existed, then deleted its rows from the source.
   */
  @Test
  void offboardingKeepsADedicatedDatabaseThatAMoveIsCopyingInto(@TempDir Path exports) throws Exception {
    String template = fleet.control.server().jdbcUrl("fleet_template_name").replace("fleet_template_name",
        "{database}");
    TenantLifecycle lifecycle = TenantLifecycle.builder(fleet.directory, fleet.control.adminDataSource(),
        FleetMigrations.builder(fleet.directory).locations("classpath:db/app").build())
        .jdbcUrlTemplate(template).build();
    TenantId leaving = TenantId.of("leaving-owner");
    String dbName = "fleet_third_" + Long.toHexString(System.nanoTime());
    Placement home = lifecycle.onboardDedicated(leaving, dbName, "DEDICATED_0").placement();

    TenantId arriving = TenantId.of("arriving-guest");
    fleet.directory.register(arriving, Placement.shared("shard-0"));
    Shop.seed(fleet.shards.get(0), arriving, 7);
    TenantMove crashing = TenantMove.builder(fleet.directory).observer((tenant, step) -> {
      if (step == MoveStep.VERIFIED) {
        throw new IllegalStateException("simulated crash after VERIFIED");
      }
    }).build();
    assertThatThrownBy(() -> crashing.move(arriving, home)).isInstanceOf(IllegalStateException.class);

    TenantLifecycle.OffboardReport report = lifecycle.offboard(leaving, exports, TenantData.Format.CSV);
    assertThat(report.droppedDatabase()).isEmpty();
    assertThat(report.erasure()).isPresent();
    assertThat(TestFleet.count(fleet.control.adminDataSource(), "SELECT count(*) FROM pg_database WHERE datname = '"
        + dbName + "'")).isEqualTo(1);

    assertThat(TenantMove.builder(fleet.directory).build().resume(arriving).outcome()).isEqualTo("done");
    try (FleetDataSource ds = FleetDataSource.builder(fleet.directory).build()) {
      long customers = TenantContext.call(arriving, () -> {
        try (Connection c = ds.getConnection(); Statement st = c.createStatement();
            ResultSet rs = st.executeQuery("SELECT count(*) FROM customers")) {
          rs.next();
          return rs.getLong(1);
        }
      });
      assertThat(customers).isEqualTo(7);
    }
    // the database is the guest's now; its owner role belongs to the test fleet, which drops it at the end
    try (Connection c = fleet.control.adminDataSource().getConnection(); Statement st = c.createStatement()) {
      st.execute("DROP DATABASE " + dbName + " WITH (FORCE)");
    }
  }

  /**
   * A move that stopped after its flip (before it cleaned the source) leaves the tenant {@code active} on the target
   * and its rows still on the source. An erasure then deleted the target's rows and reported itself complete, and
   * an offboarding dropped the target database, while the source kept every row until someone resumed the move.
   */
  @Test
  void erasureAndOffboardingRefuseATenantWhoseMoveHasNotCleanedItsSource(@TempDir Path exports) {
    TenantId t = TenantId.of("flipped-not-cleaned");
    fleet.directory.register(t, Placement.shared("shard-0"));
    Shop.seed(fleet.shards.get(0), t, 4);
    TenantMove crashing = TenantMove.builder(fleet.directory).observer((tenant, step) -> {
      if (step == MoveStep.FLIPPED) {
        throw new IllegalStateException("simulated crash after FLIPPED");
      }
    }).build();
    assertThatThrownBy(() -> crashing.move(t, fleet.dedicatedPlacement(0)))
        .isInstanceOf(IllegalStateException.class);
    assertThat(fleet.directory.require(t).state()).isEqualTo(TenantState.ACTIVE);

    TenantData data = TenantData.builder(fleet.directory).build();
    assertThatThrownBy(() -> data.erase(t)).isInstanceOf(FleetException.class).hasMessageContaining("resume");
    String template = fleet.control.server().jdbcUrl("x_name").replace("x_name", "{database}");
    TenantLifecycle lifecycle = TenantLifecycle.builder(fleet.directory, fleet.control.adminDataSource(),
        FleetMigrations.builder(fleet.directory).locations("classpath:db/app").build())
        .jdbcUrlTemplate(template).build();
    assertThatThrownBy(() -> lifecycle.offboard(t, exports, TenantData.Format.CSV))
        .isInstanceOf(FleetException.class).hasMessageContaining("resume");
    assertThat(fleet.directory.require(t).state()).isEqualTo(TenantState.ACTIVE);
    assertThat(Shop.rows(fleet.shards.get(0), t)).isEqualTo(20);
    assertThat(Shop.rows(fleet.dedicated.get(0), t)).isEqualTo(20);

    assertThat(TenantMove.builder(fleet.directory).build().resume(t).outcome()).isEqualTo("done");
    assertThat(data.erase(t).complete()).isTrue();
    assertThat(Shop.rows(fleet.shards.get(0), t)).isZero();
    assertThat(Shop.rows(fleet.dedicated.get(0), t)).isZero();
  }

  /**
   * A read-only tenant's connection runs in one read-only transaction behind the auto-commit mode the application
   * sees. A refused write aborted that transaction, so every later read on the same connection failed with
   * "current transaction is aborted" (25P02): the application, in auto-commit mode as far as it knows, never rolls
   * back, although reads are promised to keep working.
   */
  @Test
  void aReadOnlyTenantKeepsReadingOnTheConnectionAfterARefusedWrite() throws Exception {
    TenantId t = TenantId.of("ro-read-after-refusal");
    fleet.directory.register(t, Placement.shared("shard-0"));
    Shop.seed(fleet.shards.get(0), t, 3);
    fleet.directory.setState(t, TenantState.READ_ONLY);
    try (FleetDataSource ds = FleetDataSource.builder(fleet.directory).build()) {
      TenantContext.run(t, () -> {
        try (Connection c = ds.getConnection(); Statement st = c.createStatement()) {
          assertThat(c.getAutoCommit()).isTrue();
          assertThatThrownBy(() -> st.executeUpdate("INSERT INTO customers (name) VALUES ('refused')"))
              .isInstanceOf(TenantReadOnlyException.class);
          try (ResultSet rs = st.executeQuery("SELECT count(*) FROM customers")) {
            rs.next();
            assertThat(rs.getLong(1)).isEqualTo(3);
          }
          try (PreparedStatement ps = c.prepareStatement("UPDATE customers SET name = ?")) {
            ps.setString(1, "refused");
            assertThatThrownBy(ps::executeUpdate).isInstanceOf(TenantReadOnlyException.class);
          }
          try (PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM customers WHERE name <> ?")) {
            ps.setString(1, "refused");
            try (ResultSet rs = ps.executeQuery()) {
              rs.next();
              assertThat(rs.getLong(1)).isEqualTo(3);
            }
          }
        }
      });
    }
  }

  /**
   * Reads keep working while a tenant moves, on the source. A read-only connection taken then and still held when
   * the move cleaned the source saw the tenant empty from that moment on: the move waited for the tenant's
   * read-write connections before copying, but for no connection before deleting the source's rows.
   */
  @Test
  void aMoveKeepsTheSourceRowsWhileALocalReaderStillReadsThere() throws Exception {
    TenantId t = TenantId.of("reader-during-move");
    fleet.directory.register(t, Placement.shared("shard-0"));
    Shop.seed(fleet.shards.get(0), t, 6);
    try (FleetDataSource ds = FleetDataSource.builder(fleet.directory).build()) {
      Connection[] reader = new Connection[1];
      TenantMove move = TenantMove.builder(fleet.directory).fleet(ds).drainTimeout(Duration.ofMillis(300))
          .observer((tenant, step) -> {
            if (step == MoveStep.BLOCKED) {
              // a request that reads while the tenant is moving, still running when the move would clean up
              try {
                reader[0] = TenantContext.call(tenant, ds::getConnection);
              } catch (SQLException e) {
                throw new IllegalStateException(e);
              }
            }
          }).build();
      assertThatThrownBy(() -> move.move(t, fleet.dedicatedPlacement(0))).isInstanceOf(FleetException.class)
          .hasMessageContaining("still open");
      assertThat(fleet.directory.require(t).placement()).isEqualTo(fleet.dedicatedPlacement(0));
      TenantContext.run(t, () -> {
        try (Connection c = reader[0]; Statement st = c.createStatement();
            ResultSet rs = st.executeQuery("SELECT count(*) FROM customers")) {
          rs.next();
          assertThat(rs.getLong(1)).isEqualTo(6);
        }
      });
      assertThat(move.runningStep(t)).contains(MoveStep.FLIPPED);
      assertThat(move.resume(t).outcome()).isEqualTo("done");
    }
    assertThat(Shop.rows(fleet.shards.get(0), t)).isZero();
    assertThat(Shop.rows(fleet.dedicated.get(0), t)).isEqualTo(30);
  }
}
