package dev.saaskit.auth;

import java.util.Optional;

/**
 * The JWS algorithms a {@link TrustedIssuer} may be pinned to. Each belongs to one key {@link Family}: a key of one
 * family is never used for another (an RSA or EC public key is never fed to a MAC), and the token header never
 * chooses the family: only the algorithms the issuer was registered with are accepted.
 */
public enum SigningAlgorithm {
  /** RSASSA-PKCS1-v1_5 with SHA-256. */
  RS256(Family.RSA),
  /** RSASSA-PKCS1-v1_5 with SHA-384. */
  RS384(Family.RSA),
  /** RSASSA-PKCS1-v1_5 with SHA-512. */
  RS512(Family.RSA),
  /** RSASSA-PSS with SHA-256. */
  PS256(Family.RSA),
  /** RSASSA-PSS with SHA-384. */
  PS384(Family.RSA),
  /** RSASSA-PSS with SHA-512. */
  PS512(Family.RSA),
  /** ECDSA on P-256 with SHA-256. */
  ES256(Family.EC),
  /** ECDSA on P-384 with SHA-384. */
  ES384(Family.EC),
  /** ECDSA on P-521 with SHA-512. */
  ES512(Family.EC),
  /** EdDSA with Ed25519 (RFC 8037), verified with the JDK's own Ed25519. */
  EdDSA(Family.OKP),
  /** HMAC with SHA-256: only with a secret configured on the issuer (legacy Supabase projects). */
  HS256(Family.HMAC),
  /** HMAC with SHA-384: only with a configured secret. */
  HS384(Family.HMAC),
  /** HMAC with SHA-512: only with a configured secret. */
  HS512(Family.HMAC);

  /** The kind of key an algorithm needs. */
  public enum Family {
    /** RSA public keys ({@code kty: RSA}). */
    RSA,
    /** Elliptic-curve public keys ({@code kty: EC}). */
    EC,
    /** Octet key pairs ({@code kty: OKP}, Ed25519). */
    OKP,
    /** A shared secret configured on the issuer (never a key from a JWK set). */
    HMAC
  }

  private final Family family;

  SigningAlgorithm(Family family) {
    this.family = family;
  }

  /** The key family this algorithm needs. */
  public Family family() {
    return family;
  }

  /** The JOSE name ({@code "RS256"}, {@code "EdDSA"}): the same as {@link #name()}. */
  public String joseName() {
    return name();
  }

  /** The algorithm whose JOSE name is exactly {@code alg} (case-sensitive, as RFC 7515 says), if any. */
  public static Optional<SigningAlgorithm> fromJoseName(String alg) {
    for (SigningAlgorithm a : values()) {
      if (a.name().equals(alg)) {
        return Optional.of(a);
      }
    }
    return Optional.empty();
  }
}
