package dev.saaskit.fleet;

import dev.saaskit.core.TenantId;
import dev.saaskit.core.TenantSetting;
import dev.saaskit.core.internal.SqlNames;
import dev.saaskit.fleet.internal.Jdbc;
import dev.saaskit.fleet.internal.PlacementConnections;
import dev.saaskit.fleet.internal.TenantTables;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyIn;
import org.postgresql.copy.CopyOut;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves a tenant between databases as one command: shared to dedicated, dedicated to shared, shard to shard.
 *
 * <pre>{@code
 * TenantMove move = TenantMove.builder(directory).fleet(fleetDataSource).build();
 * MoveReport report = move.move(TenantId.of("bigbank"), Placement.dedicated(url, "BIGBANK"));
 * }</pre>
 *
 * <p>The steps ({@link MoveStep}), each recorded in the control database's move journal before the next begins:
 * <ol>
 *   <li>find the tenant's tables (those of the schema with the tenant column), parents before children by their
 *       foreign keys;</li>
 *   <li>put the tenant in {@code moving}: reads keep working, writes get {@link TenantReadOnlyException}; wait for
 *       the read-write connections already handed out by the {@linkplain Builder#fleet fleet} to end;</li>
 *   <li>in one target transaction: remove any rows of the tenant a previous attempt left, stream its rows with
 *       {@code COPY} from the source into the target, and move the target's sequences past the copied ids;</li>
 *   <li>verify row counts and an order-independent checksum per table;</li>
 *   <li>flip the directory entry to the target, writable again (the write-blocked window ends here);</li>
 *   <li>once the connections the fleet routed to the source have ended, delete the tenant's rows from the source,
 *       children first, in one transaction.</li>
 * </ol>
 *
 * <p>An interrupted move (a crash, a lost connection, a failed verification) leaves its journal entry
 * {@code running}: {@link #resume(TenantId)} carries it on from its last recorded step and
 * {@link #rollback(TenantId)} undoes it, if it has not flipped yet. Every step is idempotent, so no row is lost or
 * duplicated either way. One move per tenant at a time: a move, resume or roll-back holds the tenant's lock in the
 * control database while it works, and another one waits up to 5 s for it, then fails.
 *
 * <p>Both databases are reached with their <em>admin</em> credentials (the schema owner): rows are read and written
 * with the tenant set, so row-level security applies to the move too ({@code COPY FROM} goes to a temporary table
 * first, as PostgreSQL refuses it on tables with row-level security). Tenant tables need primary keys that
 * include the tenant column (or globally unique ids) so that rows of different tenants cannot collide in the
 * target. Nodes whose directory cache has not seen {@code moving} yet can still write to the source: give
 * {@link Builder#drainWait(Duration)} the cache time-to-live of your {@link FleetDataSource}s when several nodes
 * run.
 */
public final class TenantMove {
  private static final Logger LOG = LoggerFactory.getLogger(TenantMove.class);

  private final TenantDirectory directory;
  private final String schema;
  private final String tenantColumn;
  private final TenantSetting setting;
  private final @Nullable FleetDataSource fleet;
  private final Duration drainTimeout;
  private final Duration drainWait;
  private final MoveObserver observer;
  private final Clock clock;
  private final Checkpoints checkpoints;
  private final String journal;

  private TenantMove(Builder b) {
    this.directory = b.directory;
    this.schema = b.schema;
    this.tenantColumn = b.tenantColumn;
    this.setting = b.setting;
    this.fleet = b.fleet;
    this.drainTimeout = b.drainTimeout;
    this.drainWait = b.drainWait;
    this.observer = b.observer;
    this.clock = b.clock;
    this.checkpoints = b.checkpoints;
    this.journal = directory.schemaSql() + ".moves";
  }

  /** A builder over {@code directory}. */
  public static Builder builder(TenantDirectory directory) {
    return new Builder(directory);
  }

  /**
   * Points inside the steps of a move, between the recorded step boundaries that {@link MoveObserver} hears, where
   * a test stops the move as a crash would ({@code TenantMoveKillTest} halts a child JVM at each). Not API.
   */
  enum Checkpoint {
    /** The move is checked and about to be journaled: nothing is recorded yet. */
    BEFORE_JOURNAL,
    /** The tenant is {@code moving} in the directory; {@code BLOCKED} is not recorded yet. */
    TENANT_BLOCKED,
    /**
     * {@value #COPY_CHECKPOINT_ROWS} rows into the {@code COPY} stream of a table (once per table, flushed to the
     * target, whose transaction holds the tables before it too, uncommitted).
     */
    COPY_STREAMING,
    /** The copy is committed in the target; {@code COPIED} is not recorded yet. */
    COPY_COMMITTED,
    /** The checksums of every table matched; {@code VERIFIED} is not recorded yet. */
    VERIFY_DONE,
    /** The directory points at the target, writable again; {@code FLIPPED} is not recorded yet. */
    DIRECTORY_FLIPPED,
    /** The tenant's rows of one source table are deleted (once per table), the transaction not committed. */
    SOURCE_DELETING,
    /** The source's delete is committed; {@code CLEANED} is not recorded yet. */
    SOURCE_CLEANED,
    /** A roll-back removed the target's rows (committed); the tenant's state is not given back yet. */
    ROLLBACK_TARGET_CLEARED
  }

  /** After how many rows of a table's {@code COPY} stream {@link Checkpoint#COPY_STREAMING} is reached. */
  static final int COPY_CHECKPOINT_ROWS = 1000;

  /** Hears each {@link Checkpoint} as the move passes it. Not API: tests stop the move here. */
  @FunctionalInterface
  interface Checkpoints {
    /** Called when the move of {@code tenant} passes {@code point}. */
    void reached(TenantId tenant, Checkpoint point);
  }

  /** A move recorded in the journal and not finished. */
  private record Journal(long id, TenantId tenant, Placement source, Placement target, TenantState priorState,
      MoveStep step, @Nullable Instant blockedAt, @Nullable Long blockedMs, long rowsCopied, String detail) {}

  /**
   * Moves {@code tenant} to {@code target} and returns the report. The move is journaled before this call takes the
   * tenant's lock: if a {@link #resume(TenantId)} elsewhere takes the lock first and finishes this very move, this
   * call returns the report of that outcome ({@code done}, the tables as verified, copy time zero); if a
   * {@link #rollback(TenantId)} undid it first, it throws a {@link FleetException} saying so. It never carries on
   * another move of the tenant.
   *
   * @throws FleetException if the tenant cannot move (unknown, suspended, deleted, already there, already moving)
   *     or a step fails; after a failure the journal holds the move for {@link #resume} or {@link #rollback}
   */
  public MoveReport move(TenantId tenant, Placement target) {
    Objects.requireNonNull(tenant, "tenant");
    Objects.requireNonNull(target, "target");
    TenantEntry entry = directory.require(tenant);
    if (entry.state() == TenantState.MOVING || running(tenant).isPresent()) {
      throw new FleetException("tenant '" + tenant.value() + "' is being moved already: resume or roll back "
          + "that move first");
    }
    if (entry.state() != TenantState.ACTIVE && entry.state() != TenantState.READ_ONLY) {
      throw new FleetException("tenant '" + tenant.value() + "' is " + entry.state().sqlName()
          + ": only active or read_only tenants can move");
    }
    if (entry.placement().equals(target)) {
      throw new FleetException("tenant '" + tenant.value() + "' is on " + target.describe() + " already");
    }
    // the target shard exists; an offboarding must not drop either database between this check and the journal
    // entry (which it reads before it drops): it holds their lock exclusively from its check to its drop
    List<String> databases = List.of(TenantLifecycle.databaseName(directory.jdbcUrl(entry.placement())),
        TenantLifecycle.databaseName(directory.jdbcUrl(target)));
    long id;
    DatabaseLock held = DatabaseLock.shared(directory, databases, "the move of tenant '" + tenant.value() + "'");
    try {
      checkSchemas(tenant, entry.placement(), target);
      checkpoints.reached(tenant, Checkpoint.BEFORE_JOURNAL);
      id = journal(tenant, entry, target);
    } finally {
      held.close();
    }
    LOG.info("moving tenant {} from {} to {}", tenant.value(), entry.placement().describe(), target.describe());
    observer.stepDone(tenant, MoveStep.STARTED);
    return exclusively(tenant, () -> carryOnOwn(tenant, id));
  }

  private long journal(TenantId tenant, TenantEntry entry, Placement target) {
    try (Connection c = directory.control().getConnection();
        PreparedStatement ps = c.prepareStatement("INSERT INTO " + journal + " (tenant_id, source_shard, "
            + "source_url, source_ref, target_shard, target_url, target_ref, prior_state, step, status) "
            + "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'STARTED', 'running') RETURNING id")) {
      ps.setString(1, tenant.value());
      bind(ps, 2, entry.placement());
      bind(ps, 5, target);
      ps.setString(8, entry.state().sqlName());
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getLong(1);
      }
    } catch (SQLException e) {
      if ("23505".equals(e.getSQLState())) {
        throw new FleetException("tenant '" + tenant.value() + "' is being moved already", e);
      }
      throw new FleetException("cannot record the move of tenant '" + tenant.value() + "': " + e.getMessage(), e);
    }
  }

  /**
   * Carries on the move journaled as {@code id}, holding the tenant's lock. Between the journal entry and the lock,
   * a {@link #resume} or {@link #rollback} of another process (or thread) may have taken the lock first and
   * finished this very move, and a later move of the tenant may even be running by now: the entry is found by its
   * id, never by the tenant, so this call reports what became of its own move and never carries on another one.
   */
  private MoveReport carryOnOwn(TenantId tenant, long id) {
    Optional<Journal> mine = running(tenant).filter(j -> j.id() == id);
    if (mine.isPresent()) {
      return carryOn(mine.get());
    }
    List<String> status = Jdbc.query(directory.control(), "SELECT status FROM " + journal + " WHERE id = ?",
        rs -> rs.getString(1), id);
    if (status.isEmpty()) {
      throw new FleetException("the move of tenant '" + tenant.value() + "' (journal id " + id + ") was deleted"
          + " from the journal by someone else before it could run");
    }
    if (!"done".equals(status.get(0))) {
      throw new FleetException("the move of tenant '" + tenant.value() + "' (journal id " + id + ") was rolled "
          + "back by another process before it could run: the tenant stays where it was; move it again if still "
          + "wanted");
    }
    // another process resumed this very move and finished it: the tenant is where this call was to put it
    Journal done = journalEntry("id = ?", id).get(0);
    LOG.info("the move of tenant {} (journal id {}) was completed by another process", tenant.value(), id);
    return new MoveReport(tenant, done.source(), done.target(), "done", recorded(done), done.rowsCopied(),
        Duration.ofMillis(done.blockedMs() == null ? 0 : done.blockedMs()), Duration.ZERO);
  }

  /**
   * Carries on the interrupted move of {@code tenant} from its last recorded step.
   *
   * @throws FleetException if no move of the tenant is running, a step fails again, or the move stopped before the
   *     tenant became {@code moving} and its state has changed since the move began (then roll it back)
   */
  public MoveReport resume(TenantId tenant) {
    return exclusively(tenant, () -> {
      Journal j = running(tenant).orElseThrow(() -> new FleetException("no move of tenant '" + tenant.value()
          + "' is running"));
      LOG.info("resuming the move of tenant {} after step {}", tenant.value(), j.step());
      return carryOn(j);
    });
  }

  /**
   * Undoes the interrupted move of {@code tenant}: removes its rows from the target and gives it back its state
   * on the source. A target database that no longer exists holds nothing to remove: the tenant goes back to its
   * source all the same (its rows there are intact until the move cleans them, after its flip).
   *
   * @throws FleetException if no move is running or the move has flipped already (then {@link #resume} it)
   */
  public MoveReport rollback(TenantId tenant) {
    return exclusively(tenant, () -> rollbackExclusively(tenant));
  }

  private MoveReport rollbackExclusively(TenantId tenant) {
    Journal j = running(tenant).orElseThrow(() -> new FleetException("no move of tenant '" + tenant.value()
        + "' is running"));
    TenantEntry entry = directory.require(tenant);
    if (j.step().compareTo(MoveStep.FLIPPED) >= 0 || entry.placement().equals(j.target())) {
      throw new FleetException("the move of tenant '" + tenant.value() + "' has flipped to " + j.target()
          .describe() + " already: resume it instead of rolling back");
    }
    if (j.step().compareTo(MoveStep.BLOCKED) > 0) {
      // the copy is about to go: if this roll-back dies, a resume must copy again rather than verify nothing
      j = record(j, MoveStep.BLOCKED, "detail = ?", "rolling back: the copy is being removed from the target");
    }
    @Nullable Connection opened;
    try {
      opened = PlacementConnections.admin(directory, j.target());
    } catch (FleetException e) {
      if (!(e.getCause() instanceof SQLException sql && DATABASE_MISSING.equals(sql.getSQLState()))) {
        throw e;
      }
      // the target database is gone (dropped by hand, or by an offboarding of the same name before moves and
      // offboardings took the database lock): it holds none of the tenant's rows, and the source still has them
      // all (they are deleted only after the flip), so the tenant goes back to its source as if the copy were
      // removed; any other connection failure keeps the move for a later roll-back, as the copy may still be there
      LOG.warn("the target database of the move of tenant {} ({}) does not exist: nothing to remove there, the "
          + "tenant goes back to {}", tenant.value(), j.target().describe(), j.source().describe());
      opened = null;
    }
    if (opened != null) {
      clearTarget(j, opened);
    }
    if (entry.state() == TenantState.MOVING
        && !directory.compareAndSet(entry, j.source(), j.priorState())) {
      throw new FleetException("tenant '" + tenant.value() + "' changed during the roll-back; retry");
    }
    finish(j, "rolled_back", null);
    LOG.info("rolled back the move of tenant {}", tenant.value());
    return new MoveReport(tenant, j.source(), j.target(), "rolled_back", List.of(), 0,
        blocked(j, clock.instant()), Duration.ZERO);
  }

  /** SQLState of a connection to a database that does not exist. */
  private static final String DATABASE_MISSING = "3D000";

  /** Removes the tenant's rows from the move's target, on {@code opened} (closed at the end). */
  private void clearTarget(Journal j, Connection opened) {
    TenantId tenant = j.tenant();
    try (Connection target = opened) {
      target.setAutoCommit(false);
      TenantTables tables = TenantTables.discover(target, schema, tenantColumn);
      TenantTables.bindTenant(target, setting, tenant);
      for (TenantTables.Table t : tables.deleteOrder()) {
        tables.delete(target, t, tenant);
      }
      target.commit();
      checkpoints.reached(tenant, Checkpoint.ROLLBACK_TARGET_CLEARED);
    } catch (SQLException e) {
      throw new FleetException("rolling back the move of tenant '" + tenant.value() + "' failed on "
          + j.target().describe() + ": " + e.getMessage(), e);
    }
  }

  /** How long a move, resume or roll-back waits for another process's work on the same tenant to end. */
  private static final Duration LOCK_WAIT = Duration.ofSeconds(5);
  /** The first key of the advisory lock of a tenant's move in the control database (the second: its id's hash). */
  static final int LOCK_CLASS = 0x5a4d4f56;

  /**
   * Runs {@code work} holding the tenant's move lock in the control database: one process at a time carries a
   * move of a tenant on or rolls it back (a resume and a roll-back at once would each undo the other's work). A
   * session lock on a control connection kept for the duration, not a transaction lock: the control
   * {@code DataSource} may hand every caller the same connection (the CLI's does), and the journal's and the
   * directory's own commits on it must neither release the lock nor be rolled back with it. It ends with the
   * process if that dies (its connection closes).
   */
  private MoveReport exclusively(TenantId tenant, java.util.function.Supplier<MoveReport> work) {
    try (Connection lock = directory.control().getConnection()) {
      long deadline = System.nanoTime() + LOCK_WAIT.toNanos();
      while (!Jdbc.query(lock, "SELECT pg_try_advisory_lock(?, hashtext(?))", rs -> rs.getBoolean(1),
          LOCK_CLASS, tenant.value()).get(0)) {
        if (System.nanoTime() - deadline > 0) {
          throw new FleetException("the move of tenant '" + tenant.value() + "' is being carried on or rolled "
              + "back by another process: wait for it to end (runningStep shows where it is)");
        }
        pause(50);
      }
      try {
        return work.get();
      } finally {
        unlock(lock, tenant);
      }
    } catch (SQLException e) {
      throw new FleetException("cannot take the move lock of tenant '" + tenant.value() + "' in the control "
          + "database: " + e.getMessage(), e);
    }
  }

  static void unlock(Connection lock, TenantId tenant) {
    for (int attempt = 1; attempt <= 2; attempt++) {
      try {
        if (!Jdbc.query(lock, "SELECT pg_advisory_unlock(?, hashtext(?))", rs -> rs.getBoolean(1), LOCK_CLASS,
            tenant.value()).get(0)) {
          LOG.warn("the move lock of tenant {} was not held by this control session when the move ended: is the"
              + " control database behind a transaction-pooling proxy? Give TenantMove's directory a direct"
              + " connection (docs/fleet.md)", tenant.value());
        }
        return;
      } catch (SQLException | RuntimeException e) {
        // a failed step may have left a shared connection inside an aborted transaction: end it and try again,
        // or a pooled connection would go back to its pool still holding the lock
        try {
          if (attempt == 1 && !lock.isClosed() && !lock.getAutoCommit()) {
            lock.rollback();
            continue;
          }
        } catch (SQLException ignored) {
          // the connection is broken: its session, and the lock with it, is gone
        }
        LOG.debug("releasing the move lock of tenant {} failed", tenant.value(), e);
        return;
      }
    }
  }

  /** The step the running move of {@code tenant} last recorded, if one is running. */
  public Optional<MoveStep> runningStep(TenantId tenant) {
    return running(tenant).map(Journal::step);
  }

  private MoveReport carryOn(Journal start) {
    Journal j = start;
    TenantId tenant = j.tenant();
    List<MoveReport.TableCheck> checks = new ArrayList<>();
    Duration copyTime = Duration.ZERO;
    if (j.step() == MoveStep.STARTED) {
      TenantEntry entry = directory.require(tenant);
      Instant blockedAt = clock.instant();
      if (entry.state() != TenantState.MOVING) {
        if (!entry.placement().equals(j.source())) {
          throw new FleetException("tenant '" + tenant.value() + "' is no longer on " + j.source().describe()
              + ": roll the move back");
        }
        if (entry.state() != j.priorState()) {
          // an operator changed the state after the move stopped (suspended, deleted, froze it): the flip would
          // give back the state recorded when the move began and silently undo that decision
          throw new FleetException("tenant '" + tenant.value() + "' is " + entry.state().sqlName() + ", not "
              + j.priorState().sqlName() + " as when the move began: roll the move back, or set its state back to "
              + j.priorState().sqlName() + " and resume");
        }
        if (!directory.compareAndSet(entry, j.source(), TenantState.MOVING)) {
          throw new FleetException("tenant '" + tenant.value() + "' changed concurrently; resume the move");
        }
      }
      if (fleet != null) {
        fleet.invalidate(tenant);
      }
      checkpoints.reached(tenant, Checkpoint.TENANT_BLOCKED);
      drain(tenant);
      j = record(j, MoveStep.BLOCKED, "blocked_at = ?", Timestamp.from(blockedAt));
    }
    if (j.step() == MoveStep.BLOCKED) {
      long started = System.nanoTime();
      long copied = copy(j);
      copyTime = Duration.ofNanos(System.nanoTime() - started);
      j = record(j, MoveStep.COPIED, "rows_copied = ?", copied);
    }
    if (j.step() == MoveStep.COPIED) {
      checks = verify(j);
      checkpoints.reached(tenant, Checkpoint.VERIFY_DONE);
      StringBuilder detail = new StringBuilder();
      for (MoveReport.TableCheck c : checks) {
        detail.append(c.table()).append('\t').append(c.sourceRows()).append('\t').append(c.sourceChecksum())
            .append('\n');
      }
      j = record(j, MoveStep.VERIFIED, "detail = ?", detail.toString());
    }
    if (j.step() == MoveStep.VERIFIED) {
      TenantEntry entry = directory.require(tenant);
      Instant flippedAt = clock.instant();
      if (!entry.placement().equals(j.target())
          && !directory.compareAndSet(entry, j.target(), j.priorState())) {
        throw new FleetException("tenant '" + tenant.value() + "' changed concurrently; resume the move");
      }
      if (fleet != null) {
        fleet.invalidate(tenant);
      }
      checkpoints.reached(tenant, Checkpoint.DIRECTORY_FLIPPED);
      Instant blockedAt = j.blockedAt() == null ? flippedAt : j.blockedAt();
      j = record(j, MoveStep.FLIPPED, "blocked_ms = ?", Duration.between(blockedAt, flippedAt).toMillis());
    }
    if (j.step() == MoveStep.FLIPPED) {
      // other nodes may still route the tenant to the source for their cache TTL: keep its rows until then
      if (!drainWait.isZero()) {
        pause(drainWait.toMillis());
      }
      drainSource(j);
      cleanSource(j);
      j = record(j, MoveStep.CLEANED, "status = 'running'");
    }
    if (checks.isEmpty()) {
      checks = recorded(j);
    }
    finish(j, "done", null);
    MoveReport report = new MoveReport(tenant, j.source(), j.target(), "done", checks, j.rowsCopied(),
        Duration.ofMillis(j.blockedMs() == null ? 0 : j.blockedMs()), copyTime);
    LOG.info("moved tenant {} to {}: {} rows, writes blocked for {} ms", tenant.value(), j.target().describe(),
        report.rowsCopied(), report.writeBlocked().toMillis());
    return report;
  }

  private void drain(TenantId tenant) {
    long deadline = System.nanoTime() + drainTimeout.toNanos();
    if (fleet != null) {
      while (fleet.writableConnections(tenant) > 0) {
        if (System.nanoTime() - deadline > 0) {
          throw new FleetException("tenant '" + tenant.value() + "' still holds " + fleet.writableConnections(tenant)
              + " read-write connections after " + drainTimeout.toMillis() + " ms: resume the move when they "
              + "end, or roll it back");
        }
        pause(10);
      }
    }
    if (!drainWait.isZero()) {
      pause(drainWait.toMillis());
    }
  }

  /**
   * Waits for the connections of the tenant that the local fleet routed to the source before the flip (read-only
   * ones handed out while it was {@code moving}) to end: a reader still on the source would see the tenant empty
   * once its rows there are deleted, and take that for the truth. The move stays {@code FLIPPED} if they outlast
   * {@code drainTimeout}: the tenant already works on the target, and a resume cleans the source later.
   */
  private void drainSource(Journal j) {
    if (fleet == null) {
      return;
    }
    long deadline = System.nanoTime() + drainTimeout.toNanos();
    while (fleet.connectionsOn(j.tenant(), j.source()) > 0) {
      if (System.nanoTime() - deadline > 0) {
        throw new FleetException("tenant '" + j.tenant().value() + "' runs on " + j.target().describe() + " now, "
            + "but " + fleet.connectionsOn(j.tenant(), j.source()) + " of its connections to " + j.source()
            .describe() + " were still open after " + drainTimeout.toMillis() + " ms: its rows there are kept until "
            + "they end; resume the move then to delete them");
      }
      pause(10);
    }
  }

  private static void pause(long millis) {
    try {
      TimeUnit.MILLISECONDS.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new FleetException("interrupted while waiting for the tenant's writes to end", e);
    }
  }

  private long copy(Journal j) {
    TenantId tenant = j.tenant();
    try (Connection source = PlacementConnections.admin(directory, j.source());
        Connection target = PlacementConnections.admin(directory, j.target())) {
      source.setAutoCommit(false);
      target.setAutoCommit(false);
      try (Statement st = source.createStatement()) {
        st.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
      }
      TenantTables tables = TenantTables.discover(source, schema, tenantColumn);
      TenantTables.bindTenant(source, setting, tenant);
      TenantTables.bindTenant(target, setting, tenant);
      for (TenantTables.Table t : tables.deleteOrder()) {
        tables.delete(target, t, tenant); // what an earlier attempt may have left
      }
      long total = 0;
      int n = 0;
      for (TenantTables.Table t : tables.insertOrder()) {
        String temp = "saaskit_move_" + (n++);
        String cols = t.columnList(t.insertable());
        try (Statement st = target.createStatement()) {
          st.execute("CREATE TEMP TABLE " + temp + " AS SELECT " + cols + " FROM " + t.qualified()
              + " WITH NO DATA");
        }
        CopyOut out = source.unwrap(PGConnection.class).getCopyAPI().copyOut("COPY (SELECT " + cols + " FROM "
            + t.qualified() + tables.where(tenant) + ") TO STDOUT");
        CopyIn in = target.unwrap(PGConnection.class).getCopyAPI().copyIn("COPY " + temp + " (" + cols
            + ") FROM STDIN");
        try {
          byte[] chunk;
          long rows = 0;
          while ((chunk = out.readFromCopy()) != null) { // one row per chunk
            in.writeToCopy(chunk, 0, chunk.length);
            if (++rows == COPY_CHECKPOINT_ROWS) {
              in.flushCopy();
              checkpoints.reached(tenant, Checkpoint.COPY_STREAMING);
            }
          }
          in.endCopy();
        } finally {
          if (in.isActive()) {
            in.cancelCopy();
          }
          if (out.isActive()) {
            out.cancelCopy();
          }
        }
        try (Statement st = target.createStatement()) {
          total += st.executeLargeUpdate("INSERT INTO " + t.qualified() + " (" + cols + ") OVERRIDING SYSTEM VALUE "
              + "SELECT " + cols + " FROM " + temp);
          st.execute("DROP TABLE " + temp);
        }
        bumpSequences(target, t);
      }
      target.commit();
      source.commit();
      checkpoints.reached(tenant, Checkpoint.COPY_COMMITTED);
      return total;
    } catch (SQLException e) {
      throw new FleetException("copying tenant '" + tenant.value() + "' from " + j.source().describe() + " to "
          + j.target().describe() + " failed (nothing of this attempt is kept; resume or roll back): "
          + e.getMessage(), e);
    }
  }

  /** Moves each sequence of {@code t} past the largest id the copy brought in. */
  private static void bumpSequences(Connection target, TenantTables.Table t) throws SQLException {
    for (String column : t.insertable()) {
      try (PreparedStatement ps = target.prepareStatement("SELECT pg_get_serial_sequence(?, ?)")) {
        ps.setString(1, t.qualified());
        ps.setString(2, column);
        try (ResultSet rs = ps.executeQuery()) {
          rs.next();
          String sequence = rs.getString(1);
          if (sequence == null) {
            continue;
          }
          try (Statement st = target.createStatement()) {
            st.execute("SELECT setval(" + SqlNames.quoteLiteral(sequence) + "::regclass, greatest(coalesce((SELECT "
                + "max(" + SqlNames.quoteIdent(column) + ") FROM " + t.qualified() + "), 1), (SELECT last_value "
                + "FROM " + sequence + ")), true)");
          }
        }
      }
    }
  }

  private List<MoveReport.TableCheck> verify(Journal j) {
    TenantId tenant = j.tenant();
    try (Connection source = PlacementConnections.admin(directory, j.source());
        Connection target = PlacementConnections.admin(directory, j.target())) {
      source.setAutoCommit(false);
      target.setAutoCommit(false);
      TenantTables tables = TenantTables.discover(source, schema, tenantColumn);
      TenantTables.bindTenant(source, setting, tenant);
      TenantTables.bindTenant(target, setting, tenant);
      List<MoveReport.TableCheck> checks = new ArrayList<>();
      for (TenantTables.Table t : tables.insertOrder()) {
        TenantTables.Checksum s = tables.checksum(source, t, tenant);
        TenantTables.Checksum d = tables.checksum(target, t, tenant);
        checks.add(new MoveReport.TableCheck(t.label(), s.rows(), d.rows(), s.md5(), d.md5()));
      }
      source.commit();
      target.commit();
      List<String> bad = checks.stream().filter(c -> !c.matches())
          .map(c -> c.table() + " (" + c.sourceRows() + " rows in the source, " + c.targetRows() + " in the target)")
          .toList();
      if (!bad.isEmpty()) {
        record(j, MoveStep.BLOCKED, "detail = ?", "verification failed: " + bad);
        throw new FleetException("the copy of tenant '" + tenant.value() + "' does not match its source in " + bad
            + ": the move is back at its copy step; resume to copy again, or roll back");
      }
      return checks;
    } catch (SQLException e) {
      throw new FleetException("verifying the move of tenant '" + tenant.value() + "' failed: " + e.getMessage(), e);
    }
  }

  private void cleanSource(Journal j) {
    TenantId tenant = j.tenant();
    try (Connection source = PlacementConnections.admin(directory, j.source())) {
      source.setAutoCommit(false);
      TenantTables tables = TenantTables.discover(source, schema, tenantColumn);
      TenantTables.bindTenant(source, setting, tenant);
      for (TenantTables.Table t : tables.deleteOrder()) {
        tables.delete(source, t, tenant);
        checkpoints.reached(tenant, Checkpoint.SOURCE_DELETING);
      }
      source.commit();
      checkpoints.reached(tenant, Checkpoint.SOURCE_CLEANED);
    } catch (SQLException e) {
      throw new FleetException("deleting the rows of tenant '" + tenant.value() + "' from " + j.source().describe()
          + " failed (the tenant already runs on " + j.target().describe() + "; resume the move to retry): "
          + e.getMessage(), e);
    }
  }

  private void checkSchemas(TenantId tenant, Placement source, Placement target) {
    try (Connection s = PlacementConnections.admin(directory, source);
        Connection t = PlacementConnections.admin(directory, target)) {
      if (sameDatabase(s, t)) {
        // the copy would replace the rows by themselves, and cleaning the "source" would then erase the tenant
        throw new FleetException("tenant '" + tenant.value() + "' cannot move from " + source.describe() + " to "
            + target.describe() + ": both name the same database");
      }
      TenantTables from = TenantTables.discover(s, schema, tenantColumn);
      TenantTables to = TenantTables.discover(t, schema, tenantColumn);
      if (from.insertOrder().isEmpty()) {
        throw new FleetException("no table of schema " + schema + " on " + source.describe() + " has a column "
            + tenantColumn);
      }
      List<String> a = from.insertOrder().stream().map(x -> x.name() + x.columns()).sorted().toList();
      List<String> b = to.insertOrder().stream().map(x -> x.name() + x.columns()).sorted().toList();
      if (!a.equals(b)) {
        throw new FleetException("the tenant tables of " + target.describe() + " differ from those of "
            + source.describe() + ": migrate both to the same version first (FleetMigrations)");
      }
      List<String> strays = referencesFromOtherTables(s, from);
      if (!strays.isEmpty()) {
        throw new FleetException("tenant '" + tenant.value() + "' cannot move: " + strays + " reference tenant"
            + " tables but have no column " + tenantColumn + ", so the move would neither copy their rows nor"
            + " keep them (the source's cleaning deletes the rows they point to, or cascades to theirs); give"
            + " them the tenant column first");
      }
    } catch (SQLException e) {
      throw new FleetException("cannot read the tables of tenant '" + tenant.value() + "': " + e.getMessage(), e);
    }
  }

  /** Foreign keys into the tenant tables from tables that are not tenant tables, as "referencing -> referenced". */
  private static List<String> referencesFromOtherTables(Connection c, TenantTables tables) throws SQLException {
    String[] names = tables.insertOrder().stream().map(TenantTables.Table::qualified).toArray(String[]::new);
    try (PreparedStatement ps = c.prepareStatement("SELECT DISTINCT con.conrelid::regclass::text || ' -> '"
        + " || con.confrelid::regclass::text FROM pg_constraint con WHERE con.contype = 'f'"
        + " AND con.confrelid = ANY (?::regclass[]) AND NOT (con.conrelid = ANY (?::regclass[])) ORDER BY 1")) {
      java.sql.Array array = c.createArrayOf("text", names);
      ps.setArray(1, array);
      ps.setArray(2, array);
      List<String> found = new ArrayList<>();
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          found.add(rs.getString(1));
        }
      }
      return found;
    }
  }

  /**
   * Whether {@code a} and {@code b} are connected to the same database (whatever their URLs say): a transaction
   * lock taken on {@code a} is then held against {@code b} (advisory locks are per database and server).
   */
  private static boolean sameDatabase(Connection a, Connection b) throws SQLException {
    long key = java.util.concurrent.ThreadLocalRandom.current().nextLong();
    boolean autoCommit = a.getAutoCommit();
    a.setAutoCommit(false);
    try {
      try (PreparedStatement ps = a.prepareStatement("SELECT pg_advisory_xact_lock(?)")) {
        ps.setLong(1, key);
        ps.execute();
      }
      try (PreparedStatement ps = b.prepareStatement("SELECT pg_try_advisory_xact_lock(?)")) {
        ps.setLong(1, key);
        try (ResultSet rs = ps.executeQuery()) {
          rs.next();
          return !rs.getBoolean(1);
        }
      } finally {
        if (!b.getAutoCommit()) {
          b.rollback();
        }
      }
    } finally {
      a.rollback();
      a.setAutoCommit(autoCommit);
    }
  }

  private Optional<Journal> running(TenantId tenant) {
    return journalEntry("tenant_id = ? AND status = 'running'", tenant.value()).stream().findFirst();
  }

  /** The journal entries matching {@code where}. */
  private List<Journal> journalEntry(String where, Object arg) {
    return Jdbc.query(directory.control(), "SELECT id, tenant_id, source_shard, source_url, "
        + "source_ref, target_shard, target_url, target_ref, prior_state, step, blocked_at, blocked_ms, rows_copied,"
        + " detail FROM " + journal + " WHERE " + where, rs -> {
          Timestamp blockedAt = rs.getTimestamp(11);
          long blockedMs = rs.getLong(12);
          Long blocked = rs.wasNull() ? null : blockedMs;
          return new Journal(rs.getLong(1), TenantId.of(rs.getString(2)),
              placement(rs.getString(3), rs.getString(4), rs.getString(5)),
              placement(rs.getString(6), rs.getString(7), rs.getString(8)),
              TenantState.fromSqlName(rs.getString(9)), MoveStep.valueOf(rs.getString(10)),
              blockedAt == null ? null : blockedAt.toInstant(), blocked, rs.getLong(13), rs.getString(14));
        }, arg);
  }

  private Journal record(Journal j, MoveStep step, String set, @Nullable Object... args) {
    Object[] all = new Object[args.length + 1];
    System.arraycopy(args, 0, all, 0, args.length);
    all[args.length] = j.id();
    Jdbc.update(directory.control(), "UPDATE " + journal + " SET step = '" + step.name() + "', " + set
        + ", updated_at = now() WHERE id = ?", all);
    Journal now = running(j.tenant()).orElseThrow(() -> new FleetException("the move journal entry " + j.id()
        + " vanished"));
    if (step.compareTo(j.step()) > 0) {
      observer.stepDone(j.tenant(), step);
    }
    return now;
  }

  private void finish(Journal j, String status, @Nullable String detail) {
    Jdbc.update(directory.control(), "UPDATE " + journal + " SET status = ?, detail = coalesce(?, detail), "
        + "updated_at = now() WHERE id = ?", status, detail, j.id());
  }

  private static List<MoveReport.TableCheck> recorded(Journal j) {
    List<MoveReport.TableCheck> out = new ArrayList<>();
    for (String line : j.detail().lines().toList()) {
      String[] parts = line.split("\t", -1);
      if (parts.length == 3) {
        long rows = Long.parseLong(parts[1]);
        out.add(new MoveReport.TableCheck(parts[0], rows, rows, parts[2], parts[2]));
      }
    }
    return out;
  }

  private Duration blocked(Journal j, Instant now) {
    return j.blockedAt() == null ? Duration.ZERO : Duration.between(j.blockedAt(), now);
  }

  private static Placement placement(@Nullable String shard, @Nullable String url, @Nullable String ref) {
    if (shard != null) {
      return Placement.shared(shard);
    }
    return Placement.dedicated(Objects.requireNonNull(url, "url"), Objects.requireNonNull(ref, "ref"));
  }

  private static void bind(PreparedStatement ps, int at, Placement p) throws SQLException {
    if (p instanceof Placement.Shared s) {
      ps.setString(at, s.shard());
      ps.setString(at + 1, null);
      ps.setString(at + 2, null);
    } else {
      Placement.Dedicated d = (Placement.Dedicated) p;
      ps.setString(at, null);
      ps.setString(at + 1, d.jdbcUrl());
      ps.setString(at + 2, d.credentialsRef());
    }
  }

  /** Options of a {@link TenantMove}. */
  public static final class Builder {
    private final TenantDirectory directory;
    private String schema = "public";
    private String tenantColumn = "tenant_id";
    private TenantSetting setting = TenantSetting.DEFAULT;
    private @Nullable FleetDataSource fleet;
    private Duration drainTimeout = Duration.ofSeconds(30);
    private Duration drainWait = Duration.ZERO;
    private MoveObserver observer = (tenant, step) -> { };
    private Clock clock = Clock.systemUTC();
    private Checkpoints checkpoints = (tenant, point) -> { };

    private Builder(TenantDirectory directory) {
      this.directory = Objects.requireNonNull(directory, "directory");
    }

    /** The schema of the application's tenant tables (default {@code public}). */
    public Builder schema(String schema) {
      this.schema = SqlNames.requireIdentifier("schema", Objects.requireNonNull(schema, "schema"));
      return this;
    }

    /** The tenant column (default {@code tenant_id}). */
    public Builder tenantColumn(String column) {
      this.tenantColumn = SqlNames.requireIdentifier("tenantColumn", Objects.requireNonNull(column, "column"));
      return this;
    }

    /** The setting your policies read (default {@link TenantSetting#DEFAULT}). */
    public Builder tenantSetting(TenantSetting setting) {
      this.setting = Objects.requireNonNull(setting, "tenantSetting");
      return this;
    }

    /**
     * The application's data source in this process: the move invalidates its cache at each state change and
     * waits for the tenant's read-write connections to end before copying.
     */
    public Builder fleet(FleetDataSource fleet) {
      this.fleet = Objects.requireNonNull(fleet, "fleet");
      return this;
    }

    /** How long to wait for the tenant's read-write connections to end (default 30 s). */
    public Builder drainTimeout(Duration timeout) {
      Objects.requireNonNull(timeout, "drainTimeout");
      // checked here, not mid-move: the drain runs after the tenant is already 'moving'
      if (timeout.isNegative() || timeout.compareTo(Duration.ofNanos(Long.MAX_VALUE)) > 0) {
        throw new IllegalArgumentException("drainTimeout must be between 0 and " + Duration.ofNanos(Long.MAX_VALUE)
            + " but was " + timeout);
      }
      this.drainTimeout = timeout;
      return this;
    }

    /**
     * A fixed wait after the tenant became {@code moving}, for other nodes' caches to see it, and again after the
     * flip before the source's rows are deleted, while other nodes may still read there (default 0: set it to
     * their directory cache time-to-live when several nodes serve traffic).
     */
    public Builder drainWait(Duration wait) {
      Objects.requireNonNull(wait, "drainWait");
      if (wait.isNegative() || wait.compareTo(Duration.ofMillis(Long.MAX_VALUE)) > 0) {
        throw new IllegalArgumentException("drainWait must be between 0 and " + Duration.ofMillis(Long.MAX_VALUE)
            + " but was " + wait);
      }
      this.drainWait = wait;
      return this;
    }

    /** Hears each recorded step (default: nothing). */
    public Builder observer(MoveObserver observer) {
      this.observer = Objects.requireNonNull(observer, "observer");
      return this;
    }

    /** The clock the write-blocked window is measured with (default the system clock). */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /** Hears the {@link Checkpoint}s inside the steps (default: nothing). For tests; not API. */
    Builder checkpoints(Checkpoints checkpoints) {
      this.checkpoints = Objects.requireNonNull(checkpoints, "checkpoints");
      return this;
    }

    /** The move. */
    public TenantMove build() {
      return new TenantMove(this);
    }
  }
}
