package dev.saaskit.auth.internal;

import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.X509EncodedKeySpec;

/**
 * Ed25519 (RFC 8037 EdDSA) verification with the JDK's own {@code Ed25519} (Java 15+), so no Tink is needed.
 * Thread-safe: a {@link Signature} is made per call.
 */
public final class Ed25519Verifier {
  /** The DER prefix of an X.509 SubjectPublicKeyInfo for Ed25519 (OID 1.3.101.112), before the 32 key bytes. */
  private static final byte[] SPKI_PREFIX = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};

  private final PublicKey key;

  /** A verifier for the 32-byte public key {@code x} (the JWK's {@code x}, decoded). */
  public Ed25519Verifier(byte[] x) {
    if (x.length != 32) {
      throw new IllegalArgumentException("an Ed25519 public key has 32 bytes but this one has " + x.length);
    }
    byte[] spki = new byte[SPKI_PREFIX.length + 32];
    System.arraycopy(SPKI_PREFIX, 0, spki, 0, SPKI_PREFIX.length);
    System.arraycopy(x, 0, spki, SPKI_PREFIX.length, 32);
    try {
      this.key = KeyFactory.getInstance("Ed25519").generatePublic(new X509EncodedKeySpec(spki));
    } catch (GeneralSecurityException e) {
      throw new IllegalArgumentException("not an Ed25519 public key", e);
    }
  }

  /** Whether {@code signature} is a valid Ed25519 signature of {@code signingInput}. */
  public boolean verify(byte[] signingInput, byte[] signature) {
    if (signature.length != 64) {
      return false;
    }
    try {
      Signature s = Signature.getInstance("Ed25519");
      s.initVerify(key);
      s.update(signingInput);
      return s.verify(signature);
    } catch (GeneralSecurityException e) {
      return false;
    }
  }
}
