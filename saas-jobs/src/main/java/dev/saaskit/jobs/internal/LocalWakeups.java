package dev.saaskit.jobs.internal;

import java.util.Collection;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import org.jspecify.annotations.Nullable;

/**
 * In-process wake-ups, shared by the {@code JobQueue} and the workers of one {@code SaasJobs}: once an enqueue has
 * committed, the queue tells the started workers of the same instance which queues got jobs (and, for a single
 * job, its id), on the enqueuing thread, so an idle worker claims at once instead of waiting for the NOTIFY to come
 * back from the server (or, with LISTEN off, for its poll). The NOTIFY is still sent, for the workers of other
 * processes; this is only a shortcut, never the sole wake-up. Before a single enqueue the queue may also reserve an
 * idle thread of a worker ({@link #reserve}) and insert the job already claimed by it (see {@link LocalStart}). Not
 * API.
 */
public final class LocalWakeups {
  /** A started worker's side. */
  interface Worker {
    /**
     * Jobs due now were committed on {@code queue}; {@code jobId} is the one job's id, or {@link #NO_ID} for a
     * batch. Called on the enqueuing thread: quick, and never throws.
     */
    void committed(String queue, long jobId);

    /**
     * A thread of this worker for a job of {@code type} due now on {@code queue}, if one is idle and taking it now
     * is fair (see {@link LocalStart}); null otherwise. Called on the enqueuing thread: quick, and never throws.
     */
    @Nullable LocalStart reserve(String queue, String type);
  }

  /**
   * An idle handler thread of a worker in this process, reserved by an enqueue so that the job is inserted already
   * claimed by that worker and starts on it once the insert has committed, without a claim statement. The enqueue
   * ends each reservation exactly once: {@link #started} after its commit, or {@link #cancelled} if the insert
   * failed or may not have committed (a job whose row committed anyway is running under this worker's lease, which
   * expires unrenewed, so the job is rescued and runs then: it is delayed, never lost).
   */
  public interface LocalStart {
    /** The worker's id, written to the row as its holder. */
    String workerId();

    /** The lease of the job's type on this worker, in milliseconds. */
    long leaseMillis();

    /**
     * The job {@code jobId} was committed as claimed by this worker (lease epoch 1, first attempt counted) from
     * {@code row}; {@code beforeInsertNanos} is the {@link System#nanoTime()} taken before the insert was sent, from
     * which the worker counts the lease.
     */
    void started(long jobId, EnqueueRow row, long beforeInsertNanos);

    /** No job was committed for this reservation (or it may not have been): the thread is free again. */
    void cancelled();
  }

  /** The job id passed for a batch, whose ids are not handed on. */
  static final long NO_ID = 0;

  private final CopyOnWriteArrayList<Worker> workers = new CopyOnWriteArrayList<>();

  void subscribe(Worker worker) {
    workers.add(Objects.requireNonNull(worker, "worker"));
  }

  /** Removes a worker that stops (the same instance that was subscribed). */
  void unsubscribe(Worker worker) {
    workers.remove(worker);
  }

  /** One job due now, {@code jobId}, was committed on {@code queue}: wakes the workers of this process. */
  public void committed(String queue, long jobId) {
    for (Worker worker : workers) {
      worker.committed(queue, jobId);
    }
  }

  /** Jobs due now were committed on each of {@code queues} (a batch): wakes the workers of this process. */
  public void committed(Collection<String> queues) {
    for (String queue : queues) {
      committed(queue, NO_ID);
    }
  }

  /**
   * Reserves an idle thread of a started worker of this process for a job of {@code type} due now on {@code queue}
   * (see {@link LocalStart}), or returns null when no worker can start it at once.
   */
  public @Nullable LocalStart reserve(String queue, String type) {
    for (Worker worker : workers) {
      LocalStart start = worker.reserve(queue, type);
      if (start != null) {
        return start;
      }
    }
    return null;
  }

  /** Whether any worker listens: lets the enqueue side skip collecting queue names. */
  public boolean hasWorkers() {
    return !workers.isEmpty();
  }
}
