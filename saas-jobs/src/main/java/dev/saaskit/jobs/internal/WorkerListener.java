package dev.saaskit.jobs.internal;

import dev.saaskit.core.SaasException;
import dev.saaskit.core.internal.PgListener;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import javax.sql.DataSource;
import org.slf4j.Logger;

/**
 * Holds one connection in {@code LISTEN <schema>_wakeup} and passes each notification's payload (a queue name) to
 * the dispatcher, on saaskit's shared LISTEN loop ({@link PgListener}). When the connection breaks the loop
 * reconnects with backoff; every queue is woken at the failure and again once listening, since notifications sent
 * meanwhile are lost; the dispatcher's polling covers the gap.
 */
final class WorkerListener {
  private static final long WAIT_MILLIS = 250;
  private static final Duration BACKOFF_MIN = Duration.ofMillis(100);
  private static final Duration BACKOFF_MAX = Duration.ofSeconds(5);
  /** How long stop() waits for the loop (it notices a stop within one wait). */
  private static final long STOP_MILLIS = WAIT_MILLIS * 8;

  private final PgListener loop;

  /**
   * @param listenSql {@code LISTEN "<channel>"}, as {@link Channels#listenSql(String)} writes it
   */
  WorkerListener(DataSource dataSource, String listenSql, Consumer<String> onNotify, Runnable onReconnect,
      Logger log, String threadName) {
    this.loop = new PgListener(dataSource, List.of(channelOf(listenSql)), null, BACKOFF_MIN, BACKOFF_MAX,
        new SplittableRandom(), threadName, new PgListener.Handler() {
          @Override
          public void onConnected(Connection connection, boolean reconnect) {
            if (reconnect) {
              log.info("LISTEN connection re-established");
              onReconnect.run();
            }
          }

          @Override
          public void onWake(Connection connection, List<PgListener.Notification> received) {
            for (PgListener.Notification n : received) {
              onNotify.accept(n.payload());
            }
          }

          @Override
          public void onFailure(Exception failure, int attempt) {
            if (attempt == 1) {
              log.warn("LISTEN connection failed, polling until it is back (reconnecting with backoff): {}",
                  failure.getMessage());
            } else {
              log.debug("LISTEN reconnect attempt {} failed: {}", attempt, failure.getMessage());
            }
            onReconnect.run();
          }

          @Override
          public long nextWaitMillis() {
            return WAIT_MILLIS;
          }
        });
  }

  /** The channel of {@code LISTEN "<channel>"} (a quoted identifier, {@code ""} standing for {@code "}). */
  static String channelOf(String listenSql) {
    String prefix = "LISTEN \"";
    if (!listenSql.startsWith(prefix) || !listenSql.endsWith("\"") || listenSql.length() <= prefix.length()) {
      throw new IllegalArgumentException("not a LISTEN of a quoted channel: " + listenSql);
    }
    return listenSql.substring(prefix.length(), listenSql.length() - 1).replace("\"\"", "\"");
  }

  /** Connects and listens before returning, so a job enqueued after {@code start()} is noticed. */
  void start() {
    try {
      loop.start(true);
    } catch (SQLException e) {
      throw new SaasException("the job worker cannot LISTEN for wake-ups: " + e.getMessage()
          + ". Give it a connection that is not behind PgBouncer transaction pooling (listenDataSource), or"
          + " turn LISTEN off with listen(false) and rely on polling.", e);
    }
  }

  void stop() throws InterruptedException {
    loop.close(TimeUnit.MILLISECONDS.toNanos(STOP_MILLIS));
    if (Thread.interrupted()) {
      throw new InterruptedException("interrupted while stopping the LISTEN connection");
    }
  }

  /** Asks the listener to stop and give its connection back, without waiting (an interrupted close). */
  void signalStop() {
    loop.signalClose();
  }

  /** Crash simulation: stop reading, leave the connection as it is. */
  void abandon() {
    loop.abandon();
  }
}
