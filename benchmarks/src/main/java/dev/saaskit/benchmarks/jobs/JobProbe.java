package dev.saaskit.benchmarks.jobs;

import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * What the no-op handler of every {@link JobEngine} calls: counts job starts, remembers when the latest one
 * happened, and keeps the enqueue-to-start latency of timed jobs. Thread-safe; the cost per call is two atomic
 * updates, the same for every engine.
 */
public final class JobProbe {

  /** The {@code long} of jobs whose latency is not measured (batch-enqueued jobs). */
  public static final long UNTIMED = Long.MIN_VALUE;

  private final AtomicLong started = new AtomicLong();
  private final AtomicLong firstStartNanos = new AtomicLong(Long.MIN_VALUE);
  private final AtomicLong latestStartNanos = new AtomicLong(Long.MIN_VALUE);
  private final long[] latencyNanos;
  private final AtomicInteger latencyCount = new AtomicInteger();

  /** A probe that keeps up to {@code maxTimedJobs} latencies; later ones are counted but not kept. */
  public JobProbe(int maxTimedJobs) {
    this.latencyNanos = new long[maxTimedJobs];
  }

  /**
   * Called by a job's handler when the job starts.
   *
   * @param enqueuedAtNanos the {@link System#nanoTime()} the job was enqueued with, or {@link #UNTIMED}
   */
  public void jobStarted(long enqueuedAtNanos) {
    long now = System.nanoTime();
    if (enqueuedAtNanos != UNTIMED) {
      int slot = latencyCount.getAndIncrement();
      if (slot < latencyNanos.length) {
        latencyNanos[slot] = now - enqueuedAtNanos;
      }
    }
    // after the latency write: a reader that sees this count also sees that write
    if (started.getAndIncrement() == 0) {
      firstStartNanos.set(now);
    }
    latestStartNanos.accumulateAndGet(now, Math::max);
  }

  /** How many jobs have started so far. */
  public long started() {
    return started.get();
  }

  /** The {@link System#nanoTime()} of the first job start since the probe was made. */
  public long firstStartNanos() {
    return firstStartNanos.get();
  }

  /** The {@link System#nanoTime()} of the latest job start. */
  public long latestStartNanos() {
    return latestStartNanos.get();
  }

  /** The latencies kept so far, in nanoseconds, sorted. */
  public long[] sortedLatencyNanos() {
    long[] copy = Arrays.copyOf(latencyNanos, Math.min(latencyCount.get(), latencyNanos.length));
    Arrays.sort(copy);
    return copy;
  }

  /**
   * Waits until at least {@code expected} jobs have started or {@code timeoutNanos} passed; polls every 0.2 ms,
   * which bounds the error of a drain time taken from {@link #latestStartNanos()} at zero and of one taken from
   * the return at 0.2 ms.
   *
   * @return whether {@code expected} was reached
   */
  public boolean awaitStarted(long expected, long timeoutNanos) {
    long deadline = System.nanoTime() + timeoutNanos;
    while (started.get() < expected) {
      if (System.nanoTime() - deadline > 0) {
        return false;
      }
      LockSupport.parkNanos(TimeUnit.MICROSECONDS.toNanos(200));
    }
    return true;
  }
}
