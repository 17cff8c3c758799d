package dev.saaskit.auth;

/**
 * The JWS algorithms a {@link TrustedIssuer} may be pinned to. The token header never chooses: a token whose
 * {@code alg} is not one of its issuer's algorithms is refused, and each key is used only with the family it
 * belongs to (an RSA or EC public key can never verify a MAC). {@code none} is not here and never accepted.
 */
public enum SigningAlgorithm {
  /** RSASSA-PKCS1-v1_5 with SHA-256 (the most common IdP default). */
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
  /** ECDSA on P-256 with SHA-256 (Supabase's asymmetric keys, our {@code TokenIssuer}'s default). */
  ES256(Family.EC),
  /** ECDSA on P-384 with SHA-384. */
  ES384(Family.EC),
  /** ECDSA on P-521 with SHA-512. */
  ES512(Family.EC),
  /** EdDSA with Ed25519 (RFC 8037), verified by the JDK's own implementation. */
  EdDSA(Family.OKP),
  /** HMAC with SHA-256 and a shared secret (legacy Supabase projects): only with a configured secret. */
  HS256(Family.HMAC),
  /** HMAC with SHA-384 and a shared secret. */
  HS384(Family.HMAC),
  /** HMAC with SHA-512 and a shared secret. */
  HS512(Family.HMAC);

  /** The kind of key an algorithm needs. */
  public enum Family {
    /** RSA public keys. */
    RSA,
    /** Elliptic-curve public keys (P-256, P-384, P-521). */
    EC,
    /** Octet key pairs (Ed25519). */
    OKP,
    /** A shared secret. */
    HMAC
  }

  private final Family family;

  SigningAlgorithm(Family family) {
    this.family = family;
  }

  /** The kind of key this algorithm needs. */
  public Family family() {
    return family;
  }

  /** Whether verifying costs enough to be worth caching verified tokens (ECDSA and EdDSA). */
  boolean expensiveToVerify() {
    return family == Family.EC || family == Family.OKP;
  }
}
