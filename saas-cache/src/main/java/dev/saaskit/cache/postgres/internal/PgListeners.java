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
        // the invalidation may not have been applied, and it will not come again: the listener flushes instead,
        // as for a lost one, rather than keep what it should have dropped until its TTL
        LOG.warn("invalidation listener {} failed on a {} invalidation; flushing it", listener, invalidation.scope(),
            e);
        try {
          listener.onLostInvalidations();
        } catch (RuntimeException again) {
          LOG.warn("invalidation listener {} failed to flush", listener, again);
        }
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
