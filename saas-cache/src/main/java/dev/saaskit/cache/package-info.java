/**
 * A cache where every entry has an explicit TTL (required by the builder's type), keys are scoped to the current
 * tenant by default, concurrent misses load once, and every mutation can invalidate by key, tag, tenant or all,
 * on this node and, through an {@link dev.saaskit.cache.InvalidationBus}, on every other node without loss.
 */
@NullMarked
package dev.saaskit.cache;

import org.jspecify.annotations.NullMarked;
