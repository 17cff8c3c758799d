package dev.saaskit.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.saaskit.auth.InvalidTokenException.Reason;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Base64;
import org.junit.jupiter.api.Test;

/**
 * Refusal messages go to logs: they must not carry text an attacker put in the token (line breaks that forge log
 * lines, long strings), nor the token itself.
 */
class TokenVerifierLogSafetyTest {
  private static final String ISS = "https://app.example";
  private static final Instant NOW = Instant.parse("2026-06-01T00:00:00Z");
  private static final String EVIL = "x\r\nINFO forged log line admin logged in";

  private final TokenIssuer issuer = TokenIssuer.builder(ISS).clock(Clock.fixed(NOW, ZoneOffset.UTC)).build();

  private TokenVerifier verifier(ClaimMapping mapping) {
    return TokenVerifier.builder().clock(Clock.fixed(NOW, ZoneOffset.UTC))
        .issuer(issuer.trusted().claimMapping(mapping).build()).build();
  }

  private static String b64(String s) {
    return Base64.getUrlEncoder().withoutPadding().encodeToString(s.getBytes(StandardCharsets.UTF_8));
  }

  private static String handMade(String headerJson) {
    String payload = "{\"iss\":\"" + ISS + "\",\"sub\":\"u\",\"exp\":" + (NOW.getEpochSecond() + 60) + "}";
    return b64(headerJson) + "." + b64(payload) + "." + b64("not-a-signature");
  }

  private static InvalidTokenException refuse(TokenVerifier v, String token) {
    InvalidTokenException e = catchThrowableOfType(InvalidTokenException.class, () -> v.verify(token));
    assertThat(e).isNotNull();
    assertThat(e.getMessage()).doesNotContain("\r", "\n", token);
    return e;
  }

  @Test
  void criticalHeaderNamesAreNotEchoed() {
    try (TokenVerifier v = verifier(ClaimMappings.standard())) {
      String json = "{\"alg\":\"ES256\",\"kid\":\"k\",\"crit\":[\"" + EVIL.replace("\r\n", "\\r\\n") + "\"],\""
          + EVIL.replace("\r\n", "\\r\\n") + "\":1}";
      InvalidTokenException e = refuse(v, handMade(json));
      assertThat(e.reason()).isEqualTo(Reason.UNSUPPORTED_CRITICAL_HEADER);
      assertThat(e.getMessage()).doesNotContain("forged");
    }
  }

  @Test
  void anOddAlgorithmNameIsNotEchoed() {
    try (TokenVerifier v = verifier(ClaimMappings.standard())) {
      String json = "{\"alg\":\"" + EVIL.replace("\r\n", "\\r\\n") + "\",\"kid\":\"k\"}";
      InvalidTokenException e = refuse(v, handMade(json));
      assertThat(e.reason()).isIn(Reason.DISALLOWED_ALGORITHM, Reason.MALFORMED);
      // at most a short, sanitized prefix of the name
      assertThat(e.getMessage()).doesNotContain("admin logged in");
    }
  }

  @Test
  void aCustomMappingsExceptionMessageIsNotEchoed() {
    ClaimMapping leaky = (claims, p) -> {
      throw new IllegalStateException("secret claim value " + EVIL);
    };
    try (TokenVerifier v = verifier(leaky)) {
      String token = issuer.token("u").sign();
      InvalidTokenException e = refuse(v, token);
      assertThat(e.reason()).isEqualTo(Reason.BAD_CLAIM);
      assertThat(e.getMessage()).doesNotContain("secret claim value", "forged").contains("IllegalStateException");
    }
  }

  @Test
  void noRefusalMessageContainsTheToken() {
    try (TokenVerifier v = verifier(ClaimMappings.standard())) {
      String token = issuer.token("u").sign();
      String tampered = token.substring(0, token.length() - 6) + (token.endsWith("AAAAAA") ? "BBBBBB" : "AAAAAA");
      InvalidTokenException e = refuse(v, tampered);
      assertThat(e.reason()).isEqualTo(Reason.BAD_SIGNATURE);
      assertThat(e.getMessage()).doesNotContain(token.substring(token.lastIndexOf('.') + 1, token.length() - 6));
    }
  }
}
