package dev.saaskit.jobs.internal;

import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;

/**
 * The outcome writer: one thread takes whatever is waiting (so an idle worker writes each item at once, a busy one
 * hundreds per statement) and writes it in one fenced statement. Two kinds of items share that statement:
 *
 * <ul>
 *   <li>outcomes of finished attempts;
 *   <li>starts of held jobs: a job that waited in the prefetch may run only once its start (its attempt) is
 *       recorded. A handler thread that takes one asks for it and waits; and with every statement the engine picks
 *       held jobs next in line to record ahead of need, as many as its handlers are starting, so threads seldom
 *       wait.
 * </ul>
 *
 * <p>Its backlog is bounded by the engine, which counts a job as holding its slot until its outcome is written.
 */
final class WorkerFlusher {
  /** What the engine does with the writer's results. */
  interface Callbacks {
    /**
     * The outcome's statement committed; {@code finalState} is the state the row ended in (it differs from the
     * outcome's when a cancel that arrived meanwhile won), or null when the lease fence rejected the outcome.
     * {@code byEarlierTry}: the row showed the outcome already, written by a try whose commit was not confirmed.
     */
    void written(WorkerOutcome outcome, @Nullable String finalState, boolean byEarlierTry);

    /** The outcome could not be written (refused twice, or past the shutdown deadline); its lease will expire. */
    void notWritten(WorkerOutcome outcome);

    /** A start was recorded, or not (lease lost, or the writer gave up or stopped). */
    void startWritten(WorkerJob job, boolean recorded);

    /** Held jobs to record the start of ahead of need, in this statement; already moved to REQUESTED. */
    List<WorkerJob> startsAhead();
  }

  /** The most items one statement carries. */
  static final int MAX_BATCH = 500;

  private final DataSource dataSource;
  /** The plain statement (WorkerSql#write), sent as a rule. */
  private final String sql;
  /** Its SKIP LOCKED variant, sent after the plain one failed on a lock and while {@link #locked} is not empty. */
  private final String sqlSkipLocked;
  private final ReentrantLock rowWrites;
  private final Callbacks callbacks;
  private final Logger log;
  /** {@link WorkerOutcome}s and {@link WorkerJob}s (start requests), in arrival order. */
  private final LinkedBlockingQueue<Object> waiting = new LinkedBlockingQueue<>();
  private final Thread thread;

  private volatile boolean draining;
  private volatile long giveUpAtNanos;
  private volatile boolean abandoned;
  /**
   * Starts and outcomes a statement skipped because another transaction held their rows locked (see
   * WorkerSql#write): tried again, in a later statement, from {@link #lockedRetryAtNanos} on, with a backoff of 50 ms
   * to 1 s while they stay locked. Writer thread only.
   */
  private final List<Object> locked = new ArrayList<>();
  private long lockedRetryAtNanos;
  private long lockedBackoffMillis = LOCKED_FIRST_BACKOFF_MILLIS;
  private static final long LOCKED_FIRST_BACKOFF_MILLIS = 50;
  private static final long LOCKED_MAX_BACKOFF_MILLIS = 1000;
  /**
   * The batch being written holds items an earlier statement skipped as locked, or some still wait in
   * {@link #locked}: it is sent with the SKIP LOCKED variant at once (the plain one would likely wait on the same
   * rows). Writer thread only.
   */
  private boolean lockedLately;
  /** Set once the thread has ended; later start requests are refused at once. Guarded by {@code this}. */
  private boolean stopped;

  WorkerFlusher(DataSource dataSource, String sql, String sqlSkipLocked, ReentrantLock rowWrites,
      Callbacks callbacks, Logger log, String threadName) {
    this.dataSource = dataSource;
    this.sql = sql;
    this.sqlSkipLocked = sqlSkipLocked;
    this.rowWrites = rowWrites;
    this.callbacks = callbacks;
    this.log = log;
    this.thread = new Thread(this::run, threadName);
    this.thread.setDaemon(true);
  }

  void start() {
    thread.start();
  }

  void submit(WorkerOutcome outcome) {
    if (!abandoned) {
      waiting.add(outcome);
    }
  }

  /** Asks for {@code job}'s start to be recorded (the caller moved it to REQUESTED); answers by callback. */
  void requestStart(WorkerJob job) {
    synchronized (this) {
      if (!stopped) {
        waiting.add(job);
        return;
      }
    }
    callbacks.startWritten(job, false);
  }

  /** Writes what was submitted and stops, trying until {@code deadlineNanos}; returns when done or past it. */
  void drainAndStop(long deadlineNanos) throws InterruptedException {
    stopBy(deadlineNanos);
    long waitMillis = Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadlineNanos - System.nanoTime()) + 1000);
    thread.join(waitMillis);
  }

  /** Like {@link #drainAndStop} without waiting: the writer ends on its own once done or past the deadline. */
  void stopBy(long deadlineNanos) {
    giveUpAtNanos = deadlineNanos;
    draining = true;
  }

  /** Crash simulation: drop everything, write nothing more. */
  void abandon() {
    abandoned = true;
    waiting.clear();
    thread.interrupt();
  }

  private void run() {
    List<Object> items = new ArrayList<>();
    List<WorkerOutcome> carried = new ArrayList<>();
    try {
      while (!abandoned) {
        boolean retryLocked = !locked.isEmpty() && System.nanoTime() - lockedRetryAtNanos >= 0;
        if (retryLocked) {
          items.addAll(locked);
          locked.clear();
          items.addAll(carried);
          carried.clear();
        } else if (carried.isEmpty()) {
          Object first;
          try {
            first = waiting.poll(50, TimeUnit.MILLISECONDS);
          } catch (InterruptedException e) {
            if (abandoned) {
              return;
            }
            continue;
          }
          if (first == null) {
            if (draining && (locked.isEmpty() || System.nanoTime() - giveUpAtNanos > 0)) {
              return;
            }
            continue;
          }
          items.add(first);
        } else {
          items.addAll(carried);
          carried.clear();
        }
        waiting.drainTo(items, Math.max(0, MAX_BATCH - items.size()));
        Map<Long, WorkerJob> starts = new LinkedHashMap<>();
        List<WorkerOutcome> outcomes = new ArrayList<>();
        for (Object item : items) {
          if (item instanceof WorkerJob job) {
            starts.put(job.id, job);
          } else {
            outcomes.add((WorkerOutcome) item);
          }
        }
        items.clear();
        for (WorkerJob job : callbacks.startsAhead()) {
          starts.put(job.id, job);
        }
        // one statement must not update a row twice: an outcome of a job whose start is in this batch (a held job
        // released at shutdown while its start was requested) waits for the next one
        if (!starts.isEmpty()) {
          outcomes.removeIf(o -> starts.containsKey(o.job().id) && carried.add(o));
        }
        boolean hadLocked = !locked.isEmpty();
        lockedLately = retryLocked || hadLocked;
        writeUntilDone(new ArrayList<>(starts.values()), outcomes);
        if (locked.isEmpty()) {
          lockedBackoffMillis = LOCKED_FIRST_BACKOFF_MILLIS;
        } else if (retryLocked || !hadLocked) {
          // skipped again, or for the first time: the next try waits a little longer
          lockedRetryAtNanos = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(lockedBackoffMillis);
          lockedBackoffMillis = Math.min(LOCKED_MAX_BACKOFF_MILLIS, 2 * lockedBackoffMillis);
        }
      }
    } finally {
      carried.addAll(0, locked.stream().filter(WorkerOutcome.class::isInstance).map(WorkerOutcome.class::cast)
          .toList());
      List<Object> lockedStarts = locked.stream().filter(WorkerJob.class::isInstance).toList();
      locked.clear();
      for (Object job : lockedStarts) {
        callbacks.startWritten((WorkerJob) job, false);
      }
      refuseWhatIsLeft(carried);
    }
  }

  /** The thread ends: nobody will write what is still waiting, so its waiters and owners are told. */
  private void refuseWhatIsLeft(List<WorkerOutcome> carried) {
    List<Object> left = new ArrayList<>(carried);
    synchronized (this) {
      stopped = true;
      waiting.drainTo(left);
    }
    for (Object item : left) {
      if (item instanceof WorkerJob job) {
        callbacks.startWritten(job, false);
      } else if (!abandoned) {
        callbacks.notWritten((WorkerOutcome) item);
      }
    }
  }

  private void writeUntilDone(List<WorkerJob> starts, List<WorkerOutcome> outcomes) {
    long backoffMillis = 50;
    while (!abandoned) {
      try {
        write(starts, outcomes);
        return;
      } catch (SQLException e) {
        if (isDataError(e)) {
          if (!starts.isEmpty()) {
            writeUntilDone(starts, List.of());
          }
          writeOneByOne(outcomes);
          return;
        }
        if (draining && System.nanoTime() - giveUpAtNanos > 0) {
          log.error("could not record the outcome of {} job(s) and the start of {} before the shutdown deadline;"
              + " they stay running until their leases expire and are then rescued: {}", outcomes.size(),
              starts.size(), e.getMessage());
          starts.forEach(job -> callbacks.startWritten(job, false));
          outcomes.forEach(callbacks::notWritten);
          return;
        }
        log.warn("recording the outcome of {} job(s) and the start of {} failed, retrying in {} ms: {}",
            outcomes.size(), starts.size(), backoffMillis, e.getMessage());
        try {
          Thread.sleep(backoffMillis);
        } catch (InterruptedException interrupted) {
          if (abandoned) {
            return;
          }
        }
        backoffMillis = Math.min(2000, backoffMillis * 2);
      } catch (RuntimeException | Error e) {
        // not the database's answer but a fault of ours or of a wrapper around the DataSource: retrying would hit
        // it again, and ending the thread would leave every later outcome unwritten while heartbeats kept the
        // jobs leased for ever. This batch is given up (its jobs' leases lapse and rescue takes them); the
        // writer carries on with the next one. An Error too (a wrapper's failed assertion, a stack overflow): it
        // ended the thread just the same.
        log.error("recording the outcome of {} job(s) and the start of {} failed unexpectedly; they are left to"
            + " lease expiry and rescue", outcomes.size(), starts.size(), e);
        starts.forEach(job -> callbacks.startWritten(job, false));
        outcomes.forEach(callbacks::notWritten);
        return;
      }
    }
  }

  /** A value the database refused (it should not happen: texts are cleaned) must not block the other outcomes. */
  private void writeOneByOne(List<WorkerOutcome> batch) {
    for (WorkerOutcome outcome : batch) {
      try {
        write(List.of(), List.of(outcome));
      } catch (SQLException | RuntimeException | Error e) {
        WorkerOutcome plain = new WorkerOutcome(outcome.job(), outcome.kind(), null,
            WorkerErrors.clean("the outcome could not be stored as reported: " + e.getMessage(),
                WorkerErrors.MAX_ERROR_CHARS), outcome.runAt(), null);
        try {
          write(List.of(), List.of(plain));
        } catch (SQLException | RuntimeException | Error again) {
          log.error("could not record the outcome of job {}; it will be rescued after its lease expires: {}",
              outcome.job().id, again.getMessage());
          callbacks.notWritten(outcome);
        }
      }
    }
  }

  private static boolean isDataError(SQLException e) {
    String state = e.getSQLState();
    return state != null && (state.startsWith("22") || state.startsWith("23"));
  }

  private void write(List<WorkerJob> starts, List<WorkerOutcome> batch) throws SQLException {
    Long[] startIds = new Long[starts.size()];
    Long[] startEpochs = new Long[starts.size()];
    for (int i = 0; i < startIds.length; i++) {
      startIds[i] = starts.get(i).id;
      startEpochs[i] = starts.get(i).epoch;
    }
    int n = batch.size();
    Long[] ids = new Long[n];
    Long[] epochs = new Long[n];
    String[] states = new String[n];
    Integer[] uncount = new Integer[n];
    Long[] runAtMicros = new Long[n];
    String[] results = new String[n];
    String[] errors = new String[n];
    Float[] progress = new Float[n];
    String[] messages = new String[n];
    for (int i = 0; i < n; i++) {
      WorkerOutcome o = batch.get(i);
      ids[i] = o.job().id;
      epochs[i] = o.job().epoch;
      states[i] = o.kind().state;
      uncount[i] = o.kind() == WorkerOutcome.Kind.RELEASED ? 1 : 0;
      Instant runAt = o.runAt();
      // not ChronoUnit.MICROS.between(EPOCH, runAt): it counts nanoseconds first and overflows after the year 2262,
      // which ended this thread (RetryPolicy bounds delays to MAX_DELAY, well inside a long of microseconds)
      runAtMicros[i] = runAt == null ? null : runAt.getEpochSecond() * 1_000_000L + runAt.getNano() / 1_000;
      results[i] = o.resultJson();
      errors[i] = o.error();
      if (o.progress() != null) {
        progress[i] = o.progress().fraction();
        messages[i] = o.progress().message();
      }
    }
    rowWrites.lock();
    try (Connection c = dataSource.getConnection()) {
      if (!c.getAutoCommit()) {
        c.setAutoCommit(true);
      }
      Set<Long> started = new HashSet<>();
      Map<Long, String> applied = new HashMap<>();
      Set<Long> byEarlierTry = new HashSet<>();
      Set<Long> startsLocked = new HashSet<>();
      Set<Long> outcomesLocked = new HashSet<>();
      Array[] arrays = {c.createArrayOf("int8", startIds), c.createArrayOf("int8", startEpochs),
          c.createArrayOf("int8", ids), c.createArrayOf("int8", epochs),
          c.createArrayOf("text", states), c.createArrayOf("int4", uncount), c.createArrayOf("int8", runAtMicros),
          c.createArrayOf("text", results), c.createArrayOf("text", errors), c.createArrayOf("float4", progress),
          c.createArrayOf("text", messages)};
      // the plain statement as a rule; the SKIP LOCKED variant while rows it skipped wait (or are in this batch),
      // or once the plain one failed on a row lock (it then wrote nothing: one statement, one transaction)
      boolean skipLocked = lockedLately || !locked.isEmpty();
      if (!skipLocked) {
        try {
          send(c, sql, arrays, started, applied, byEarlierTry, startsLocked, outcomesLocked);
        } catch (SQLException e) {
          if (!WorkerSql.lockNotGranted(e)) {
            throw e;
          }
          log.debug("the outcome statement waited on a row lock for {} ms; sending its SKIP LOCKED variant",
              WorkerSql.LOCK_TIMEOUT_MILLIS);
          skipLocked = true;
        }
      }
      if (skipLocked) {
        started.clear();
        applied.clear();
        byEarlierTry.clear();
        send(c, sqlSkipLocked, arrays, started, applied, byEarlierTry, startsLocked, outcomesLocked);
      }
      for (WorkerJob job : starts) {
        if (startsLocked.contains(job.id) && !started.contains(job.id)) {
          locked.add(job); // its row is locked by someone else: a later statement records it
        } else {
          callbacks.startWritten(job, started.contains(job.id));
        }
      }
      for (WorkerOutcome o : batch) {
        long id = o.job().id;
        if (outcomesLocked.contains(id) && !applied.containsKey(id)) {
          locked.add(o); // its row is locked by someone else: a later statement writes it (or the fence rejects it)
        } else {
          callbacks.written(o, applied.get(id), byEarlierTry.contains(id));
        }
      }
    } finally {
      rowWrites.unlock();
    }
  }

  /** Sends one of the two statements and sorts its answer. */
  private static void send(Connection c, String sql, Array[] arrays, Set<Long> started, Map<Long, String> applied,
      Set<Long> byEarlierTry, Set<Long> startsLocked, Set<Long> outcomesLocked) throws SQLException {
    try (PreparedStatement st = c.prepareStatement(sql)) {
      for (int i = 0; i < arrays.length; i++) {
        st.setArray(i + 1, arrays[i]);
      }
      try (ResultSet rs = st.executeQuery()) {
        while (rs.next()) {
          String kind = rs.getString(1);
          if ("s".equals(kind)) {
            started.add(rs.getLong(2));
          } else if ("k".equals(kind)) {
            startsLocked.add(rs.getLong(2));
          } else if ("l".equals(kind)) {
            outcomesLocked.add(rs.getLong(2));
          } else {
            applied.put(rs.getLong(2), rs.getString(3));
            if ("a".equals(kind)) {
              byEarlierTry.add(rs.getLong(2));
            }
          }
        }
      }
    }
  }
}
