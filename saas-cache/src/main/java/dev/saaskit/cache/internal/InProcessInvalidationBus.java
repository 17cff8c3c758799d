package dev.saaskit.cache.internal;

import dev.saaskit.cache.Invalidation;
import dev.saaskit.cache.InvalidationBus;
import dev.saaskit.cache.InvalidationListener;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Delivers on the publishing thread to the listeners of this JVM. */
public final class InProcessInvalidationBus implements InvalidationBus {
  private static final Logger LOG = LoggerFactory.getLogger(InProcessInvalidationBus.class);

  private final CopyOnWriteArrayList<InvalidationListener> listeners = new CopyOnWriteArrayList<>();
  private volatile boolean closed;

  @Override
  public void publish(Invalidation invalidation) {
    Objects.requireNonNull(invalidation, "invalidation");
    if (closed) {
      throw new IllegalStateException("the invalidation bus is closed");
    }
    for (InvalidationListener listener : listeners) {
      try {
        listener.onInvalidation(invalidation);
      } catch (RuntimeException e) {
        // the invalidation may not have been applied: the listener flushes instead, as for a lost one
        LOG.warn("invalidation listener {} failed on {}; flushing it", listener, invalidation.scope(), e);
        try {
          listener.onLostInvalidations();
        } catch (RuntimeException again) {
          LOG.warn("invalidation listener {} failed to flush", listener, again);
        }
      }
    }
  }

  @Override
  public Subscription subscribe(InvalidationListener listener) {
    Objects.requireNonNull(listener, "listener");
    if (closed) {
      throw new IllegalStateException("the invalidation bus is closed");
    }
    listeners.add(listener);
    return () -> listeners.remove(listener);
  }

  @Override
  public void close() {
    closed = true;
    listeners.clear();
  }
}
