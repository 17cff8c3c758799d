package dev.saaskit.cache.postgres.internal;

import dev.saaskit.cache.Invalidation;
import dev.saaskit.cache.InvalidationListener;
import java.util.concurrent.CopyOnWriteArrayList;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The subscribers of one bus; called on the bus's poller thread only. */
public final class PgListeners {
  private static final Logger LOG = LoggerFactory.getLogger(PgListeners.class);

  private final CopyOnWriteArrayList<InvalidationListener> listeners = new CopyOnWriteArrayList<>();

  public void add(InvalidationListener listener) {
    listeners.add(listener);
  }

  public void remove(InvalidationListener listener) {
    listeners.remove(listener);
  }

  public void clear() {
    listeners.clear();
  }

  void deliver(Invalidation invalidation) {
    for (InvalidationListener listener : listeners) {
      try {
        listener.onInvalidation(invalidation);
      } catch (RuntimeException e) {
        LOG.warn("invalidation listener {} failed on a {} invalidation", listener, invalidation.scope(), e);
      }
    }
  }

  void flush() {
    for (InvalidationListener listener : listeners) {
      try {
        listener.onLostInvalidations();
      } catch (RuntimeException e) {
        LOG.warn("invalidation listener {} failed to flush", listener, e);
      }
    }
  }
}
