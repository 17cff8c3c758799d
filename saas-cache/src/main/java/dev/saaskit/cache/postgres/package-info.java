/**
 * Invalidation across nodes through PostgreSQL alone: {@link dev.saaskit.cache.postgres.PostgresInvalidationBus}
 * (an invalidation log read from snapshot positions, coalesced LISTEN/NOTIFY wake-ups, replay after reconnects,
 * pruning) and {@link dev.saaskit.cache.postgres.CacheSchema} (its migration, grants and a trigger that
 * invalidates a tag on any change to a table). Guide: docs/cache-invalidation.md.
 */
@NullMarked
package dev.saaskit.cache.postgres;

import org.jspecify.annotations.NullMarked;
