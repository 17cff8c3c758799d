package dev.saaskit.jobs.internal;

import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One served queue at run time: its bounded handler pool, its free slots, and the dispatcher's bookkeeping (wake-up
 * flag, next poll, the fairness cursor). Only the dispatcher thread touches the cursor and poll fields.
 */
final class WorkerQueue {
  final String name;
  final int concurrency;
  /**
   * Jobs claimed beyond the running ones, waiting in the pool's queue (their leases kept by heartbeats), so the next
   * claim's round trip overlaps with work instead of leaving slots idle: the larger of the concurrency and the
   * claim batch size.
   */
  final int prefetch;
  final int tenantCap;
  final ThreadPoolExecutor pool;
  /** Slots in use: handlers running, or claimed and waiting in the pool's queue. */
  final AtomicInteger busy = new AtomicInteger();
  /** A NOTIFY for this queue arrived (or the listener reconnected) since the last claim. */
  final AtomicBoolean notified = new AtomicBoolean(true);
  /** Claim again once this many slots are free after a claim that found jobs. */
  final int refillThreshold;

  long nextPollNanos;
  boolean productive;
  /** The tenant after which the next claim's walk starts; "" = from the first tenant. */
  String cursor = "";
  boolean failing;

  WorkerQueue(String name, int concurrency, int tenantCap, int batchSize, ThreadFactory threads) {
    this.name = name;
    this.concurrency = concurrency;
    this.prefetch = Math.max(concurrency, batchSize);
    this.tenantCap = tenantCap;
    this.refillThreshold = Math.max(1, Math.min(batchSize, concurrency) / 2);
    this.pool = new ThreadPoolExecutor(concurrency, concurrency, 0, TimeUnit.MILLISECONDS,
        new LinkedBlockingQueue<>(), threads);
  }

  int free() {
    return concurrency + prefetch - busy.get();
  }
}
