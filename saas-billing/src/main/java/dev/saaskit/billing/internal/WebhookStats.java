package dev.saaskit.billing.internal;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * Counters of the webhook endpoint, for metrics (Micrometer gauges or function counters read them): deliveries
 * received, events applied by type, apply failures, duplicates, rejections by reason, and the lag of the last apply
 * (applied time minus the event's {@code created}). Thread-safe.
 */
public final class WebhookStats {
  private final LongAdder received = new LongAdder();
  private final LongAdder failed = new LongAdder();
  private final LongAdder duplicates = new LongAdder();
  private final LongAdder parked = new LongAdder();
  private final ConcurrentHashMap<String, LongAdder> appliedByType = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, LongAdder> rejectedByReason = new ConcurrentHashMap<>();
  private final AtomicLong lastApplyLagMillis = new AtomicLong(-1);

  /** A delivery reached the endpoint. */
  public void received() {
    received.increment();
  }

  /** An event of {@code type} was applied, {@code lagMillis} after Stripe created it. */
  public void applied(String type, long lagMillis) {
    appliedByType.computeIfAbsent(type, k -> new LongAdder()).increment();
    lastApplyLagMillis.set(lagMillis);
  }

  /** An apply failed. */
  public void failed() {
    failed.increment();
  }

  /** An event was parked: its customer is linked to no tenant yet. */
  public void parked() {
    parked.increment();
  }

  /** Events parked (each try counts). */
  public long parkedCount() {
    return parked.sum();
  }

  /** A delivery of an event already recorded. */
  public void duplicate() {
    duplicates.increment();
  }

  /** A delivery was refused for {@code reason}. */
  public void rejected(String reason) {
    rejectedByReason.computeIfAbsent(reason, k -> new LongAdder()).increment();
  }

  /** Deliveries that reached {@code handle}. */
  public long receivedCount() {
    return received.sum();
  }

  /** Applies that failed (each try counts). */
  public long failedCount() {
    return failed.sum();
  }

  /** Deliveries of events already recorded. */
  public long duplicateCount() {
    return duplicates.sum();
  }

  /** Events applied, all types. */
  public long appliedCount() {
    long n = 0;
    for (LongAdder a : appliedByType.values()) {
      n += a.sum();
    }
    return n;
  }

  /** Events applied, by type (a snapshot). */
  public Map<String, Long> appliedByType() {
    return snapshot(appliedByType);
  }

  /** Deliveries refused, by reason ({@code signature}, {@code timestamp}, {@code header}, {@code json}...). */
  public Map<String, Long> rejectedByReason() {
    return snapshot(rejectedByReason);
  }

  /** Deliveries refused, all reasons. */
  public long rejectedCount() {
    long n = 0;
    for (LongAdder a : rejectedByReason.values()) {
      n += a.sum();
    }
    return n;
  }

  /** Milliseconds between the last applied event's {@code created} and its apply; -1 before the first. */
  public long lastApplyLagMillis() {
    return lastApplyLagMillis.get();
  }

  private static Map<String, Long> snapshot(Map<String, LongAdder> m) {
    Map<String, Long> out = new TreeMap<>();
    m.forEach((k, v) -> out.put(k, v.sum()));
    return out;
  }
}
