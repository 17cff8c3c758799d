package dev.saaskit.jobs.internal;

import java.util.Collection;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * In-process wake-ups, shared by the {@code JobQueue} and the workers of one {@code SaasJobs}: once an enqueue has
 * committed, the queue tells the started workers of the same instance which queues got jobs, on the enqueuing
 * thread, so an idle worker claims at once instead of waiting for the NOTIFY to come back from the server (or, with
 * LISTEN off, for its poll). The NOTIFY is still sent, for the workers of other processes; this is only a shortcut,
 * never the sole wake-up. Not API.
 */
public final class LocalWakeups {
  private final CopyOnWriteArrayList<Consumer<String>> workers = new CopyOnWriteArrayList<>();

  /** Adds a started worker; {@code onQueue} gets a queue name, must be quick and must not throw. */
  void subscribe(Consumer<String> onQueue) {
    workers.add(Objects.requireNonNull(onQueue, "onQueue"));
  }

  /** Removes a worker that stops (the same instance that was subscribed). */
  void unsubscribe(Consumer<String> onQueue) {
    workers.remove(onQueue);
  }

  /** Jobs due now were committed on {@code queue}: wakes the workers of this process. */
  public void committed(String queue) {
    for (Consumer<String> worker : workers) {
      worker.accept(queue);
    }
  }

  /** Like {@link #committed(String)} for each distinct queue of a batch. */
  public void committed(Collection<String> queues) {
    if (workers.isEmpty()) {
      return;
    }
    for (String queue : queues) {
      committed(queue);
    }
  }

  /** Whether any worker listens: lets the enqueue side skip collecting queue names. */
  public boolean hasWorkers() {
    return !workers.isEmpty();
  }
}
