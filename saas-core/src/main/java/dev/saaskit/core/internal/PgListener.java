package dev.saaskit.core.internal;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.random.RandomGenerator;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;

/**
 * The one {@code LISTEN} loop of saaskit (the cache's invalidation bus and the jobs worker use it): a thread that
 * holds a dedicated connection listening on some channels, waits for notifications with pgjdbc's
 * {@code getNotifications(timeout)}, and hands them to a {@link Handler}; when the connection fails it drops it
 * (first running one statement through the pool's wrapper, so that a pool such as HikariCP sees the fatal error and
 * evicts the connection), waits with exponential backoff and jitter, connects and {@code LISTEN}s again, and tells
 * the handler, which catches up on what it may have missed. {@link #close(long)} stops the thread within a bound
 * and leaves a pooled connection as it found it (no {@code LISTEN}, its {@code application_name}).
 *
 * <p>Everything the handler does runs on the listener thread; it may use the connection for queries (it is in
 * auto-commit mode when handed over). An {@link SQLException} or {@link RuntimeException} thrown by the handler
 * counts as a connection failure. Not API.
 */
public final class PgListener {
  /** A notification: its channel and payload. */
  public record Notification(String channel, String payload) {}

  /** What the loop calls, on its thread. */
  public interface Handler {
    /**
     * The connection is listening. {@code reconnect} is true after a failure: notifications sent meanwhile were
     * lost, so catch up now.
     */
    void onConnected(Connection connection, boolean reconnect) throws SQLException;

    /** After each wait: the notifications received, or none when the wait timed out (or {@link #wake()} ended it). */
    void onWake(Connection connection, List<Notification> received) throws SQLException;

    /**
     * The connection failed ({@code attempt}: consecutive failures, 1 for the first); it is dropped and a new one is
     * tried after a backoff.
     */
    void onFailure(Exception failure, int attempt);

    /** How long the next wait may block, in milliseconds (at least 1). */
    default long nextWaitMillis() {
      return 250;
    }

    /**
     * Whether waiting for notifications is useful on this connection; false (e.g. behind a transaction-pooling
     * proxy, where {@code LISTEN} does not hold) makes the loop wait for {@link #wake()} or the timeout instead.
     */
    default boolean notificationsWork() {
      return true;
    }
  }

  private final DataSource dataSource;
  private final List<String> channels;
  private final @Nullable String applicationName;
  private final Duration backoffMin;
  private final Duration backoffMax;
  private final RandomGenerator random;
  private final Handler handler;
  private final Thread thread;
  private final Object signal = new Object();

  private volatile boolean closing;
  private volatile boolean abandoned;
  private boolean wakeRequested; // guarded by signal
  private @Nullable Connection connection; // the listener thread's (and start()'s, before the thread runs)

  /**
   * A loop that is not running yet.
   *
   * @param dataSource where the dedicated connection comes from
   * @param channels the channels to {@code LISTEN} on (quoted, so case-sensitive)
   * @param applicationName the connection's {@code application_name} while it listens, or null to leave it
   * @param backoffMin the first delay after a failure, doubling per consecutive failure
   * @param backoffMax the longest delay; each delay is drawn over the upper half of its step
   * @param threadName the listener thread's name (a daemon thread)
   */
  public PgListener(DataSource dataSource, List<String> channels, @Nullable String applicationName,
      Duration backoffMin, Duration backoffMax, RandomGenerator random, String threadName, Handler handler) {
    this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
    this.channels = List.copyOf(channels);
    this.applicationName = applicationName;
    this.backoffMin = backoffMin;
    this.backoffMax = backoffMax;
    this.random = random;
    this.handler = Objects.requireNonNull(handler, "handler");
    this.thread = new Thread(this::run, threadName);
    this.thread.setDaemon(true);
  }

  /**
   * Starts the thread. With {@code connectFirst}, connects and listens before returning (the handler's
   * {@code onConnected} then runs on the thread, first thing), so that a notification sent after this returns is
   * received; otherwise the thread connects (with backoff on failure).
   *
   * @throws SQLException if {@code connectFirst} and the connection or the {@code LISTEN} failed (no thread runs)
   */
  public void start(boolean connectFirst) throws SQLException {
    if (connectFirst) {
      connection = connect();
    }
    thread.start();
  }

  /** Ends the current wait early (when it is not a wait for notifications, see {@link Handler#notificationsWork}). */
  public void wake() {
    synchronized (signal) {
      wakeRequested = true;
      signal.notifyAll();
    }
  }

  /** Asks the thread to stop, without waiting. */
  public void signalClose() {
    closing = true;
    wake();
  }

  /**
   * Stops the thread (after the handler call in progress) and releases the connection, waiting at most
   * {@code nanos}; returns whether the thread stopped in time.
   */
  public boolean close(long nanos) {
    signalClose();
    try {
      thread.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(nanos)));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return !thread.isAlive();
  }

  /** Crash simulation for tests: stop reading and leave the connection as it is (not closed, still listening). */
  public void abandon() {
    abandoned = true;
    signalClose();
  }

  private void run() {
    boolean reconnect = false;
    boolean announce = connection != null; // connected by start(): onConnected has not run yet
    int failures = 0;
    while (!closing) {
      try {
        Connection c = connection;
        if (c == null) {
          c = connect();
          connection = c;
          announce = true;
        }
        if (announce) {
          announce = false;
          handler.onConnected(c, reconnect);
          reconnect = false;
          failures = 0;
          continue;
        }
        long waitMs = Math.max(1, handler.nextWaitMillis());
        List<Notification> received = List.of();
        if (handler.notificationsWork() && !takeWake()) {
          PGNotification[] batch = c.unwrap(PGConnection.class).getNotifications((int) Math.min(waitMs, 60_000));
          if (batch != null && batch.length > 0) {
            List<Notification> list = new ArrayList<>(batch.length);
            for (PGNotification n : batch) {
              list.add(new Notification(n.getName(), n.getParameter()));
            }
            received = list;
          }
        } else {
          awaitWake(waitMs);
        }
        if (closing) {
          break;
        }
        handler.onWake(c, received);
        failures = 0;
      } catch (SQLException | RuntimeException e) {
        if (closing) {
          break;
        }
        failures++;
        reconnect = true;
        drop();
        handler.onFailure(e, failures);
        backoff(failures);
      }
    }
    if (!abandoned) {
      release();
    }
  }

  private Connection connect() throws SQLException {
    Connection c = dataSource.getConnection();
    try {
      c.setAutoCommit(true);
      if (applicationName != null) {
        try (PreparedStatement ps = c.prepareStatement("SELECT set_config('application_name', ?, false)")) {
          ps.setString(1, applicationName);
          ps.execute();
        }
      }
      try (Statement st = c.createStatement()) {
        for (String channel : channels) {
          st.execute("LISTEN " + SqlNames.quoteIdent(channel));
        }
      }
      c.unwrap(PGConnection.class); // fails early on a driver that cannot receive notifications
      return c;
    } catch (SQLException | RuntimeException e) {
      try {
        c.close();
      } catch (SQLException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
  }

  /** Drops a failed connection. */
  private void drop() {
    Connection c = connection;
    connection = null;
    if (c == null) {
      return;
    }
    // getNotifications() failed on the unwrapped driver connection, out of sight of a pool wrapper such as
    // HikariCP; a statement through the wrapper shows it the fatal error, so it evicts the connection instead of
    // handing the dead one back on the next getConnection().
    try (Statement st = c.createStatement()) {
      st.execute("SELECT 1");
    } catch (SQLException expected) {
      // the point of the probe
    }
    try {
      c.close();
    } catch (SQLException ignored) {
      // a dead connection
    }
  }

  /** Leaves a pooled connection as it was found: no LISTEN, the pool's application_name, auto-commit. */
  private void release() {
    Connection c = connection;
    connection = null;
    if (c == null) {
      return;
    }
    try {
      if (!c.getAutoCommit()) {
        c.rollback();
        c.setAutoCommit(true);
      }
      try (Statement st = c.createStatement()) {
        st.execute("UNLISTEN *");
        if (applicationName != null) {
          st.execute("RESET application_name");
        }
      }
    } catch (SQLException ignored) {
      // a broken connection: closing it below discards it
    }
    try {
      c.close();
    } catch (SQLException ignored) {
      // closing anyway
    }
  }

  private boolean takeWake() {
    synchronized (signal) {
      boolean requested = wakeRequested;
      wakeRequested = false;
      return requested;
    }
  }

  private void awaitWake(long millis) {
    long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
    synchronized (signal) {
      long left;
      while (!wakeRequested && !closing && (left = until - System.nanoTime()) > 0) {
        try {
          signal.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          closing = true;
        }
      }
      wakeRequested = false;
    }
  }

  private void backoff(int failures) {
    long delay = backoffMillis(backoffMin, backoffMax, failures, random);
    long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(delay);
    synchronized (signal) {
      long left;
      while (!closing && (left = until - System.nanoTime()) > 0) {
        try {
          TimeUnit.NANOSECONDS.timedWait(signal, left);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          closing = true;
        }
      }
    }
  }

  /**
   * The delay before reconnect attempt {@code failures} (1 for the first): {@code min} doubling per failure up to
   * {@code max}, drawn uniformly over the upper half of that step, so that nodes that lost the server together do
   * not return together.
   */
  public static long backoffMillis(Duration min, Duration max, int failures, RandomGenerator random) {
    long lo = Math.max(1, min.toMillis());
    long hi = Math.max(lo, max.toMillis());
    long ceiling = lo << Math.min(Math.max(0, failures - 1), 20);
    long delay = Math.min(hi, ceiling <= 0 ? hi : ceiling);
    return Math.max(1, delay / 2 + (delay > 1 ? random.nextLong(delay - delay / 2) : 0));
  }
}
