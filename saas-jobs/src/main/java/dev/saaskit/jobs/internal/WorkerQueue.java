package dev.saaskit.jobs.internal;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.PriorityBlockingQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One served queue at run time: its bounded handler pool, its free slots, the adaptive claim size, the turns of
 * the jobs it holds, and the dispatcher's bookkeeping (wake-up flag, next poll, the fairness cursor). Only the
 * dispatcher thread touches the fields that are neither final nor atomic.
 */
final class WorkerQueue {
  final String name;
  final int concurrency;
  final int tenantCap;
  /** Runs the handlers; its queue orders the claimed jobs waiting for a thread by turn (see {@link #turns}). */
  final ThreadPoolExecutor pool;
  /**
   * Slots in use: every job this worker holds for the queue, from its claim until its outcome is written (running,
   * waiting for a handler thread, or finished with its outcome not written yet). Counting unwritten outcomes is what
   * bounds the outcome writer's backlog: a writer that falls behind (or cannot write) stops the claims, instead of
   * letting handlers run job after job whose outcome exists only in memory (and whose work a crash would repeat).
   */
  final AtomicInteger busy = new AtomicInteger();
  /**
   * Jobs handed to the pool whose handler has not finished: running, or waiting for a thread. Tells whether the
   * handlers are busy or idle, which the unwritten outcomes in {@link #busy} must not blur.
   */
  final AtomicInteger working = new AtomicInteger();
  /** Handlers started since the outcome writer's last statement: how many held jobs to record as started ahead. */
  final AtomicInteger startedSinceWrite = new AtomicInteger();
  /** Handlers started since the last claim: the next claim records the start of twice as many of its jobs. */
  final AtomicInteger startedSinceClaim = new AtomicInteger();
  /**
   * Handlers started during the outcome writer's last statement: set by the writer, taken (reset) by the next claim,
   * so a writer that stopped writing (nothing finishes) leaves no stale figure behind.
   */
  final AtomicInteger startedPerWrite = new AtomicInteger();
  /** A NOTIFY for this queue arrived (or the listener reconnected) since the last claim. */
  final AtomicBoolean notified = new AtomicBoolean(true);
  /**
   * Ids of jobs this process enqueued on the queue since the dispatcher last looked (see {@link LocalWakeups}):
   * claimed by id while the worker is idle, else by the fair claim. Bounded by {@link #MAX_HINTS}.
   */
  final ConcurrentLinkedQueue<Long> hints = new ConcurrentLinkedQueue<>();
  /** Hints kept at most; past that, a wake-up is a plain one (the fair claim). */
  static final int MAX_HINTS = 64;
  /**
   * Jobs this process enqueued already claimed by this worker (see {@link LocalWakeups.LocalStart}), committed and
   * waiting for the dispatcher to hand them to a thread; their slots are counted in {@link #busy} and
   * {@link #working} since their reservation.
   */
  final ConcurrentLinkedQueue<WorkerJob> startedHere = new ConcurrentLinkedQueue<>();
  /**
   * The latest fair claim filled its request: more jobs may be waiting, so hints and enqueues of this process wait
   * for their turn. Volatile: enqueuing threads read it.
   */
  volatile boolean backlog;
  /** Claim again once this many slots are free after a claim that found jobs. */
  final int refillThreshold;
  /** The turn of the latest job a handler started: jobs claimed from now on are placed after it. */
  final AtomicLong startedTurn = new AtomicLong();

  private final int minBatch;
  private final int maxBatch;
  /** Jobs per claim now, between minBatch and maxBatch. */
  private int batch;
  /**
   * Jobs claimed beyond the running ones, waiting in the pool's queue (their leases kept by heartbeats), so the next
   * claim's round trip overlaps with work instead of leaving slots idle: the larger of the concurrency and the
   * current claim size. Written by the dispatcher, read by {@link #free()}.
   */
  private volatile int prefetch;
  /** The last turn given to each tenant's held jobs (key "" = system jobs). */
  private final Map<String, Long> lastTurn = new HashMap<>();
  private long sequence;

  long nextPollNanos;
  boolean productive;
  /** The tenant after which the next claim's walk starts; "" = from the first tenant. */
  String cursor = "";
  boolean failing;

  WorkerQueue(String name, int concurrency, int tenantCap, int batchSize, int maxBatchSize, ThreadFactory threads) {
    this.name = name;
    this.concurrency = concurrency;
    this.tenantCap = tenantCap;
    this.minBatch = batchSize;
    this.maxBatch = Math.max(batchSize, maxBatchSize);
    this.batch = batchSize;
    this.prefetch = Math.max(concurrency, batchSize);
    this.refillThreshold = Math.max(1, Math.min(batchSize, concurrency) / 2);
    this.pool = new ThreadPoolExecutor(concurrency, concurrency, 0, TimeUnit.MILLISECONDS,
        new PriorityBlockingQueue<>(), threads);
  }

  /**
   * Slots a claim may fill now. The jobs waiting for or running in a handler stay within concurrency + prefetch,
   * as ever; and every job held, unwritten outcomes included, within that plus {@link #outcomeAllowance()}. So the
   * outcomes that wait for the writer's next statement (its usual backlog) do not shrink the claims, while a writer
   * that falls further behind, or cannot write at all, stops them.
   */
  int free() {
    return Math.min(freeForHandlers(), freeOverall());
  }

  /**
   * True if the unwritten outcomes are what limits the claims now (or equally), so that a written outcome can free a
   * slot and the dispatcher is worth waking; usually the handlers' slots are the tighter limit.
   */
  boolean outcomesLimitClaims() {
    return freeOverall() <= freeForHandlers();
  }

  private int freeForHandlers() {
    return concurrency + prefetch - working.get();
  }

  private int freeOverall() {
    return concurrency + prefetch + outcomeAllowance() - busy.get();
  }

  /**
   * How many unwritten outcomes a queue may have before they take slots from the claims: twice the jobs it holds
   * for its handlers, and never more than one full statement of the outcome writer, which writes best in large
   * statements but is behind once more than one waits.
   */
  int outcomeAllowance() {
    return Math.min(WorkerFlusher.MAX_BATCH, 2 * (concurrency + prefetch));
  }

  /** The request of the next claim: the current claim size, within the free slots. */
  int request() {
    return Math.min(free(), batch);
  }

  /**
   * How many of a claim's jobs go straight to idle threads: the threads neither running nor about to take a job
   * that waits. An estimate taken before the claim; the claim records their start itself (and that of as many jobs
   * again as {@link #startedSinceClaim} suggests the busy threads will take soon).
   */
  int idleThreads() {
    return Math.max(0, concurrency - working.get());
  }

  /**
   * After a claim: if it was full and the handlers had run out of work by the time it came back (they were busy
   * when it left), claims are too small for how fast jobs finish, so the claim size doubles; a short claim (the
   * backlog is gone or other workers took it) halves it. Slow jobs never empty the pool's queue, so they never
   * grow it: only workers that would otherwise idle between claims hold more jobs.
   */
  void adapt(int requested, int got, boolean wasBusy, boolean ranDry) {
    if (got >= requested && wasBusy && ranDry) {
      batch = Math.min(maxBatch, batch * 2);
    } else if (got < requested) {
      batch = Math.max(minBatch, batch / 2);
    }
    prefetch = Math.max(concurrency, batch);
  }

  /**
   * The turns of a claim's jobs ({@code tenants[i]} with rank {@code ranks[i]} among its tenant's jobs in the
   * claim, "" for system jobs). Turns order the jobs waiting for a handler: a tenant's jobs continue after its own
   * that still wait, and a tenant with none waiting starts right after the job started last. So a tenant that
   * arrives while another's jobs fill the prefetch runs its first job within a few jobs, as the claim query's round
   * robin meant, instead of behind everything held. Dispatcher thread only.
   */
  long[] turns(String[] tenants, long[] ranks) {
    long head = startedTurn.get();
    Map<String, Long> bases = new HashMap<>();
    long[] turns = new long[tenants.length];
    for (int i = 0; i < tenants.length; i++) {
      long base = bases.computeIfAbsent(tenants[i], t -> Math.max(head, lastTurn.getOrDefault(t, head)));
      turns[i] = base + ranks[i];
    }
    for (int i = 0; i < tenants.length; i++) {
      lastTurn.merge(tenants[i], turns[i], Math::max);
    }
    // forget tenants whose held jobs have all started, so the map stays as small as the set of waiting tenants
    if (lastTurn.size() > 64) {
      lastTurn.values().removeIf(t -> t <= head);
    }
    return turns;
  }

  long nextSequence() {
    return ++sequence;
  }
}
