package dev.saaskit.cache.postgres.internal;

import dev.saaskit.cache.Invalidation;
import dev.saaskit.core.SaasException;
import dev.saaskit.core.TenantId;
import dev.saaskit.core.internal.PgListener;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The reading side of one bus: it reads the log after a notification, a local publish, every poll interval, and
 * after a reconnect. Listening, it runs on saaskit's shared LISTEN loop ({@link PgListener}, which holds the
 * listener connection, reconnects with backoff and calls back here); polling only, on a thread of its own. Its
 * position is the {@link PgSnapshot} of its last successful read; a read delivers exactly the rows of the
 * transactions that snapshot did not see committed, so a transaction that committed late (with a lower seq than
 * rows already delivered) is still found, and nothing is skipped however reads and commits interleave.
 */
public final class PgPoller implements PgListener.Handler {
  private static final Logger LOG = LoggerFactory.getLogger(PgPoller.class);
  /** Longest blocking wait, so that close() and local wake-ups are noticed promptly. */
  private static final long MAX_WAIT_MS = 100;
  private static final int FETCH_SIZE = 1000;

  /** Why a read happens; reads not caused by a wake-up count their deliveries as replayed. */
  enum Reason {
    START, NOTIFICATION, LOCAL, TIMER, RECONNECT;

    boolean isReplay() {
      return this == TIMER || this == RECONNECT;
    }
  }

  private final PgBusSettings settings;
  private final PgStatements sql;
  private final PgListeners listeners;
  private final PgCounters counters;
  private final CountDownLatch closing = new CountDownLatch(1);
  private final Object wakeLock = new Object();
  private final @Nullable PgListener loop; // null when polling only
  private final @Nullable Thread pollingThread; // set when polling only
  private final long pollNanos;
  private boolean wakeRequested; // guarded by wakeLock

  // Owned by the reading thread (and by the constructor before it starts).
  private PgSnapshot position;
  private String serverStart;
  private long nextPollAt;
  private @Nullable Connection listener;
  private int listenerPid;
  private volatile boolean notificationsWork;
  /** The thread that reads and delivers (the LISTEN loop's or the polling thread); set when it first runs. */
  private volatile @Nullable Thread reader;
  private boolean warnedPooled;
  private boolean recovering;

  /**
   * Reads the head of the log (the node starts there: nothing to replay for an empty cache), checks the server
   * and the schema, and starts the thread.
   *
   * @throws SaasException if the database cannot be read or the schema is missing (no thread is started then)
   */
  public static PgPoller start(PgBusSettings settings, PgStatements sql, PgListeners listeners, PgCounters counters) {
    PgSnapshot position;
    String serverStart;
    try (Connection c = settings.dataSource().getConnection()) {
      PgMigrator.checkServer(c);
      try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql.head)) {
        rs.next();
        position = PgSnapshot.parse(rs.getString(1));
        serverStart = rs.getString(3);
        if (rs.getObject(4) == null) {
          throw new SaasException("The cache schema " + settings.schema() + " has no migration recorded.");
        }
      }
      if (!c.getAutoCommit()) {
        c.commit();
      }
    } catch (SQLException e) {
      throw new SaasException("The PostgreSQL invalidation bus could not read its log in schema "
          + settings.schema() + ": " + e.getMessage() + ". Run CacheSchema.migrate as the owner and"
          + " CacheSchema.grantApp for this role, and check that the DataSource reaches the database.", e);
    }
    PgPoller poller = new PgPoller(settings, sql, listeners, counters, position, serverStart);
    if (poller.loop != null) {
      try {
        poller.loop.start(false); // the loop connects on its thread, with backoff
      } catch (SQLException e) {
        throw new IllegalStateException("unreachable: start(false) does not connect", e);
      }
    } else {
      Objects.requireNonNull(poller.pollingThread).start();
    }
    return poller;
  }

  private PgPoller(PgBusSettings settings, PgStatements sql, PgListeners listeners, PgCounters counters,
      PgSnapshot position, String serverStart) {
    this.settings = settings;
    this.sql = sql;
    this.listeners = listeners;
    this.counters = counters;
    this.position = position;
    this.serverStart = serverStart;
    this.pollNanos = settings.pollInterval().toNanos();
    this.nextPollAt = System.nanoTime() + pollNanos;
    String threadName = "saaskit-cache-bus-" + settings.nodeName();
    if (settings.pollingOnly()) {
      this.loop = null;
      Thread t = new Thread(this::pollLoop, threadName);
      t.setDaemon(true);
      this.pollingThread = t;
    } else {
      this.loop = new PgListener(settings.listenerDataSource(), List.of(settings.channel()),
          settings.listenerApplicationName(), settings.reconnectBackoffMin(), settings.reconnectBackoffMax(),
          settings.random(), threadName, this);
      this.pollingThread = null;
    }
  }

  /** Asks for a read soon (after a publish on this node). */
  public void wake() {
    synchronized (wakeLock) {
      wakeRequested = true;
      wakeLock.notifyAll();
    }
    if (loop != null) {
      loop.wake();
    }
  }

  /** Asks the thread to stop (after the delivery in progress, if any) and to close the listener connection. */
  public void signalClose() {
    closing.countDown();
    wake();
    if (loop != null) {
      loop.signalClose();
    }
  }

  /**
   * Stops the thread (after the delivery in progress, if any) and closes the listener connection, waiting at most
   * {@code nanos}; returns whether the thread stopped in time.
   */
  public boolean close(long nanos) {
    signalClose();
    if (isReaderThread()) {
      // close() from a subscriber: the thread stops when the subscriber returns; joining it here would wait for
      // itself until the timeout
      counters.listening = false;
      return true;
    }
    boolean stopped;
    if (loop != null) {
      stopped = loop.close(nanos);
    } else {
      Thread t = Objects.requireNonNull(pollingThread);
      try {
        t.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(nanos)));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      stopped = !t.isAlive();
    }
    counters.listening = false;
    return stopped;
  }

  /** Whether the calling thread is the one that delivers to the subscribers. */
  public boolean isReaderThread() {
    Thread current = Thread.currentThread();
    return current == reader || current == pollingThread;
  }

  private boolean isClosing() {
    return closing.getCount() == 0;
  }

  // ---- listening: called by the shared LISTEN loop, on its thread ----

  @Override
  public void onConnected(Connection c, boolean reconnect) throws SQLException {
    reader = Thread.currentThread();
    int pid;
    boolean listening;
    try (PreparedStatement ps = c.prepareStatement(
        "SELECT pg_backend_pid(), EXISTS (SELECT 1 FROM pg_listening_channels() ch WHERE ch = ?)")) {
      ps.setString(1, settings.channel());
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        pid = rs.getInt(1);
        listening = rs.getBoolean(2);
      }
    }
    c.setAutoCommit(false);
    listener = c;
    listenerPid = pid;
    notificationsWork = listening;
    counters.listening = listening;
    if (!listening) {
      warnPooled("LISTEN did not hold until the next statement");
    }
    // whatever was committed while no LISTEN was active is found by this read
    readNow(recovering || reconnect ? Reason.RECONNECT : Reason.START);
  }

  @Override
  public void onWake(Connection c, List<PgListener.Notification> received) throws SQLException {
    Reason due = null;
    if (!received.isEmpty()) {
      counters.notificationsReceived.add(received.size());
      due = Reason.NOTIFICATION;
    } else if (takeWake()) {
      due = Reason.LOCAL;
    } else if (System.nanoTime() - nextPollAt >= 0) {
      due = Reason.TIMER;
    }
    if (due != null) {
      readNow(recovering ? Reason.RECONNECT : due);
    }
  }

  @Override
  public void onFailure(Exception e, int attempt) {
    listener = null;
    notificationsWork = false;
    failed(e, attempt);
  }

  @Override
  public long nextWaitMillis() {
    return Math.max(1, Math.min(MAX_WAIT_MS, TimeUnit.NANOSECONDS.toMillis(nextPollAt - System.nanoTime())));
  }

  @Override
  public boolean notificationsWork() {
    return notificationsWork;
  }

  private void failed(Exception e, int attempt) {
    recovering = true;
    counters.listening = false;
    if (attempt == 1) {
      LOG.warn("invalidation bus {}: lost its database connection ({}); reconnecting with backoff, then"
          + " replaying the log", settings.nodeName(), e.toString());
    } else {
      LOG.debug("invalidation bus {}: reconnect attempt {} failed: {}", settings.nodeName(), attempt, e.toString());
    }
  }

  private void readNow(Reason reason) throws SQLException {
    read(reason);
    nextPollAt = System.nanoTime() + pollNanos;
  }

  // ---- polling only: a thread of its own, no listener connection ----

  private void pollLoop() {
    Reason due = null;
    int failures = 0;
    while (!isClosing()) {
      try {
        if (due == null && takeWake()) {
          due = Reason.LOCAL;
        }
        if (due == null && System.nanoTime() - nextPollAt >= 0) {
          due = Reason.TIMER;
        }
        if (due != null) {
          readNow(recovering ? Reason.RECONNECT : due);
          due = null;
          failures = 0;
        }
        awaitWake(nextWaitMillis());
      } catch (SQLException | RuntimeException e) {
        if (isClosing()) {
          break;
        }
        failures++;
        due = Reason.RECONNECT;
        failed(e, failures);
        backoff(failures);
      }
    }
    counters.listening = false;
  }

  private void read(Reason reason) throws SQLException {
    Connection c = listener;
    boolean borrowed = c == null;
    if (c == null) {
      c = settings.dataSource().getConnection();
    }
    boolean autoCommit = true;
    try {
      if (borrowed) {
        autoCommit = c.getAutoCommit();
        c.setAutoCommit(false);
      }
      Head head = readOn(c, reason, !borrowed);
      c.commit();
      position = head.snapshot;
      serverStart = head.serverStart;
      counters.lastReadNanos = System.nanoTime();
    } catch (SQLException | RuntimeException e) {
      if (borrowed) {
        try {
          c.rollback();
        } catch (SQLException ignored) {
          // the connection is broken; closing it below is all that is left to do
        }
      }
      throw e;
    } finally {
      if (borrowed) {
        try {
          c.setAutoCommit(autoCommit);
        } catch (SQLException ignored) {
          // a broken connection: the pool discards it
        }
        c.close();
      }
    }
  }

  private record Head(PgSnapshot snapshot, String serverStart) {}

  private Head readOn(Connection c, Reason reason, boolean onListener) throws SQLException {
    counters.polls.increment();
    String query = onListener ? sql.poll : sql.pollNoListenCheck;
    try (PreparedStatement ps = c.prepareStatement(query)) {
      ps.setFetchSize(FETCH_SIZE);
      int i = 1;
      if (onListener) {
        ps.setString(i++, settings.channel());
      }
      ps.setString(i++, position.xmaxText());
      ps.setString(i, position.xipArrayText());
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) {
          throw new IllegalStateException("the log read returned no head row");
        }
        Head head = new Head(PgSnapshot.parse(rs.getString(1)), rs.getString(3));
        if (recovering) {
          // counted before the replay's deliveries, so that whoever sees those also sees the count
          recovering = false;
          counters.reconnects.increment();
          LOG.info("invalidation bus {}: connected again; replaying the log from {}", settings.nodeName(), position);
        }
        if (onListener) {
          checkSession(rs.getInt(4), rs.getBoolean(5));
        }
        String lost = lostReason(head, rs.getString(2));
        if (lost != null) {
          LOG.warn("invalidation bus {}: {}; flushing every subscriber and continuing from the current head",
              settings.nodeName(), lost);
          counters.flushes.increment();
          listeners.flush();
          return head;
        }
        boolean malformed = false;
        do {
          if (rs.getObject(6) == null) {
            continue; // the head row of an empty read
          }
          Invalidation invalidation;
          try {
            invalidation = decode(rs);
          } catch (IllegalArgumentException e) {
            LOG.error("invalidation bus {}: log row seq {} is malformed ({}); it was not written by this library."
                + " Flushing instead.", settings.nodeName(), rs.getLong(6), e.getMessage());
            malformed = true;
            continue;
          }
          listeners.deliver(invalidation);
          counters.delivered.increment();
          if (reason.isReplay()) {
            counters.replayed.increment();
          }
        } while (rs.next());
        if (malformed) {
          counters.flushes.increment();
          listeners.flush();
        }
        return head;
      }
    }
  }

  private @Nullable String lostReason(Head head, @Nullable String lastPrunedTx) {
    if (!head.serverStart.equals(serverStart)) {
      // A restart can lose commits (synchronous_commit = off) and a failover to an asynchronous standby does;
      // the new server may then reuse transaction ids this node's position already counts as seen.
      return "the database server restarted or failed over (its start time changed from " + serverStart + " to "
          + head.serverStart + ")";
    }
    if (Long.compareUnsigned(head.snapshot.xmax(), position.xmax()) < 0) {
      return "transaction ids went backwards (from " + position.xmaxText() + " to " + head.snapshot.xmaxText()
          + "): a different database behind the same address?";
    }
    if (lastPrunedTx != null && position.mayHaveMissed(Long.parseUnsignedLong(lastPrunedTx))) {
      return "the log was pruned past this node's position (rows of transaction " + lastPrunedTx
          + " were deleted; this node had read up to " + position + ")";
    }
    return null;
  }

  private static Invalidation decode(ResultSet rs) throws SQLException {
    Invalidation.Scope scope = Invalidation.Scope.valueOf(rs.getString(7));
    String tenant = rs.getString(9);
    return new Invalidation(scope, rs.getString(8), tenant == null ? null : TenantId.of(tenant), rs.getString(10));
  }

  private void checkSession(int pid, boolean listening) {
    if (notificationsWork && (pid != listenerPid || !listening)) {
      notificationsWork = false;
      counters.listening = false;
      warnPooled("its session changed between statements (backend " + listenerPid + " then " + pid
          + (listening ? "" : ", LISTEN lost") + ")");
    }
  }

  private void warnPooled(String why) {
    if (!warnedPooled) {
      warnedPooled = true;
      LOG.warn("invalidation bus {}: the listener connection does not keep a session: {}. A proxy in"
          + " transaction pooling mode (PgBouncer) is in the way, so NOTIFY cannot wake this node; it reads the log"
          + " every {} ms instead. Give the bus a direct listenerDataSource, or set pollingOnly().",
          settings.nodeName(), why, settings.pollInterval().toMillis());
    }
  }

  private boolean takeWake() {
    synchronized (wakeLock) {
      boolean requested = wakeRequested;
      wakeRequested = false;
      return requested;
    }
  }

  /** Waits until a wake is requested, the poller is closing, or {@code millis} have passed. */
  private void awaitWake(long millis) {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
    synchronized (wakeLock) {
      // in a loop: wait() may return spuriously, before a wake, a close or the deadline
      long left;
      while (!wakeRequested && !isClosing() && (left = deadline - System.nanoTime()) > 0) {
        try {
          TimeUnit.NANOSECONDS.timedWait(wakeLock, left);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          closing.countDown();
          return;
        }
      }
    }
  }

  private void backoff(int failures) {
    long delay = PgListener.backoffMillis(settings.reconnectBackoffMin(), settings.reconnectBackoffMax(), failures,
        settings.random());
    try {
      closing.await(delay, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      closing.countDown();
    }
  }
}
