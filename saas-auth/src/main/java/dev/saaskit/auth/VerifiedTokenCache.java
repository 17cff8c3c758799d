package dev.saaskit.auth;

import java.util.Objects;

/**
 * Settings of a {@link TokenVerifier}'s cache of verified tokens: a small bounded map from the SHA-256 of a token
 * (never the token itself) to its {@link Principal}, each entry living until the token's {@code exp} and never
 * beyond. A repeated token is then verified at hash-lookup cost. Immutable.
 *
 * <p>Default ({@link #defaults()}): {@link Mode#EC_AND_EDDSA}, i.e. tokens signed with ES256/384/512 or
 * EdDSA are cached (their verification costs far more than a lookup) and RSA/HMAC-signed tokens are not; at most
 * 10,000 entries.
 */
public final class VerifiedTokenCache {
  /** Which verified tokens are cached. */
  public enum Mode {
    /** Tokens signed with an EC or EdDSA algorithm (the default); RSA and HMAC verify fast enough uncached. */
    EC_AND_EDDSA,
    /** Every verified token. */
    ALL,
    /** None: every call verifies the signature. */
    OFF
  }

  /** The default maximum number of entries. */
  public static final long DEFAULT_MAXIMUM_SIZE = 10_000;

  private final Mode mode;
  private final long maximumSize;

  private VerifiedTokenCache(Mode mode, long maximumSize) {
    this.mode = Objects.requireNonNull(mode, "mode");
    if (maximumSize < 1) {
      throw new IllegalArgumentException("maximumSize must be >= 1 but was " + maximumSize);
    }
    this.maximumSize = maximumSize;
  }

  /** EC/EdDSA-signed tokens cached, at most 10,000 entries. */
  public static VerifiedTokenCache defaults() {
    return new VerifiedTokenCache(Mode.EC_AND_EDDSA, DEFAULT_MAXIMUM_SIZE);
  }

  /** Every verified token cached, at most 10,000 entries. */
  public static VerifiedTokenCache all() {
    return new VerifiedTokenCache(Mode.ALL, DEFAULT_MAXIMUM_SIZE);
  }

  /** No caching. */
  public static VerifiedTokenCache off() {
    return new VerifiedTokenCache(Mode.OFF, DEFAULT_MAXIMUM_SIZE);
  }

  /** These settings with at most {@code maximumSize} entries (>= 1). */
  public VerifiedTokenCache maximumSize(long maximumSize) {
    return new VerifiedTokenCache(mode, maximumSize);
  }

  /** Which tokens are cached. */
  public Mode mode() {
    return mode;
  }

  /** The maximum number of entries. */
  public long maximumSize() {
    return maximumSize;
  }

  @Override
  public String toString() {
    return "VerifiedTokenCache[" + mode + ", maximumSize=" + maximumSize + "]";
  }
}
