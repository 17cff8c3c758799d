package dev.saaskit.auth.internal;

import dev.saaskit.auth.InvalidTokenException;
import dev.saaskit.auth.InvalidTokenException.Reason;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.time.Instant;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * Reads the NumericDate claims ({@code exp}, {@code nbf}, {@code iat}) from the parsed JSON itself. nimbus's
 * {@code JWTClaimsSet} multiplies the seconds by 1000 in a long, which wraps around past about 292 million years:
 * a far-future {@code nbf} became a date in 1969 (valid at once) and a hugely negative {@code exp} a date in the
 * far future (never expiring). Here a value is refused instead of wrapped. Not API.
 */
public final class NumericDates {
  /** The largest magnitude accepted, in seconds: what a {@code java.util.Date} (milliseconds in a long) holds. */
  public static final long MAX_SECONDS = Long.MAX_VALUE / 1000;

  private NumericDates() {}

  /**
   * The claim {@code name} as an instant (fractional seconds rounded down), or null when absent.
   *
   * @throws InvalidTokenException {@code BAD_CLAIM} if it is not a JSON number, or is beyond {@link #MAX_SECONDS}
   *     either way
   */
  public static @Nullable Instant read(Map<String, Object> claims, String name) {
    Object v = claims.get(name);
    if (v == null) {
      return null;
    }
    long seconds;
    if (v instanceof Long || v instanceof Integer || v instanceof Short || v instanceof Byte) {
      seconds = ((Number) v).longValue();
    } else if (v instanceof Double || v instanceof Float || v instanceof BigDecimal || v instanceof BigInteger) {
      double d = ((Number) v).doubleValue();
      if (!(Math.abs(d) <= MAX_SECONDS)) { // also NaN and infinities
        throw outOfRange(name);
      }
      seconds = (long) Math.floor(d);
    } else {
      throw new InvalidTokenException(Reason.BAD_CLAIM, "claim " + name + " must be a number of seconds");
    }
    if (seconds > MAX_SECONDS || seconds < -MAX_SECONDS) {
      throw outOfRange(name);
    }
    return Instant.ofEpochSecond(seconds);
  }

  private static InvalidTokenException outOfRange(String name) {
    return new InvalidTokenException(Reason.BAD_CLAIM, "claim " + name + " is out of range (more than "
        + MAX_SECONDS + " seconds from 1970)");
  }
}
