package dev.saaskit.auth.internal;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.KeySourceException;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKMatcher;
import com.nimbusds.jose.jwk.JWKSelector;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.KeyType;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.jwk.source.ImmutableJWKSet;
import com.nimbusds.jose.jwk.source.JWKSource;
import com.nimbusds.jose.jwk.source.JWKSourceBuilder;
import com.nimbusds.jose.jwk.source.RateLimitReachedException;
import com.nimbusds.jose.proc.SecurityContext;
import dev.saaskit.auth.InvalidTokenException;
import dev.saaskit.auth.InvalidTokenException.Reason;
import dev.saaskit.auth.SigningAlgorithm;
import dev.saaskit.auth.TrustedIssuer;
import java.io.Closeable;
import java.io.IOException;
import java.net.MalformedURLException;
import java.text.ParseException;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The keys of one trusted issuer, looked up by {@code kid} and family only (never from the token's {@code jwk},
 * {@code jku}, {@code x5u} or {@code x5c}). A JWKS URL is served by nimbus's {@code JWKSourceBuilder}: cached,
 * refreshed ahead, refetched for an unknown {@code kid} at most once per rate-limit interval, and kept through
 * outages. Not API.
 */
public final class IssuerKeys implements Closeable {
  private static final int JWKS_SIZE_LIMIT = 256 * 1024;

  private final String issuer;
  private final @Nullable JWKSource<SecurityContext> source;
  private final @Nullable SignatureCheck secret;
  /** One check per key object (identity: a refreshed JWKS brings new objects, and old ones are collected). */
  private final Cache<JWK, SignatureCheck> checks = Caffeine.newBuilder().weakKeys().maximumSize(1_024).build();

  /** Keys for {@code issuer}. */
  public IssuerKeys(TrustedIssuer issuer) {
    this.issuer = issuer.issuer();
    switch (issuer.keySource()) {
      case HMAC_SECRET:
        this.source = null;
        this.secret = SignatureCheck.forSecret(issuer.hmacSecret().orElseThrow());
        break;
      case STATIC_JWKS:
        try {
          this.source = new ImmutableJWKSet<>(JWKSet.parse(issuer.jwksJson().orElseThrow()).toPublicJWKSet());
        } catch (ParseException e) {
          throw new IllegalArgumentException("the JWK set of issuer " + issuer.issuer() + " is not valid JSON"
              + " of a JWK set: " + e.getMessage(), e);
        }
        this.secret = null;
        break;
      case JWKS_URI:
        this.source = jwksSource(issuer);
        this.secret = null;
        break;
      default:
        throw new IllegalStateException("unknown key source " + issuer.keySource());
    }
  }

  private static JWKSource<SecurityContext> jwksSource(TrustedIssuer issuer) {
    int timeout = (int) Math.min(Integer.MAX_VALUE, issuer.jwksHttpTimeout().toMillis());
    long ttl = issuer.jwksCacheTtl().toMillis();
    long minInterval = Math.min(issuer.jwksMinRefetchInterval().toMillis(), Math.max(1, ttl - 1));
    long refreshTimeout = Math.min(2L * timeout, Math.max(1, ttl / 2));
    long ahead = Math.min(issuer.jwksRefreshAhead().toMillis(), Math.max(1, ttl - refreshTimeout - 1));
    try {
      return JWKSourceBuilder.<SecurityContext>create(issuer.jwksUri().orElseThrow().toURL(),
              new DeadlineRetriever(timeout, JWKS_SIZE_LIMIT, 2L * timeout))
          .cache(ttl, refreshTimeout)
          .refreshAheadCache(ahead, true)
          .rateLimited(minInterval)
          .retrying(false)
          .outageTolerant(issuer.jwksOutageTolerance().toMillis())
          .build();
    } catch (MalformedURLException | IllegalArgumentException e) {
      throw new IllegalArgumentException("the JWKS URL of issuer " + issuer.issuer() + " cannot be used: "
          + e.getMessage(), e);
    }
  }

  /**
   * The check for the key the header names, of the family {@code algorithm} needs.
   *
   * @throws InvalidTokenException UNKNOWN_KEY if no key of the issuer fits (after a rate-limited refetch),
   *     KEYS_UNAVAILABLE if the keys could not be fetched and none are cached
   */
  public SignatureCheck find(JWSHeader header, SigningAlgorithm algorithm) {
    if (secret != null) {
      return secret;
    }
    JWKSource<SecurityContext> keys = source;
    if (keys == null) {
      throw new InvalidTokenException(Reason.UNKNOWN_KEY, "issuer " + issuer + " has no keys");
    }
    JWSAlgorithm alg = header.getAlgorithm();
    JWKMatcher.Builder matcher = new JWKMatcher.Builder()
        .keyType(KeyType.forAlgorithm(alg))
        .keyUses(KeyUse.SIGNATURE, null)
        .algorithms(alg, null);
    if (algorithm.family() == SigningAlgorithm.Family.EC || algorithm.family() == SigningAlgorithm.Family.OKP) {
      matcher.curves(Curve.forJWSAlgorithm(alg));
    }
    String kid = header.getKeyID();
    if (kid != null) {
      matcher.keyID(kid);
    }
    List<JWK> found;
    try {
      found = keys.get(new JWKSelector(matcher.build()), null);
    } catch (RateLimitReachedException e) {
      throw new InvalidTokenException(Reason.UNKNOWN_KEY, "no key of issuer " + issuer + " has that kid (JWKS"
          + " refetch rate limit reached)");
    } catch (KeySourceException e) {
      throw new InvalidTokenException(Reason.KEYS_UNAVAILABLE, "the keys of issuer " + issuer
          + " could not be fetched: " + e.getMessage(), e);
    }
    if (found.isEmpty() || (kid == null && found.size() != 1)) {
      throw new InvalidTokenException(Reason.UNKNOWN_KEY, "no key of issuer " + issuer
          + (kid == null ? " is the only one of its kind (the token has no kid)" : " has that kid"));
    }
    JWK key = found.get(0);
    SignatureCheck check = checks.get(key, k -> {
      SignatureCheck c = SignatureCheck.forPublicKey(k);
      return c == null ? REFUSE : c;
    });
    if (check == REFUSE) {
      throw new InvalidTokenException(Reason.UNKNOWN_KEY, "the key of issuer " + issuer + " cannot be used");
    }
    return check;
  }

  private static final SignatureCheck REFUSE = new SignatureCheck() {
    @Override
    public boolean verify(JWSHeader header, byte[] signingInput, com.nimbusds.jose.util.Base64URL signature) {
      return false;
    }
  };

  @Override
  public void close() {
    if (source instanceof Closeable) {
      try {
        ((Closeable) source).close();
      } catch (IOException e) {
        // nothing left to release
      }
    }
  }
}
