package dev.saaskit.auth;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSSigner;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jose.util.Base64URL;
import com.nimbusds.jose.util.JSONObjectUtils;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Map;

/** Keys and hand-made tokens for the verifier tests (nimbus is used here to sign, never to verify). */
final class TestTokens {
  static final Instant NOW = Instant.parse("2026-03-01T10:00:00Z");

  private TestTokens() {}

  static ECKey ecKey(String kid) {
    try {
      return new ECKeyGenerator(Curve.P_256).keyID(kid).generate();
    } catch (JOSEException e) {
      throw new IllegalStateException(e);
    }
  }

  static RSAKey rsaKey(String kid) {
    try {
      return new RSAKeyGenerator(2048).keyID(kid).generate();
    } catch (JOSEException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The public JWKS JSON of {@code keys}. */
  static String jwks(JWK... keys) {
    List<JWK> list = new ArrayList<>();
    for (JWK k : keys) {
      list.add(k.toPublicJWK());
    }
    return new JWKSet(list).toString(true);
  }

  /** Claims valid at {@link #NOW} for ten minutes. */
  static JWTClaimsSet.Builder claims(String issuer, String subject) {
    return new JWTClaimsSet.Builder().issuer(issuer).subject(subject)
        .issueTime(Date.from(NOW.minusSeconds(5))).expirationTime(Date.from(NOW.plusSeconds(600)));
  }

  static String sign(JWK key, JWTClaimsSet claims) {
    JWSAlgorithm alg = key instanceof RSAKey ? JWSAlgorithm.RS256 : JWSAlgorithm.ES256;
    return sign(key, new JWSHeader.Builder(alg).keyID(key.getKeyID()).build(), claims);
  }

  static String sign(JWK key, JWSHeader header, JWTClaimsSet claims) {
    try {
      JWSSigner signer = key instanceof RSAKey ? new RSASSASigner((RSAKey) key) : new ECDSASigner((ECKey) key);
      SignedJWT jwt = new SignedJWT(header, claims);
      jwt.sign(signer);
      return jwt.serialize();
    } catch (JOSEException e) {
      throw new IllegalStateException(e);
    }
  }

  static String signHmac(byte[] secret, JWSHeader header, JWTClaimsSet claims) {
    try {
      SignedJWT jwt = new SignedJWT(header, claims);
      jwt.sign(new MACSigner(secret));
      return jwt.serialize();
    } catch (JOSEException e) {
      throw new IllegalStateException(e);
    }
  }

  /** A compact JWS with the given raw header and payload JSON and signature part, no signing done. */
  static String raw(String headerJson, String payloadJson, String signature) {
    return b64(headerJson) + "." + b64(payloadJson) + "." + signature;
  }

  static String b64(String json) {
    return Base64URL.encode(json.getBytes(StandardCharsets.UTF_8)).toString();
  }

  static String json(Map<String, Object> map) {
    return JSONObjectUtils.toJSONString(map);
  }
}
