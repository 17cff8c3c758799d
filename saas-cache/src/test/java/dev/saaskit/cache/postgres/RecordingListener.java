package dev.saaskit.cache.postgres;

import dev.saaskit.cache.Invalidation;
import dev.saaskit.cache.InvalidationListener;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/** Records what a bus delivers, in order, and counts flushes. */
class RecordingListener implements InvalidationListener {
  final List<Invalidation> received = new CopyOnWriteArrayList<>();
  final AtomicInteger flushes = new AtomicInteger();

  @Override
  public void onInvalidation(Invalidation invalidation) {
    received.add(invalidation);
  }

  @Override
  public void onLostInvalidations() {
    flushes.incrementAndGet();
  }

  boolean has(Invalidation invalidation) {
    return received.contains(invalidation);
  }

  boolean hasAll(List<Invalidation> invalidations) {
    return received.containsAll(invalidations);
  }

  /** The received invalidations that are in {@code among}, in delivery order. */
  List<Invalidation> receivedAmong(List<Invalidation> among) {
    return received.stream().filter(among::contains).toList();
  }
}
