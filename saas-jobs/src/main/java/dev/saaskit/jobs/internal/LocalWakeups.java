package dev.saaskit.jobs.internal;

import java.util.Collection;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * In-process wake-ups, shared by the {@code JobQueue} and the workers of one {@code SaasJobs}: once an enqueue has
 * committed, the queue tells the started workers of the same instance which queues got jobs (and, for a single
 * job, its id), on the enqueuing thread, so an idle worker claims at once instead of waiting for the NOTIFY to come
 * back from the server (or, with LISTEN off, for its poll). The NOTIFY is still sent, for the workers of other
 * processes; this is only a shortcut, never the sole wake-up. Not API.
 */
public final class LocalWakeups {
  /** A started worker's side. */
  interface Worker {
    /**
     * Jobs due now were committed on {@code queue}; {@code jobId} is the one job's id, or {@link #NO_ID} for a
     * batch. Called on the enqueuing thread: quick, and never throws.
     */
    void committed(String queue, long jobId);
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

  /** Whether any worker listens: lets the enqueue side skip collecting queue names. */
  public boolean hasWorkers() {
    return !workers.isEmpty();
  }
}
