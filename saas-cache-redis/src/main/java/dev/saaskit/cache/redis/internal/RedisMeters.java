package dev.saaskit.cache.redis.internal;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.LongAdder;

/** The Micrometer meters of one SaasRedis; loaded only when the app passes a registry. */
public final class RedisMeters {
  private RedisMeters() {}

  /** Registers the meters and returns what removes them. */
  public static Runnable bind(Object registryObject, String app, RedisCore core) {
    MeterRegistry registry = (MeterRegistry) registryObject;
    Tags tags = Tags.of("app", app);
    List<Meter> meters = new ArrayList<>();
    meters.add(counter(registry, "saaskit.redis.tier.lookups", tags.and("result", "hit"), core.tierHits));
    meters.add(counter(registry, "saaskit.redis.tier.lookups", tags.and("result", "miss"), core.tierMisses));
    meters.add(counter(registry, "saaskit.redis.tier.lookups", tags.and("result", "bypass"), core.tierBypasses));
    meters.add(counter(registry, "saaskit.redis.tier.stores", tags.and("result", "stored"), core.tierStores));
    meters.add(counter(registry, "saaskit.redis.tier.stores", tags.and("result", "rejected"),
        core.tierStoresRejected));
    meters.add(counter(registry, "saaskit.redis.tier.undecodable", tags, core.tierUndecodable));
    meters.add(counter(registry, "saaskit.redis.errors", tags, core.errors));
    meters.add(counter(registry, "saaskit.redis.reconnect.flushes", tags, core.reconnectFlushes));
    meters.add(counter(registry, "saaskit.redis.lock.waits", tags, core.lockWaits));
    meters.add(counter(registry, "saaskit.redis.lock.timeouts", tags, core.lockTimeouts));
    meters.add(counter(registry, "saaskit.redis.ratelimit.fallbacks", tags, core.rateLimitFallbacks));
    meters.add(Gauge.builder("saaskit.redis.breaker.open", core, c -> c.breakerOpen() ? 1 : 0).tags(tags)
        .description("1 while the circuit breaker skips Redis").register(registry));
    return () -> meters.forEach(registry::remove);
  }

  private static Meter counter(MeterRegistry registry, String name, Tags tags, LongAdder adder) {
    return FunctionCounter.builder(name, adder, LongAdder::sum).tags(tags).register(registry);
  }
}
