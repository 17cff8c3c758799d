package dev.saaskit.fleet;

import dev.saaskit.fleet.internal.Jdbc;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The advisory lock of a database name in the control database, fleet-wide: a move holds it shared for its source
 * and its target from its schema check until its journal entry is recorded, an offboarding holds it exclusively
 * from its "does anyone else use this database" check until the database is dropped. So a move either is in the
 * journal when the offboarding looks (which then erases instead of dropping), or finds the database gone before
 * it records anything; a drop never pulls a database from under a move that started after the check. A session
 * lock on a control connection kept for the duration (the journal's and the directory's commits must not end it),
 * released on {@link #close()} or when the process dies. Names are compared as the offboarding compares them (the
 * database name of the URL, whatever the host); a hash collision of two names only makes one wait for the other.
 */
final class DatabaseLock implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(DatabaseLock.class);
  /** The first key (the second: the database name's hash); the tenants' move locks use {@link TenantMove#LOCK_CLASS}. */
  static final int LOCK_CLASS = TenantMove.LOCK_CLASS + 1;
  /** How long a move or an offboarding waits for the other. */
  private static final Duration WAIT = Duration.ofSeconds(5);

  private final Connection connection;
  private final boolean shared;
  private final List<String> held = new ArrayList<>();

  private DatabaseLock(Connection connection, boolean shared) {
    this.connection = connection;
    this.shared = shared;
  }

  /** Takes the locks of {@code databases} shared (a move), or throws a {@link FleetException} naming {@code what}. */
  static DatabaseLock shared(TenantDirectory directory, Collection<String> databases, String what) {
    return take(directory, databases, true, what);
  }

  /** Takes the lock of {@code database} exclusively (a drop), or throws a {@link FleetException}. */
  static DatabaseLock exclusive(TenantDirectory directory, String database, String what) {
    return take(directory, List.of(database), false, what);
  }

  private static DatabaseLock take(TenantDirectory directory, Collection<String> databases, boolean shared,
      String what) {
    Connection c;
    try {
      c = directory.control().getConnection();
    } catch (SQLException e) {
      throw new FleetException("cannot take the database lock for " + what + " in the control database: "
          + e.getMessage(), e);
    }
    DatabaseLock lock = new DatabaseLock(c, shared);
    try {
      // in name order, so two holders of several names never wait for each other in a circle
      for (String name : new TreeSet<>(databases)) {
        lock.acquire(name, what);
      }
      return lock;
    } catch (RuntimeException e) {
      lock.close();
      throw e;
    }
  }

  private void acquire(String name, String what) {
    String sql = shared ? "SELECT pg_try_advisory_lock_shared(?, hashtext(?))"
        : "SELECT pg_try_advisory_lock(?, hashtext(?))";
    long deadline = System.nanoTime() + WAIT.toNanos();
    try {
      while (!Jdbc.query(connection, sql, rs -> rs.getBoolean(1), LOCK_CLASS, name).get(0)) {
        if (System.nanoTime() - deadline > 0) {
          throw new FleetException("database " + name + " is " + (shared ? "being dropped by an offboarding"
              : "being moved into or out of") + ": " + what + " did not start (nothing was changed); retry");
        }
        try {
          Thread.sleep(50);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new FleetException("interrupted waiting for the lock of database " + name + " for " + what, e);
        }
      }
      held.add(name);
    } catch (SQLException e) {
      throw new FleetException("cannot take the lock of database " + name + " for " + what + ": "
          + e.getMessage(), e);
    }
  }

  @Override
  public void close() {
    String sql = shared ? "SELECT pg_advisory_unlock_shared(?, hashtext(?))"
        : "SELECT pg_advisory_unlock(?, hashtext(?))";
    try {
      for (String name : held) {
        unlock(sql, name);
      }
    } finally {
      try {
        connection.close();
      } catch (SQLException e) {
        LOG.debug("closing the control connection of a database lock failed", e);
      }
    }
  }

  private void unlock(String sql, String name) {
    for (int attempt = 1; attempt <= 2; attempt++) {
      try {
        Jdbc.query(connection, sql, rs -> rs.getBoolean(1), LOCK_CLASS, name);
        return;
      } catch (SQLException | RuntimeException e) {
        // a shared control connection left inside an aborted transaction: end it and try again, or a pooled
        // connection would go back to its pool still holding the lock
        try {
          if (attempt == 1 && !connection.isClosed() && !connection.getAutoCommit()) {
            connection.rollback();
            continue;
          }
        } catch (SQLException ignored) {
          // the connection is broken: its session, and the lock with it, is gone
        }
        LOG.debug("releasing the lock of database {} failed", name, e);
        return;
      }
    }
  }
}
