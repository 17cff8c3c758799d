package dev.saaskit.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.util.Base64URL;
import dev.saaskit.auth.InvalidTokenException.Reason;
import dev.saaskit.auth.internal.SignatureCheck;
import dev.saaskit.testing.MutableClock;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.Signature;
import java.time.Instant;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * Published vectors, written down from their documents: RFC 7515 appendix A.1 (HS256), A.2 (RS256), A.3 (ES256),
 * RFC 7520 section 4.4 (HS256 with a kid) and RFC 8037 appendix A.4/A.5 (Ed25519). The RFC 7515 tokens have no
 * {@code sub}, so through the verifier they get as far as the claims: a {@code BAD_CLAIM} for the missing subject
 * proves the signature and {@code exp} passed, and one flipped signature character turns it into BAD_SIGNATURE.
 */
class TokenVerifierVectorsTest {
  /** RFC 7515's tokens expire at 1300819380 (2011-03-22T18:43:00Z): verify them just before. */
  private static final Instant BEFORE_EXP = Instant.ofEpochSecond(1300819000L);

  /** RFC 7515 A.1 payload: {"iss":"joe",CRLF "exp":1300819380,CRLF "http://example.com/is_root":true}. */
  private static final String RFC7515_PAYLOAD = "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFt"
      + "cGxlLmNvbS9pc19yb290Ijp0cnVlfQ";

  // RFC 7515 A.1: HS256, header {"typ":"JWT",CRLF "alg":"HS256"}, the 64-byte key of A.1.1
  private static final String A1_KEY = "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
  private static final String A1_TOKEN = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9." + RFC7515_PAYLOAD
      + ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

  // RFC 7515 A.2: RS256, header {"alg":"RS256"}, the RSA public key of A.2.1
  private static final String A2_JWKS = "{\"keys\":[{\"kty\":\"RSA\",\"e\":\"AQAB\",\"n\":\""
      + "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-"
      + "pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2Ca"
      + "pHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb"
      + "54h4FRWyuXpoQ\"}]}";
  private static final String A2_TOKEN = "eyJhbGciOiJSUzI1NiJ9." + RFC7515_PAYLOAD + "."
      + "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7"
      + "AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4"
      + "BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K"
      + "0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqv"
      + "hJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrB"
      + "p0igcN_IoypGlUPQGe77Rw";

  // RFC 7515 A.3: ES256, header {"alg":"ES256"}, the P-256 public key of A.3.1
  private static final String A3_JWKS = "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\","
      + "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\",\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}]}";
  private static final String A3_TOKEN = "eyJhbGciOiJFUzI1NiJ9." + RFC7515_PAYLOAD + "."
      + "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";

  // RFC 7520 4.4: HS256 with kid 018c0ae5-4d9b-471b-bfd6-eef314bc7037 over the "Fellowship of the Ring" payload
  private static final String RFC7520_HMAC_KEY = "hJtXIZ2uSN5kbQfbtTNWbpdmhkV8FJG-Onbc6mxCcYg";
  private static final String RFC7520_4_4 = "eyJhbGciOiJIUzI1NiIsImtpZCI6IjAxOGMwYWU1LTRkOWItNDcxYi1iZmQ2LW"
      + "VlZjMxNGJjNzAzNyJ9"
      + ".SXTigJlzIGEgZGFuZ2Vyb3VzIGJ1c2luZXNzLCBGcm9kbywgZ29pbmcgb3V0IH"
      + "lvdXIgZG9vci4gWW91IHN0ZXAgb250byB0aGUgcm9hZCwgYW5kIGlmIHlvdSBk"
      + "b24ndCBrZWVwIHlvdXIgZmVldCwgdGhlcmXigJlzIG5vIGtub3dpbmcgd2hlcm"
      + "UgeW91IG1pZ2h0IGJlIHN3ZXB0IG9mZiB0by4"
      + ".s0h6KThzkfBBBkLspW1h84VsJZFTsPPqMDA7g1Md7p0";

  // RFC 8037 A.4/A.5: Ed25519, header {"alg":"EdDSA"}, payload "Example of Ed25519 signing"
  private static final String RFC8037_JWK = "{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
      + "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}";
  private static final String RFC8037_A4 = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
      + "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

  @Test
  void rfc7515_a1_hs256_verifies_with_the_configured_secret() {
    TrustedIssuer joe = TrustedIssuer.builder("joe").hmacSecret(new Base64URL(A1_KEY).decode()).build();
    assertVectorVerifies(joe, A1_TOKEN);
  }

  @Test
  void rfc7515_a2_rs256_verifies_with_the_static_jwks() {
    TrustedIssuer joe = TrustedIssuer.builder("joe").jwks(A2_JWKS).algorithms(SigningAlgorithm.RS256).build();
    assertVectorVerifies(joe, A2_TOKEN);
  }

  @Test
  void rfc7515_a3_es256_verifies_with_the_static_jwks() {
    TrustedIssuer joe = TrustedIssuer.builder("joe").jwks(A3_JWKS).algorithms(SigningAlgorithm.ES256).build();
    assertVectorVerifies(joe, A3_TOKEN);
  }

  @Test
  void rfc7515_vectors_expire_at_their_exp() {
    TrustedIssuer joe = TrustedIssuer.builder("joe").jwks(A3_JWKS).algorithms(SigningAlgorithm.ES256).build();
    MutableClock clock = MutableClock.at(Instant.ofEpochSecond(1300819380L).plusSeconds(61));
    try (TokenVerifier verifier = TokenVerifier.builder().issuer(joe).clock(clock).build()) {
      assertReason(verifier, A3_TOKEN, Reason.EXPIRED);
      clock.set(Instant.ofEpochSecond(1300819380L).plusSeconds(59)); // within the default 60 s skew
      assertReason(verifier, A3_TOKEN, Reason.BAD_CLAIM);
    }
  }

  @Test
  void rfc7515_signature_checks_accept_the_vectors_and_refuse_other_inputs() throws Exception {
    assertThat(check(JWK.parse(A2_JWKS.substring(9, A2_JWKS.length() - 2)), A2_TOKEN)).isTrue();
    assertThat(check(JWK.parse(A3_JWKS.substring(9, A3_JWKS.length() - 2)), A3_TOKEN)).isTrue();
    SignatureCheck hmac = SignatureCheck.forSecret(new Base64URL(A1_KEY).decode());
    assertThat(verifyParts(hmac, A1_TOKEN)).isTrue();
    assertThat(verifyParts(hmac, tamperPayload(A1_TOKEN))).isFalse();
    assertThat(check(JWK.parse(A3_JWKS.substring(9, A3_JWKS.length() - 2)), tamperPayload(A3_TOKEN))).isFalse();
  }

  @Test
  void rfc7520_4_4_hmac_vector_verifies() {
    SignatureCheck hmac = SignatureCheck.forSecret(new Base64URL(RFC7520_HMAC_KEY).decode());
    assertThat(verifyParts(hmac, RFC7520_4_4)).isTrue();
    assertThat(verifyParts(hmac, flipSignature(RFC7520_4_4))).isFalse();
    assertThat(verifyParts(SignatureCheck.forSecret(new Base64URL(A1_KEY).decode()), RFC7520_4_4)).isFalse();
  }

  @Test
  void rfc8037_a4_ed25519_vector_verifies_with_the_jdk() throws Exception {
    SignatureCheck ed = SignatureCheck.forPublicKey(JWK.parse(RFC8037_JWK));
    assertThat(ed).isNotNull();
    assertThat(verifyParts(ed, RFC8037_A4)).isTrue();
    assertThat(verifyParts(ed, flipSignature(RFC8037_A4))).isFalse();
    assertThat(verifyParts(ed, tamperPayload(RFC8037_A4))).isFalse();
  }

  @Test
  void eddsa_tokens_verify_end_to_end_with_a_jdk_ed25519_key() throws Exception {
    KeyPair pair = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
    byte[] spki = pair.getPublic().getEncoded();
    String x = Base64URL.encode(Arrays.copyOfRange(spki, spki.length - 32, spki.length)).toString();
    String jwks = "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"ed1\",\"x\":\"" + x + "\"}]}";
    TrustedIssuer issuer = TrustedIssuer.builder("https://ed.example").jwks(jwks).algorithms(SigningAlgorithm.EdDSA)
        .build();
    String header = TestTokens.b64("{\"alg\":\"EdDSA\",\"kid\":\"ed1\"}");
    String payload = TestTokens.b64("{\"iss\":\"https://ed.example\",\"sub\":\"u1\",\"exp\":"
        + TestTokens.NOW.plusSeconds(300).getEpochSecond() + ",\"tenant_id\":\"acme\",\"roles\":[\"admin\"]}");
    Signature s = Signature.getInstance("Ed25519");
    s.initSign(pair.getPrivate());
    s.update((header + "." + payload).getBytes(StandardCharsets.US_ASCII));
    String token = header + "." + payload + "." + Base64URL.encode(s.sign());
    try (TokenVerifier verifier = TokenVerifier.builder().issuer(issuer).clock(MutableClock.at(TestTokens.NOW))
        .build()) {
      Principal p = verifier.verify(token);
      assertThat(p.userKey()).isEqualTo(Principal.userKey("https://ed.example", "u1"));
      assertThat(p.tenant()).map(t -> t.value()).contains("acme");
      assertThat(p.roles()).containsExactly("admin");
      assertReason(verifier, flipSignature(token), Reason.BAD_SIGNATURE);
      assertThat(issuer.cachesVerifiedTokens()).isTrue();
    }
  }

  private static void assertVectorVerifies(TrustedIssuer joe, String token) {
    try (TokenVerifier verifier = TokenVerifier.builder().issuer(joe).clock(MutableClock.at(BEFORE_EXP)).build()) {
      // signature and exp pass; the RFC's token has no sub, which our verifier requires
      assertThatThrownBy(() -> verifier.verify(token)).isInstanceOfSatisfying(InvalidTokenException.class, e -> {
        assertThat(e.reason()).isEqualTo(Reason.BAD_CLAIM);
        assertThat(e.getMessage()).contains("sub");
      });
      assertReason(verifier, flipSignature(token), Reason.BAD_SIGNATURE);
      assertReason(verifier, tamperPayload(token), Reason.BAD_SIGNATURE);
    }
  }

  static void assertReason(TokenVerifier verifier, String token, Reason reason) {
    assertThatThrownBy(() -> verifier.verify(token)).isInstanceOfSatisfying(InvalidTokenException.class,
        e -> assertThat(e.reason()).isEqualTo(reason));
  }

  private static boolean check(JWK key, String token) {
    SignatureCheck c = SignatureCheck.forPublicKey(key);
    assertThat(c).isNotNull();
    return verifyParts(c, token);
  }

  private static boolean verifyParts(SignatureCheck check, String token) {
    int dot2 = token.lastIndexOf('.');
    try {
      JWSHeader header = JWSHeader.parse(new Base64URL(token.substring(0, token.indexOf('.'))));
      return check.verify(header, token.substring(0, dot2).getBytes(StandardCharsets.US_ASCII),
          new Base64URL(token.substring(dot2 + 1)));
    } catch (java.text.ParseException e) {
      throw new AssertionError(e);
    }
  }

  /** The token with one signature byte changed (not the last character, whose low bits may be padding). */
  static String flipSignature(String token) {
    int dot2 = token.lastIndexOf('.');
    byte[] sig = new Base64URL(token.substring(dot2 + 1)).decode();
    sig[sig.length / 2] ^= 0x01;
    return token.substring(0, dot2 + 1) + Base64URL.encode(sig);
  }

  /** The token with its payload changed by one byte and the original signature. */
  private static String tamperPayload(String token) {
    int dot1 = token.indexOf('.');
    int dot2 = token.lastIndexOf('.');
    byte[] payload = new Base64URL(token.substring(dot1 + 1, dot2)).decode();
    int at = new String(payload, StandardCharsets.UTF_8).indexOf("xample");
    payload[at] ^= 0x20; // "example" becomes "eXample": still valid JSON, same claims shape

    return token.substring(0, dot1 + 1) + Base64URL.encode(payload) + token.substring(dot2);
  }
}
