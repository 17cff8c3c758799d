package dev.saaskit.fleet.internal;

import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The fleet's connection budget: {@code physical} permits bound the open PostgreSQL connections of every pool
 * together; {@code borrowed} permits (fair, first come first served) bound the connections handed out. Not API.
 */
public final class ConnectionBudget {
  private final int size;
  private final Semaphore physical;
  private final Semaphore borrowed;
  private final AtomicInteger open = new AtomicInteger();
  private final AtomicInteger peakOpen = new AtomicInteger();

  public ConnectionBudget(int size) {
    this.size = size;
    this.physical = new Semaphore(size);
    this.borrowed = new Semaphore(size, true);
  }

  public int size() {
    return size;
  }

  public Semaphore borrowed() {
    return borrowed;
  }

  /** Takes a permit for a new physical connection if one is free now. */
  public boolean tryOpen() {
    return opened(physical.tryAcquire());
  }

  /** Takes a permit for a new physical connection if one is free within {@code waitNanos}. */
  public boolean tryOpen(long waitNanos) throws InterruptedException {
    return opened(physical.tryAcquire(waitNanos, java.util.concurrent.TimeUnit.NANOSECONDS));
  }

  private boolean opened(boolean acquired) {
    if (acquired) {
      int now = open.incrementAndGet();
      peakOpen.accumulateAndGet(now, Math::max);
    }
    return acquired;
  }

  /** Gives back the permit of a physical connection that was closed. */
  public void closed() {
    open.decrementAndGet();
    physical.release();
  }

  public int open() {
    return open.get();
  }

  public int peakOpen() {
    return peakOpen.get();
  }

  public int borrowedNow() {
    return size - borrowed.availablePermits();
  }
}
