package dev.saaskit.fleet.internal;

import com.zaxxer.hikari.HikariDataSource;
import com.zaxxer.hikari.HikariPoolMXBean;
import java.sql.Connection;
import java.sql.SQLException;

/**
 * One HikariCP pool of the fleet (a shard or a dedicated database) and the count of its connections handed out.
 * A retired or idle pool is closed once nothing is borrowed from it, so a connection already handed out finishes
 * its transaction on the old placement. Not API.
 */
public final class PlacementPool {
  private final String key;
  private final HikariDataSource hikari;
  private int borrowed;
  private long lastUsedMillis;
  private boolean retired;
  private boolean closed;

  public PlacementPool(String key, HikariDataSource hikari, long nowMillis) {
    this.key = key;
    this.hikari = hikari;
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
      hikari.close();
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
      hikari.close();
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
    hikari.close();
    return true;
  }

  /** Closes the pool if nothing is borrowed from it (to give its idle connections back to the budget). */
  public boolean closeIfUnused() {
    return closeIfIdle(Long.MAX_VALUE);
  }

  /** Closes idle connections now (borrowed ones when they return). */
  public void evictIdle() {
    HikariPoolMXBean bean = hikari.getHikariPoolMXBean();
    if (bean != null && bean.getIdleConnections() > 0) {
      bean.softEvictConnections();
    }
  }

  public int idleConnections() {
    HikariPoolMXBean bean = hikari.getHikariPoolMXBean();
    return bean == null ? 0 : bean.getIdleConnections();
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

  /** Closes the pool whatever is borrowed (the data source is closing). */
  public void forceClose() {
    synchronized (this) {
      closed = true;
      retired = true;
    }
    hikari.close();
  }
}
