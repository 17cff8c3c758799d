package dev.saaskit.jobs.internal;

import dev.saaskit.core.TenantId;
import dev.saaskit.jobs.JobContext;
import dev.saaskit.jobs.JobId;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jspecify.annotations.Nullable;

/**
 * One claimed job while this worker holds its lease: what the claim returned, the handler's context, and the
 * flags other threads set on it (cancellation from the heartbeat, timeout, release at shutdown). Interrupts of
 * the handler thread happen only under this object's lock and only while the handler runs, so a late timeout can
 * never interrupt the next job that thread runs.
 *
 * <p>Its start: a job the claim handed to an idle thread has its start recorded (its attempt counted) by the claim
 * itself. A job held in the prefetch has not: before its handler may run, the outcome writer records the start
 * (NONE, then REQUESTED while a statement carries it, then RECORDED, or REFUSED when the lease fence rejected it or
 * the writer gave up). The handler thread waits for that, so a job whose handler may have run always has its
 * attempt counted, and a rescue can tell the jobs a dead worker never started.
 */
final class WorkerJob implements JobContext {
  private static final int START_NONE = 0;
  private static final int START_REQUESTED = 1;
  private static final int START_RECORDED = 2;
  private static final int START_REFUSED = 3;

  final long id;
  final @Nullable TenantId tenant;
  /** The stored tenant_id when it is not a valid TenantId (a row written by hand): the job cannot run. */
  final @Nullable String invalidTenant;
  final String type;
  final String queue;
  final int attempt;
  final int maxAttempts;
  final long epoch;
  final long leaseMillis;
  final @Nullable Long timeoutMillis;
  final String payloadJson;
  final long claimedNanos;

  /** Set once the job's outcome is handed to the flusher; whoever sets it decides the outcome. */
  final AtomicBoolean decided = new AtomicBoolean();

  private volatile boolean cancelRequested;
  private volatile boolean leaseLost;
  private volatile long leaseDeadlineNanos;

  private int start;
  private @Nullable Thread runner;
  private boolean handlerDone;
  private boolean timedOut;
  private long timeLimitMillis;
  private boolean released;

  private @Nullable Float progress;
  private @Nullable String progressMessage;
  private boolean progressDirty;

  WorkerJob(long id, @Nullable TenantId tenant, @Nullable String invalidTenant, String type, String queue, int attempt,
      int maxAttempts, long epoch, long leaseMillis, @Nullable Long timeoutMillis, String payloadJson,
      boolean cancelRequested, boolean startRecorded, long claimedNanos) {
    this.start = startRecorded ? START_RECORDED : START_NONE;
    this.id = id;
    this.tenant = tenant;
    this.invalidTenant = invalidTenant;
    this.type = type;
    this.queue = queue;
    this.attempt = attempt;
    this.maxAttempts = maxAttempts;
    this.epoch = epoch;
    this.leaseMillis = leaseMillis;
    this.timeoutMillis = timeoutMillis;
    this.payloadJson = payloadJson;
    this.cancelRequested = cancelRequested;
    this.claimedNanos = claimedNanos;
    this.leaseDeadlineNanos = claimedNanos + leaseMillis * 1_000_000L;
  }

  @Override
  public JobId id() {
    return JobId.of(id);
  }

  @Override
  public @Nullable TenantId tenant() {
    return tenant;
  }

  @Override
  public String type() {
    return type;
  }

  @Override
  public String queue() {
    return queue;
  }

  @Override
  public int attempt() {
    return attempt;
  }

  @Override
  public int maxAttempts() {
    return maxAttempts;
  }

  @Override
  public synchronized void progress(double fraction, @Nullable String message) {
    if (!(fraction >= 0 && fraction <= 1)) {
      throw new IllegalArgumentException("progress fraction must be within [0, 1] but was " + fraction);
    }
    progress = (float) fraction;
    progressMessage = message == null ? null : WorkerErrors.clean(message, WorkerErrors.MAX_MESSAGE_CHARS);
    progressDirty = true;
  }

  @Override
  public boolean isCancellationRequested() {
    return cancelRequested || leaseLost || System.nanoTime() - leaseDeadlineNanos > 0;
  }


  boolean cancelRequested() {
    return cancelRequested;
  }

  void requestCancel() {
    cancelRequested = true;
  }

  void leaseLost() {
    leaseLost = true;
  }

  boolean isLeaseLost() {
    return leaseLost;
  }

  /** A heartbeat sent at {@code sentNanos} succeeded: the lease now runs at least until sent + lease. */
  void leaseExtended(long sentNanos) {
    long deadline = sentNanos + leaseMillis * 1_000_000L;
    if (deadline - leaseDeadlineNanos > 0) {
      leaseDeadlineNanos = deadline;
    }
  }

  /** The progress to write, if it changed since the last write; clears the change mark. */
  synchronized @Nullable Progress takeProgress() {
    if (!progressDirty) {
      return null;
    }
    progressDirty = false;
    return new Progress(progress, progressMessage);
  }

  /** The latest progress, written or not. */
  synchronized @Nullable Progress latestProgress() {
    return progress == null ? null : new Progress(progress, progressMessage);
  }

  /** Marks a progress write as failed, so the next flush sends it again. */
  synchronized void progressNotWritten() {
    progressDirty = progress != null;
  }

  synchronized boolean progressDirty() {
    return progressDirty;
  }

  /** True once the start is recorded in the row (by the claim, or by the outcome writer). */
  synchronized boolean startRecorded() {
    return start == START_RECORDED;
  }

  /** True if no statement carries or carried this job's start yet; such a job may be picked to be marked ahead. */
  synchronized boolean startUnrequested() {
    return start == START_NONE;
  }

  /**
   * Claims the recording of the start for the caller: true (and REQUESTED) if nobody asked for it yet, so the
   * caller must hand the job to the outcome writer; false if it is asked for or settled already.
   */
  synchronized boolean requestStart() {
    if (start != START_NONE) {
      return false;
    }
    start = START_REQUESTED;
    return true;
  }

  /** The writer's answer: the start is recorded, or it is not (lease lost, or the writer gave up). */
  synchronized void startWritten(boolean recorded) {
    start = recorded ? START_RECORDED : START_REFUSED;
    notifyAll();
  }

  /** Waits while the start is being recorded; true if it is recorded (the handler may run). */
  synchronized boolean awaitStart() throws InterruptedException {
    while (start == START_REQUESTED) {
      wait();
    }
    return start == START_RECORDED;
  }

  synchronized void handlerStarted(Thread thread) {
    runner = thread;
  }

  /** The handler returned or threw; after this no interrupt targets its thread on behalf of this job. */
  synchronized void handlerFinished() {
    handlerDone = true;
    runner = null;
  }

  synchronized boolean timeOut() {
    if (handlerDone || runner == null) {
      return false;
    }
    timedOut = true;
    runner.interrupt();
    return true;
  }

  synchronized void timeLimit(long millis) {
    timeLimitMillis = millis;
  }

  synchronized long timeLimitMillis() {
    return timeLimitMillis;
  }

  synchronized boolean timedOut() {
    return timedOut;
  }

  /** Shutdown gives the job back: interrupt the handler; its outcome becomes a release. */
  synchronized void release() {
    released = true;
    if (!handlerDone && runner != null) {
      runner.interrupt();
    }
  }

  synchronized boolean released() {
    return released;
  }

  synchronized boolean handlerDone() {
    return handlerDone;
  }

  /** Progress to store: fraction in [0, 1] and an optional message. */
  record Progress(@Nullable Float fraction, @Nullable String message) {}
}
