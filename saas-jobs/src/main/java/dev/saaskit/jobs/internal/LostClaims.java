package dev.saaskit.jobs.internal;

import java.io.IOException;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.SQLNonTransientConnectionException;
import java.sql.SQLRecoverableException;
import java.sql.SQLTransientConnectionException;
import java.util.SplittableRandom;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.IntConsumer;
import javax.sql.DataSource;
import org.postgresql.PGConnection;
import org.slf4j.Logger;

/**
 * Gives back the rows of a claim whose answer was lost. A claim runs in auto-commit; when its connection fails while
 * the statement is under way (an I/O error, SQLState class 08), the worker cannot tell whether it committed. Every
 * claim writes a random token into the rows it takes, so the rows of such a claim can be found again: on a fresh
 * connection they go back to pending, the attempt not counted, instead of waiting for their leases to expire and
 * being charged an attempt by the rescue. Not API.
 *
 * <p>The give-back is retried with a backoff from 50 ms to 2 s on a thread of its own (no claim waits for it) until
 * it is done, or until the claim's leases would have expired anyway (the rescue then takes over, as for a dead
 * worker), or the worker stops. It is done when its statement answered and left no matching row locked by someone
 * else, and either gave rows back (a committed claim shows all its rows at once) or found none while the claim's
 * session runs no statement any more (so the claim cannot commit later). While that session still runs the claim
 * (the server had not seen the broken connection), a give-back that found nothing is tried again.
 */
final class LostClaims {
  private static final long FIRST_BACKOFF_MILLIS = 50;
  private static final long MAX_BACKOFF_MILLIS = 2000;

  private final DataSource dataSource;
  private final WorkerSql sql;
  private final String workerId;
  private final Logger log;
  private final ScheduledThreadPoolExecutor executor;
  /** Claim tokens: not secrets, they only tell one claim's rows from another's. Dispatcher thread only. */
  private final SplittableRandom tokens = new SplittableRandom(new SecureRandom().nextLong());
  private volatile boolean stopped;

  LostClaims(DataSource dataSource, WorkerSql sql, String workerId, Logger log, String threadName) {
    this.dataSource = dataSource;
    this.sql = sql;
    this.workerId = workerId;
    this.log = log;
    // no thread until a claim's answer is lost
    this.executor = new ScheduledThreadPoolExecutor(1, r -> {
      Thread t = new Thread(r, threadName);
      t.setDaemon(true);
      return t;
    });
    this.executor.setRemoveOnCancelPolicy(true);
  }

  /** A new claim token. Dispatcher thread only. */
  long nextToken() {
    return tokens.nextLong();
  }

  /** The backend pid of {@code c}'s session, or 0 when the driver does not say (through PgBouncer it is not one). */
  static int backendPid(Connection c) {
    try {
      if (c.isWrapperFor(PGConnection.class)) {
        return c.unwrap(PGConnection.class).getBackendPID();
      }
    } catch (SQLException | RuntimeException e) {
      // not PostgreSQL's driver, or a wrapper that does not unwrap: the give-back does without the pid
    }
    return 0;
  }

  /**
   * Whether {@code e}, thrown while a statement was under way, leaves its outcome unknown: a broken connection or
   * an I/O error, as opposed to an error the server answered with (which rolled the statement back).
   */
  static boolean outcomeUnknown(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof SQLException s) {
        String state = s.getSQLState();
        if (state != null && state.startsWith("08")) {
          return true;
        }
        if (s instanceof SQLNonTransientConnectionException || s instanceof SQLTransientConnectionException
            || s instanceof SQLRecoverableException) {
          return true;
        }
      }
      if (t instanceof IOException) {
        return true;
      }
    }
    return false;
  }

  /**
   * Gives back the rows the claim with {@code token} took, if it committed; {@code onGivenBack} runs with the number
   * of rows given back, once, if any were. Tries until {@code deadlineNanos} (the claim's leases expire then).
   */
  void giveBack(String queue, long token, int claimPid, long deadlineNanos, IntConsumer onGivenBack) {
    log.warn("job worker {}: the answer of a claim from queue '{}' was lost (the connection failed); giving back the"
        + " jobs it may have taken", workerId, queue);
    schedule(new Attempt(queue, token, claimPid, deadlineNanos, onGivenBack), 0);
  }

  /** Stops trying: the rows of claims not given back yet are rescued when their leases expire. */
  void stop() {
    stopped = true;
    executor.shutdownNow();
  }

  private void schedule(Attempt attempt, long delayMillis) {
    if (stopped) {
      return;
    }
    try {
      // the future is not kept: Attempt.run catches what a try throws, and stop() ends the executor
      ScheduledFuture<?> unused = executor.schedule(attempt, delayMillis, TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException e) {
      // stopped meanwhile
    }
  }

  private final class Attempt implements Runnable {
    final String queue;
    final long token;
    final int claimPid;
    final long deadlineNanos;
    final IntConsumer onGivenBack;
    long backoffMillis = FIRST_BACKOFF_MILLIS;
    int givenBack;

    Attempt(String queue, long token, int claimPid, long deadlineNanos, IntConsumer onGivenBack) {
      this.queue = queue;
      this.token = token;
      this.claimPid = claimPid;
      this.deadlineNanos = deadlineNanos;
      this.onGivenBack = onGivenBack;
    }

    @Override
    public void run() {
      if (stopped) {
        return;
      }
      boolean done;
      try {
        done = once();
      } catch (SQLException | RuntimeException | Error e) {
        log.debug("job worker {}: giving back a lost claim of queue '{}' failed, trying again: {}", workerId, queue,
            e.toString());
        done = false;
      }
      if (done) {
        if (givenBack > 0) {
          log.info("job worker {}: gave back {} job(s) of a claim from queue '{}' whose answer was lost; their"
              + " attempts were not counted", workerId, givenBack, queue);
          onGivenBack.accept(givenBack);
        }
        return;
      }
      long left = TimeUnit.NANOSECONDS.toMillis(deadlineNanos - System.nanoTime());
      if (left <= 0) {
        log.warn("job worker {}: could not give back a lost claim of queue '{}' before its leases expire; the"
            + " rescue takes its jobs then", workerId, queue);
        return;
      }
      long delay = Math.min(backoffMillis, left);
      backoffMillis = Math.min(MAX_BACKOFF_MILLIS, 2 * backoffMillis);
      schedule(this, delay);
    }

    /** One try; true when nothing is left to give back. */
    private boolean once() throws SQLException {
      try (Connection c = dataSource.getConnection()) {
        if (!c.getAutoCommit()) {
          c.setAutoCommit(true);
        }
        // first whether the claim's session still runs a statement: read before the give-back's snapshot is taken,
        // so that a claim that had ended by then is either seen committed by the give-back or rolled back for good
        boolean claimBusy = false;
        if (claimPid != 0) {
          try (PreparedStatement st = c.prepareStatement(sql.sessionBusy)) {
            st.setInt(1, claimPid);
            try (ResultSet rs = st.executeQuery()) {
              claimBusy = rs.next() && rs.getBoolean(1);
            }
          }
        }
        long back;
        long left;
        try (PreparedStatement st = c.prepareStatement(sql.giveBack)) {
          st.setLong(1, token);
          st.setString(2, workerId);
          st.setLong(3, token);
          st.setString(4, workerId);
          try (ResultSet rs = st.executeQuery()) {
            rs.next();
            back = rs.getLong(1);
            left = rs.getLong(2);
          }
        }
        givenBack += (int) back;
        if (left > 0) {
          return false; // rows someone else holds locked: next time
        }
        return givenBack > 0 || !claimBusy;
      }
    }
  }
}
