package dev.saaskit.fleet.internal;

import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.sql.SQLTransientConnectionException;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Logger;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;

/**
 * The data source under each HikariCP pool: opens a physical connection only with a permit of the fleet's budget,
 * asking other pools to give back idle connections when none is free, and returns the permit when the connection
 * closes. Not API.
 */
public final class BudgetedConnector implements DataSource {
  /** Frees idle connections of pools other than the one asking. */
  @FunctionalInterface
  public interface Evictor {
    void evictIdleExcept(String poolKey);
  }

  /**
   * The connection properties (user and password included) for the next physical connection: asked at every
   * connection, so a rotated password reaches new connections without a new pool.
   */
  @FunctionalInterface
  public interface PropertiesSource {
    Properties get() throws SQLException;
  }

  private final String poolKey;
  private final String url;
  private final PropertiesSource properties;
  private final ConnectionBudget budget;
  private final Evictor evictor;
  private final long timeoutNanos;
  private final org.postgresql.Driver driver = new org.postgresql.Driver();
  private int loginTimeout;
  private volatile boolean closing;
  private final AtomicInteger waiting = new AtomicInteger();

  public BudgetedConnector(String poolKey, String url, Properties properties, ConnectionBudget budget,
      Evictor evictor, long timeoutNanos) {
    this(poolKey, url, () -> properties, budget, evictor, timeoutNanos);
  }

  /** A connector that asks {@code properties} for the user, password and other properties at every connection. */
  public BudgetedConnector(String poolKey, String url, PropertiesSource properties, ConnectionBudget budget,
      Evictor evictor, long timeoutNanos) {
    this.poolKey = poolKey;
    this.url = url;
    this.properties = properties;
    this.budget = budget;
    this.evictor = evictor;
    this.timeoutNanos = timeoutNanos;
  }

  /**
   * Stops waiting for the budget: the pool is closing. HikariCP's shutdown waits for its connection-adder thread,
   * which may be here waiting for a permit that only this pool's own idle connections could give back.
   */
  public void closing() {
    closing = true;
  }

  @Override
  public Connection getConnection() throws SQLException {
    long deadline = System.nanoTime() + timeoutNanos;
    if (!budget.tryOpen()) {
      waiting.incrementAndGet();
      try {
        waitForBudget(deadline);
      } finally {
        waiting.decrementAndGet();
      }
    }
    Connection real;
    try {
      real = driver.connect(url, properties.get());
      if (real == null) {
        throw new SQLException("not a PostgreSQL JDBC URL");
      }
    } catch (SQLException | RuntimeException e) {
      budget.closed();
      throw e;
    }
    return new BudgetedConnection(real, budget);
  }

  private void waitForBudget(long deadline) throws SQLException {
    try {
      while (true) {
        if (closing) {
          throw new SQLTransientConnectionException("the pool of " + poolKey + " is closing", "08003");
        }
        evictor.evictIdleExcept(poolKey);
        if (budget.tryOpen(TimeUnit.MILLISECONDS.toNanos(5))) {
          return;
        }
        if (System.nanoTime() - deadline > 0) {
          throw new SQLTransientConnectionException("the fleet's connection budget of " + budget.size()
              + " open connections is in use; raise the budget or lower the load", "53300");
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new SQLTransientConnectionException("interrupted while waiting for the connection budget", "53300", e);
    }
  }

  /** Threads waiting in {@link #getConnection()} for a permit of the budget now. */
  public int waiting() {
    return waiting.get();
  }

  @Override
  public Connection getConnection(String username, String password) throws SQLException {
    throw new SQLFeatureNotSupportedException("the fleet resolves credentials itself");
  }

  @Override
  public @Nullable PrintWriter getLogWriter() {
    return null;
  }

  @Override
  public void setLogWriter(PrintWriter out) {
    // no log writer
  }

  @Override
  public void setLoginTimeout(int seconds) {
    this.loginTimeout = seconds;
  }

  @Override
  public int getLoginTimeout() {
    return loginTimeout;
  }

  @Override
  public Logger getParentLogger() throws SQLFeatureNotSupportedException {
    throw new SQLFeatureNotSupportedException();
  }

  @Override
  public <T> T unwrap(Class<T> iface) throws SQLException {
    throw new SQLException("not a wrapper");
  }

  @Override
  public boolean isWrapperFor(Class<?> iface) {
    return false;
  }
}
