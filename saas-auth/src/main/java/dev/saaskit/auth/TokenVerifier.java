package dev.saaskit.auth;

import dev.saaskit.auth.internal.IssuerKeys;
import dev.saaskit.auth.internal.JwtVerification;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * Verifies JWTs from the {@link TrustedIssuer}s it was built with into a tenant-scoped {@link Principal}, or refuses
 * them with an {@link InvalidTokenException} whose {@link InvalidTokenException#reason() reason} says why.
 *
 * <p>What it checks, in order: the token's length (default at most 16 KiB) and JSON nesting (default at most 16
 * levels), {@code alg: none} (never), the {@code iss} (must be registered: an unknown issuer is refused before any key
 * lookup or network call), the algorithm (pinned per issuer), critical headers (none understood), the signature
 * with the issuer's key for the token's {@code kid} (header {@code jwk}, {@code jku}, {@code x5u}, {@code x5c} are
 * ignored: keys are never fetched from a URL a token names), {@code exp} (required), {@code nbf} and {@code iat}
 * with the issuer's clock skew, the audience or authorized party, and the tenant binding; then the issuer's
 * {@link ClaimMapping} fills in tenant, roles, permissions and permission version. The user is always ({@code iss},
 * {@code sub}).
 *
 * <p>Verified tokens are cached per {@link VerifiedTokenCache} (by default those signed with EC or EdDSA keys): a
 * repeated token then costs a SHA-256 and a map lookup, and still expires at its {@code exp}. Thread-safe; close it
 * to stop JWKS background refreshes.
 */
public final class TokenVerifier implements AutoCloseable {
  /** The default cap on a token's length, in characters. */
  public static final int DEFAULT_MAX_TOKEN_LENGTH = 16 * 1024;
  /** The default cap on the nesting of the header's and claims' JSON. */
  public static final int DEFAULT_MAX_JSON_DEPTH = 16;

  private final JwtVerification verification;
  private final Map<String, TrustedIssuer> issuers;

  private TokenVerifier(JwtVerification verification, Map<String, TrustedIssuer> issuers) {
    this.verification = verification;
    this.issuers = issuers;
  }

  /** A builder; at least one issuer is required. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Verifies {@code token} (the compact JWS, without any {@code Bearer } prefix).
   *
   * @return the principal the token speaks for
   * @throws InvalidTokenException when the token is refused; its reason is for logs and metrics, never the client
   */
  public Principal verify(String token) {
    return verification.verify(token);
  }

  /** The registered issuers by their exact {@code iss} (unmodifiable). */
  public Map<String, TrustedIssuer> issuers() {
    return issuers;
  }

  /** Stops background JWKS refreshes of the issuers' key sources. */
  @Override
  public void close() {
    verification.close();
  }

  /** Builds a {@link TokenVerifier}. Not thread-safe. */
  public static final class Builder {
    private final Map<String, TrustedIssuer> issuers = new LinkedHashMap<>();
    private Clock clock = Clock.systemUTC();
    private VerifiedTokenCache cache = VerifiedTokenCache.defaults();
    private int maxTokenLength = DEFAULT_MAX_TOKEN_LENGTH;
    private int maxJsonDepth = DEFAULT_MAX_JSON_DEPTH;

    private Builder() {}

    /** Trusts {@code issuer}; each {@code iss} may be registered once. */
    public Builder issuer(TrustedIssuer issuer) {
      Objects.requireNonNull(issuer, "issuer");
      if (issuers.putIfAbsent(issuer.id(), issuer) != null) {
        throw new IllegalArgumentException("issuer " + issuer.id() + " is registered twice");
      }
      return this;
    }

    /** The clock for {@code exp}/{@code nbf}/{@code iat} and the cache; default {@link Clock#systemUTC()}. */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /** The verified-token cache; default {@link VerifiedTokenCache#defaults()}. */
    public Builder verifiedTokenCache(VerifiedTokenCache cache) {
      this.cache = Objects.requireNonNull(cache, "verifiedTokenCache");
      return this;
    }

    /** Longer tokens are refused as {@code MALFORMED}; default 16,384 characters, between 256 and 1,048,576. */
    public Builder maxTokenLength(int chars) {
      if (chars < 256 || chars > 1 << 20) {
        throw new IllegalArgumentException("maxTokenLength must be between 256 and 1048576 but was " + chars);
      }
      this.maxTokenLength = chars;
      return this;
    }

    /** Deeper JSON in header or claims is refused as {@code MALFORMED}; default 16, between 2 and 64. */
    public Builder maxJsonDepth(int depth) {
      if (depth < 2 || depth > 64) {
        throw new IllegalArgumentException("maxJsonDepth must be between 2 and 64 but was " + depth);
      }
      this.maxJsonDepth = depth;
      return this;
    }

    /** The verifier. */
    public TokenVerifier build() {
      if (issuers.isEmpty()) {
        throw new IllegalStateException("a TokenVerifier needs at least one issuer");
      }
      Map<String, JwtVerification.Issuer> runtime = new LinkedHashMap<>();
      for (TrustedIssuer t : issuers.values()) {
        runtime.put(t.id(), new JwtVerification.Issuer(t, new IssuerKeys(t, t.staticKeySet(), t.hmacSecretCopy())));
      }
      return new TokenVerifier(new JwtVerification(runtime, clock, cache, maxTokenLength, maxJsonDepth),
          Map.copyOf(issuers));
    }
  }
}
