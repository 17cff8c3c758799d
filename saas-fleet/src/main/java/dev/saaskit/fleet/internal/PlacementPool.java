package dev.saaskit.fleet.internal;

import com.zaxxer.hikari.HikariDataSource;
import com.zaxxer.hikari.HikariPoolMXBean;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;

/**
 * One HikariCP pool of the fleet (a shard or a dedicated database) and the count of its connections handed out.
 * A retired or idle pool is closed once nothing is borrowed from it, so a connection already handed out finishes
 * its transaction on the old placement.
 *
 * <p>Closing happens on {@code closer}, never on the calling thread: the caller may be another pool's
 * connection-adder thread waiting for the budget, and HikariCP's shutdown waits for this pool's own adder, which
 * may be waiting for the same budget (a cycle that only the acquire timeout used to break). Not API.
 */
public final class PlacementPool {
  private final String key;
  private final HikariDataSource hikari;
  private final BudgetedConnector connector;
  private final Executor closer;
  private int borrowed;
  private long lastUsedMillis;
  private boolean retired;
  private boolean closed;

  public PlacementPool(String key, HikariDataSource hikari, BudgetedConnector connector, Executor closer,
      long nowMillis) {
    this.key = key;
    this.hikari = hikari;
    this.connector = connector;
    this.closer = closer;
    this.lastUsedMillis = nowMillis;
  }

  public String key() {
    return key;
  }

  /** Counts a borrower in, unless the pool is closed or retired (then the caller makes a new pool). */
  public synchronized boolean enter() {
    if (closed || retired) {
      return false;
    }
    borrowed++;
    return true;
  }

  /** Counts a borrower out; closes the pool if it was retired and this was the last borrower. */
  public void leave(long nowMillis) {
    boolean close;
    synchronized (this) {
      borrowed--;
      lastUsedMillis = nowMillis;
      close = retired && borrowed == 0 && !closed;
      if (close) {
        closed = true;
      }
    }
    if (close) {
      closeLater();
    }
  }

  public Connection borrow() throws SQLException {
    return hikari.getConnection();
  }

  /** Retires the pool: no new borrowers; closed now if none are out, else when the last one returns. */
  public void retire() {
    boolean close;
    synchronized (this) {
      retired = true;
      close = borrowed == 0 && !closed;
      if (close) {
        closed = true;
      }
    }
    if (close) {
      closeLater();
    }
  }

  /** Closes the pool if nothing was borrowed from it since {@code idleSinceMillis}; says whether it did. */
  public boolean closeIfIdle(long idleSinceMillis) {
    synchronized (this) {
      if (closed || borrowed > 0 || lastUsedMillis > idleSinceMillis) {
        return false;
      }
      closed = true;
      retired = true;
    }
    closeLater();
    return true;
  }

  /** Closes the pool if nothing is borrowed from it (to give its idle connections back to the budget). */
  public boolean closeIfUnused() {
    return closeIfIdle(Long.MAX_VALUE);
  }

  /**
   * Closes idle connections now (borrowed ones when they return); HikariCP closes them on its own thread. Does
   * nothing while borrowers of this pool wait (see {@link #spareConnections()}).
   */
  public void evictIdle() {
    if (spareConnections() > 0) {
      hikari.getHikariPoolMXBean().softEvictConnections();
    }
  }

  /**
   * Idle connections that may be taken away to give their permits to another pool: none while borrowers of this
   * pool wait, because HikariCP hands a new or returned connection to a waiting borrower through the idle state,
   * and evicting it there starves that borrower (the pool creates a connection, another pool's eviction closes it
   * before the borrower takes it, and so on until the borrower's timeout).
   */
  public int spareConnections() {
    HikariPoolMXBean bean = hikari.getHikariPoolMXBean();
    if (bean == null || bean.getThreadsAwaitingConnection() > 0) {
      return 0;
    }
    return bean.getIdleConnections();
  }

  public int idleConnections() {
    HikariPoolMXBean bean = hikari.getHikariPoolMXBean();
    return bean == null ? 0 : bean.getIdleConnections();
  }

  /** Connections this pool holds open (idle, in use, or being closed by HikariCP). */
  public int totalConnections() {
    HikariPoolMXBean bean = hikari.getHikariPoolMXBean();
    return bean == null ? 0 : bean.getTotalConnections();
  }

  public synchronized boolean isClosed() {
    return closed;
  }

  public synchronized long lastUsedMillis() {
    return lastUsedMillis;
  }

  public synchronized int borrowed() {
    return borrowed;
  }

  /** Closes the pool now, on this thread, whatever is borrowed (the data source is closing). */
  public void forceClose() {
    synchronized (this) {
      closed = true;
      retired = true;
    }
    connector.closing();
    hikari.close();
  }

  private void closeLater() {
    connector.closing();
    try {
      closer.execute(hikari::close);
    } catch (RejectedExecutionException e) {
      hikari.close(); // the data source is closing: its closer takes no more work
    }
  }
}
