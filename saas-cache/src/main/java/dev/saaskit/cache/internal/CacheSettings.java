package dev.saaskit.cache.internal;

import dev.saaskit.cache.InvalidationBus;
import dev.saaskit.cache.KeyCodec;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.Executor;
import java.util.random.RandomGenerator;
import org.jspecify.annotations.Nullable;

/**
 * The checked settings of one cache, as {@link dev.saaskit.cache.SaasCache.Builder#build()} hands them over.
 * {@code maximumSizePerTenant} 0 means none; {@code earlyRefreshBeta} 0 means off; {@code meterRegistry} is a
 * Micrometer {@code MeterRegistry} typed as Object so that this class loads without Micrometer.
 */
public record CacheSettings<K>(
    String name,
    Duration ttl,
    Duration maxTtl,
    Duration negativeTtl,
    double jitter,
    boolean global,
    long maximumSize,
    long maximumSizePerTenant,
    @Nullable Duration refreshAfter,
    double earlyRefreshBeta,
    KeyCodec<? super K> keyCodec,
    @Nullable InvalidationBus bus,
    @Nullable Object meterRegistry,
    @Nullable Clock clock,
    @Nullable RandomGenerator random,
    Executor executor) {}
