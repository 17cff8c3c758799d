package dev.saaskit.cache;

/**
 * Receives what an {@link InvalidationBus} delivers. Called on the bus's own thread, in the order the
 * invalidations were published (for the PostgreSQL bus: commit order of their log rows); implementations must be
 * quick and should not throw: a listener that throws from {@link #onInvalidation} may not have applied the
 * invalidation, which is not delivered again, so the bus logs the exception and calls {@link #onLostInvalidations()}
 * on that listener (fail closed: a flush rather than a stale entry kept until its TTL).
 */
public interface InvalidationListener {

  /** Applies one invalidation. Deliveries may repeat (after a replay): applying one twice must be harmless. */
  void onInvalidation(Invalidation invalidation);

  /**
   * Some invalidations could not be delivered and cannot be replayed (for example the log was pruned past this
   * node's position): the listener must drop everything that could be affected, typically its whole cache.
   */
  void onLostInvalidations();
}
