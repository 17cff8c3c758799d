package dev.saaskit.auth.internal;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSVerifier;
import com.nimbusds.jose.crypto.ECDSAVerifier;
import com.nimbusds.jose.crypto.MACVerifier;
import com.nimbusds.jose.crypto.RSASSAVerifier;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.OctetKeyPair;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.util.Base64URL;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.X509EncodedKeySpec;

/**
 * Verifies a JWS signature with one key, bound to that key's family: made once per key and reused, so the JWK
 * to JCA key conversion is not paid per token. Not API.
 */
public abstract class SignatureCheck {
  /** The smallest RSA modulus accepted, in bits (RFC 7518 3.3). */
  public static final int MIN_RSA_BITS = 2048;

  /** Whether {@code signature} over {@code signingInput} verifies for {@code header}'s algorithm. */
  public abstract boolean verify(JWSHeader header, byte[] signingInput, Base64URL signature);

  /** A check for an RSA (at least {@value #MIN_RSA_BITS} bits), EC or Ed25519 public key; null for any other. */
  public static @org.jspecify.annotations.Nullable SignatureCheck forPublicKey(JWK key) {
    try {
      if (key instanceof RSAKey) {
        java.security.interfaces.RSAPublicKey rsa = ((RSAKey) key).toRSAPublicKey();
        if (rsa.getModulus().bitLength() < MIN_RSA_BITS) {
          // RFC 7518 3.3 and 3.5: RS* and PS* keys MUST be 2048 bits or larger; a weaker key is never used
          return null;
        }
        return nimbus(new RSASSAVerifier(rsa));
      }
      if (key instanceof ECKey) {
        return nimbus(new ECDSAVerifier(((ECKey) key).toECPublicKey()));
      }
      if (key instanceof OctetKeyPair && Curve.Ed25519.equals(((OctetKeyPair) key).getCurve())) {
        return new Ed25519(((OctetKeyPair) key).getDecodedX());
      }
    } catch (JOSEException | GeneralSecurityException | RuntimeException e) {
      return null;
    }
    return null;
  }

  /** A check for a shared HMAC secret (at least 256 bits). */
  public static SignatureCheck forSecret(byte[] secret) {
    try {
      return nimbus(new MACVerifier(secret));
    } catch (JOSEException e) {
      throw new IllegalArgumentException("HMAC secret refused: " + e.getMessage(), e);
    }
  }

  private static SignatureCheck nimbus(JWSVerifier verifier) {
    return new SignatureCheck() {
      @Override
      public boolean verify(JWSHeader header, byte[] signingInput, Base64URL signature) {
        try {
          return verifier.verify(header, signingInput, signature);
        } catch (JOSEException | RuntimeException e) {
          return false;
        }
      }
    };
  }

  /** Ed25519 through the JDK (Java 15+), so no extra crypto library is needed. */
  private static final class Ed25519 extends SignatureCheck {
    /** DER prefix of an X.509 SubjectPublicKeyInfo for Ed25519 (OID 1.3.101.112), before the 32 key bytes. */
    private static final byte[] SPKI_PREFIX = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};

    private final PublicKey key;

    Ed25519(byte[] x) throws GeneralSecurityException {
      if (x.length != 32) {
        throw new GeneralSecurityException("an Ed25519 public key has 32 bytes");
      }
      byte[] spki = new byte[SPKI_PREFIX.length + 32];
      System.arraycopy(SPKI_PREFIX, 0, spki, 0, SPKI_PREFIX.length);
      System.arraycopy(x, 0, spki, SPKI_PREFIX.length, 32);
      this.key = KeyFactory.getInstance("Ed25519").generatePublic(new X509EncodedKeySpec(spki));
    }

    @Override
    public boolean verify(JWSHeader header, byte[] signingInput, Base64URL signature) {
      if (!JWSAlgorithm.EdDSA.equals(header.getAlgorithm()) && !"Ed25519".equals(header.getAlgorithm().getName())) {
        return false;
      }
      byte[] sig = signature.decode();
      if (sig.length != 64) {
        return false;
      }
      try {
        Signature s = Signature.getInstance("Ed25519");
        s.initVerify(key);
        s.update(signingInput);
        return s.verify(sig);
      } catch (GeneralSecurityException e) {
        return false;
      }
    }
  }
}
