package dev.saaskit.auth;

import static dev.saaskit.auth.TestTokens.NOW;
import static dev.saaskit.auth.TokenVerifierVectorsTest.assertReason;
import static org.assertj.core.api.Assertions.assertThat;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.jwk.ECKey;
import dev.saaskit.auth.InvalidTokenException.Reason;
import dev.saaskit.testing.MutableClock;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@code exp}, {@code nbf} and {@code iat} at the edges of their range, signed with the issuer's real key (so only
 * the time checks can refuse them). A NumericDate is seconds; turned into milliseconds in a long it overflows past
 * about 292 million years and wraps around: a far-future {@code nbf} would become a date in 1969 (valid now) and a
 * hugely negative {@code exp} a date in the far future (never expiring).
 */
class TokenVerifierNumericDateTest {
  private static final String ISS = "https://ec.example";
  private final ECKey key = TestTokens.ecKey("ec-1");
  private final TokenVerifier verifier = TokenVerifier.builder().clock(MutableClock.at(NOW))
      .issuer(TrustedIssuer.builder(ISS).jwks(TestTokens.jwks(key)).algorithms(SigningAlgorithm.ES256).build())
      .build();

  @AfterEach
  void tearDown() {
    verifier.close();
  }

  /** A token with {@code extraClaims} (JSON members, written as they are) signed by the issuer's key. */
  private String token(String extraClaims) {
    String header = "{\"alg\":\"ES256\",\"kid\":\"ec-1\"}";
    String payload = "{\"iss\":\"" + ISS + "\",\"sub\":\"u\"," + extraClaims + "}";
    String signingInput = TestTokens.b64(header) + "." + TestTokens.b64(payload);
    try {
      return signingInput + "." + new ECDSASigner(key).sign(new JWSHeader(JWSAlgorithm.ES256),
          signingInput.getBytes(StandardCharsets.US_ASCII));
    } catch (JOSEException e) {
      throw new IllegalStateException(e);
    }
  }

  private static long now() {
    return NOW.getEpochSecond();
  }

  @Test
  void ordinary_values_still_work() {
    assertThat(verifier.verify(token("\"exp\":" + (now() + 600) + ",\"nbf\":" + (now() - 5) + ",\"iat\":"
        + (now() - 5))).expiresAt()).contains(Instant.ofEpochSecond(now() + 600));
    // RFC 7519 allows fractional seconds
    assertThat(verifier.verify(token("\"exp\":" + (now() + 600) + ".75")).expiresAt())
        .contains(Instant.ofEpochSecond(now() + 600));
    // four centuries ahead is a date like any other
    assertThat(verifier.verify(token("\"exp\":" + (now() + 400L * 366 * 86_400))).subject()).isEqualTo("u");
  }

  @Test
  void a_hugely_negative_exp_is_not_a_token_that_never_expires() {
    // -9223372036854776 s * 1000 wraps to +9223372036854775616 ms: year 292 million
    assertThatRefused(token("\"exp\":-9223372036854776"));
    assertThatRefused(token("\"exp\":-1e300"));
    assertThatRefused(token("\"exp\":-1"));
  }

  @Test
  void a_far_future_nbf_or_iat_is_not_valid_now() {
    long exp = now() + 600;
    for (String far : new String[] {"9223372036854775807", "9223372036854776", "1e30", "18446744073709551616"}) {
      assertThatRefused(token("\"exp\":" + exp + ",\"nbf\":" + far), Reason.NOT_YET_VALID, Reason.BAD_CLAIM);
      assertThatRefused(token("\"exp\":" + exp + ",\"iat\":" + far), Reason.NOT_YET_VALID, Reason.BAD_CLAIM);
    }
  }

  @Test
  void an_exp_too_large_for_any_date_is_refused() {
    assertThatRefused(token("\"exp\":1e30"), Reason.BAD_CLAIM, Reason.EXPIRED);
    assertThatRefused(token("\"exp\":9223372036854775807"), Reason.BAD_CLAIM, Reason.EXPIRED);
  }

  @Test
  void a_numeric_date_must_be_a_number() {
    assertReason(verifier, token("\"exp\":\"" + (now() + 600) + "\""), Reason.BAD_CLAIM);
    assertReason(verifier, token("\"exp\":" + (now() + 600) + ",\"nbf\":true"), Reason.BAD_CLAIM);
    assertReason(verifier, token("\"exp\":" + (now() + 600) + ",\"iat\":[1]"), Reason.BAD_CLAIM);
  }

  private void assertThatRefused(String token, Reason... allowed) {
    Reason[] reasons = allowed.length == 0 ? new Reason[] {Reason.EXPIRED, Reason.BAD_CLAIM} : allowed;
    try {
      Principal p = verifier.verify(token);
      throw new AssertionError("accepted, expiring at " + p.expiresAt().orElse(null));
    } catch (InvalidTokenException e) {
      assertThat(e.reason()).isIn((Object[]) reasons);
    }
  }
}
