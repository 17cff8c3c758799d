package dev.saaskit.jobs.internal;

import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import javax.sql.DataSource;
import org.slf4j.Logger;

/**
 * Writes job outcomes in batches: one thread takes whatever outcomes are waiting (so an idle worker writes each
 * outcome at once, a busy one hundreds per statement) and runs one fenced UPDATE for all of them.
 */
final class WorkerFlusher {
  /** Called for each outcome after its statement committed; {@code applied} is false when the fence rejected it. */
  interface Written {
    void written(WorkerOutcome outcome, boolean applied);
  }

  private static final int MAX_BATCH = 500;

  private final DataSource dataSource;
  private final String sql;
  private final ReentrantLock rowWrites;
  private final Written callback;
  private final Logger log;
  private final LinkedBlockingQueue<WorkerOutcome> waiting = new LinkedBlockingQueue<>();
  private final Thread thread;

  private volatile boolean draining;
  private volatile long giveUpAtNanos;
  private volatile boolean abandoned;

  WorkerFlusher(DataSource dataSource, String sql, ReentrantLock rowWrites, Written callback, Logger log,
      String threadName) {
    this.dataSource = dataSource;
    this.sql = sql;
    this.rowWrites = rowWrites;
    this.callback = callback;
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

  /** Writes what was submitted and stops, trying until {@code deadlineNanos}; returns when done or past it. */
  void drainAndStop(long deadlineNanos) throws InterruptedException {
    giveUpAtNanos = deadlineNanos;
    draining = true;
    long waitMillis = Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadlineNanos - System.nanoTime()) + 1000);
    thread.join(waitMillis);
  }

  /** Crash simulation: drop everything, write nothing more. */
  void abandon() {
    abandoned = true;
    waiting.clear();
    thread.interrupt();
  }

  private void run() {
    List<WorkerOutcome> batch = new ArrayList<>();
    while (!abandoned) {
      WorkerOutcome first;
      try {
        first = waiting.poll(50, TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        if (abandoned) {
          return;
        }
        continue;
      }
      if (first == null) {
        if (draining) {
          return;
        }
        continue;
      }
      batch.add(first);
      waiting.drainTo(batch, MAX_BATCH - 1);
      writeUntilDone(batch);
      batch.clear();
    }
  }

  private void writeUntilDone(List<WorkerOutcome> batch) {
    long backoffMillis = 50;
    while (!abandoned) {
      try {
        write(batch);
        return;
      } catch (SQLException e) {
        if (isDataError(e)) {
          writeOneByOne(batch);
          return;
        }
        if (draining && System.nanoTime() - giveUpAtNanos > 0) {
          log.error("could not record the outcome of {} job(s) before the shutdown deadline; they stay running"
              + " until their leases expire and are then rescued: {}", batch.size(), e.getMessage());
          return;
        }
        log.warn("recording the outcome of {} job(s) failed, retrying in {} ms: {}", batch.size(), backoffMillis,
            e.getMessage());
        try {
          Thread.sleep(backoffMillis);
        } catch (InterruptedException interrupted) {
          if (abandoned) {
            return;
          }
        }
        backoffMillis = Math.min(2000, backoffMillis * 2);
      }
    }
  }

  /** A value the database refused (it should not happen: texts are cleaned) must not block the other outcomes. */
  private void writeOneByOne(List<WorkerOutcome> batch) {
    for (WorkerOutcome outcome : batch) {
      try {
        write(List.of(outcome));
      } catch (SQLException e) {
        WorkerOutcome plain = new WorkerOutcome(outcome.job(), outcome.kind(), null,
            WorkerErrors.clean("the outcome could not be stored as reported: " + e.getMessage(),
                WorkerErrors.MAX_ERROR_CHARS), outcome.runAt(), null);
        try {
          write(List.of(plain));
        } catch (SQLException again) {
          log.error("could not record the outcome of job {}; it will be rescued after its lease expires: {}",
              outcome.job().id, again.getMessage());
        }
      }
    }
  }

  private static boolean isDataError(SQLException e) {
    String state = e.getSQLState();
    return state != null && (state.startsWith("22") || state.startsWith("23"));
  }

  private void write(List<WorkerOutcome> batch) throws SQLException {
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
      runAtMicros[i] = runAt == null ? null : ChronoUnit.MICROS.between(Instant.EPOCH, runAt);
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
      Set<Long> applied = new HashSet<>();
      try (PreparedStatement st = c.prepareStatement(sql)) {
        Array[] arrays = {c.createArrayOf("int8", ids), c.createArrayOf("int8", epochs),
            c.createArrayOf("text", states), c.createArrayOf("int4", uncount), c.createArrayOf("int8", runAtMicros),
            c.createArrayOf("text", results), c.createArrayOf("text", errors), c.createArrayOf("float4", progress),
            c.createArrayOf("text", messages)};
        for (int i = 0; i < arrays.length; i++) {
          st.setArray(i + 1, arrays[i]);
        }
        try (ResultSet rs = st.executeQuery()) {
          while (rs.next()) {
            applied.add(rs.getLong(1));
          }
        }
      }
      for (WorkerOutcome o : batch) {
        callback.written(o, applied.contains(o.job().id));
      }
    } finally {
      rowWrites.unlock();
    }
  }
}
