package dev.saaskit.cache.redis.internal;

import dev.saaskit.cache.redis.RateLimit;
import dev.saaskit.cache.redis.RateLimitDecision;
import dev.saaskit.cache.redis.RateLimitPolicy;
import dev.saaskit.cache.redis.RateLimiter;
import dev.saaskit.core.TenantId;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;

/**
 * GCRA in Redis, one script call per check; with leases, one call per {@code leaseTokens} checks of a bucket on
 * this node. While Redis is unreachable (or the breaker is open) an in-process limiter answers.
 */
public final class RedisRateLimiter implements RateLimiter {
  private static final java.util.regex.Pattern NAME = java.util.regex.Pattern.compile("[a-z0-9][a-z0-9_-]{0,63}");
  /** Above this many buckets with a lease object, ended leases are dropped (subjects may be chosen by clients). */
  public static final int SWEEP_ABOVE = 100_000;

  /** The map size above which the next call sweeps ended leases; racy updates only move when a sweep runs. */
  private volatile int sweepAt = SWEEP_ABOVE;
  private final RedisCore core;
  private final RateLimitPolicy policy;
  private final String prefix;
  private final @Nullable Leases leases;
  private final InProcessRateLimiter fallback;
  private final ConcurrentHashMap<LimitKey, Lease> held = new ConcurrentHashMap<>();

  /** Local leases: take {@code tokens} at a time from Redis, use them for at most {@code ttl}. */
  public record Leases(int tokens, Duration ttl) {
    public Leases {
      if (tokens < 2) {
        throw new IllegalArgumentException("lease tokens must be >= 2 but was " + tokens);
      }
      Objects.requireNonNull(ttl, "ttl");
      if (ttl.isZero() || ttl.isNegative()) {
        throw new IllegalArgumentException("lease ttl must be positive but was " + ttl);
      }
      if (ttl.compareTo(Duration.ofDays(1)) > 0) {
        // a lease outlives no period worth leasing for, and nanoTime + ttl must not overflow
        throw new IllegalArgumentException("lease ttl must be at most 1 day but was " + ttl);
      }
    }
  }

  public RedisRateLimiter(RedisCore core, @Nullable String name, RateLimitPolicy policy, @Nullable Leases leases) {
    this.core = core;
    this.policy = Objects.requireNonNull(policy, "policy");
    // a named limiter has buckets of its own; the unnamed one keeps the keys it always had ("rl:{" cannot start a
    // named prefix, whose name starts with a letter or digit)
    this.prefix = core.prefix() + "rl:" + (name == null ? "" : requireName(name) + ":") + "{";
    this.leases = leases;
    this.fallback = new InProcessRateLimiter(policy, Clock.systemUTC());
  }

  /** Checks a limiter name: 1 to 64 lower-case letters, digits, '_' or '-', starting with a letter or digit. */
  static String requireName(String name) {
    Objects.requireNonNull(name, "name");
    if (!NAME.matcher(name).matches()) {
      throw new IllegalArgumentException("a rate limiter name must be 1 to 64 lower-case letters, digits, '_' or"
          + " '-', starting with a letter or digit");
    }
    return name;
  }

  @Override
  public RateLimitDecision tryAcquire(TenantId tenant, String subject) {
    core.checkOpen();
    LimitKey key = new LimitKey(tenant, subject);
    RateLimit limit = Objects.requireNonNull(policy.limitFor(tenant, subject), "the policy returned no limit");
    Leases theLeases = leases;
    if (theLeases == null) {
      return fromRedis(key, limit, 1, false).decision;
    }
    int size = held.size();
    if (size > sweepAt) {
      // amortized: after a sweep the next one waits until the map has doubled, so a map of live leases is not
      // scanned on every call
      long now = System.nanoTime();
      held.values().removeIf(l -> l.ended(now));
      sweepAt = Math.max(SWEEP_ABOVE, 2 * held.size());
    }
    Lease lease = held.computeIfAbsent(key, k -> new Lease());
    synchronized (lease) {
      long now = System.nanoTime();
      if (lease.tokens > 0 && now - lease.expiresAt < 0 && lease.limit == limit.limit()) {
        lease.tokens--;
        return new RateLimitDecision(true, limit.limit(), lease.remaining + lease.tokens, lease.resetAfter,
            Duration.ZERO);
      }
      Grant grant = fromRedis(key, limit, theLeases.tokens(), true);
      if (!grant.decision.allowed()) {
        lease.tokens = 0;
        return grant.decision;
      }
      lease.tokens = grant.tokens - 1;
      lease.remaining = grant.decision.remaining();
      lease.resetAfter = grant.decision.resetAfter();
      lease.limit = limit.limit();
      lease.expiresAt = now + theLeases.ttl().toNanos();
      return new RateLimitDecision(true, limit.limit(), lease.remaining + lease.tokens, lease.resetAfter,
          Duration.ZERO);
    }
  }

  /** What one Redis call granted: {@code tokens} (0 when denied) and the decision to report. */
  private record Grant(long tokens, RateLimitDecision decision) {}

  private Grant fromRedis(LimitKey key, RateLimit limit, int cost, boolean partial) {
    if (!core.allow()) {
      return fallback(key);
    }
    try {
      List<Object> reply = core.evalList(Scripts.GCRA,
          new String[] {prefix + key.encoded() + "}"}, RedisCore.bytes(limit.emissionIntervalMicros()),
          RedisCore.bytes(limit.limit()), RedisCore.bytes(cost), RedisCore.bytes(partial ? "1" : "0"));
      core.succeeded();
      long granted = RedisCore.number(reply.get(0));
      long remaining = RedisCore.number(reply.get(1));
      Duration reset = InProcessRateLimiter.micros(RedisCore.number(reply.get(2)));
      Duration retry = InProcessRateLimiter.micros(RedisCore.number(reply.get(3)));
      return new Grant(granted, new RateLimitDecision(granted > 0, limit.limit(), remaining, reset, retry));
    } catch (RuntimeException e) {
      core.failed(e);
      return fallback(key);
    }
  }

  private Grant fallback(LimitKey key) {
    core.rateLimitFallbacks.increment();
    RateLimitDecision decision = fallback.tryAcquire(key.tenant(), key.subject());
    return new Grant(decision.allowed() ? 1 : 0, decision);
  }

  /** Buckets this node keeps a lease object for (for tests). */
  public int heldLeases() {
    return held.size();
  }

  /** Tokens this node holds for one bucket. Guarded by its own monitor. */
  private static final class Lease {
    long tokens;
    long remaining;
    long limit;
    long expiresAt;
    Duration resetAfter = Duration.ZERO;

    /** No token left to admit from, or past its lifetime: dropping it loses nothing. */
    synchronized boolean ended(long now) {
      return tokens <= 0 || now - expiresAt >= 0;
    }
  }
}
