package dev.saaskit.cache;

import dev.saaskit.cache.internal.InProcessInvalidationBus;

/**
 * Carries invalidations to every cache that subscribed, on this node and on the others. Every published
 * invalidation is delivered to every subscriber, including the ones on the publishing node (caches apply them
 * idempotently), or the subscriber is told that some were lost ({@link InvalidationListener#onLostInvalidations()}).
 *
 * <p>Implementations: {@link #inProcess()} for a single node and for tests; {@code PostgresInvalidationBus} for
 * several nodes sharing one PostgreSQL database. A bus is a component: one with threads starts them in its
 * {@code start()} (never when built), and the app closes it.
 */
public interface InvalidationBus extends AutoCloseable {

  /** A bus that delivers synchronously to the subscribers of this JVM, on the publishing thread. */
  static InvalidationBus inProcess() {
    return new InProcessInvalidationBus();
  }

  /**
   * Publishes an invalidation. When this returns, the invalidation is durable (for a bus that stores them) and
   * will reach every subscriber.
   *
   * @throws dev.saaskit.core.SaasException if it could not be published
   */
  void publish(Invalidation invalidation);

  /** Registers a listener; close the returned subscription to stop deliveries. */
  Subscription subscribe(InvalidationListener listener);

  /** Stops deliveries and releases the bus's resources. Safe to call more than once. */
  @Override
  void close();

  /** A registration of one {@link InvalidationListener}. */
  interface Subscription extends AutoCloseable {
    /** Stops deliveries to this listener. Safe to call more than once. */
    @Override
    void close();
  }
}
