package dev.saaskit.cache.redis;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * The answer of a {@link RateLimiter}: allowed or not, and what to tell the client.
 *
 * @param allowed whether the request may proceed
 * @param limit the limit that applied (requests per period)
 * @param remaining requests the client may still make at once
 * @param resetAfter time until the client's allowance is full again
 * @param retryAfter when denied, the time until one request would be allowed; zero when allowed
 */
public record RateLimitDecision(boolean allowed, long limit, long remaining, Duration resetAfter,
    Duration retryAfter) {

  /** Checks the parts. */
  public RateLimitDecision {
    Objects.requireNonNull(resetAfter, "resetAfter");
    Objects.requireNonNull(retryAfter, "retryAfter");
    if (remaining < 0) {
      remaining = 0;
    }
  }

  /**
   * The response headers clients expect: {@code RateLimit-Limit}, {@code RateLimit-Remaining},
   * {@code RateLimit-Reset} (seconds, rounded up), and {@code Retry-After} (seconds, rounded up, at least 1) when
   * denied.
   */
  public Map<String, String> headers() {
    Map<String, String> headers = new LinkedHashMap<>();
    headers.put("RateLimit-Limit", Long.toString(limit));
    headers.put("RateLimit-Remaining", Long.toString(remaining));
    headers.put("RateLimit-Reset", Long.toString(seconds(resetAfter)));
    if (!allowed) {
      headers.put("Retry-After", Long.toString(Math.max(1, seconds(retryAfter))));
    }
    return headers;
  }

  private static long seconds(Duration duration) {
    long millis = duration.toMillis();
    return (millis + 999) / 1000;
  }
}
