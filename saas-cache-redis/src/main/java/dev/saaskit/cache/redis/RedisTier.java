package dev.saaskit.cache.redis;

import dev.saaskit.cache.SharedTier;
import dev.saaskit.cache.redis.internal.RedisCore;
import dev.saaskit.cache.redis.internal.TierBinding;
import java.time.Duration;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * The Redis tier of one cache: give it to {@link dev.saaskit.cache.SaasCache.Builder#sharedTier(SharedTier)}. Made by
 * {@link SaasRedis#tier(ValueCodec)}; immutable ({@link #singleFlight(Duration, Duration)} returns a copy).
 *
 * <pre>{@code
 * SaasCache<String, Plan> plans = SaasCache.<String, Plan>named("plans")
 *     .ttl(Duration.ofMinutes(5))
 *     .sharedTier(redis.tier(ValueCodec.json(Plan.class)))
 *     .invalidationBus(bus)
 *     .build();
 * }</pre>
 *
 * @param <V> the value type
 */
public final class RedisTier<V> implements SharedTier<V> {
  /** Default time a node waits for another node's load of the same key under single flight. */
  public static final Duration DEFAULT_LOCK_WAIT = Duration.ofMillis(500);
  /** How often a waiting node looks for the value the lock holder is loading. */
  public static final Duration LOCK_POLL = Duration.ofMillis(5);

  private final RedisCore core;
  private final ValueCodec<V> codec;
  private final @Nullable Duration lockTtl;
  private final Duration lockWait;

  RedisTier(RedisCore core, ValueCodec<V> codec, @Nullable Duration lockTtl, Duration lockWait) {
    this.core = core;
    this.codec = Objects.requireNonNull(codec, "codec");
    this.lockTtl = lockTtl;
    this.lockWait = lockWait;
  }

  /**
   * Single flight across nodes: on a Redis miss a node takes a short lock ({@code SET NX PX lockTtl}, in the
   * lookup's round trip) and loads; the others poll Redis every 5 ms for the value, for
   * at most {@code wait}, then load themselves. A holder that dies or fails loses the lock after {@code lockTtl}.
   * Nothing ever waits longer than {@code wait} (plus one Redis timeout). Default: off.
   *
   * @throws IllegalArgumentException if a duration is shorter than 1 ms (Redis expiries count whole
   *     milliseconds: a lock TTL that rounds to 0 is an error on every lookup), {@code lockTtl} is longer than a
   *     day, or {@code wait} exceeds {@code lockTtl}
   */
  public RedisTier<V> singleFlight(Duration lockTtl, Duration wait) {
    Objects.requireNonNull(lockTtl, "lockTtl");
    Objects.requireNonNull(wait, "wait");
    Duration ms = Duration.ofMillis(1);
    if (lockTtl.compareTo(ms) < 0 || lockTtl.compareTo(Duration.ofDays(1)) > 0) {
      // PX counts whole milliseconds: PX 0 is an error, and a huge one overflows toMillis
      throw new IllegalArgumentException("lockTtl must be positive (1 ms to 1 day) but was " + lockTtl);
    }
    if (wait.compareTo(ms) < 0) {
      throw new IllegalArgumentException("wait must be positive (at least 1 ms) but was " + wait);
    }
    if (wait.compareTo(lockTtl) > 0) {
      throw new IllegalArgumentException("wait (" + wait + ") must not exceed lockTtl (" + lockTtl + ")");
    }
    return new RedisTier<>(core, codec, lockTtl, wait);
  }

  @Override
  public Binding<V> bind(Context context) {
    return new TierBinding<>(core, codec, context, lockTtl, lockTtl == null ? Duration.ZERO : lockWait, LOCK_POLL);
  }

  @Override
  public String toString() {
    return "RedisTier[" + codec + (lockTtl == null ? "" : ", single flight " + lockTtl + "/" + lockWait) + "]";
  }
}
