package dev.saaskit.auth.internal.sso;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jose.jwk.source.ImmutableJWKSet;
import com.nimbusds.jose.proc.SecurityContext;
import com.nimbusds.jose.util.Base64URL;
import com.nimbusds.jwt.JWTClaimsSet;
import dev.saaskit.auth.InvalidTokenException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The ID token validator on hand-made tokens: what its refusals say (they end up in logs and SsoExceptions). */
class IdTokenValidatorTest {
  private static final String ISSUER = "https://idp.example";
  private static final Instant NOW = Instant.parse("2026-01-05T10:00:00Z");

  private static IdTokenValidator validator() throws Exception {
    RSAKey key = new RSAKeyGenerator(2048).keyID("k1").generate();
    return new IdTokenValidator(ISSUER, "client-1", Set.of(JWSAlgorithm.RS256),
        new ImmutableJWKSet<SecurityContext>(new JWKSet(key.toPublicJWK())), Clock.fixed(NOW, ZoneOffset.UTC),
        Duration.ofSeconds(60));
  }

  private static String raw(String header) {
    String payload = "{\"iss\":\"" + ISSUER + "\",\"sub\":\"u\",\"aud\":\"client-1\",\"iat\":"
        + NOW.getEpochSecond() + ",\"exp\":" + NOW.plusSeconds(300).getEpochSecond() + "}";
    return Base64URL.encode(header.getBytes(StandardCharsets.UTF_8)) + "."
        + Base64URL.encode(payload.getBytes(StandardCharsets.UTF_8)) + ".c2ln";
  }

  @Test
  void refusalsNeverEchoHeaderTextIntoTheirMessage() throws Exception {
    IdTokenValidator v = validator();
    // the IdP (configured by a tenant admin) chooses these header values; a message quoting them is log injection
    String forgedAlg = raw("{\"alg\":\"RS256\\r\\n2026-01-05 10:00:00 INFO admin login ok FORGED\",\"kid\":\"k1\"}");
    assertThatThrownBy(() -> v.validate(forgedAlg)).isInstanceOfSatisfying(InvalidTokenException.class, e -> {
      assertThat(e.reason()).isEqualTo(InvalidTokenException.Reason.DISALLOWED_ALGORITHM);
      assertThat(e.getMessage()).doesNotContain("FORGED").doesNotContain("\n").doesNotContain("\r");
    });
    String forgedCrit = raw("{\"alg\":\"RS256\",\"kid\":\"k1\",\"crit\":[\"x\\r\\nFORGED critical line\"],"
        + "\"x\\r\\nFORGED critical line\":1}");
    assertThatThrownBy(() -> v.validate(forgedCrit)).isInstanceOfSatisfying(InvalidTokenException.class, e -> {
      assertThat(e.reason()).isEqualTo(InvalidTokenException.Reason.UNSUPPORTED_CRITICAL_HEADER);
      assertThat(e.getMessage()).doesNotContain("FORGED").doesNotContain("\n").doesNotContain("\r");
    });
  }

  @Test
  void numericDatesBeyondALongOfMillisecondsDoNotWrapAround() throws Exception {
    RSAKey key = new RSAKeyGenerator(2048).keyID("k1").generate();
    IdTokenValidator v = new IdTokenValidator(ISSUER, "client-1", Set.of(JWSAlgorithm.RS256),
        new ImmutableJWKSet<SecurityContext>(new JWKSet(key.toPublicJWK())), Clock.fixed(NOW, ZoneOffset.UTC),
        Duration.ofSeconds(60));
    long now = NOW.getEpochSecond();
    assertThat(v.validate(signed(key, "\"iat\":" + now + ",\"exp\":" + (now + 300))).getSubject()).isEqualTo("u");
    // seconds * 1000 in a long: -9223372036854776 wraps to year 292 million, 9223372036854776 to 1969
    for (String times : new String[] {"\"iat\":" + now + ",\"exp\":-9223372036854776",
        "\"iat\":9223372036854776,\"exp\":" + (now + 300),
        "\"iat\":" + now + ",\"nbf\":1e30,\"exp\":" + (now + 300),
        "\"iat\":" + now + ",\"nbf\":9223372036854775807,\"exp\":" + (now + 300)}) {
      assertThatThrownBy(() -> v.validate(signed(key, times))).as(times)
          .isInstanceOfSatisfying(InvalidTokenException.class, e -> assertThat(e.reason()).isIn(
              InvalidTokenException.Reason.EXPIRED, InvalidTokenException.Reason.NOT_YET_VALID,
              InvalidTokenException.Reason.BAD_CLAIM));
    }
  }

  @Test
  void anEmptyCriticalListIsRefused() throws Exception {
    RSAKey key = new RSAKeyGenerator(2048).keyID("k1").generate();
    IdTokenValidator v = new IdTokenValidator(ISSUER, "client-1", Set.of(JWSAlgorithm.RS256),
        new ImmutableJWKSet<SecurityContext>(new JWKSet(key.toPublicJWK())), Clock.fixed(NOW, ZoneOffset.UTC),
        Duration.ofSeconds(60));
    String times = "\"iat\":" + NOW.getEpochSecond() + ",\"exp\":" + (NOW.getEpochSecond() + 300);
    assertThat(v.validate(signed(key, "{\"alg\":\"RS256\",\"kid\":\"k1\"}", times)).getSubject()).isEqualTo("u");
    assertThatThrownBy(() -> v.validate(signed(key, "{\"alg\":\"RS256\",\"kid\":\"k1\",\"crit\":[]}", times)))
        .isInstanceOfSatisfying(InvalidTokenException.class,
            e -> assertThat(e.reason()).isEqualTo(InvalidTokenException.Reason.UNSUPPORTED_CRITICAL_HEADER));
  }

  @Test
  void anRsaKeyBelow2048BitsIsNeverUsed() throws Exception {
    java.security.KeyPairGenerator g = java.security.KeyPairGenerator.getInstance("RSA");
    g.initialize(1024);
    java.security.KeyPair weak = g.generateKeyPair();
    RSAKey weakJwk = new RSAKey.Builder((java.security.interfaces.RSAPublicKey) weak.getPublic()).keyID("k1").build();
    IdTokenValidator v = new IdTokenValidator(ISSUER, "client-1", Set.of(JWSAlgorithm.RS256),
        new ImmutableJWKSet<SecurityContext>(new JWKSet(weakJwk)), Clock.fixed(NOW, ZoneOffset.UTC),
        Duration.ofSeconds(60));
    String header = Base64URL.encode("{\"alg\":\"RS256\",\"kid\":\"k1\"}".getBytes(StandardCharsets.UTF_8)).toString();
    String payload = Base64URL.encode(("{\"iss\":\"" + ISSUER + "\",\"sub\":\"u\",\"aud\":\"client-1\",\"iat\":"
        + NOW.getEpochSecond() + ",\"exp\":" + (NOW.getEpochSecond() + 300) + "}").getBytes(StandardCharsets.UTF_8))
        .toString();
    java.security.Signature rs256 = java.security.Signature.getInstance("SHA256withRSA");
    rs256.initSign(weak.getPrivate());
    rs256.update((header + "." + payload).getBytes(StandardCharsets.US_ASCII));
    String token = header + "." + payload + "." + Base64URL.encode(rs256.sign());
    assertThatThrownBy(() -> v.validate(token)).isInstanceOfSatisfying(InvalidTokenException.class,
        e -> assertThat(e.reason()).isEqualTo(InvalidTokenException.Reason.UNKNOWN_KEY));
  }

  private static String signed(RSAKey key, String times) throws Exception {
    return signed(key, "{\"alg\":\"RS256\",\"kid\":\"k1\"}", times);
  }

  private static String signed(RSAKey key, String headerJson, String times) throws Exception {
    String header = Base64URL.encode(headerJson.getBytes(StandardCharsets.UTF_8)).toString();
    String payload = Base64URL.encode(("{\"iss\":\"" + ISSUER + "\",\"sub\":\"u\",\"aud\":\"client-1\"," + times + "}")
        .getBytes(StandardCharsets.UTF_8)).toString();
    String input = header + "." + payload;
    return input + "." + new com.nimbusds.jose.crypto.RSASSASigner(key).sign(
        new com.nimbusds.jose.JWSHeader(JWSAlgorithm.RS256), input.getBytes(StandardCharsets.US_ASCII));
  }

  @Test
  void emailVerifiedSentAsTheStringFalseIsNotAVerifiedEmail() {
    assertThat(IdTokenValidator.emailVerified(claims("false"))).isFalse();
    assertThat(IdTokenValidator.emailVerified(claims(" FALSE "))).isFalse();
    assertThat(IdTokenValidator.emailVerified(claims(false))).isFalse();
    assertThat(IdTokenValidator.emailVerified(claims("true"))).isTrue();
    assertThat(IdTokenValidator.emailVerified(claims(true))).isTrue();
    assertThat(IdTokenValidator.emailVerified(claims("yes"))).isNull();
    assertThat(IdTokenValidator.emailVerified(claims(1))).isNull();
    assertThat(IdTokenValidator.emailVerified(new JWTClaimsSet.Builder().subject("u").build())).isNull();
  }

  private static JWTClaimsSet claims(Object emailVerified) {
    return new JWTClaimsSet.Builder().subject("u").claim("email_verified", emailVerified).build();
  }
}
