package dev.saaskit.cache.postgres.internal;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.StringJoiner;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends the coalesced wake-up: at most one {@code NOTIFY} per notify interval per bus, in a tiny transaction of
 * its own, after the publishing transaction committed. A business transaction never notifies: NOTIFY takes a
 * cluster-wide lock at commit that serialises the commits of every notifying transaction.
 *
 * <p>All the work happens in runs, at most one per notify interval (the first one of a quiet period at once):
 * a publish in the bus's own transaction is committed when it returns, so the next run notifies. A publish in the
 * app's transaction hands over its transaction id; the next run asks the server ({@code pg_xact_status}, one
 * query for all of them) whether each committed (then it notifies), rolled back (forgotten) or is still running
 * (asked again next run, until it has been running for a poll interval: then the readers' periodic read finds it
 * just as fast). So a bus costs the database at most two tiny statements per notify interval, however many
 * invalidations it publishes. Notifications are only a wake-up; losing one delays delivery by at most a poll
 * interval.
 */
public final class PgNotifier {
  private static final Logger LOG = LoggerFactory.getLogger(PgNotifier.class);
  /** More watched transactions than this are left to the periodic poll. */
  private static final int MAX_WATCHED = 10_000;
  /** A transactional publish is usually followed by its commit within a moment: do not ask before. */
  private static final long WATCH_DELAY_NANOS = TimeUnit.MILLISECONDS.toNanos(2);

  private final PgBusSettings settings;
  private final PgCounters counters;
  private @Nullable ScheduledExecutorService executor; // guarded by this; created by start()
  private final long intervalNanos;
  private final long watchNanos;

  // guarded by this
  private boolean notifyRequested;
  private final Map<Long, Long> watched = new LinkedHashMap<>(); // xid -> nanoTime first watched
  private @Nullable ScheduledFuture<?> next;
  private long nextAtNanos;
  private long lastRunNanos;
  private boolean closed;

  public PgNotifier(PgBusSettings settings, PgCounters counters) {
    this.settings = settings;
    this.counters = counters;
    this.intervalNanos = settings.notifyInterval().toNanos();
    this.watchNanos = settings.pollInterval().toNanos();
    this.lastRunNanos = System.nanoTime() - intervalNanos;
  }

  /** Starts the notifier's thread; a wake-up requested before is sent at once. */
  public synchronized void start() {
    ScheduledThreadPoolExecutor ex = new ScheduledThreadPoolExecutor(1, r -> {
      Thread t = new Thread(r, "saaskit-cache-bus-notify-" + settings.nodeName());
      t.setDaemon(true);
      return t;
    });
    ex.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
    ex.setRemoveOnCancelPolicy(true);
    this.executor = ex;
    if (notifyRequested || !watched.isEmpty()) {
      scheduleAt(System.nanoTime());
    }
  }

  /** A publish committed: notify in the next run. */
  public synchronized void committed() {
    notifyRequested = true;
    scheduleAt(System.nanoTime());
  }

  /** A publish was written in the app's transaction {@code xid}: notify once it committed. */
  public synchronized void watch(long xid) {
    if (watched.size() >= MAX_WATCHED) {
      return;
    }
    long now = System.nanoTime();
    watched.putIfAbsent(xid, now);
    scheduleAt(now + WATCH_DELAY_NANOS);
  }

  /** Schedules a run at {@code wanted} or, to keep one run per interval, at the end of the current interval. */
  private void scheduleAt(long wanted) {
    ScheduledExecutorService executor = this.executor;
    if (closed || executor == null) {
      return; // before start(): start() schedules what was requested
    }
    long at = Math.max(wanted, lastRunNanos + intervalNanos);
    if (next != null) {
      if (nextAtNanos - at <= 0) {
        return; // a run at least as early is already planned
      }
      next.cancel(false);
    }
    nextAtNanos = at;
    next = executor.schedule(this::run, Math.max(0, at - System.nanoTime()), TimeUnit.NANOSECONDS);
  }

  private void run() {
    List<Long> toCheck;
    synchronized (this) {
      next = null;
      if (closed) {
        return;
      }
      lastRunNanos = System.nanoTime();
      toCheck = new ArrayList<>(watched.keySet());
    }
    try (Connection c = settings.dataSource().getConnection()) {
      boolean autoCommit = c.getAutoCommit();
      boolean committedFound = !toCheck.isEmpty() && checkWatched(c, toCheck);
      boolean send;
      synchronized (this) {
        send = notifyRequested || committedFound;
        notifyRequested = false;
      }
      if (send) {
        try (PreparedStatement ps = c.prepareStatement("SELECT pg_notify(?, '')")) {
          ps.setString(1, settings.channel());
          ps.execute();
        }
        if (!autoCommit) {
          c.commit();
        }
        counters.notificationsSent.increment();
      } else if (!autoCommit) {
        c.rollback();
      }
    } catch (SQLException | RuntimeException e) {
      // the readers' poll covers a lost wake-up
      LOG.debug("invalidation bus {}: could not send a notification: {}", settings.nodeName(), e.toString());
    }
    synchronized (this) {
      if (notifyRequested || !watched.isEmpty()) {
        scheduleAt(lastRunNanos + intervalNanos);
      }
    }
  }

  /** Drops finished and long-running transactions from the watch list; true if one of them committed. */
  private boolean checkWatched(Connection c, List<Long> xids) throws SQLException {
    StringJoiner array = new StringJoiner(",", "{", "}");
    xids.forEach(x -> array.add(Long.toUnsignedString(x)));
    Map<Long, String> status = new LinkedHashMap<>();
    try (PreparedStatement ps = c.prepareStatement(
        "SELECT x::text, pg_xact_status(x) FROM unnest(?::xid8[]) AS x")) {
      ps.setString(1, array.toString());
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          status.put(Long.parseUnsignedLong(rs.getString(1)), rs.getString(2));
        }
      }
    }
    boolean committed = false;
    long now = System.nanoTime();
    synchronized (this) {
      for (Long xid : xids) {
        String s = status.get(xid);
        if ("in progress".equals(s)) {
          Long since = watched.get(xid);
          if (since != null && now - since > watchNanos) {
            watched.remove(xid);
          }
          continue;
        }
        watched.remove(xid);
        committed |= "committed".equals(s);
      }
    }
    return committed;
  }

  /**
   * Stops, waiting at most {@code nanos} for a run in progress; a wake-up not yet sent is left to the readers'
   * poll. Returns whether the thread stopped in time.
   */
  public boolean close(long nanos) {
    ScheduledExecutorService ex;
    synchronized (this) {
      closed = true;
      watched.clear();
      ex = executor;
    }
    if (ex == null) {
      return true;
    }
    ex.shutdownNow();
    try {
      return ex.awaitTermination(Math.max(0, nanos), TimeUnit.NANOSECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }
}
