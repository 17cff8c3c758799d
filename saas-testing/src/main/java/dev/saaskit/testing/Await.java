package dev.saaskit.testing;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.locks.LockSupport;

/**
 * Waits for a condition with a bound, for tests that must see something happen on another thread (a worker finished
 * a job, a listener received a notification) without sleeping for a guessed time: it polls until the condition holds
 * and fails the test, saying what it waited for, when the bound runs out.
 *
 * <pre>{@code
 * Await.until("the job is completed", Duration.ofSeconds(10), () -> queue.status(id).orElseThrow().isFinished());
 * }</pre>
 *
 * <p>The first checks spin briefly (conditions in memory are usually met within microseconds), later ones park for a
 * millisecond or two between checks. A condition may throw: the exception fails the wait at once.
 */
public final class Await {
  /** The bound of {@link #until(String, Condition)}: long enough for a loaded build machine. */
  public static final Duration DEFAULT_BOUND = Duration.ofSeconds(30);

  private static final int SPINS = 1_000;
  private static final long PARK_NANOS = 1_000_000;

  private Await() {}

  /** A condition that may throw, as SQL-reading conditions do. */
  @FunctionalInterface
  public interface Condition {
    /** Whether the awaited state has been reached. */
    boolean holds() throws Exception;
  }

  /** Waits until {@code condition} holds, at most {@link #DEFAULT_BOUND}. */
  public static void until(String what, Condition condition) {
    until(what, DEFAULT_BOUND, condition);
  }

  /**
   * Waits until {@code condition} holds, at most {@code bound}.
   *
   * @throws AssertionError naming {@code what} and the bound when it does not hold in time, or when the condition
   *     throws (the exception is the cause) or the thread is interrupted
   */
  public static void until(String what, Duration bound, Condition condition) {
    Objects.requireNonNull(what, "what");
    Objects.requireNonNull(condition, "condition");
    if (bound.isNegative() || bound.isZero()) {
      throw new IllegalArgumentException("bound must be positive but was " + bound);
    }
    long deadline = System.nanoTime() + bound.toNanos();
    for (int attempt = 0; ; attempt++) {
      if (check(what, condition)) {
        return;
      }
      if (System.nanoTime() - deadline > 0) {
        throw new AssertionError("timed out after " + bound + " waiting until " + what);
      }
      if (attempt < SPINS) {
        Thread.onSpinWait();
        // the first checks spin: yielding lets the thread being waited for run on a machine with few cores
        yieldToOthers();
      } else {
        LockSupport.parkNanos(PARK_NANOS);
        if (Thread.currentThread().isInterrupted()) {
          throw new AssertionError("interrupted waiting until " + what);
        }
      }
    }
  }

  private static boolean check(String what, Condition condition) {
    try {
      return condition.holds();
    } catch (RuntimeException | Error e) {
      throw e;
    } catch (Exception e) {
      throw new AssertionError("the condition '" + what + "' could not be checked: " + e, e);
    }
  }

  @SuppressWarnings("ThreadPriorityCheck") // a hint only: correctness never depends on it, the parking below does
  private static void yieldToOthers() {
    Thread.yield();
  }
}
