/**
 * The shared Redis tier behind a {@link dev.saaskit.cache.SaasCache} ({@link dev.saaskit.cache.redis.SaasRedis#tier})
 * and tenant rate limits ({@link dev.saaskit.cache.redis.RateLimiter}), on Lettuce.
 */
@NullMarked
package dev.saaskit.cache.redis;

import org.jspecify.annotations.NullMarked;
