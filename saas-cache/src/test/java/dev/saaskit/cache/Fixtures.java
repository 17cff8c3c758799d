package dev.saaskit.cache;

import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.MutableClock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Queue;
import java.util.concurrent.Callable;
import java.util.concurrent.Executor;
import java.util.function.BooleanSupplier;
import java.util.random.RandomGenerator;

/** Shared helpers: a fixed clock start, tenant scopes, a scripted random source, a hand-run executor. */
final class Fixtures {
  static final TenantId ACME = TenantId.of("acme");
  static final TenantId GLOBEX = TenantId.of("globex");

  private Fixtures() {}

  static MutableClock clock() {
    return MutableClock.at(Instant.parse("2026-01-01T00:00:00Z"));
  }

  static <T> T as(TenantId tenant, Callable<T> body) {
    try {
      return TenantContext.call(tenant, body::call);
    } catch (RuntimeException e) {
      throw e;
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  static void in(TenantId tenant, Runnable body) {
    TenantContext.run(tenant, body::run);
  }

  /** A random source that returns the given doubles in turn, then repeats the last one. */
  static final class ScriptedRandom implements RandomGenerator {
    private final double[] values;
    private int next;

    ScriptedRandom(double... values) {
      this.values = values;
    }

    @Override
    public synchronized double nextDouble() {
      double value = values[Math.min(next, values.length - 1)];
      next++;
      return value;
    }

    @Override
    public long nextLong() {
      throw new UnsupportedOperationException("the cache only draws doubles");
    }
  }

  /** Queues tasks until the test runs them. */
  static final class ManualExecutor implements Executor {
    private final Queue<Runnable> tasks = new ArrayDeque<>();

    @Override
    public synchronized void execute(Runnable task) {
      tasks.add(task);
    }

    /** Runs the queued tasks (and the ones they queue) on the calling thread; returns how many ran. */
    int runAll() {
      int ran = 0;
      while (true) {
        Runnable task;
        synchronized (this) {
          task = tasks.poll();
        }
        if (task == null) {
          return ran;
        }
        task.run();
        ran++;
      }
    }
  }
}
