package dev.saaskit.cache.redis.internal;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A small circuit breaker: after {@code threshold} consecutive failures it opens for {@code openNanos}, during
 * which callers skip Redis; then one probe at a time is let through, and its success closes it.
 */
final class Breaker {
  private final int threshold;
  private final long openNanos;
  private final AtomicInteger failures = new AtomicInteger();
  private final AtomicBoolean probing = new AtomicBoolean();
  private volatile long openUntil;
  private volatile boolean open;

  Breaker(int threshold, long openNanos) {
    this.threshold = threshold;
    this.openNanos = openNanos;
  }

  /** Whether a call may go to Redis now. */
  boolean allow() {
    if (!open) {
      return true;
    }
    if (System.nanoTime() - openUntil < 0) {
      return false;
    }
    return probing.compareAndSet(false, true);
  }

  void success() {
    failures.set(0);
    open = false;
    probing.set(false);
  }

  void failure() {
    if (failures.incrementAndGet() >= threshold || open) {
      openUntil = System.nanoTime() + openNanos;
      open = true;
    }
    probing.set(false);
  }

  /** Ends a call that says nothing about Redis: the state stays, and a probe it held may be taken again. */
  void release() {
    probing.set(false);
  }

  boolean isOpen() {
    return open;
  }
}
