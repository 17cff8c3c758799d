package dev.saaskit.jobs.internal;

import dev.saaskit.core.SaasException;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.function.Consumer;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;

/**
 * Holds one connection in {@code LISTEN <schema>_wakeup} and passes each notification's payload (a queue name) to
 * the dispatcher. When the connection breaks it reconnects with backoff and wakes every queue, since
 * notifications sent meanwhile are lost; the dispatcher's polling covers the gap.
 */
final class WorkerListener {
  private static final int WAIT_MILLIS = 250;

  private final DataSource dataSource;
  private final String listenSql;
  private final Consumer<String> onNotify;
  private final Runnable onReconnect;
  private final Logger log;
  private final Thread thread;

  private volatile boolean stopping;
  private volatile boolean abandoned;
  private @Nullable Connection connection;

  WorkerListener(DataSource dataSource, String listenSql, Consumer<String> onNotify, Runnable onReconnect,
      Logger log, String threadName) {
    this.dataSource = dataSource;
    this.listenSql = listenSql;
    this.onNotify = onNotify;
    this.onReconnect = onReconnect;
    this.log = log;
    this.thread = new Thread(this::run, threadName);
    this.thread.setDaemon(true);
  }

  /** Connects and listens before returning, so a job enqueued after {@code start()} is noticed. */
  void start() {
    try {
      connection = connect();
    } catch (SQLException e) {
      throw new SaasException("the job worker cannot LISTEN for wake-ups: " + e.getMessage()
          + ". Give it a connection that is not behind PgBouncer transaction pooling (listenDataSource), or"
          + " turn LISTEN off with listen(false) and rely on polling.", e);
    }
    thread.start();
  }

  void stop() throws InterruptedException {
    stopping = true;
    thread.join(WAIT_MILLIS * 8L);
  }

  /** Crash simulation: stop reading, leave the connection as it is. */
  void abandon() {
    abandoned = true;
    stopping = true;
  }

  private Connection connect() throws SQLException {
    Connection c = dataSource.getConnection();
    try {
      c.setAutoCommit(true);
      try (Statement st = c.createStatement()) {
        st.execute(listenSql);
      }
      c.unwrap(PGConnection.class);
      return c;
    } catch (SQLException | RuntimeException e) {
      c.close();
      throw e;
    }
  }

  private void run() {
    long backoffMillis = 100;
    while (!stopping) {
      try {
        Connection c = connection;
        if (c == null) {
          c = connect();
          connection = c;
          log.info("LISTEN connection re-established");
          onReconnect.run();
          backoffMillis = 100;
        }
        PGNotification[] notifications = c.unwrap(PGConnection.class).getNotifications(WAIT_MILLIS);
        if (notifications != null) {
          for (PGNotification n : notifications) {
            onNotify.accept(n.getParameter());
          }
        }
      } catch (SQLException e) {
        if (stopping) {
          break;
        }
        log.warn("LISTEN connection failed, polling until it is back (retry in {} ms): {}", backoffMillis,
            e.getMessage());
        closeQuietly();
        onReconnect.run();
        try {
          Thread.sleep(backoffMillis);
        } catch (InterruptedException interrupted) {
          Thread.currentThread().interrupt();
          break;
        }
        backoffMillis = Math.min(5000, backoffMillis * 2);
      }
    }
    if (!abandoned) {
      closeQuietly();
    }
  }

  private void closeQuietly() {
    Connection c = connection;
    connection = null;
    if (c == null) {
      return;
    }
    try {
      try (Statement st = c.createStatement()) {
        // a pooled connection must not carry our LISTEN to its next borrower
        st.execute("UNLISTEN *");
      }
    } catch (SQLException ignored) {
      // the connection is broken; closing it below discards it
    }
    try {
      c.close();
    } catch (SQLException e) {
      log.debug("closing the LISTEN connection failed: {}", e.getMessage());
    }
  }
}
