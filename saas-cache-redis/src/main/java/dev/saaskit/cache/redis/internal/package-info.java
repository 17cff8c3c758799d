/** Implementation of saas-cache-redis; not API. */
@NullMarked
package dev.saaskit.cache.redis.internal;

import org.jspecify.annotations.NullMarked;
