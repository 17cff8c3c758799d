package dev.saaskit.jobs.internal;

import dev.saaskit.core.SaasException;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The engine behind {@code RecurringJobs}: registers definitions, and on every tick fires the due ones.
 *
 * <p>A tick locks due rows with {@code FOR UPDATE SKIP LOCKED}, enqueues their occurrences and moves their next
 * fire time past the scheduler's clock, all in one transaction. Another node either skips a locked row or, once
 * the transaction committed, re-checks it and finds it no longer due; if the transaction rolls back, neither the
 * jobs nor the advance exist. So each occurrence is enqueued exactly once, however many nodes tick. Each row is
 * fired under a savepoint, so one row that cannot be enqueued does not hold back the others. Not API.
 */
public final class RecurringScheduler implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(RecurringScheduler.class);
  private static final AtomicInteger THREADS = new AtomicInteger();

  private final DataSource dataSource;
  private final RecurringStore store;
  private final Clock clock;
  private final RecurringEnqueuer enqueuer;
  private final Duration tickInterval;
  private final int batchSize;
  private final int maxOnTime;
  private final Duration closeTimeout;
  private final RecurringMeters meters;
  private @Nullable ScheduledExecutorService executor;
  private boolean closed;

  /**
   * @param batchSize rows locked per transaction
   * @param maxOnTime bound on the on-time occurrences of one row fired in one pass
   */
  public RecurringScheduler(DataSource dataSource, String schema, Clock clock, RecurringEnqueuer enqueuer,
      Duration tickInterval, int batchSize, int maxOnTime, Duration closeTimeout, RecurringMeters meters) {
    this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
    this.store = new RecurringStore(schema);
    this.clock = Objects.requireNonNull(clock, "clock");
    this.enqueuer = Objects.requireNonNull(enqueuer, "enqueuer");
    this.tickInterval = Objects.requireNonNull(tickInterval, "tickInterval");
    this.batchSize = batchSize;
    this.maxOnTime = maxOnTime;
    this.closeTimeout = Objects.requireNonNull(closeTimeout, "closeTimeout");
    this.meters = Objects.requireNonNull(meters, "meters");
  }

  /** Upserts the definitions in one transaction (see {@link RecurringStore#upsert}). */
  public void register(List<RecurringDefinition> definitions) {
    if (definitions.isEmpty()) {
      return;
    }
    inTransactionDo("registering recurring jobs", c -> store.upsert(c, definitions, clock.instant()));
  }

  /**
   * Fires every due definition, in transactions of at most {@code batchSize} rows, and returns how many jobs it
   * enqueued. Safe to call from many threads and nodes at once.
   *
   * @throws SaasException if the database fails (nothing of the failed transaction is kept)
   */
  public int tick() {
    int enqueued = 0;
    while (true) {
      Instant now = clock.instant();
      TickResult result = inTransaction("firing recurring jobs", c -> fireDue(c, now));
      enqueued += result.enqueued;
      if (result.locked < batchSize || result.failed > 0) {
        return enqueued;
      }
    }
  }

  private record TickResult(int locked, int enqueued, int failed) {}

  private TickResult fireDue(Connection c, Instant now) throws SQLException {
    List<RecurringStore.LockedRow> rows = store.lockDue(c, now, batchSize);
    int enqueued = 0;
    int failed = 0;
    for (RecurringStore.LockedRow row : rows) {
      if (row instanceof RecurringStore.BrokenRow broken) {
        LOG.error("recurring job '{}' has an unreadable definition and will not fire until it is registered"
            + " again: {}", broken.name(), broken.problem().getMessage());
        store.advance(c, broken.name(), null, null);
        meters.parked();
        continue;
      }
      RecurringStore.DueRow due = (RecurringStore.DueRow) row;
      RecurringDefinition d = due.definition();
      RecurringPlan plan = RecurringPlan.plan(d.schedule(), due.nextFireAt(), now, d.misfirePolicy(),
          d.misfireThreshold(), d.maxCatchUp(), maxOnTime);
      List<Instant> fire = notFiredYet(d.name(), plan.fire(), due.lastFiredAt());
      Savepoint savepoint = c.setSavepoint();
      try {
        if (!fire.isEmpty()) {
          enqueuer.enqueue(c, d, fire);
        }
        Instant last = fire.isEmpty() ? null : fire.get(fire.size() - 1);
        store.advance(c, d.name(), plan.nextFireAt(), last);
        c.releaseSavepoint(savepoint);
      } catch (SQLException | RuntimeException e) {
        c.rollback(savepoint);
        failed++;
        meters.failed(d.type());
        LOG.error("recurring job '{}' could not be enqueued; it stays due and is retried on the next tick: {}",
            d.name(), e.getMessage());
        continue;
      }
      enqueued += fire.size();
      for (Instant occurrence : fire) {
        meters.fired(d.type(), Duration.between(occurrence, now));
      }
      if (plan.misfired()) {
        meters.misfired(d.type());
        LOG.info("recurring job '{}' missed occurrences since {} (policy {}): enqueued {}, next at {}",
            d.name(), due.nextFireAt(), d.misfirePolicy(), fire.size(), plan.nextFireAt());
      }
    }
    return new TickResult(rows.size(), enqueued, failed);
  }

  /**
   * The occurrences of {@code planned} after {@code lastFired}. A schedule registered again with a change by a node
   * whose clock is behind (a rolling deploy) gets its next fire time from that clock, which can fall at or before
   * the occurrence another node already enqueued; once that job has finished its unique key no longer stops a
   * second enqueue, so the occurrence would run twice.
   */
  private static List<Instant> notFiredYet(String name, List<Instant> planned, @Nullable Instant lastFired) {
    if (lastFired == null || planned.isEmpty() || planned.get(0).isAfter(lastFired)) {
      return planned;
    }
    List<Instant> later = new ArrayList<>(planned.size());
    for (Instant occurrence : planned) {
      if (occurrence.isAfter(lastFired)) {
        later.add(occurrence);
      }
    }
    LOG.warn("recurring job '{}': {} occurrence(s) at or before {}, the last one enqueued, were not enqueued again;"
        + " the schedule was registered by a node whose clock is behind", name, planned.size() - later.size(),
        lastFired);
    return later;
  }

  /** Deletes a definition; true if it existed. */
  public boolean remove(String name) {
    return inTransaction("removing recurring job " + name, c -> store.delete(c, name));
  }

  /** Disables a definition; true if it existed. */
  public boolean disable(String name) {
    return inTransaction("disabling recurring job " + name, c -> store.disable(c, name));
  }

  /** Enables a definition, restarting its schedule from now if it was disabled; true if it existed. */
  public boolean enable(String name) {
    return inTransaction("enabling recurring job " + name, c -> store.enable(c, name, clock.instant()));
  }

  /** The next fire time of a definition, if it exists and has one. */
  public Optional<Instant> nextFireAt(String name) {
    return inTransaction("reading recurring job " + name, c -> store.nextFireAt(c, name));
  }

  /**
   * Starts the tick thread; the first tick runs at once.
   *
   * @throws IllegalStateException if it was started or closed before
   */
  public synchronized void start() {
    if (executor != null) {
      throw new IllegalStateException("the recurring job scheduler is already started");
    }
    if (closed) {
      // a close() that ran while the definitions were being registered: a thread started now would never be
      // stopped, since that close() found nothing to stop
      throw new IllegalStateException("the recurring job scheduler was closed before it started");
    }
    ScheduledExecutorService ex = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "saaskit-recurring-" + THREADS.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
    // the future is not kept: tickLogged logs what a tick throws, and close() stops the task by shutting ex down
    ScheduledFuture<?> unused =
        ex.scheduleWithFixedDelay(this::tickLogged, 0, tickInterval.toNanos(), TimeUnit.NANOSECONDS);
    executor = ex;
  }

  private void tickLogged() {
    try {
      tick();
    } catch (RuntimeException e) {
      // the next tick retries; a database outage must not kill the thread
      LOG.warn("recurring job tick failed, retrying in {}: {}", tickInterval, e.getMessage());
    } catch (Error e) {
      // a periodic task that throws is never run again: one Error (a DataSource wrapper's assertion, a stack
      // overflow) silently ended every recurring job of this node
      LOG.error("recurring job tick failed, retrying in {}", tickInterval, e);
    }
  }

  /**
   * Stops the tick thread: a tick in progress finishes (or, after the close timeout, is interrupted and its
   * transaction rolled back by the pool). Idempotent.
   */
  @Override
  public synchronized void close() {
    closed = true;
    ScheduledExecutorService ex = executor;
    if (ex == null) {
      return;
    }
    executor = null;
    ex.shutdown();
    try {
      if (!ex.awaitTermination(closeTimeout.toNanos(), TimeUnit.NANOSECONDS)) {
        ex.shutdownNow();
      }
    } catch (InterruptedException e) {
      ex.shutdownNow();
      Thread.currentThread().interrupt();
    }
  }

  @FunctionalInterface
  private interface Work<T> {
    T run(Connection c) throws SQLException;
  }

  @FunctionalInterface
  private interface Step {
    void run(Connection c) throws SQLException;
  }

  /** {@link #inTransaction} for work without a result. */
  private void inTransactionDo(String what, Step step) {
    inTransaction(what, c -> {
      step.run(c);
      return Boolean.TRUE; // no result: any non-null value will do
    });
  }

  private <T> T inTransaction(String what, Work<T> work) {
    try (Connection c = dataSource.getConnection()) {
      boolean autoCommit = c.getAutoCommit();
      c.setAutoCommit(false);
      try {
        T result = work.run(c);
        c.commit();
        return result;
      } catch (SQLException | RuntimeException e) {
        try {
          c.rollback();
        } catch (SQLException rollbackFailure) {
          e.addSuppressed(rollbackFailure);
        }
        throw e;
      } finally {
        try {
          c.setAutoCommit(autoCommit);
        } catch (SQLException ignored) {
          // a broken connection: the pool discards it
        }
      }
    } catch (SQLException e) {
      throw new SaasException(what + " failed: " + e.getMessage()
          + " (was JobsSchema.migrate run, and the DataSource's role granted with JobsSchema.grantWorker?)", e);
    }
  }
}
