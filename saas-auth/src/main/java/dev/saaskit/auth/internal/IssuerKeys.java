package dev.saaskit.auth.internal;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.KeySourceException;
import com.nimbusds.jose.crypto.ECDSAVerifier;
import com.nimbusds.jose.crypto.MACVerifier;
import com.nimbusds.jose.crypto.RSASSAVerifier;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKMatcher;
import com.nimbusds.jose.jwk.JWKSelector;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.KeyType;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.jwk.OctetKeyPair;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.source.ImmutableJWKSet;
import com.nimbusds.jose.jwk.source.JWKSource;
import com.nimbusds.jose.jwk.source.JWKSourceBuilder;
import com.nimbusds.jose.jwk.source.RateLimitReachedException;
import com.nimbusds.jose.proc.SecurityContext;
import com.nimbusds.jose.util.Base64URL;
import com.nimbusds.jose.util.DefaultResourceRetriever;
import dev.saaskit.auth.InvalidTokenException;
import dev.saaskit.auth.InvalidTokenException.Reason;
import dev.saaskit.auth.SigningAlgorithm;
import dev.saaskit.auth.TrustedIssuer;
import java.io.Closeable;
import java.io.IOException;
import java.net.MalformedURLException;
import java.net.URI;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The keys of one trusted issuer and the signature check with them. Keys are looked up by (this issuer, kid) only,
 * bound to the algorithm family the token's (already allowed) algorithm needs; nothing in the token header other than
 * {@code alg} and {@code kid} is used. JWKS fetching, caching, refresh-ahead, the refetch rate limit and outage
 * tolerance are nimbus's {@link JWKSourceBuilder}.
 */
public final class IssuerKeys implements AutoCloseable {
  private static final int MAX_CANDIDATES = 4;
  private static final Object NO_VERIFIER = new Object();

  private final String issuer;
  private final @Nullable JWKSource<SecurityContext> source;
  private final @Nullable MACVerifier mac;
  /** Verifiers per JWK instance (identity: a refreshed set brings new instances), so keys are decoded once. */
  private final Cache<JWK, Object> verifiers =
      Caffeine.newBuilder().weakKeys().maximumSize(256).executor(Runnable::run).build();

  /** The keys of {@code config}; {@code staticKeys} and {@code secret} are its static keys or HMAC secret. */
  public IssuerKeys(TrustedIssuer config, @Nullable JWKSet staticKeys, byte @Nullable [] secret) {
    this.issuer = config.id();
    if (secret != null) {
      try {
        this.mac = new MACVerifier(secret);
      } catch (JOSEException e) {
        throw new IllegalArgumentException("the HMAC secret of issuer " + issuer + " is unusable", e);
      }
      this.source = null;
    } else if (staticKeys != null) {
      this.mac = null;
      this.source = new ImmutableJWKSet<>(staticKeys);
    } else {
      URI url = config.jwksUrl().orElseThrow();
      DefaultResourceRetriever retriever = new DefaultResourceRetriever(
          (int) config.httpConnectTimeout().toMillis(), (int) config.httpReadTimeout().toMillis(),
          config.jwksSizeLimit(), true);
      try {
        JWKSourceBuilder<SecurityContext> b = JWKSourceBuilder.<SecurityContext>create(url.toURL(), retriever)
            .retrying(false)
            .cache(config.jwksCacheTtl().toMillis(), config.jwksRefreshTimeout().toMillis());
        b = config.jwksRefreshAhead().isZero() ? b.refreshAheadCache(false)
            : b.refreshAheadCache(config.jwksRefreshAhead().toMillis(), false);
        b = config.jwksRateLimit().isZero() ? b.rateLimited(false) : b.rateLimited(config.jwksRateLimit().toMillis());
        b = config.jwksOutageTolerance().isZero() ? b.outageTolerant(false)
            : b.outageTolerant(config.jwksOutageTolerance().toMillis());
        this.source = b.build();
      } catch (MalformedURLException e) {
        throw new IllegalArgumentException("jwksUrl of issuer " + issuer + " is not a URL", e);
      } catch (RuntimeException e) {
        throw new IllegalArgumentException("the JWKS settings of issuer " + issuer + " are inconsistent: "
            + e.getMessage(), e);
      }
      this.mac = null;
    }
  }

  /**
   * Checks {@code signature} over {@code signingInput} with the issuer's key for {@code kid} (or, without a kid,
   * each of its keys of the algorithm's family, at most a few), or throws.
   */
  public void verify(JWSHeader header, SigningAlgorithm alg, byte[] signingInput, Base64URL signature) {
    if (alg.family() == SigningAlgorithm.Family.HMAC) {
      MACVerifier m = mac;
      if (m == null || !nimbusVerify(m, header, signingInput, signature)) {
        throw new InvalidTokenException(Reason.BAD_SIGNATURE, "bad signature on a token of " + issuer);
      }
      return;
    }
    JWKSource<SecurityContext> src = source;
    if (src == null) {
      throw new InvalidTokenException(Reason.UNKNOWN_KEY, "issuer " + issuer + " has no public keys");
    }
    JWSAlgorithm jwsAlg = JWSAlgorithm.parse(alg.joseName());
    JWKMatcher.Builder mb = new JWKMatcher.Builder().keyID(header.getKeyID())
        .keyUses(KeyUse.SIGNATURE, null).algorithms(jwsAlg, null);
    switch (alg.family()) {
      case RSA:
        mb.keyType(KeyType.RSA).minKeySize(2048);
        break;
      case EC:
        mb.keyType(KeyType.EC).curves(Curve.forJWSAlgorithm(jwsAlg));
        break;
      default:
        mb.keyType(KeyType.OKP).curves(Curve.Ed25519);
        break;
    }
    List<JWK> keys;
    try {
      keys = src.get(new JWKSelector(mb.build()), null);
    } catch (RateLimitReachedException e) {
      throw new InvalidTokenException(Reason.UNKNOWN_KEY,
          "no key of " + issuer + " has the token's kid (refetch rate-limited)");
    } catch (KeySourceException e) {
      throw new InvalidTokenException(Reason.KEYS_UNAVAILABLE, "the keys of " + issuer + " are unavailable", e);
    }
    if (keys.isEmpty()) {
      throw new InvalidTokenException(Reason.UNKNOWN_KEY, "no key of " + issuer + " has the token's kid");
    }
    int n = Math.min(keys.size(), MAX_CANDIDATES);
    for (int i = 0; i < n; i++) {
      JWK k = keys.get(i);
      Object v = verifiers.get(k, IssuerKeys::verifierFor);
      boolean ok = v instanceof Ed25519Verifier
          ? ((Ed25519Verifier) v).verify(signingInput, signature.decode())
          : v instanceof com.nimbusds.jose.JWSVerifier
              && nimbusVerify((com.nimbusds.jose.JWSVerifier) v, header, signingInput, signature);
      if (ok) {
        return;
      }
    }
    throw new InvalidTokenException(Reason.BAD_SIGNATURE, "bad signature on a token of " + issuer);
  }

  private static Object verifierFor(JWK k) {
    try {
      if (k instanceof RSAKey) {
        return new RSASSAVerifier((RSAKey) k);
      }
      if (k instanceof ECKey) {
        return new ECDSAVerifier((ECKey) k);
      }
      if (k instanceof OctetKeyPair && Curve.Ed25519.equals(((OctetKeyPair) k).getCurve())) {
        return new Ed25519Verifier(((OctetKeyPair) k).getX().decode());
      }
    } catch (JOSEException | RuntimeException e) {
      return NO_VERIFIER; // an unusable key verifies nothing
    }
    return NO_VERIFIER;
  }

  private static boolean nimbusVerify(com.nimbusds.jose.JWSVerifier v, JWSHeader header, byte[] input,
      Base64URL sig) {
    try {
      return v.verify(header, input, sig);
    } catch (JOSEException | RuntimeException e) {
      return false;
    }
  }

  @Override
  public void close() {
    if (source instanceof Closeable) {
      try {
        ((Closeable) source).close();
      } catch (IOException e) {
        // nothing to do: the source is being discarded
      }
    }
  }
}
