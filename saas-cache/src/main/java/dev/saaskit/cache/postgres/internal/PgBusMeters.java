package dev.saaskit.cache.postgres.internal;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

/**
 * The Micrometer meters of one bus ({@code saaskit.cache.bus.*}, tagged {@code node} and {@code schema}). The only
 * class of the bus that names Micrometer types: loaded only when the app passes a registry.
 */
public final class PgBusMeters {
  private PgBusMeters() {}

  /** Registers the meters and returns what removes them again. */
  public static Runnable bind(Object registryObject, PgBusSettings settings, PgCounters counters) {
    MeterRegistry registry = (MeterRegistry) registryObject;
    Tags tags = Tags.of("node", settings.nodeName(), "schema", settings.schema());
    List<Meter> meters = new ArrayList<>();
    meters.add(counter(registry, "saaskit.cache.bus.published", tags, counters.published,
        "invalidations this node wrote to the log"));
    meters.add(counter(registry, "saaskit.cache.bus.notifications.sent", tags, counters.notificationsSent,
        "coalesced NOTIFYs this node sent"));
    meters.add(counter(registry, "saaskit.cache.bus.notifications.received", tags, counters.notificationsReceived,
        "notifications the listener connection received"));
    meters.add(counter(registry, "saaskit.cache.bus.polls", tags, counters.polls, "reads of the log"));
    meters.add(counter(registry, "saaskit.cache.bus.delivered", tags, counters.delivered,
        "invalidations delivered to the subscribers"));
    meters.add(counter(registry, "saaskit.cache.bus.replayed", tags, counters.replayed,
        "deliveries found by a periodic read or a replay, not after a wake-up"));
    meters.add(counter(registry, "saaskit.cache.bus.flushes", tags, counters.flushes,
        "times the subscribers were told that invalidations were lost (gaps)"));
    meters.add(counter(registry, "saaskit.cache.bus.reconnects", tags, counters.reconnects,
        "recoveries after the database connection failed"));
    meters.add(counter(registry, "saaskit.cache.bus.pruned", tags, counters.pruned,
        "log rows this node deleted"));
    meters.add(Gauge.builder("saaskit.cache.bus.listening", counters, c -> c.listening ? 1 : 0).tags(tags)
        .description("1 while the listener connection is listening, 0 otherwise (polling)").register(registry));
    meters.add(Gauge.builder("saaskit.cache.bus.read.age", counters,
            c -> (System.nanoTime() - c.lastReadNanos) / (double) TimeUnit.SECONDS.toNanos(1))
        .tags(tags).baseUnit("seconds")
        .description("time since the last successful read of the log (stays below the poll interval while healthy)")
        .register(registry));
    return () -> meters.forEach(registry::remove);
  }

  private static Meter counter(MeterRegistry registry, String name, Tags tags, LongAdder adder, String what) {
    return FunctionCounter.builder(name, adder, LongAdder::sum).tags(tags).description(what).register(registry);
  }
}
