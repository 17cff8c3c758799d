package dev.saaskit.cache.redis;

import dev.saaskit.cache.redis.internal.RedisCore;
import dev.saaskit.cache.redis.internal.RedisMeters;
import dev.saaskit.cache.redis.internal.RedisRateLimiter;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.Objects;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * One app's connection to Redis (or Valkey, or any server speaking its protocol with Lua scripting): the shared
 * tier of its caches ({@link #tier(ValueCodec)}) and its rate limiters ({@link #rateLimiter(RateLimitPolicy)}).
 * One Lettuce connection (thread-safe, pipelined) serves them all; it is opened at the first call, so an app starts
 * while Redis is down. Building it starts no thread (Lettuce's threads start with that first call); {@link #close()}
 * stops them.
 *
 * <pre>{@code
 * try (SaasRedis redis = SaasRedis.builder("redis://127.0.0.1:6379").app("billing-api").build()) {
 *   ...
 * }
 * }</pre>
 *
 * <p><b>Redis down.</b> Every call has a timeout ({@code commandTimeout}, 250 ms by default; opening the connection
 * {@code connectTimeout}, 2 s), and after
 * {@code breakerFailures} failures in a row a circuit breaker skips Redis for {@code breakerOpen} (only failures to
 * reach Redis count, not an error Redis answers about one call, such as {@code WRONGTYPE}): caches then
 * serve from their local level and their loaders, rate limiters from an in-process limiter. Nothing fails a request
 * because Redis is down. When the connection comes back after it was lost, every cache on a tier drops its local
 * entries (it may have missed invalidations meanwhile).
 *
 * <p>Thread-safe. Close it when done (after the caches that use it).
 */
public final class SaasRedis implements AutoCloseable {
  private static final Pattern APP = Pattern.compile("[A-Za-z0-9._-]{1,64}");
  /** The longest duration the builder accepts: longer ones overflow nanosecond arithmetic or Redis expiries. */
  static final Duration LONGEST = Duration.ofDays(1);
  /** The longest connect timeout: a longer one only holds callers of a node whose Redis cannot be reached. */
  static final Duration LONGEST_CONNECT = Duration.ofMinutes(1);

  private final RedisCore core;
  private final @Nullable Runnable meters;

  private SaasRedis(Builder builder) {
    this.core = new RedisCore(builder.uri, builder.app + ":", builder.clientName, builder.connectTimeout,
        builder.commandTimeout,
        builder.breakerFailures, builder.breakerOpen, builder.storeGrace);
    Object registry = builder.meterRegistry;
    this.meters = registry == null ? null : RedisMeters.bind(registry, builder.app, core);
  }

  /**
   * Starts configuring a connection to {@code uri} ({@code redis://host:port}, {@code rediss://} for TLS,
   * {@code redis://:password@host:port/db}: Lettuce's URI syntax).
   */
  public static Builder builder(String uri) {
    return new Builder(uri);
  }

  /** A Redis tier for a cache of values that {@code codec} turns into bytes. */
  public <V> RedisTier<V> tier(ValueCodec<V> codec) {
    core.checkOpen();
    return new RedisTier<>(core, codec, null, RedisTier.DEFAULT_LOCK_WAIT);
  }

  /**
   * A rate limiter on Redis (GCRA in one Lua script, one round trip per check) with the limits {@code policy}
   * gives. While Redis is unreachable it answers from an in-process limiter with the same policy (each node then
   * admits up to the limit on its own).
   */
  public RateLimiter rateLimiter(RateLimitPolicy policy) {
    core.checkOpen();
    return new RedisRateLimiter(core, null, policy, null);
  }

  /**
   * Like {@link #rateLimiter(RateLimitPolicy)}, with buckets of its own: limiters of different names never share a
   * bucket, where all unnamed limiters of one app do (a tenant and subject are one bucket). Name each limiter whose
   * subjects can meet another's, such as a login limit and an API limit both keyed by user.
   *
   * @param name 1 to 64 lower-case letters, digits, {@code _} or {@code -}, starting with a letter or digit
   * @throws IllegalArgumentException if the name is not such a name
   */
  public RateLimiter rateLimiter(String name, RateLimitPolicy policy) {
    core.checkOpen();
    return new RedisRateLimiter(core, Objects.requireNonNull(name, "name"), policy, null);
  }

  /**
   * A rate limiter on Redis with local leases, for very hot tenants: a node takes up to {@code leaseTokens} tokens
   * of a bucket in one call and admits from them locally for at most {@code leaseTtl}; unused tokens are dropped
   * when the lease ends (under-admission, never over). Over-admission bound: every admitted request spends a token
   * Redis granted, and a token is spent at most {@code leaseTtl} after it was granted, so in any window of one
   * period the nodes together admit at most {@code limit + (period + leaseTtl) / (period / limit)} requests:
   * {@code leaseTtl × limit / period} more than without leases (10 more for 600/min with 1 s leases).
   *
   * @throws IllegalArgumentException if {@code leaseTokens} is below 2 or {@code leaseTtl} is not positive or
   *     longer than a day
   */
  public RateLimiter rateLimiter(RateLimitPolicy policy, int leaseTokens, Duration leaseTtl) {
    core.checkOpen();
    return new RedisRateLimiter(core, null, policy, new RedisRateLimiter.Leases(leaseTokens, leaseTtl));
  }

  /**
   * Like {@link #rateLimiter(RateLimitPolicy, int, Duration)}, with buckets of its own (see {@link
   * #rateLimiter(String, RateLimitPolicy)}).
   */
  public RateLimiter rateLimiter(String name, RateLimitPolicy policy, int leaseTokens, Duration leaseTtl) {
    core.checkOpen();
    return new RedisRateLimiter(core, Objects.requireNonNull(name, "name"), policy,
        new RedisRateLimiter.Leases(leaseTokens, leaseTtl));
  }

  /** Counters since this connection was built. */
  public Stats stats() {
    return Stats.of(core.tierHits.sum(), core.tierMisses.sum(), core.tierBypasses.sum(), core.tierStores.sum(),
        core.tierStoresRejected.sum(), core.tierUndecodable.sum(), core.errors.sum(), core.reconnectFlushes.sum(),
        core.lockWaits.sum(), core.lockTimeouts.sum(), core.rateLimitFallbacks.sum(), core.breakerOpen());
  }

  /** The internals, for the tests and benchmarks of this project; not API. */
  public RedisCore core() {
    return core;
  }

  /**
   * Closes the connection and removes the meters. Safe to call more than once. Afterwards {@link #tier} and the
   * {@code rateLimiter} methods, and {@code tryAcquire} of the rate limiters it made, throw
   * {@link IllegalStateException}; a cache still bound to one of its tiers bypasses it (close the caches first).
   */
  @Override
  public void close() {
    try {
      core.close();
    } finally {
      if (meters != null) {
        meters.run();
      }
    }
  }

  /**
   * Counters of one {@link SaasRedis}. A snapshot: later calls do not change it. Immutable; a final class rather
   * than a record so that counters can be added without breaking callers (like saas-cache's
   * {@link dev.saaskit.cache.CacheStats}): read it through its accessors, make one with {@link #of}.
   */
  public static final class Stats {
    private final long tierHits;
    private final long tierMisses;
    private final long tierBypasses;
    private final long tierStores;
    private final long tierStoresRejected;
    private final long tierUndecodable;
    private final long errors;
    private final long reconnectFlushes;
    private final long lockWaits;
    private final long lockTimeouts;
    private final long rateLimitFallbacks;
    private final boolean breakerOpen;

    private Stats(long tierHits, long tierMisses, long tierBypasses, long tierStores,
        long tierStoresRejected, long tierUndecodable, long errors, long reconnectFlushes, long lockWaits,
        long lockTimeouts, long rateLimitFallbacks, boolean breakerOpen) {
      this.tierHits = tierHits;
      this.tierMisses = tierMisses;
      this.tierBypasses = tierBypasses;
      this.tierStores = tierStores;
      this.tierStoresRejected = tierStoresRejected;
      this.tierUndecodable = tierUndecodable;
      this.errors = errors;
      this.reconnectFlushes = reconnectFlushes;
      this.lockWaits = lockWaits;
      this.lockTimeouts = lockTimeouts;
      this.rateLimitFallbacks = rateLimitFallbacks;
      this.breakerOpen = breakerOpen;
    }

    /**
     * Statistics with these values (for tests, and for adapters that report them elsewhere).
     *
     * @param tierHits lookups Redis answered with a value
     * @param tierMisses lookups Redis had nothing for (or nothing current)
     * @param tierBypasses lookups that skipped Redis (breaker open, Redis unreachable, invalidations pending)
     * @param tierStores loaded values written to Redis
     * @param tierStoresRejected stores refused because an invalidation came first, or too old to compare
     * @param tierUndecodable entries treated as misses: another codec version, or they did not decode
     * @param errors failed Redis calls
     * @param reconnectFlushes times the connection came back and the caches dropped their local entries
     * @param lockWaits lookups that waited for another node's load (single flight)
     * @param lockTimeouts of those, lookups that stopped waiting and loaded themselves
     * @param rateLimitFallbacks rate limit checks the in-process limiter answered because Redis could not
     * @param breakerOpen whether the circuit breaker skips Redis now
     * @throws IllegalArgumentException if a count is negative
     */
    public static Stats of(long tierHits, long tierMisses, long tierBypasses, long tierStores,
        long tierStoresRejected, long tierUndecodable, long errors, long reconnectFlushes, long lockWaits,
        long lockTimeouts, long rateLimitFallbacks, boolean breakerOpen) {
      return new Stats(check("tierHits", tierHits), check("tierMisses", tierMisses),
          check("tierBypasses", tierBypasses), check("tierStores", tierStores),
          check("tierStoresRejected", tierStoresRejected), check("tierUndecodable", tierUndecodable),
          check("errors", errors), check("reconnectFlushes", reconnectFlushes), check("lockWaits", lockWaits),
          check("lockTimeouts", lockTimeouts), check("rateLimitFallbacks", rateLimitFallbacks), breakerOpen);
    }

    private static long check(String what, long count) {
      if (count < 0) {
        throw new IllegalArgumentException(what + " must be >= 0 but was " + count);
      }
      return count;
    }

    /** Lookups Redis answered with a value. */
    public long tierHits() {
      return tierHits;
    }

    /** Lookups Redis had nothing for (or nothing current). */
    public long tierMisses() {
      return tierMisses;
    }

    /** Lookups that skipped Redis (breaker open, Redis unreachable, invalidations pending). */
    public long tierBypasses() {
      return tierBypasses;
    }

    /** Loaded values written to Redis. */
    public long tierStores() {
      return tierStores;
    }

    /** Stores refused because an invalidation came first, or too old to compare. */
    public long tierStoresRejected() {
      return tierStoresRejected;
    }

    /** Entries treated as misses: another codec version, or they did not decode. */
    public long tierUndecodable() {
      return tierUndecodable;
    }

    /** Failed Redis calls. */
    public long errors() {
      return errors;
    }

    /** Times the connection came back and the caches dropped their local entries. */
    public long reconnectFlushes() {
      return reconnectFlushes;
    }

    /** Lookups that waited for another node's load (single flight). */
    public long lockWaits() {
      return lockWaits;
    }

    /** Of those, lookups that stopped waiting and loaded themselves. */
    public long lockTimeouts() {
      return lockTimeouts;
    }

    /** Rate limit checks the in-process limiter answered because Redis could not. */
    public long rateLimitFallbacks() {
      return rateLimitFallbacks;
    }

    /** Whether the circuit breaker skips Redis now. */
    public boolean breakerOpen() {
      return breakerOpen;
    }

    @Override
    public boolean equals(@Nullable Object o) {
      if (this == o) {
        return true;
      }
      if (!(o instanceof Stats)) {
        return false;
      }
      Stats other = (Stats) o;
      return tierHits == other.tierHits
          && tierMisses == other.tierMisses
          && tierBypasses == other.tierBypasses
          && tierStores == other.tierStores
          && tierStoresRejected == other.tierStoresRejected
          && tierUndecodable == other.tierUndecodable
          && errors == other.errors
          && reconnectFlushes == other.reconnectFlushes
          && lockWaits == other.lockWaits
          && lockTimeouts == other.lockTimeouts
          && rateLimitFallbacks == other.rateLimitFallbacks
          && breakerOpen == other.breakerOpen;
    }

    @Override
    public int hashCode() {
      return Objects.hash(tierHits, tierMisses, tierBypasses, tierStores, tierStoresRejected, tierUndecodable,
          errors, reconnectFlushes, lockWaits, lockTimeouts, rateLimitFallbacks, breakerOpen);
    }

    @Override
    public String toString() {
      return "SaasRedis.Stats[tierHits=" + tierHits + ", tierMisses=" + tierMisses + ", tierBypasses=" + tierBypasses
          + ", tierStores=" + tierStores + ", tierStoresRejected=" + tierStoresRejected + ", tierUndecodable="
          + tierUndecodable + ", errors=" + errors + ", reconnectFlushes=" + reconnectFlushes + ", lockWaits="
          + lockWaits + ", lockTimeouts=" + lockTimeouts + ", rateLimitFallbacks=" + rateLimitFallbacks
          + ", breakerOpen=" + breakerOpen + "]";
    }
  }

  /** The settings of a {@link SaasRedis}, each with a default but the URI. */
  public static final class Builder {
    private final String uri;
    private String app = "saaskit";
    private String clientName = "saaskit";
    private Duration connectTimeout = Duration.ofSeconds(2);
    private Duration commandTimeout = Duration.ofMillis(250);
    private int breakerFailures = 5;
    private Duration breakerOpen = Duration.ofSeconds(5);
    private Duration storeGrace = Duration.ofMinutes(1);
    private @Nullable Object meterRegistry;

    private Builder(String uri) {
      this.uri = Objects.requireNonNull(uri, "uri");
    }

    /**
     * The app's name, the first part of every key ({@code <app>:...}), so apps can share a Redis. 1 to 64 letters,
     * digits, '.', '_' or '-'. Default {@code saaskit}.
     */
    public Builder app(String app) {
      Objects.requireNonNull(app, "app");
      if (!APP.matcher(app).matches()) {
        throw new IllegalArgumentException(
            "app must be 1 to 64 letters, digits, '.', '_' or '-' but was '" + app + "'");
      }
      this.app = app;
      return this;
    }

    /** The connection's {@code CLIENT SETNAME}, as {@code CLIENT LIST} shows it. Default {@code saaskit}. */
    public Builder clientName(String clientName) {
      Objects.requireNonNull(clientName, "clientName");
      if (clientName.isEmpty() || clientName.chars().anyMatch(c -> c <= ' ' || c > '~')) {
        throw new IllegalArgumentException("clientName must be printable ASCII without spaces but was '"
            + clientName + "'");
      }
      this.clientName = clientName;
      return this;
    }

    /**
     * How long opening the TCP connection to Redis may take (the first connect and every reconnect), from 1 ms to
     * 1 minute. A call that needs the connection waits at most this long, then fails (a cache bypasses Redis, a rate
     * limiter answers in process). Default 2 s (Lettuce's own default, 10 s, held the first request of a node whose
     * Redis is unreachable that long).
     */
    public Builder connectTimeout(Duration connectTimeout) {
      Objects.requireNonNull(connectTimeout, "connectTimeout");
      if (connectTimeout.compareTo(Duration.ofMillis(1)) < 0) {
        throw new IllegalArgumentException("connectTimeout must be at least 1 ms but was " + connectTimeout);
      }
      if (connectTimeout.compareTo(LONGEST_CONNECT) > 0) {
        throw new IllegalArgumentException("connectTimeout must be at most " + LONGEST_CONNECT + " but was "
            + connectTimeout);
      }
      this.connectTimeout = connectTimeout;
      return this;
    }

    /** How long one Redis call may take before it counts as failed (at most a day). Default 250 ms. */
    public Builder commandTimeout(Duration commandTimeout) {
      this.commandTimeout = positive("commandTimeout", commandTimeout);
      return this;
    }

    /**
     * Failures in a row that open the circuit breaker, and how long it then skips Redis before one probe call (at
     * most a day). Default 5 and 5 s.
     */
    public Builder breaker(int failures, Duration open) {
      if (failures < 1) {
        throw new IllegalArgumentException("breaker failures must be >= 1 but was " + failures);
      }
      this.breakerFailures = failures;
      this.breakerOpen = positive("breaker open", open);
      return this;
    }

    /**
     * The longest time between a Redis miss and the store of the loaded value: a load that takes longer is not
     * written to Redis (generations it compared against may have expired meanwhile). Every generation key lives
     * {@code maxTtl + 2 × storeGrace}. At most a day; default 1 minute.
     */
    public Builder storeGrace(Duration storeGrace) {
      this.storeGrace = positive("storeGrace", storeGrace);
      return this;
    }

    /**
     * Registers meters ({@code saaskit.redis.*}, tagged {@code app=<app>}) in {@code meterRegistry}. Optional
     * dependency, as in saas-cache. Default: none.
     */
    public Builder meterRegistry(MeterRegistry meterRegistry) {
      this.meterRegistry = Objects.requireNonNull(meterRegistry, "meterRegistry");
      return this;
    }

    /**
     * Builds it; connects (and starts Lettuce's threads) at the first call, not here.
     *
     * @throws IllegalArgumentException if the URI is malformed (the message does not repeat it: it may hold a
     *     password)
     */
    public SaasRedis build() {
      return new SaasRedis(this);
    }

    private static Duration positive(String what, Duration value) {
      Objects.requireNonNull(value, what);
      if (value.isZero() || value.isNegative()) {
        throw new IllegalArgumentException(what + " must be positive but was " + value);
      }
      if (value.compareTo(LONGEST) > 0) {
        // longer ones overflow the nanosecond clocks (breaker, store grace) or Redis's expiries
        throw new IllegalArgumentException(what + " must be at most " + LONGEST + " but was " + value);
      }
      return value;
    }
  }
}
