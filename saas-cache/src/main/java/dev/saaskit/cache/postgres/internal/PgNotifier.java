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
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends the coalesced wake-up: at most one {@code NOTIFY} per notify interval per bus, in a tiny transaction of
 * its own, after the publishing transaction committed. A business transaction never notifies: NOTIFY takes a
 * cluster-wide lock at commit that serialises the commits of every notifying transaction.
 *
 * <p>A publish in the bus's own transaction is committed when it returns, so it asks for a notify at once. A
 * publish in the app's transaction hands over its transaction id; the notifier asks the server
 * ({@code pg_xact_status}) until the transaction committed (then notifies), rolled back (then does nothing) or has
 * been running for a poll interval (then stops asking: the readers' periodic poll finds it just as fast).
 * Notifications are only a wake-up; losing one delays delivery by at most a poll interval.
 */
public final class PgNotifier {
  private static final Logger LOG = LoggerFactory.getLogger(PgNotifier.class);
  /** More watched transactions than this are left to the periodic poll. */
  private static final int MAX_WATCHED = 10_000;
  private static final long FIRST_CHECK_NANOS = TimeUnit.MILLISECONDS.toNanos(1);

  private final PgBusSettings settings;
  private final PgCounters counters;
  private final ScheduledExecutorService executor;
  private final long intervalNanos;
  private final long watchNanos;

  // guarded by this
  private boolean notifyRequested;
  private final Map<Long, Long> watched = new LinkedHashMap<>(); // xid -> nanoTime first watched
  private boolean scheduled;
  private long lastSentNanos;
  private long checkDelayNanos = FIRST_CHECK_NANOS;
  private boolean closed;

  public PgNotifier(PgBusSettings settings, PgCounters counters) {
    this.settings = settings;
    this.counters = counters;
    this.intervalNanos = settings.notifyInterval().toNanos();
    this.watchNanos = settings.pollInterval().toNanos();
    this.lastSentNanos = System.nanoTime() - intervalNanos;
    ScheduledThreadPoolExecutor ex = new ScheduledThreadPoolExecutor(1, r -> {
      Thread t = new Thread(r, "saaskit-cache-bus-notify-" + settings.nodeName());
      t.setDaemon(true);
      return t;
    });
    ex.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
    this.executor = ex;
  }

  /** A publish committed: notify within the interval. */
  public synchronized void committed() {
    notifyRequested = true;
    schedule(Math.max(0, lastSentNanos + intervalNanos - System.nanoTime()));
  }

  /** A publish was written in the app's transaction {@code xid}: notify once it committed. */
  public synchronized void watch(long xid) {
    if (watched.size() >= MAX_WATCHED) {
      return;
    }
    watched.putIfAbsent(xid, System.nanoTime());
    checkDelayNanos = FIRST_CHECK_NANOS;
    schedule(FIRST_CHECK_NANOS);
  }

  private void schedule(long delayNanos) {
    if (scheduled || closed) {
      return;
    }
    scheduled = true;
    executor.schedule(this::run, delayNanos, TimeUnit.NANOSECONDS);
  }

  private void run() {
    List<Long> toCheck;
    synchronized (this) {
      scheduled = false;
      if (closed) {
        return;
      }
      toCheck = new ArrayList<>(watched.keySet());
    }
    boolean committedFound = false;
    try (Connection c = settings.dataSource().getConnection()) {
      boolean autoCommit = c.getAutoCommit();
      if (!toCheck.isEmpty()) {
        committedFound = checkWatched(c, toCheck);
      }
      long now = System.nanoTime();
      boolean send;
      synchronized (this) {
        if (committedFound) {
          notifyRequested = true;
        }
        send = notifyRequested && now - lastSentNanos >= intervalNanos;
        if (send) {
          notifyRequested = false;
          lastSentNanos = now;
        }
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
      if (notifyRequested) {
        schedule(Math.max(0, lastSentNanos + intervalNanos - System.nanoTime()));
      } else if (!watched.isEmpty()) {
        checkDelayNanos = Math.min(checkDelayNanos * 2, Math.max(intervalNanos, watchNanos / 4));
        schedule(checkDelayNanos);
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

  /** Stops; a wake-up not yet sent is left to the readers' poll. */
  public void close() {
    synchronized (this) {
      closed = true;
      watched.clear();
    }
    executor.shutdownNow();
    try {
      executor.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
