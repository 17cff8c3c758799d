package dev.saaskit.cache.postgres.internal;

import dev.saaskit.core.SaasException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Deletes old log rows in small batches, each in its own short transaction holding the prune_state row lock
 * (taken with SKIP LOCKED: when another node is pruning, this one stops). Each batch raises
 * {@code last_pruned_tx} in the same transaction, so a reader sees the deletion and the mark together.
 *
 * <p>Age: every run records a horizon (the oldest running transaction id, and when); rows older than D are those
 * of transactions below the newest horizon recorded at least D ago, i.e. transactions that had finished D ago. A
 * node that read the log within the last D has a position at or above that horizon, so pruning by age never makes
 * a live node flush.
 */
public final class PgPruner {
  private static final Logger LOG = LoggerFactory.getLogger(PgPruner.class);

  private final PgBusSettings settings;
  private final PgStatements sql;
  private final PgCounters counters;
  private @Nullable ScheduledExecutorService executor;

  public PgPruner(PgBusSettings settings, PgStatements sql, PgCounters counters) {
    this.settings = settings;
    this.sql = sql;
    this.counters = counters;
  }

  /** Starts the automatic schedule, if the settings ask for one. */
  public synchronized void start() {
    long every = settings.pruneInterval().toMillis();
    if (every <= 0) {
      return;
    }
    ScheduledThreadPoolExecutor ex = new ScheduledThreadPoolExecutor(1, r -> {
      Thread t = new Thread(r, "saaskit-cache-bus-prune-" + settings.nodeName());
      t.setDaemon(true);
      return t;
    });
    ex.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
    // a random first delay spreads the nodes' runs over the interval
    long first = settings.random().nextLong(every) + 1;
    // the future is not needed: scheduledRun catches and logs its own failures, and close() stops the schedule by
    // shutting the executor down
    ScheduledFuture<?> unused = ex.scheduleWithFixedDelay(this::scheduledRun, first, every, TimeUnit.MILLISECONDS);
    executor = ex;
  }

  private void scheduledRun() {
    try {
      long deleted = pruneOlderThan(settings.retention());
      if (settings.maxRows() > 0) {
        deleted += pruneKeepingNewest(settings.maxRows());
      }
      if (deleted > 0) {
        LOG.debug("invalidation bus {}: pruned {} log rows", settings.nodeName(), deleted);
      }
    } catch (RuntimeException e) {
      LOG.warn("invalidation bus {}: pruning failed: {}", settings.nodeName(), e.getMessage());
    }
  }

  /** Stops the schedule, waiting at most {@code nanos} for a batch in progress; true if it stopped in time. */
  public boolean close(long nanos) {
    ScheduledExecutorService ex;
    synchronized (this) {
      ex = executor;
      executor = null;
    }
    if (ex != null) {
      ex.shutdownNow();
      try {
        return ex.awaitTermination(Math.max(0, nanos), TimeUnit.NANOSECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return false;
      }
    }
    return true;
  }

  /** Ages beyond this prune nothing: no horizon is ever that old. */
  static final Duration MAX_AGE = Duration.ofDays(1000L * 365);

  /** Deletes the rows of transactions that finished at least {@code age} ago; returns how many. */
  public long pruneOlderThan(Duration age) {
    // An age past any horizon the log can hold means "nothing is that old". Clamped, because the exact value broke
    // the call: past 292 million years toMillis() overflows, and past about 6,700 years the database's
    // statement_timestamp() - age leaves the timestamp range; either way the caller got an exception, not 0.
    long ageMillis = (age.compareTo(MAX_AGE) > 0 ? MAX_AGE : age).toMillis();
    try (Connection c = settings.dataSource().getConnection()) {
      boolean autoCommit = c.getAutoCommit();
      c.setAutoCommit(false);
      try {
        String bound;
        try (PreparedStatement ps = c.prepareStatement(sql.recordHorizon)) {
          ps.executeUpdate();
        }
        try (PreparedStatement ps = c.prepareStatement(sql.horizonBound)) {
          ps.setLong(1, ageMillis);
          ps.setLong(2, ageMillis);
          try (ResultSet rs = ps.executeQuery()) {
            rs.next();
            bound = rs.getString(1);
          }
        }
        if (ageMillis > 0) {
          // keep what the automatic pruning needs even when a caller prunes with a shorter age
          try (PreparedStatement ps = c.prepareStatement(sql.trimHorizons)) {
            ps.setLong(1, Math.max(ageMillis, settings.retention().toMillis()));
            ps.executeUpdate();
          }
        }
        c.commit();
        if (bound == null) {
          return 0; // no horizon old enough yet: nothing is known to be that old
        }
        long xid = Long.parseUnsignedLong(bound);
        return deleteInBatches(c, sql.deleteBelowTx, ps -> ps.setString(1, Long.toUnsignedString(xid)));
      } catch (SQLException | RuntimeException e) {
        c.rollback();
        throw e;
      } finally {
        c.setAutoCommit(autoCommit);
      }
    } catch (SQLException e) {
      throw new SaasException("Could not prune the invalidation log in schema " + settings.schema() + ": "
          + e.getMessage() + ". Does this role have CacheSchema.grantApp?", e);
    }
  }

  /** Deletes all but the newest {@code keep} rows; returns how many. */
  public long pruneKeepingNewest(long keep) {
    try (Connection c = settings.dataSource().getConnection()) {
      boolean autoCommit = c.getAutoCommit();
      c.setAutoCommit(false);
      try {
        long lastSeq;
        try (PreparedStatement ps = c.prepareStatement(sql.seqBeyondNewest)) {
          ps.setLong(1, keep);
          try (ResultSet rs = ps.executeQuery()) {
            if (!rs.next()) {
              c.commit();
              return 0;
            }
            lastSeq = rs.getLong(1);
          }
        }
        c.commit();
        return deleteInBatches(c, sql.deleteUpToSeq, ps -> ps.setLong(1, lastSeq));
      } catch (SQLException | RuntimeException e) {
        c.rollback();
        throw e;
      } finally {
        c.setAutoCommit(autoCommit);
      }
    } catch (SQLException e) {
      throw new SaasException("Could not prune the invalidation log in schema " + settings.schema() + ": "
          + e.getMessage() + ". Does this role have CacheSchema.grantApp?", e);
    }
  }

  private interface Binder {
    void bind(PreparedStatement ps) throws SQLException;
  }

  private long deleteInBatches(Connection c, String deleteSql, Binder bound) throws SQLException {
    long total = 0;
    while (true) {
      try (PreparedStatement lock = c.prepareStatement(sql.lockPruneState); ResultSet rs = lock.executeQuery()) {
        if (!rs.next()) {
          c.commit();
          return total; // another node is pruning right now
        }
      }
      long deleted;
      try (PreparedStatement ps = c.prepareStatement(deleteSql)) {
        bound.bind(ps);
        ps.setInt(2, settings.pruneBatchSize());
        try (ResultSet rs = ps.executeQuery()) {
          rs.next();
          deleted = rs.getLong(1);
        }
      }
      c.commit();
      total += deleted;
      counters.pruned.add(deleted);
      if (deleted < settings.pruneBatchSize()) {
        return total;
      }
    }
  }
}
