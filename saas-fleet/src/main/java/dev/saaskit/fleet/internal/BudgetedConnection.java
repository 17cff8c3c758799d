package dev.saaskit.fleet.internal;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A physical connection opened with a permit of the fleet's budget: gives the permit back exactly once, when it is
 * closed or aborted (whether or not the driver's close succeeds). Not API.
 */
final class BudgetedConnection extends DelegatingConnection {
  private final Connection physical;
  private final ConnectionBudget budget;
  private final AtomicBoolean released = new AtomicBoolean();

  BudgetedConnection(Connection physical, ConnectionBudget budget) {
    this.physical = physical;
    this.budget = budget;
  }

  @Override
  protected Connection target() {
    return physical;
  }

  @Override
  public void close() throws SQLException {
    try {
      physical.close();
    } finally {
      release();
    }
  }

  @Override
  public void abort(Executor executor) throws SQLException {
    try {
      physical.abort(executor);
    } finally {
      release();
    }
  }

  private void release() {
    if (released.compareAndSet(false, true)) {
      budget.closed();
    }
  }

  @Override
  public String toString() {
    return "BudgetedConnection[" + physical + "]";
  }
}
