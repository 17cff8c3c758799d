package dev.saaskit.jobs.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.reflect.Proxy;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * The outcome writer meets an unchecked exception (a bug, or a wrapper around the DataSource that throws one). It
 * must neither die (every later outcome would stay unwritten while heartbeats kept the jobs leased for ever) nor
 * forget the batch: the batch's jobs are handed back to lease expiry and rescue, and the next batch is tried.
 */
class WorkerFlusherFaultTest {

  private static WorkerOutcome outcome(long id) {
    WorkerJob job = new WorkerJob(id, null, null, "t", "default", 1, 3, 1, 30_000, null, "{}", false, true,
        System.nanoTime());
    return new WorkerOutcome(job, WorkerOutcome.Kind.COMPLETED, null, null, null, null);
  }

  @Test
  void anUncheckedFaultWhileWritingGivesTheBatchToRescueAndTheWriterCarriesOn() throws Exception {
    writerSurvives(new IllegalStateException("a wrapper's bug"));
  }

  /**
   * Review of 2026-12-05: the same with an {@link Error} (a wrapper's failed {@code assert}, a stack overflow). The
   * writer caught only exceptions, so the Error ended its thread: the batch it was writing was neither written nor
   * handed back, and every later outcome waited in its queue for ever while heartbeats kept the jobs leased.
   */
  @Test
  void anErrorWhileWritingGivesTheBatchToRescueAndTheWriterCarriesOn() throws Exception {
    writerSurvives(new AssertionError("a wrapper's failed assertion"));
  }

  private void writerSurvives(Throwable fault) throws Exception {
    AtomicInteger connects = new AtomicInteger();
    DataSource failing = (DataSource) Proxy.newProxyInstance(getClass().getClassLoader(),
        new Class<?>[] {DataSource.class}, (proxy, method, args) -> {
          if (method.getName().equals("getConnection")) {
            connects.incrementAndGet();
            throw fault;
          }
          throw new UnsupportedOperationException(method.getName());
        });
    LinkedBlockingQueue<Long> notWritten = new LinkedBlockingQueue<>();
    WorkerFlusher.Callbacks callbacks = new WorkerFlusher.Callbacks() {
      @Override
      public void written(WorkerOutcome outcome, @Nullable String finalState, boolean byEarlierTry) {}

      @Override
      public void notWritten(WorkerOutcome outcome) {
        notWritten.add(outcome.job().id);
      }

      @Override
      public void startWritten(WorkerJob job, boolean recorded) {}

      @Override
      public List<WorkerJob> startsAhead() {
        return List.of();
      }
    };
    WorkerFlusher flusher = new WorkerFlusher(failing, "SELECT 1", "SELECT 1", new ReentrantLock(), callbacks,
        LoggerFactory.getLogger(WorkerFlusherFaultTest.class), "flusher-fault-test");
    flusher.start();
    try {
      flusher.submit(outcome(1));
      assertThat(notWritten.poll(10, TimeUnit.SECONDS)).isEqualTo(1L);
      flusher.submit(outcome(2));
      assertThat(notWritten.poll(10, TimeUnit.SECONDS)).as("the writer still runs after the fault").isEqualTo(2L);
      assertThat(connects.get()).isGreaterThanOrEqualTo(2);
    } finally {
      flusher.abandon();
    }
  }
}
