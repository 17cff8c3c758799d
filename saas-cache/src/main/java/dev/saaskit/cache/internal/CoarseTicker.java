package dev.saaskit.cache.internal;

import com.github.benmanes.caffeine.cache.Ticker;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;

/**
 * The expiry clock of caches built without an injected {@code Clock}: {@link System#nanoTime()} as last read by one
 * daemon thread ({@value #THREAD_NAME}) that wakes once per resolution (1 ms for {@link #SHARED}).
 *
 * <p>Why: Caffeine reads its ticker on every hit of a cache with expiry, and {@code System.nanoTime()} costs about
 * 28 ns on a kvm-clock virtual machine, close to half of a whole Caffeine hit (docs/benchmarks.md, issue 17). Here a
 * hit reads one volatile field instead. The price is resolution: an entry may be served up to about one resolution
 * after its expiry (longer only while the JVM does not schedule the ticking thread, e.g. during a GC pause, when no
 * hit is served either), and timestamps taken within one resolution are equal. Load times, which feed the statistics,
 * are measured with {@code System.nanoTime()} and stay exact.
 *
 * <p>The thread runs while at least one cache holds a {@link #lease()}, and ends once no lease has been held for
 * the linger time (1 s for {@link #SHARED}), so that code building and closing caches one after the other does not
 * start a thread each time. It ends by itself, under the lock, so it never overlaps a successor. A lease first moves
 * the clock to the present, so a cache never starts on a stale reading; the value only moves forward, by
 * compare-and-set.
 */
final class CoarseTicker implements Ticker {
  static final String THREAD_NAME = "saaskit-cache-clock";
  /** The clock every cache without an injected clock shares. */
  static final CoarseTicker SHARED = new CoarseTicker(Duration.ofMillis(1), Duration.ofSeconds(1));

  private static final VarHandle NOW;

  static {
    try {
      NOW = MethodHandles.lookup().findVarHandle(CoarseTicker.class, "now", long.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private final long resolutionNanos;
  /** How many ticks without a lease the thread waits before it ends. */
  private final long lingerTicks;
  /** Written through {@link #NOW} only, by compare-and-set. */
  private volatile long now = System.nanoTime();
  /** Guarded by {@code this}. */
  private int leases;
  /** The running ticking thread; guarded by {@code this}. */
  private @Nullable Ticking ticking;

  CoarseTicker(Duration resolution, Duration linger) {
    this.resolutionNanos = resolution.toNanos();
    if (resolutionNanos <= 0 || linger.isNegative()) {
      throw new IllegalArgumentException("the resolution must be positive and the linger time not negative");
    }
    this.lingerTicks = linger.toNanos() / resolutionNanos;
  }

  @Override
  public long read() {
    return now;
  }

  /** Moves the clock to {@code System.nanoTime()} unless another thread already moved it further. */
  void advance() {
    long reading = System.nanoTime();
    long seen = (long) NOW.getVolatile(this);
    while (reading - seen > 0) {
      long witness = (long) NOW.compareAndExchange(this, seen, reading);
      if (witness == seen) {
        return;
      }
      seen = witness;
    }
  }

  /**
   * Keeps the clock ticking until the returned lease is released; releasing it more than once releases it once.
   */
  Lease lease() {
    synchronized (this) {
      advance();
      if (ticking == null) {
        Ticking started = new Ticking();
        started.thread.start(); // may fail (no native thread left): then nothing is counted
        ticking = started;
      }
      leases++;
    }
    return new Lease();
  }

  /** Whether the ticking thread is running (a lease is held, or was within the linger time). */
  synchronized boolean isTicking() {
    return ticking != null;
  }

  /** How many leases are held. */
  synchronized int leases() {
    return leases;
  }

  /** The ticking thread, or null when stopped; for tests. */
  synchronized @Nullable Thread thread() {
    Ticking running = ticking;
    return running == null ? null : running.thread;
  }

  /** One cache's hold on the clock. */
  final class Lease {
    private boolean released;

    /** Lets the clock stop once no other lease is held; idempotent. */
    void release() {
      synchronized (CoarseTicker.this) {
        if (released) {
          return;
        }
        released = true;
        leases--;
      }
    }
  }

  /** One run of the ticking thread; an ended run is never restarted (a new lease starts a new one). */
  private final class Ticking implements Runnable {
    final Thread thread;

    Ticking() {
      thread = new Thread(this, THREAD_NAME);
      thread.setDaemon(true);
      // a thread keeps its context class loader reachable: not the loader of whatever app built the first cache
      thread.setContextClassLoader(null);
    }

    @Override
    public void run() {
      long idleTicks = 0;
      while (true) {
        advance();
        LockSupport.parkNanos(this, resolutionNanos);
        synchronized (CoarseTicker.this) {
          if (leases > 0) {
            idleTicks = 0;
          } else if (++idleTicks > lingerTicks) {
            ticking = null; // under the lock: the next lease starts a new thread, which this one never overlaps
            return;
          }
        }
      }
    }
  }
}
