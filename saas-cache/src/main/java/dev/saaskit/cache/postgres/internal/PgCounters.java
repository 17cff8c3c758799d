package dev.saaskit.cache.postgres.internal;

import java.util.concurrent.atomic.LongAdder;

/** What a bus counts; read by the public stats() method. */
public final class PgCounters {
  public final LongAdder published = new LongAdder();
  public final LongAdder notificationsSent = new LongAdder();
  public final LongAdder notificationsReceived = new LongAdder();
  public final LongAdder polls = new LongAdder();
  public final LongAdder delivered = new LongAdder();
  public final LongAdder replayed = new LongAdder();
  public final LongAdder flushes = new LongAdder();
  public final LongAdder reconnects = new LongAdder();
  public final LongAdder pruned = new LongAdder();
  public volatile boolean listening;
  /** System.nanoTime() of the last successful read of the log; set when the bus starts. */
  public volatile long lastReadNanos = System.nanoTime();
}
