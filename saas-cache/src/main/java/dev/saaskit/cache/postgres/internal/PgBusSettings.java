package dev.saaskit.cache.postgres.internal;

import java.time.Duration;
import java.util.random.RandomGenerator;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;

/** The checked settings of one bus, as the public builder built them. */
public record PgBusSettings(
    DataSource dataSource,
    DataSource listenerDataSource,
    String schema,
    String nodeName,
    Duration pollInterval,
    Duration notifyInterval,
    boolean pollingOnly,
    Duration reconnectBackoffMin,
    Duration reconnectBackoffMax,
    Duration pruneInterval,
    Duration retention,
    long maxRows,
    int pruneBatchSize,
    RandomGenerator random,
    Duration closeTimeout,
    // Object, not MeterRegistry: Micrometer is optional and this record must load without it
    @Nullable Object meterRegistry) {

  /** The application_name of the listener connection, which operators see in pg_stat_activity. */
  public String listenerApplicationName() {
    return "saaskit-cache-bus " + nodeName;
  }

  /** The NOTIFY channel. */
  public String channel() {
    return PgSql.channel(schema);
  }
}
