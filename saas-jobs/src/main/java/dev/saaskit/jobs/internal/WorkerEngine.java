package dev.saaskit.jobs.internal;

import dev.saaskit.core.SaasException;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.jobs.JobFailedPermanently;
import dev.saaskit.jobs.RetryPolicy;
import java.nio.charset.StandardCharsets;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running worker behind {@code JobWorker}: a dispatcher thread that claims, a bounded pool per queue that runs
 * handlers, a flusher thread that records outcomes, a maintenance thread for heartbeats, rescue and gauges, and
 * optionally a listener thread. Not API.
 */
public final class WorkerEngine {
  private static final Logger log = LoggerFactory.getLogger("dev.saaskit.jobs.JobWorker");
  private static final int RESCUE_BATCH = 100;
  private static final int RESCUE_ROUNDS = 20;
  private static final int CLAIM_WINDOW_ROUNDS = 4;
  private static final long RELEASE_GRACE_MILLIS = 2000;

  private enum State { NEW, STARTING, RUNNING, CLOSING, CLOSED }

  /** The worker whose handler the current thread runs, if any: its close() must not wait for that handler. */
  private static final ThreadLocal<@Nullable WorkerEngine> HANDLER_OF = new ThreadLocal<>();

  private final WorkerConfig config;
  private final WorkerSql sql;
  private final WorkerMeters meters;
  private final Map<String, WorkerQueue> queues = new LinkedHashMap<>();
  private final ConcurrentHashMap<Long, WorkerJob> inFlight = new ConcurrentHashMap<>();
  private final ReentrantLock rowWrites = new ReentrantLock();
  private final WorkerSignal signal = new WorkerSignal();
  private final WorkerFlusher flusher;
  private final LostClaims lostClaims;
  /** The longest lease of the handled types: a lost claim's rows are rescued after it at the latest. */
  private final long longestLeaseNanos;
  private final @Nullable WorkerListener listener;
  private final ScheduledThreadPoolExecutor maintenance;
  private final ScheduledThreadPoolExecutor timeouts;
  private final Thread dispatcher;
  private final String[] handledTypes;
  private final Long[] handledLeases;
  private final int claimWindow;
  private final CountDownLatch closed = new CountDownLatch(1);
  /** This worker's subscription to in-process enqueues (one instance, so it can be removed again). */
  private final LocalWakeups.Worker localWake = new LocalWorker();
  /**
   * Guards {@link #claiming} against reservations ({@link #reserveHere}), so that none is granted once shutdown has
   * begun, and counts the reservations whose enqueue has not ended yet (shutdown waits for them).
   */
  private final Object reservations = new Object();
  private int openReservations;

  private final Object lifecycle = new Object();
  private State state = State.NEW;
  private volatile boolean claiming;
  private volatile boolean frozen;
  private volatile boolean crashed;
  private long nextFullHeartbeatNanos;
  /**
   * Jobs whose lease extension the latest heartbeat skipped because someone else held their row locked: the next
   * heartbeat tries them again, full or not. Maintenance thread only, under {@link #rowWrites}.
   */
  private Set<Long> beatsOwed = new HashSet<>();
  /**
   * The latest heartbeat skipped rows another transaction held locked: the next one sends the SKIP LOCKED variant
   * at once instead of the plain statement (see WorkerSql#heartbeat). Maintenance thread only, under
   * {@link #rowWrites}.
   */
  private boolean beatSkippedRows;

  /** A worker for {@code config}; nothing starts until {@link #start()}. */
  public WorkerEngine(WorkerConfig config) {
    this.config = config;
    this.sql = new WorkerSql(config.schema().name());
    this.meters = WorkerMeters.of(config.meterRegistry(),
        config.queues().stream().map(WorkerConfig.Queue::name).toList());
    String prefix = "saaskit-jobs-" + config.workerId();
    for (WorkerConfig.Queue q : config.queues()) {
      queues.put(q.name(), new WorkerQueue(q.name(), q.concurrency(), q.tenantCap(), config.batchSize(),
          config.maxBatchSize(), handlerThreads(prefix + "-" + q.name() + "-")));
    }
    List<WorkerConfig.Handler> handlers = new ArrayList<>(config.handlers().values());
    this.handledTypes = handlers.stream().map(WorkerConfig.Handler::type).toArray(String[]::new);
    this.handledLeases = handlers.stream().map(h -> h.leaseDuration().toMillis()).toArray(Long[]::new);
    this.claimWindow = Math.max(16, Math.min(512, 2 * config.batchSize()));
    this.longestLeaseNanos = TimeUnit.MILLISECONDS.toNanos(
        handlers.stream().mapToLong(h -> h.leaseDuration().toMillis()).max().orElse(0));
    this.lostClaims = new LostClaims(config.dataSource(), sql, config.workerId(), log, prefix + "-giveback");
    this.flusher = new WorkerFlusher(config.dataSource(), sql.write, sql.writeSkipLocked, rowWrites,
        new FlusherCallbacks(), log, prefix + "-flusher");
    this.listener = config.listen()
        ? new WorkerListener(config.listenDataSource(), sql.listen, this::notified, this::wakeAll, log,
            prefix + "-listener")
        : null;
    this.maintenance = new ScheduledThreadPoolExecutor(1, threads(prefix + "-leases-"));
    this.timeouts = new ScheduledThreadPoolExecutor(1, threads(prefix + "-timeouts-"));
    this.timeouts.setRemoveOnCancelPolicy(true);
    this.dispatcher = new Thread(this::dispatchLoop, prefix + "-dispatcher");
    this.dispatcher.setDaemon(true);
  }

  /** {@link #threads}, marking each thread as running this worker's handlers (see {@link #HANDLER_OF}). */
  private ThreadFactory handlerThreads(String prefix) {
    ThreadFactory plain = threads(prefix);
    return r -> plain.newThread(() -> {
      HANDLER_OF.set(this);
      try {
        r.run();
      } finally {
        HANDLER_OF.remove();
      }
    });
  }

  private static ThreadFactory threads(String prefix) {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, prefix + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }

  /** The id written to the rows this worker holds. */
  public String workerId() {
    return config.workerId();
  }

  // ---------------------------------------------------------------- lifecycle

  /** Checks the table, opens LISTEN, starts the threads; once only. */
  public void start() {
    synchronized (lifecycle) {
      if (state != State.NEW) {
        throw new IllegalStateException("a JobWorker starts once; this one is " + state.name().toLowerCase(Locale.ROOT)
            + ". Build a new worker to start again.");
      }
      state = State.STARTING;
    }
    // the database work outside the lock: a close() meanwhile (a shutdown hook while the database does not
    // answer) used to wait for the lock, unbounded, until the probe or the LISTEN connection answered
    try {
      probe();
      if (listener != null) {
        listener.start();
      }
    } catch (RuntimeException | Error e) {
      synchronized (lifecycle) {
        if (state == State.STARTING) {
          state = State.NEW; // nothing was started: a later start() may try again
        }
      }
      throw e;
    }
    boolean closedMeanwhile;
    synchronized (lifecycle) {
      closedMeanwhile = state != State.STARTING;
      if (!closedMeanwhile) {
        startThreads();
      }
    }
    if (closedMeanwhile) {
      // close() ran while this call waited on the database; it found nothing to stop, so nothing may start now
      if (listener != null) {
        try {
          listener.stop();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      throw new IllegalStateException("the JobWorker was closed while it was starting; build a new worker to"
          + " start again");
    }
  }

  /** The rest of {@link #start()}, under the lifecycle lock: no database work, so a close() waits briefly. */
  private void startThreads() {
    flusher.start();
    long shortest = config.shortestLease().toMillis();
    long tick = Math.max(50, Math.min(config.progressInterval().toMillis(), shortest / 3));
    nextFullHeartbeatNanos = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(shortest / 3);
    // the periodic tasks' futures are not kept: guarded() logs what a run throws, and close() stops them by
    // shutting the maintenance executor down
    ScheduledFuture<?> unused =
        maintenance.scheduleWithFixedDelay(guarded("heartbeat", this::heartbeat), tick, tick, TimeUnit.MILLISECONDS);
    long rescueEvery = Math.max(100, shortest / 2);
    // workers started together should not rescue in lockstep: stagger by a fraction fixed per worker id
    long stagger = Math.floorMod(config.workerId().hashCode(), Math.max(1, rescueEvery / 4));
    unused = maintenance.scheduleWithFixedDelay(guarded("rescue", this::rescue), stagger, rescueEvery + stagger,
        TimeUnit.MILLISECONDS);
    if (meters.wantsDepth()) {
      long every = config.metricsInterval().toMillis();
      unused = maintenance.scheduleWithFixedDelay(guarded("queue depth", this::measureDepth), 0, every,
          TimeUnit.MILLISECONDS);
    }
    claiming = true;
    dispatcher.start();
    LocalWakeups local = config.localWakeups();
    if (local != null) {
      local.subscribe(localWake);
    }
    state = State.RUNNING;
    log.info("job worker {} started: queues {}, types {}, listen {}", config.workerId(), queues.keySet(),
        config.handlers().keySet(), config.listen());
  }

  private void probe() {
    boolean mayUpdate;
    try (Connection c = config.dataSource().getConnection(); Statement st = c.createStatement();
        ResultSet rs = st.executeQuery(sql.probe)) {
      mayUpdate = rs.next() && rs.getBoolean(2);
    } catch (SQLException e) {
      throw new SaasException("the job worker cannot read " + config.schema().name() + ".jobs: "
          + e.getMessage() + ". Run JobsSchema.migrate(...) as the owner role and grant the worker's role with"
          + " JobsSchema.grantWorker(connection, role).", e);
    }
    if (!mayUpdate) {
      // the application's role: it reads its tenant's jobs, but every claim would fail (no UPDATE of the lease
      // columns) and, under the tenant policy, find no job anyway
      throw new SaasException("the job worker's role cannot update " + config.schema().name() + ".jobs: it looks like"
          + " the application's role (JobsSchema.grantApp). Workers claim the jobs of every tenant: give them a"
          + " DataSource of a role granted with JobsSchema.grantWorker(connection, role), through"
          + " SaasJobs.builder(appDataSource).workerDataSource(workerDataSource).");
    }
  }

  private Runnable guarded(String what, Runnable task) {
    return () -> {
      if (crashed) {
        return;
      }
      try {
        task.run();
      } catch (RuntimeException e) {
        log.warn("job worker {}: {} failed: {}", config.workerId(), what, e.toString());
      } catch (Error e) {
        // a periodic task that throws is never run again: one Error (a DataSource wrapper's assertion, a stack
        // overflow) ended the heartbeats for good, and every job then lost its lease and ran twice
        log.error("job worker {}: {} failed", config.workerId(), what, e);
      }
    };
  }

  /**
   * Graceful shutdown: stop claiming, let running handlers finish until the shutdown timeout, interrupt and
   * release the rest, record every outcome, then stop heartbeats. Idempotent; a second caller waits for the first.
   */
  public void close() {
    boolean another;
    synchronized (lifecycle) {
      if (state == State.NEW || state == State.STARTING) {
        // a start() under way sees this and starts no thread (it throws IllegalStateException)
        state = State.CLOSED;
        closed.countDown();
        return;
      }
      another = state != State.RUNNING;
      if (!another) {
        state = State.CLOSING;
      }
    }
    boolean fromOwnHandler = HANDLER_OF.get() == this;
    if (another) {
      // outside the lock: the first caller takes it again to finish, and used to wait for it forever. A handler of
      // this worker does not wait: the first close() waits for that very handler to return
      if (!fromOwnHandler) {
        awaitClosed();
      }
      return;
    }
    if (fromOwnHandler) {
      // a handler cannot wait for its own return: it used to wait the whole close timeout, then was interrupted
      // and its job released to run again. The shutdown goes on on its own thread; this handler's outcome is
      // recorded when it returns, like any other running handler's
      Thread closer = new Thread(this::closeRunning, "saaskit-jobs-" + config.workerId() + "-closer");
      closer.setDaemon(true);
      closer.start();
      return;
    }
    closeRunning();
  }

  /** The shutdown of a running worker, by the one close() that moved it to CLOSING. */
  private void closeRunning() {
    try {
      shutDown();
    } catch (InterruptedException e) {
      stopAfterInterrupt();
      Thread.currentThread().interrupt();
      log.warn("job worker {}: shutdown interrupted; unfinished jobs are rescued after their leases expire",
          config.workerId());
    } finally {
      synchronized (lifecycle) {
        state = State.CLOSED;
      }
      closed.countDown();
    }
  }

  /**
   * {@link #close()} was interrupted and waits no longer. What the log promises must then hold: the jobs not given
   * back are rescued once their leases expire. So the heartbeats stop with everything else (they used to go on,
   * renewing the leases of jobs nobody would finish, for as long as the process lived), handlers are interrupted,
   * and the outcomes already handed to the writer are still written, within a few seconds, on its own thread.
   */
  private void stopAfterInterrupt() {
    claiming = false;
    lostClaims.stop();
    maintenance.shutdownNow();
    timeouts.shutdownNow();
    for (WorkerQueue q : queues.values()) {
      q.pool.shutdownNow();
    }
    if (listener != null) {
      listener.signalStop();
    }
    flusher.stopBy(System.nanoTime() + TimeUnit.SECONDS.toNanos(5));
    meters.close();
  }

  private void awaitClosed() {
    try {
      closed.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void shutDown() throws InterruptedException {
    long deadline = System.nanoTime() + config.closeTimeout().toNanos();
    unsubscribeLocal();
    synchronized (reservations) {
      claiming = false;
    }
    signal.wake();
    // bounded: a claim stuck on a database that does not answer must not hold close() past its timeout. Jobs such a
    // claim still returns are handed to pools that are shut down by then, so they stay leased to this worker, whose
    // heartbeats stop below, and are rescued once the lease expires
    dispatcher.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
    if (dispatcher.isAlive()) {
      log.warn("job worker {}: a claim was still running at the shutdown timeout (is the database answering?);"
          + " jobs it claims are rescued when their leases expire", config.workerId());
    }
    if (listener != null) {
      listener.stop();
    }
    awaitReservations(deadline);
    for (WorkerQueue q : queues.values()) {
      q.pool.shutdown();
      releaseUnstarted(q);
      releaseStartedHere(q);
    }
    boolean finished = awaitPools(deadline);
    if (!finished) {
      List<Long> released = new ArrayList<>();
      for (WorkerJob job : inFlight.values()) {
        if (!job.handlerDone()) {
          job.release();
          released.add(job.id);
        }
      }
      log.info("job worker {}: shutdown timeout reached, interrupting and releasing {} running job(s): {}",
          config.workerId(), released.size(), released.size() <= 50 ? released : released.subList(0, 50) + "...");
      awaitPools(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(RELEASE_GRACE_MILLIS));
      for (WorkerJob job : inFlight.values()) {
        if (job.decided.compareAndSet(false, true)) {
          // the handler ignores interrupts: give the job back anyway; whatever it returns later is dropped
          flusher.submit(new WorkerOutcome(job, WorkerOutcome.Kind.RELEASED, null, null, null,
              job.latestProgress()));
        }
      }
    }
    flusher.drainAndStop(Math.max(deadline, System.nanoTime() + TimeUnit.SECONDS.toNanos(5)));
    lostClaims.stop();
    maintenance.shutdownNow();
    timeouts.shutdownNow();
    maintenance.awaitTermination(5, TimeUnit.SECONDS);
    meters.close();
    log.info("job worker {} stopped", config.workerId());
  }

  /**
   * Gives back the prefetched jobs no handler has started: they were never attempted (if a start was recorded ahead
   * for one, the release takes its attempt back). Each keeps its slot until the release is written.
   */
  private void releaseUnstarted(WorkerQueue q) {
    List<Runnable> unstarted = new ArrayList<>();
    q.pool.getQueue().drainTo(unstarted);
    for (Runnable task : unstarted) {
      q.working.decrementAndGet();
      if (task instanceof QueuedJob queued) {
        giveBack(queued.job);
      }
    }
  }

  /**
   * Waits until every enqueue holding a reservation has ended it, or the deadline. An enqueue still unfinished then
   * leaves its job running under this worker's lease, which expires unrenewed: the job is rescued and runs later.
   */
  private void awaitReservations(long deadlineNanos) throws InterruptedException {
    synchronized (reservations) {
      while (openReservations > 0) {
        long left = deadlineNanos - System.nanoTime();
        if (left <= 0) {
          log.warn("job worker {}: {} enqueue(s) of jobs this worker was to start did not finish before the shutdown"
              + " timeout; such a job is rescued when its lease expires", config.workerId(), openReservations);
          return;
        }
        TimeUnit.NANOSECONDS.timedWait(reservations, left);
      }
    }
  }

  /** Gives back the jobs enqueued for this worker that the dispatcher did not hand to a thread before it stopped. */
  private void releaseStartedHere(WorkerQueue q) {
    WorkerJob job = q.startedHere.poll();
    while (job != null) {
      inFlight.put(job.id, job);
      q.working.decrementAndGet();
      giveBack(job);
      job = q.startedHere.poll();
    }
  }

  /** Releases a job no handler ran (pending again, its attempt not counted), unless its outcome is decided. */
  private void giveBack(WorkerJob job) {
    if (job.decided.compareAndSet(false, true)) {
      flusher.submit(new WorkerOutcome(job, WorkerOutcome.Kind.RELEASED, null, null, null, job.latestProgress()));
    }
  }

  /**
   * The job leaves this worker: its outcome was written (or rejected by the fence), or it will not run and its
   * lease is left to expire. Frees its slot; exactly once per claimed job.
   */
  private void leave(WorkerJob job) {
    if (inFlight.remove(job.id, job)) {
      WorkerQueue q = queueOf(job);
      q.busy.decrementAndGet();
      // the handler's return already woke the dispatcher; wake it again only if this slot is what it waits for,
      // rather than twice per job
      if (q.outcomesLimitClaims()) {
        signal.wake();
      }
    }
  }

  private boolean awaitPools(long deadlineNanos) throws InterruptedException {
    for (WorkerQueue q : queues.values()) {
      long left = deadlineNanos - System.nanoTime();
      if (left <= 0 || !q.pool.awaitTermination(left, TimeUnit.NANOSECONDS)) {
        return queues.values().stream().allMatch(x -> x.pool.isTerminated());
      }
    }
    return true;
  }

  /**
   * Test hook: behave like a process that died. Claims, heartbeats, rescue and outcome writes stop at once and
   * nothing is released: every job this worker holds stays running until its lease expires.
   */
  public void crash() {
    unsubscribeLocal();
    crashed = true;
    frozen = true;
    claiming = false;
    flusher.abandon();
    lostClaims.stop();
    if (listener != null) {
      listener.abandon();
    }
    maintenance.shutdownNow();
    timeouts.shutdownNow();
    for (WorkerQueue q : queues.values()) {
      q.pool.shutdownNow();
    }
    dispatcher.interrupt();
    synchronized (lifecycle) {
      state = State.CLOSED;
    }
    closed.countDown();
  }

  /**
   * Test hook: a worker that stalls (a long GC pause, a frozen VM): no claims, heartbeats or rescue, while its
   * handlers keep running and their outcomes are still written, so they meet the lease fence.
   */
  public void freeze() {
    frozen = true;
  }

  // ---------------------------------------------------------------- wake-ups

  private void unsubscribeLocal() {
    LocalWakeups local = config.localWakeups();
    if (local != null) {
      local.unsubscribe(localWake);
    }
  }

  /**
   * On the enqueuing thread (see {@link LocalWakeups}): jobs due now were committed on {@code queue} in this
   * process. A single job's id is kept as a hint for {@link #claimHinted}; otherwise (a batch, a capped queue, too
   * many hints) this is a plain wake-up, as by NOTIFY.
   */
  private void committedHere(String queue, long jobId) {
    WorkerQueue q = queues.get(queue);
    if (q == null) {
      return;
    }
    if (jobId != LocalWakeups.NO_ID && q.tenantCap == 0 && q.hints.size() < WorkerQueue.MAX_HINTS) {
      q.hints.add(jobId);
    } else {
      q.notified.set(true);
    }
    signal.wake();
  }

  /**
   * On the enqueuing thread (see {@link LocalWakeups.LocalStart}): takes a slot and an idle handler thread of
   * {@code queue} for a job of {@code type} that is due now, when starting it here is what the claims would do: the
   * worker runs and is not frozen, the queue has no tenant cap (whose count only a claim can check) and an idle
   * thread, and nothing else may be waiting: no backlog seen by the latest fair claim, no wake-up or hinted job not
   * yet claimed. Otherwise null, and the job is enqueued pending as usual.
   */
  private LocalWakeups.@Nullable LocalStart reserveHere(String queue, String type) {
    WorkerQueue q = queues.get(queue);
    WorkerConfig.Handler handler = config.handlers().get(type);
    if (q == null || handler == null || q.tenantCap != 0 || frozen || q.backlog || q.notified.get()
        || !q.hints.isEmpty() || !q.startedHere.isEmpty()) {
      return null;
    }
    synchronized (reservations) {
      if (!claiming || frozen) {
        return null;
      }
      int working = q.working.get();
      // the dispatcher changes these counters without this lock: a claim it is sending now may still start one job
      // more than there are idle threads, which then waits for a thread, as in any claim that overlaps a finish
      if (working >= q.concurrency || q.free() <= 0 || !q.working.compareAndSet(working, working + 1)) {
        return null;
      }
      q.busy.incrementAndGet();
      openReservations++;
    }
    return new Reservation(q, handler.leaseDuration().toMillis());
  }

  /** Hands the jobs enqueued for this worker ({@link #reserveHere}) to their threads. Dispatcher thread only. */
  private void dispatchStartedHere(WorkerQueue q) {
    List<WorkerJob> jobs = new ArrayList<>();
    WorkerJob job = q.startedHere.poll();
    while (job != null) {
      jobs.add(job);
      job = q.startedHere.poll();
    }
    long[] turns = turnsOf(q, jobs);
    long now = System.nanoTime();
    for (int i = 0; i < jobs.size(); i++) {
      // the insert was the claim: counted as one, timed from before the insert to the hand-over
      meters.claimed(q.name, now - jobs.get(i).claimedNanos, 1);
      hand(q, jobs.get(i), turns[i]);
    }
  }

  /** A reserved slot and thread of one queue, ended once by the enqueue that holds it. */
  private final class Reservation implements LocalWakeups.LocalStart {
    private final WorkerQueue q;
    private final long leaseMillis;
    private final AtomicBoolean ended = new AtomicBoolean();

    Reservation(WorkerQueue q, long leaseMillis) {
      this.q = q;
      this.leaseMillis = leaseMillis;
    }

    @Override
    public String workerId() {
      return config.workerId();
    }

    @Override
    public long leaseMillis() {
      return leaseMillis;
    }

    @Override
    public void started(long jobId, EnqueueRow row, long beforeInsertNanos) {
      if (!ended.compareAndSet(false, true)) {
        return;
      }
      // as the claim would answer: first attempt counted, epoch 1 (the column's default 0, bumped once)
      WorkerJob job = new WorkerJob(jobId, row.tenant(), null, row.type(), q.name, 1, row.maxAttempts(), 1,
          leaseMillis, row.timeoutMs(), row.payloadJson(), false, true, beforeInsertNanos);
      q.startedHere.add(job);
      end();
      signal.wake();
    }

    @Override
    public void cancelled() {
      if (!ended.compareAndSet(false, true)) {
        return;
      }
      q.working.decrementAndGet();
      q.busy.decrementAndGet();
      end();
      signal.wake();
    }

    private void end() {
      synchronized (reservations) {
        openReservations--;
        reservations.notifyAll();
      }
    }
  }

  /** This worker as {@link LocalWakeups} sees it. */
  private final class LocalWorker implements LocalWakeups.Worker {
    @Override
    public void committed(String queue, long jobId) {
      committedHere(queue, jobId);
    }

    @Override
    public LocalWakeups.@Nullable LocalStart reserve(String queue, String type) {
      return reserveHere(queue, type);
    }
  }

  /** A NOTIFY for {@code queue} arrived: the dispatcher claims from it at once, whatever its poll time. */
  private void notified(String queue) {
    WorkerQueue q = queues.get(queue);
    if (q != null) {
      q.notified.set(true);
      signal.wake();
    }
  }

  private void wakeAll() {
    for (WorkerQueue q : queues.values()) {
      q.notified.set(true);
    }
    signal.wake();
  }

  // ---------------------------------------------------------------- claiming

  private void dispatchLoop() {
    long pollNanos = config.pollInterval().toNanos();
    long now = System.nanoTime();
    for (WorkerQueue q : queues.values()) {
      q.nextPollNanos = now;
    }
    while (claiming) {
      boolean again = false;
      long wait = pollNanos;
      for (WorkerQueue q : queues.values()) {
        if (!claiming) {
          break;
        }
        if (!q.startedHere.isEmpty()) {
          dispatchStartedHere(q);
        }
        if (!q.hints.isEmpty()) {
          claimHinted(q);
        }
        int free = q.free();
        now = System.nanoTime();
        if (!frozen && free > 0 && (q.notified.get() || now - q.nextPollNanos >= 0
            || q.productive && free >= q.refillThreshold)) {
          q.notified.set(false);
          int got = claim(q, q.request());
          q.nextPollNanos = System.nanoTime() + (q.failing ? Math.max(pollNanos, 1_000_000_000L) : pollNanos);
          q.productive = got > 0;
          if (q.productive && q.free() >= q.refillThreshold) {
            again = true;
          }
        }
        if (!frozen && q.free() > 0) {
          // a queue with no free slot waits for one to free up (which wakes the dispatcher), not for its poll
          wait = Math.min(wait, q.nextPollNanos - System.nanoTime());
        }
      }
      if (!again) {
        try {
          signal.await(Math.max(wait, 1_000_000L));
        } catch (InterruptedException e) {
          if (crashed) {
            return;
          }
        }
      }
    }
  }

  /** Claims up to {@code request} jobs for {@code q} and hands them to its pool; returns how many. */
  private int claim(WorkerQueue q, int request) {
    int claimed = 0;
    try {
      for (int round = 0; round < CLAIM_WINDOW_ROUNDS && claimed == 0; round++) {
        long started = System.nanoTime();
        boolean wasBusy = q.working.get() > 0;
        // the jobs idle threads take at once, and as many more as the handlers will probably start before the
        // outcome writer could record them: twice their starts since the last claim, or during the writer's last
        // statement if one ended since (a thread that has to wait for the writer waits a whole statement), whichever
        // is more. None for busy or blocked handlers; nearly all of a claim in a drain of quick jobs.
        int recent = Math.max(q.startedSinceClaim.getAndSet(0), q.startedPerWrite.getAndSet(0));
        int startNow = Math.min(request, q.idleThreads() + 2 * recent);
        ClaimResult result = runClaim(q, request, startNow);
        meters.claimed(q.name, System.nanoTime() - started, result.jobs.size());
        if (crashed) {
          return 0;
        }
        q.adapt(request, result.jobs.size(), wasBusy, q.working.get() < q.concurrency);
        if (!result.jobs.isEmpty()) {
          q.cursor = result.cursorAfterJobs;
          int n = result.jobs.size();
          String[] tenants = new String[n];
          Integer[] order = new Integer[n];
          for (int i = 0; i < n; i++) {
            WorkerJob job = result.jobs.get(i);
            tenants[i] = job.tenant != null ? job.tenant.value() : job.invalidTenant != null ? job.invalidTenant : "";
            order[i] = i;
          }
          long[] turns = q.turns(tenants, Arrays.copyOf(result.ranks, n));
          // in turn order: the first jobs go straight to idle threads, bypassing the pool's ordered queue
          Arrays.sort(order, (a, b) -> turns[a] != turns[b] ? Long.compare(turns[a], turns[b])
              : Long.compare(result.walkPositions[a], result.walkPositions[b]));
          for (int i : order) {
            dispatch(q, result.jobs.get(i), turns[i]);
          }
          claimed = result.jobs.size();
        } else if (result.windowFull) {
          // every tenant in this window had nothing to run (not due, or types this worker lacks): look further
          q.cursor = result.walkEnd;
        } else {
          break;
        }
      }
      q.backlog = claimed >= request;
      if (q.failing) {
        q.failing = false;
        log.info("job worker {}: claiming from queue '{}' works again", config.workerId(), q.name);
      }
    } catch (SQLException | RuntimeException | Error e) {
      // an Error too (a DataSource wrapper's assertion, a stack overflow): it ended the dispatcher thread, and the
      // worker, alive to every other look, never claimed again
      if (!q.failing && !crashed) {
        log.warn("job worker {}: claiming from queue '{}' failed, retrying every poll: {}", config.workerId(),
            q.name, e.getMessage());
      }
      q.failing = true;
    }
    return claimed;
  }

  private static final class ClaimResult {
    final List<WorkerJob> jobs = new ArrayList<>();
    long[] ranks = new long[16];
    long[] walkPositions = new long[16];
    String cursorAfterJobs = "";
    String walkEnd = "";
    boolean windowFull;
  }

  /** Runs the claim; the first {@code startNow} jobs (in the order they are dispatched) have their start recorded. */
  private ClaimResult runClaim(WorkerQueue q, int request, int startNow) throws SQLException {
    WorkerStatement statement = q.tenantCap > 0 ? sql.claimCapped : sql.claim;
    long token = lostClaims.nextToken();
    try (Connection c = config.dataSource().getConnection()) {
      boolean capped = q.tenantCap > 0;
      c.setAutoCommit(!capped);
      long sentNanos = 0;
      // the claim's session, asked of the driver while the connection is sound (no round trip)
      int pid = LostClaims.backendPid(c);
      try {
        if (capped) {
          // claims of a capped queue take turns, so two workers cannot both see a tenant below its cap; the lock is
          // taken in its own statement so the claim's snapshot sees the previous holder's committed claims
          try (PreparedStatement lock = c.prepareStatement("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))")) {
            lock.setString(1, "saaskit_jobs.claim:" + config.schema().name() + ":" + q.name);
            lock.executeQuery().close();
          }
        }
        Map<String, Object> values = new HashMap<>();
        values.put("queue", q.name);
        values.put("cursor", q.cursor);
        values.put("before", q.cursor.isEmpty() ? null : q.cursor);
        values.put("window", claimWindow);
        values.put("request", request);
        values.put("start", startNow);
        values.put("clock_now", config.clock().instant().atOffset(ZoneOffset.UTC));
        Array types = c.createArrayOf("text", handledTypes);
        values.put("types", types);
        values.put("leases", c.createArrayOf("int8", handledLeases));
        values.put("worker", config.workerId());
        values.put("token", token);
        values.put("cap", q.tenantCap);
        ClaimResult result = new ClaimResult();
        long bestOrd = Long.MIN_VALUE;
        try (PreparedStatement st = c.prepareStatement(statement.sql())) {
          statement.bindTo(st, values);
          sentNanos = System.nanoTime();
          try (ResultSet rs = st.executeQuery()) {
            long now = System.nanoTime();
            while (rs.next()) {
              String tenant = rs.getString(3);
              long ord = rs.getLong(12);
              if (rs.getBoolean(1)) {
                long timeout = rs.getLong(9);
                Long timeoutMillis = rs.wasNull() ? null : timeout;
                int i = result.jobs.size();
                if (i == result.ranks.length) {
                  result.ranks = Arrays.copyOf(result.ranks, 2 * i);
                  result.walkPositions = Arrays.copyOf(result.walkPositions, 2 * i);
                }
                result.ranks[i] = rs.getLong(13);
                result.walkPositions[i] = ord;
                result.jobs.add(jobOf(rs, q, tenant, timeoutMillis, now));
                if (ord > bestOrd) {
                  bestOrd = ord;
                  result.cursorAfterJobs = tenant == null ? "" : tenant;
                }
              } else {
                result.walkEnd = tenant == null ? "" : tenant;
                result.windowFull = rs.getLong(13) >= claimWindow;
              }
            }
          }
        }
        if (capped) {
          c.commit();
        }
        return result;
      } catch (SQLException | RuntimeException e) {
        if (sentNanos != 0) {
          giveBackIfUnknown(q, e, token, pid, sentNanos);
        }
        if (capped) {
          try {
            c.rollback();
          } catch (SQLException ignored) {
            // the connection is broken; the pool discards it
          }
        }
        throw e;
      } finally {
        if (capped) {
          c.setAutoCommit(true);
        }
      }
    }
  }

  /**
   * A claim failed after it was sent. If the failure leaves its outcome unknown (the connection broke: it may have
   * committed, and its rows would sit running until their leases expire, then be charged an attempt by the rescue),
   * its rows are given back on a fresh connection, found by the claim's token (see {@link LostClaims}). An error the
   * server answered with rolled the claim back: nothing to give back.
   */
  private void giveBackIfUnknown(WorkerQueue q, Throwable e, long token, int pid, long sentNanos) {
    if (crashed || !LostClaims.outcomeUnknown(e)) {
      return;
    }
    lostClaims.giveBack(q.name, token, pid, sentNanos + longestLeaseNanos, n -> {
      q.notified.set(true);
      signal.wake();
    });
  }

  /** A claimed job from a row of the claim's answer (both claims answer with the same columns). */
  private static WorkerJob jobOf(ResultSet rs, WorkerQueue q, @Nullable String tenant, @Nullable Long timeoutMillis,
      long now) throws SQLException {
    // a tenant_id TenantId rejects (a row written by hand) must not fail the whole claim: its job is ended dead
    // when it would start, and the claim's other jobs run
    TenantId tenantId = tenant == null ? null : QueueRows.tenantOrNull(tenant);
    // attempts as the row now says: counted if the claim recorded the start, else counted at the start
    boolean started = rs.getBoolean(14);
    int attempt = rs.getInt(6) + (started ? 0 : 1);
    return new WorkerJob(rs.getLong(2), tenantId, tenantId == null ? tenant : null, rs.getString(4), q.name,
        attempt, rs.getInt(7), rs.getLong(8), rs.getLong(11), timeoutMillis, rs.getString(5), rs.getBoolean(10),
        started, now);
  }

  /**
   * Claims the jobs this process just enqueued on {@code q} by their ids, when that is fair: the queue has idle
   * threads, no tenant cap, no backlog seen by its latest fair claim and no other wake-up waiting. Then the job
   * starts after one primary-key claim instead of the walk over the tenants, which is most of the claim's cost
   * when the queue is nearly empty. Whatever the ids do not cover (a job another worker took, one locked by
   * another claim at that moment, a claim that failed) falls back to the fair claim at once, so a hint never
   * delays a job. Dispatcher thread only.
   */
  private void claimHinted(WorkerQueue q) {
    List<Long> ids = new ArrayList<>();
    int limit = Math.max(1, q.request());
    Long id = q.hints.poll();
    while (id != null && ids.size() < limit) {
      ids.add(id);
      id = q.hints.poll();
    }
    if (ids.isEmpty()) {
      return;
    }
    // more hints than the request: the fair claim takes them all
    boolean rest = id != null;
    q.hints.clear();
    int idle = q.idleThreads();
    if (frozen || rest || q.backlog || q.notified.get() || idle == 0 || q.free() <= 0
        || claimByIds(q, ids, idle) < ids.size()) {
      q.notified.set(true);
    }
  }

  /** Runs the claim by ids; returns how many jobs it took (0 if it failed: the fair claim follows and reports). */
  private int claimByIds(WorkerQueue q, List<Long> ids, int startNow) {
    long started = System.nanoTime();
    List<WorkerJob> jobs = new ArrayList<>(ids.size());
    long token = lostClaims.nextToken();
    try (Connection c = config.dataSource().getConnection()) {
      if (!c.getAutoCommit()) {
        c.setAutoCommit(true);
      }
      long sentNanos = 0;
      int pid = LostClaims.backendPid(c);
      Map<String, Object> values = new HashMap<>();
      values.put("queue", q.name);
      values.put("ids", c.createArrayOf("int8", ids.toArray(new Long[0])));
      values.put("start", startNow);
      values.put("clock_now", config.clock().instant().atOffset(ZoneOffset.UTC));
      values.put("types", c.createArrayOf("text", handledTypes));
      values.put("leases", c.createArrayOf("int8", handledLeases));
      values.put("worker", config.workerId());
      values.put("token", token);
      try (PreparedStatement st = c.prepareStatement(sql.claimByIds.sql())) {
        sql.claimByIds.bindTo(st, values);
        sentNanos = System.nanoTime();
        try (ResultSet rs = st.executeQuery()) {
          long now = System.nanoTime();
          while (rs.next()) {
            long timeout = rs.getLong(9);
            Long timeoutMillis = rs.wasNull() ? null : timeout;
            jobs.add(jobOf(rs, q, rs.getString(3), timeoutMillis, now));
          }
        }
      } catch (SQLException | RuntimeException e) {
        if (sentNanos != 0) {
          giveBackIfUnknown(q, e, token, pid, sentNanos);
        }
        throw e;
      }
    } catch (SQLException | RuntimeException | Error e) {
      log.debug("job worker {}: claiming hinted jobs from queue '{}' failed, claiming fairly instead: {}",
          config.workerId(), q.name, e.getMessage());
      return 0;
    }
    meters.claimed(q.name, System.nanoTime() - started, jobs.size());
    if (crashed || jobs.isEmpty()) {
      return 0;
    }
    long[] turns = turnsOf(q, jobs);
    for (int i = 0; i < jobs.size(); i++) {
      dispatch(q, jobs.get(i), turns[i]);
    }
    return jobs.size();
  }

  /** The turns of jobs that reach the queue together, ranked within each tenant (see WorkerQueue#turns). */
  private static long[] turnsOf(WorkerQueue q, List<WorkerJob> jobs) {
    int n = jobs.size();
    String[] tenants = new String[n];
    long[] ranks = new long[n];
    Map<String, Long> perTenant = new HashMap<>();
    for (int i = 0; i < n; i++) {
      WorkerJob job = jobs.get(i);
      tenants[i] = job.tenant != null ? job.tenant.value() : job.invalidTenant != null ? job.invalidTenant : "";
      ranks[i] = perTenant.merge(tenants[i], 1L, Long::sum);
    }
    return q.turns(tenants, ranks);
  }

  private void dispatch(WorkerQueue q, WorkerJob job, long turn) {
    q.busy.incrementAndGet();
    q.working.incrementAndGet();
    hand(q, job, turn);
  }

  /** Gives a held job, whose slot is counted already, to the queue's handler pool. */
  private void hand(WorkerQueue q, WorkerJob job, long turn) {
    inFlight.put(job.id, job);
    try {
      q.pool.execute(new QueuedJob(q, job, turn, q.nextSequence()));
    } catch (RuntimeException e) {
      // the pool is shutting down (crash): the job stays running in the database until its lease expires
      q.working.decrementAndGet();
      leave(job);
    }
  }

  // ---------------------------------------------------------------- running a job

  /**
   * A claimed job in its queue's pool: a class rather than a lambda so shutdown can release the unstarted ones, and
   * comparable so the pool's queue hands out jobs by turn, then in the order they were dispatched. That order is
   * claim order, and within a claim the walk's. The walk position itself must not break ties: positions of two
   * claims do not compare, and a system job at position 17 of one claim waited behind a tenant at position 1 of
   * the next, which had been given the same turn.
   */
  private final class QueuedJob implements Runnable, Comparable<QueuedJob> {
    final WorkerQueue q;
    final WorkerJob job;
    final long turn;
    final long sequence;

    QueuedJob(WorkerQueue q, WorkerJob job, long turn, long sequence) {
      this.q = q;
      this.job = job;
      this.turn = turn;
      this.sequence = sequence;
    }

    @Override
    public int compareTo(QueuedJob other) {
      int c = Long.compare(turn, other.turn);
      return c != 0 ? c : Long.compare(sequence, other.sequence);
    }

    @Override
    public void run() {
      q.startedTurn.accumulateAndGet(turn, Math::max);
      if (mayStart(job)) {
        execute(q, job);
      } else {
        q.working.decrementAndGet();
        signal.wake();
      }
    }
  }

  /**
   * Whether this thread may run {@code job}'s handler now: only once its start (its attempt) is recorded in the
   * row, so that whenever a handler may have run, a rescue after a crash counts the attempt. A held job's start is
   * usually recorded ahead by the outcome writer; otherwise this thread asks for it and waits for that statement.
   * A closing worker gives back a job it has not started yet instead.
   */
  private boolean mayStart(WorkerJob job) {
    if (!job.startRecorded()) {
      if (!claiming) {
        giveBack(job);
        return false;
      }
      if (job.requestStart()) {
        flusher.requestStart(job);
      }
      boolean recorded;
      try {
        recorded = job.awaitStart();
      } catch (InterruptedException e) {
        // a crash (the pool is shut down now): nothing more is written
        Thread.currentThread().interrupt();
        return false;
      }
      if (!recorded) {
        if (!crashed && job.decided.compareAndSet(false, true)) {
          log.warn("job {} ({}): its start could not be recorded (its lease was lost: rescued or cancelled"
              + " elsewhere, or the worker is stopping); it was not run here", job.id, job.type);
          leave(job);
        }
        return false;
      }
    }
    if (!claiming) {
      giveBack(job);
      return false;
    }
    WorkerQueue q = queueOf(job);
    q.startedSinceWrite.incrementAndGet();
    q.startedSinceClaim.incrementAndGet();
    return true;
  }

  private void execute(WorkerQueue q, WorkerJob job) {
    try {
      WorkerConfig.Handler handler = handlerOf(job);
      long started = System.nanoTime();
      @Nullable Object result = null;
      @Nullable Throwable error = null;
      boolean permanent = false;
      job.handlerStarted(Thread.currentThread());
      Long timeoutMillis = job.timeoutMillis != null ? job.timeoutMillis
          : handler.timeout() != null ? Long.valueOf(handler.timeout().toMillis()) : null;
      ScheduledFuture<?> timeout = null;
      try {
        if (timeoutMillis != null) {
          job.timeLimit(timeoutMillis);
          timeout = timeouts.schedule(job::timeOut, timeoutMillis, TimeUnit.MILLISECONDS);
        }
        if (job.invalidTenant != null) {
          permanent = true;
          throw new JobFailedPermanently("the job's tenant_id '" + job.invalidTenant + "' is not a valid tenant id ("
              + invalidTenantReason(job.invalidTenant) + "), so it cannot run in a tenant context; the row was"
              + " written around JobQueue. Enqueue it again with a valid tenant if it is needed");
        }
        @Nullable Object payload;
        try {
          payload = config.codec().decode(job.payloadJson, handler.payloadType());
        } catch (RuntimeException e) {
          permanent = true;
          throw new JobFailedPermanently("the payload of job " + job.id + " cannot be read as "
              + handler.payloadType().getName() + ": " + e.getMessage(), e);
        }
        result = inTenant(job.tenant, () -> handle(handler, payload, job));
      } catch (Throwable t) {
        error = t;
      } finally {
        job.handlerFinished();
        if (timeout != null) {
          timeout.cancel(false);
        }
        // a timeout that fired just before the handler returned must not hit the next job on this thread
        Thread.interrupted();
      }
      meters.executed(q.name, job.type, System.nanoTime() - started);
      if (error instanceof VirtualMachineError) {
        log.error("job {} ({}): the handler threw {}", job.id, job.type, error.toString());
      }
      WorkerOutcome outcome = decide(job, handler.retryPolicy(), result, error, permanent);
      if (job.decided.compareAndSet(false, true)) {
        flusher.submit(outcome);
      }
    } catch (RuntimeException | Error e) {
      // an Error as well: a job that never leaves would be heartbeated, and so kept running, for as long as the
      // worker lives, with its slot lost; left, its lease lapses and rescue takes it
      log.error("job {} ({}): recording its outcome failed; it will be rescued after its lease expires",
          job.id, job.type, e);
      leave(job);
    } finally {
      q.working.decrementAndGet();
      signal.wake();
    }
  }

  /** The queue of a claimed job: jobs are only claimed from this worker's queues. */
  private WorkerQueue queueOf(WorkerJob job) {
    WorkerQueue q = queues.get(job.queue);
    if (q == null) {
      throw new IllegalStateException("job " + job.id + " was claimed from queue '" + job.queue
          + "', which this worker does not serve (a bug in saaskit: please report it)");
    }
    return q;
  }

  /** The handler of a claimed job: jobs are only claimed for the types this worker handles. */
  private WorkerConfig.Handler handlerOf(WorkerJob job) {
    WorkerConfig.Handler handler = config.handlers().get(job.type);
    if (handler == null) {
      throw new IllegalStateException("job " + job.id + " of type '" + job.type
          + "' was claimed, but this worker has no handler for it (a bug in saaskit: please report it)");
    }
    return handler;
  }

  /**
   * Calls the handler. A job enqueued with a {@code null} payload (the JSON {@code null}) reaches its handler as
   * {@code null}, as {@link dev.saaskit.jobs.JobHandler#handle} documents.
   */
  // NullAway's default mode has no notion of a nullable type argument, so it reads the handler's P as non-null;
  // the payload of a job enqueued with JobRequest.builder(type, null) is null by design and is passed on as such
  @SuppressWarnings("NullAway")
  private static @Nullable Object handle(WorkerConfig.Handler handler, @Nullable Object payload, WorkerJob job)
      throws Exception {
    return handler.handler().handle(payload, job);
  }

  private static String invalidTenantReason(String stored) {
    try {
      TenantId.of(stored);
      return "valid";
    } catch (IllegalArgumentException e) {
      return Objects.requireNonNullElse(e.getMessage(), e.toString());
    }
  }

  private static @Nullable Object inTenant(@Nullable TenantId tenant, Callable<@Nullable Object> body)
      throws Exception {
    if (tenant != null) {
      return TenantContext.call(tenant, body::call);
    }
    Object[] result = new Object[1];
    TenantContext.runWithoutTenant(() -> result[0] = body.call());
    return result[0];
  }

  private WorkerOutcome decide(WorkerJob job, RetryPolicy retry, @Nullable Object returned,
      @Nullable Throwable error, boolean permanentFailure) {
    WorkerJob.Progress progress = job.latestProgress();
    if (job.cancelRequested()) {
      String why = error == null ? null : WorkerErrors.describe("cancelled; the handler ended with:", error);
      return new WorkerOutcome(job, WorkerOutcome.Kind.CANCELLED, null, why, null, progress);
    }
    if (job.released() && error != null) {
      // interrupted by shutdown: not the job's failure. A handler that still returned normally finished its work,
      // and completes below.
      return new WorkerOutcome(job, WorkerOutcome.Kind.RELEASED, null, null, null, progress);
    }
    if (job.timedOut()) {
      return failure(job, retry, WorkerErrors.describe("timed out after " + job.timeLimitMillis()
          + " ms; the handler was interrupted", error), false, progress);
    }
    if (error == null) {
      return completed(job, returned, progress);
    }
    boolean permanent = permanentFailure || error instanceof JobFailedPermanently;
    return failure(job, retry, WorkerErrors.describe(error), permanent, progress);
  }

  private WorkerOutcome failure(WorkerJob job, RetryPolicy retry, String error, boolean permanent,
      WorkerJob.@Nullable Progress progress) {
    if (permanent || job.attempt >= job.maxAttempts) {
      return new WorkerOutcome(job, WorkerOutcome.Kind.DEAD, null, error, null, progress);
    }
    Duration delay;
    synchronized (config.random()) {
      delay = retry.delay(job.attempt, config.random());
    }
    Instant runAt = config.clock().instant().plus(delay);
    return new WorkerOutcome(job, WorkerOutcome.Kind.RETRY, null, error, runAt, progress);
  }

  private WorkerOutcome completed(WorkerJob job, @Nullable Object value, WorkerJob.@Nullable Progress progress) {
    if (value == null) {
      return new WorkerOutcome(job, WorkerOutcome.Kind.COMPLETED, null, null, null, progress);
    }
    String note;
    try {
      String json = config.codec().encode(value);
      int bytes = json.getBytes(StandardCharsets.UTF_8).length;
      // tokenized, not json.contains("\\u0000"): that also matched a backslash followed by "u0000" as text, and
      // missed lone surrogates (rejected by jsonb when escaped, stored as '?' when not)
      String unstorable = JsonTexts.unstorable(json);
      if (bytes <= config.maxResultBytes() && unstorable == null) {
        return new WorkerOutcome(job, WorkerOutcome.Kind.COMPLETED, json, null, null, progress);
      }
      note = bytes > config.maxResultBytes()
          ? "result not stored: " + bytes + " bytes of JSON exceed maxResultBytes " + config.maxResultBytes()
          : "result not stored: " + unstorable;
    } catch (RuntimeException | Error e) {
      // an Error too (a codec recursing through a cyclic result overflows the stack): the work is done, so the job
      // completes without its result rather than staying leased by this worker for ever
      note = WorkerErrors.describe("result not stored: it cannot be written as JSON", e);
    }
    log.warn("job {} ({}) completed; {}", job.id, job.type, note);
    return new WorkerOutcome(job, WorkerOutcome.Kind.COMPLETED, null, note, null, progress);
  }

  /** What the outcome writer reports back; called on its thread, under the row-write lock, after commit. */
  private final class FlusherCallbacks implements WorkerFlusher.Callbacks {
    @Override
    public void written(WorkerOutcome outcome, @Nullable String finalState, boolean byEarlierTry) {
      if (byEarlierTry) {
        // the earlier try committed but its answer was lost (no callback ran for it): this is its only count
        log.info("job {} ({}): outcome {} of attempt {} was written already by a try whose commit was not"
            + " confirmed", outcome.job().id, outcome.job().type, outcome.kind(), outcome.job().attempt);
      }
      WorkerEngine.this.written(outcome, finalState);
    }

    @Override
    public void notWritten(WorkerOutcome outcome) {
      // its lease is no longer extended: it expires and the job is rescued
      leave(outcome.job());
    }

    @Override
    public void startWritten(WorkerJob job, boolean recorded) {
      job.startWritten(recorded);
    }

    @Override
    public List<WorkerJob> startsAhead() {
      return WorkerEngine.this.startsAhead();
    }
  }

  /**
   * The held jobs whose start to record in the outcome writer's next statement, ahead of need, so that the job a
   * thread takes next has its start recorded already and the thread does not wait for a statement. Per queue: as
   * many as keep twice the handlers' starts since the previous statement recorded and waiting (the threads' use
   * until the statement after next), the next ones in turn order. A queue whose handlers started nothing gets none:
   * slow or blocked handlers keep no runway, and if the worker dies, only the jobs recorded ahead but never started
   * (bounded by those starts) have their attempt counted without running, the safe side.
   */
  private List<WorkerJob> startsAhead() {
    if (!claiming) {
      return List.of();
    }
    List<WorkerJob> ahead = new ArrayList<>();
    for (WorkerQueue q : queues.values()) {
      int started = q.startedSinceWrite.getAndSet(0);
      q.startedPerWrite.set(started);
      if (started == 0) {
        continue;
      }
      Object[] held = q.pool.getQueue().toArray();
      int runway = 0;
      for (Object task : held) {
        if (task instanceof QueuedJob queued && !queued.job.startUnrequested()) {
          runway++;
        }
      }
      int wanted = 2 * started - runway;
      if (wanted <= 0) {
        continue;
      }
      // the wanted held jobs next in line whose start nobody asked for yet: a bounded max-heap
      PriorityQueue<QueuedJob> next = new PriorityQueue<>(wanted + 1, Comparator.reverseOrder());
      for (Object task : held) {
        if (task instanceof QueuedJob queued && queued.job.startUnrequested() && !queued.job.decided.get()) {
          next.add(queued);
          if (next.size() > wanted) {
            next.poll();
          }
        }
      }
      for (QueuedJob queued : next) {
        if (queued.job.requestStart()) {
          ahead.add(queued.job);
        }
      }
    }
    return ahead;
  }

  /**
   * The flusher wrote {@code outcome}; called under the row-write lock, after commit. {@code finalState} is the state
   * the row ended in (null: rejected by the lease fence): a cancel that reached the row after the outcome was
   * decided turns a completion, retry or release into {@code cancelled}, and the meters count what the row shows.
   */
  private void written(WorkerOutcome outcome, @Nullable String finalState) {
    WorkerJob job = outcome.job();
    leave(job);
    if (finalState == null) {
      log.warn("job {} ({}): outcome {} of attempt {} rejected: this worker lost its lease (epoch {}) and the job"
          + " was rescued or given to another worker", job.id, job.type, outcome.kind(), job.attempt, job.epoch);
      meters.zombieRejected(job.queue, job.type);
      return;
    }
    if (outcome.kind() != WorkerOutcome.Kind.CANCELLED
        && WorkerOutcome.Kind.CANCELLED.state.equals(finalState)) {
      log.info("job {} ({}): a cancel arrived before outcome {} of attempt {} was written; it ended cancelled",
          job.id, job.type, outcome.kind(), job.attempt);
      meters.cancelled(job.queue, job.type);
      return;
    }
    switch (outcome.kind()) {
      case COMPLETED:
        meters.completed(job.queue, job.type);
        break;
      case RETRY:
        meters.failed(job.queue, job.type, true);
        break;
      case DEAD:
        meters.failed(job.queue, job.type, false);
        log.warn("job {} ({}) is dead after attempt {}: {}", job.id, job.type, job.attempt,
            firstLine(outcome.error()));
        break;
      case CANCELLED:
        meters.cancelled(job.queue, job.type);
        break;
      case RELEASED:
        meters.released(job.queue, job.type);
        break;
      default:
        break;
    }
  }

  private static String firstLine(@Nullable String text) {
    if (text == null) {
      return "";
    }
    int nl = text.indexOf('\n');
    String line = nl < 0 ? text : text.substring(0, nl);
    return line.length() <= 300 ? line : line.substring(0, 300) + "...";
  }

  // ---------------------------------------------------------------- leases

  /**
   * Every tick: writes changed progress; every lease/3 also extends the lease of every job held, in the same
   * statement. A job missing from the answer lost its lease; a job whose row says cancel_requested is told so.
   */
  private void heartbeat() {
    if (frozen) {
      return;
    }
    long now = System.nanoTime();
    boolean full = now - nextFullHeartbeatNanos >= 0;
    rowWrites.lock();
    try {
      List<WorkerJob> jobs = new ArrayList<>();
      for (WorkerJob job : inFlight.values()) {
        if (full || job.progressDirty() || beatsOwed.contains(job.id)) {
          jobs.add(job);
        }
      }
      if (full) {
        nextFullHeartbeatNanos = now + TimeUnit.MILLISECONDS.toNanos(config.shortestLease().toMillis() / 3);
      } else {
        checkCancellation(jobs);
      }
      if (jobs.isEmpty()) {
        return;
      }
      int n = jobs.size();
      Long[] ids = new Long[n];
      Long[] epochs = new Long[n];
      Boolean[] extend = new Boolean[n];
      Long[] leases = new Long[n];
      Float[] progress = new Float[n];
      String[] messages = new String[n];
      List<WorkerJob.@Nullable Progress> taken = new ArrayList<>(n);
      for (int i = 0; i < n; i++) {
        WorkerJob job = jobs.get(i);
        ids[i] = job.id;
        epochs[i] = job.epoch;
        extend[i] = full || beatsOwed.contains(job.id);
        leases[i] = job.leaseMillis;
        WorkerJob.Progress p = job.takeProgress();
        taken.add(p);
        if (p != null) {
          progress[i] = p.fraction();
          messages[i] = p.message();
        }
      }
      Map<Long, Boolean> answered = new HashMap<>();
      Set<Long> skipped = new HashSet<>();
      long sent = System.nanoTime();
      try (Connection c = config.dataSource().getConnection()) {
        if (!c.getAutoCommit()) {
          c.setAutoCommit(true);
        }
        Array[] arrays = {c.createArrayOf("int8", ids), c.createArrayOf("int8", epochs),
            c.createArrayOf("bool", extend), c.createArrayOf("int8", leases), c.createArrayOf("float4", progress),
            c.createArrayOf("text", messages)};
        // the plain statement as a rule; the SKIP LOCKED variant while the latest heartbeat skipped rows, or once
        // the plain one failed on a row lock (it then wrote nothing: one statement, one transaction)
        boolean skipLocked = beatSkippedRows;
        if (!skipLocked) {
          try {
            sendHeartbeat(c, sql.heartbeat, arrays, answered, skipped);
          } catch (SQLException e) {
            if (!WorkerSql.lockNotGranted(e)) {
              throw e;
            }
            log.debug("job worker {}: the heartbeat waited on a row lock for {} ms; sending its SKIP LOCKED variant",
                config.workerId(), WorkerSql.LOCK_TIMEOUT_MILLIS);
            skipLocked = true;
          }
        }
        if (skipLocked) {
          answered.clear();
          skipped.clear();
          sendHeartbeat(c, sql.heartbeatSkipLocked, arrays, answered, skipped);
        }
      } catch (SQLException e) {
        for (int i = 0; i < n; i++) {
          if (taken.get(i) != null) {
            jobs.get(i).progressNotWritten();
          }
        }
        log.warn("job worker {}: heartbeat for {} job(s) failed: {}", config.workerId(), n, e.getMessage());
        return;
      }
      Set<Long> owed = new HashSet<>();
      for (int i = 0; i < n; i++) {
        WorkerJob job = jobs.get(i);
        if (skipped.contains(job.id)) {
          // its row is locked by someone else (see WorkerSql#heartbeat): not lost, not extended, progress kept
          if (taken.get(i) != null) {
            job.progressNotWritten();
          }
          if (extend[i]) {
            owed.add(job.id);
          }
          continue;
        }
        Boolean cancel = answered.get(job.id);
        if (cancel == null) {
          if (!job.isLeaseLost()) {
            job.leaseLost();
            log.warn("job {} ({}): lease lost (epoch {}); the job was rescued or cancelled elsewhere. Its handler"
                + " is asked to stop and its outcome will be rejected", job.id, job.type, job.epoch);
          }
          continue;
        }
        if (full) {
          job.leaseExtended(sent);
        }
        if (cancel && !job.cancelRequested()) {
          job.requestCancel();
        }
      }
      if (!owed.isEmpty() && beatsOwed.isEmpty()) {
        log.info("job worker {}: heartbeat skipped {} job(s) whose rows another transaction holds locked; trying"
            + " them again every tick: {}", config.workerId(), owed.size(), owed);
      }
      beatsOwed = owed;
      beatSkippedRows = !skipped.isEmpty();
    } finally {
      rowWrites.unlock();
    }
  }

  /** Sends one of the two heartbeat statements; both answer (id, cancel_requested, written). */
  private static void sendHeartbeat(Connection c, String statement, Array[] arrays, Map<Long, Boolean> answered,
      Set<Long> skipped) throws SQLException {
    try (PreparedStatement st = c.prepareStatement(statement)) {
      for (int i = 0; i < arrays.length; i++) {
        st.setArray(i + 1, arrays[i]);
      }
      try (ResultSet rs = st.executeQuery()) {
        while (rs.next()) {
          if (rs.getBoolean(3)) {
            answered.put(rs.getLong(1), rs.getBoolean(2));
          } else {
            skipped.add(rs.getLong(1));
          }
        }
      }
    }
  }

  /** Between heartbeats: tells running jobs (other than {@code beingWritten}) about cancel requests. */
  private void checkCancellation(List<WorkerJob> beingWritten) {
    List<WorkerJob> others = new ArrayList<>();
    for (WorkerJob job : inFlight.values()) {
      if (!job.cancelRequested() && !job.handlerDone() && !beingWritten.contains(job)) {
        others.add(job);
      }
    }
    if (others.isEmpty()) {
      return;
    }
    Map<Long, WorkerJob> byId = new HashMap<>();
    for (WorkerJob job : others) {
      byId.put(job.id, job);
    }
    try (Connection c = config.dataSource().getConnection()) {
      if (!c.getAutoCommit()) {
        c.setAutoCommit(true);
      }
      try (PreparedStatement st = c.prepareStatement(sql.cancelled)) {
        st.setArray(1, c.createArrayOf("int8", byId.keySet().toArray(new Long[0])));
        try (ResultSet rs = st.executeQuery()) {
          while (rs.next()) {
            WorkerJob job = byId.get(rs.getLong(1));
            if (job != null) {
              job.requestCancel();
            }
          }
        }
      }
    } catch (SQLException e) {
      log.debug("job worker {}: checking for cancel requests failed: {}", config.workerId(), e.getMessage());
    }
  }

  /** Moves jobs whose lease expired back to pending (or dead, or cancelled), in small batches. */
  private void rescue() {
    if (frozen) {
      return;
    }
    for (int round = 0; round < RESCUE_ROUNDS; round++) {
      int rescued = 0;
      try (Connection c = config.dataSource().getConnection()) {
        if (!c.getAutoCommit()) {
          c.setAutoCommit(true);
        }
        try (PreparedStatement st = c.prepareStatement(sql.rescue)) {
          st.setInt(1, RESCUE_BATCH);
          try (ResultSet rs = st.executeQuery()) {
            while (rs.next()) {
              rescued++;
              String queue = rs.getString(2);
              String type = rs.getString(3);
              meters.rescued(queue, type);
              log.warn("job {} ({} on queue '{}'): lease of worker {} expired{}; now {}", rs.getLong(1), type, queue,
                  rs.getString(5), rs.getBoolean(6) ? "" : " before its handler started (attempt not counted)",
                  rs.getString(4));
            }
          }
        }
      } catch (SQLException e) {
        log.warn("job worker {}: rescue failed: {}", config.workerId(), e.getMessage());
        return;
      }
      if (rescued > 0) {
        wakeAll();
      }
      if (rescued < RESCUE_BATCH) {
        return;
      }
    }
  }

  private void measureDepth() {
    if (frozen) {
      return;
    }
    Map<String, double[]> found = new HashMap<>();
    try (Connection c = config.dataSource().getConnection()) {
      if (!c.getAutoCommit()) {
        c.setAutoCommit(true);
      }
      try (PreparedStatement st = c.prepareStatement(sql.depth)) {
        st.setArray(1, c.createArrayOf("text", queues.keySet().toArray(new String[0])));
        try (ResultSet rs = st.executeQuery()) {
          while (rs.next()) {
            found.put(rs.getString(1), new double[] {rs.getLong(2), rs.getDouble(3)});
          }
        }
      }
    } catch (SQLException e) {
      log.debug("job worker {}: measuring queue depth failed: {}", config.workerId(), e.getMessage());
      return;
    }
    for (String queue : queues.keySet()) {
      double[] v = found.getOrDefault(queue, new double[2]);
      meters.depth(queue, (long) v[0], v[1]);
    }
  }
}
