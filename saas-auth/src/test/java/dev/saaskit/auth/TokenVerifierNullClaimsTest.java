package dev.saaskit.auth;

import static dev.saaskit.auth.TestTokens.NOW;
import static dev.saaskit.auth.TestTokens.b64;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.RSAKey;
import dev.saaskit.testing.MutableClock;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Signed tokens whose header or claims hold JSON {@code null} where a value is expected: each is a principal or an
 * {@link InvalidTokenException}, never a NullPointerException (hostile input gets a precise refusal).
 */
class TokenVerifierNullClaimsTest {
  private static final String ISS = "https://rsa.example";
  private final RSAKey rsa = TestTokens.rsaKey("rsa-1");

  private String signed(String headerJson, String payloadJson) throws JOSEException {
    String input = b64(headerJson) + "." + b64(payloadJson);
    return input + "." + new RSASSASigner(rsa).sign(new JWSHeader(JWSAlgorithm.RS256),
        input.getBytes(StandardCharsets.US_ASCII));
  }

  @Test
  void nullsInTheHeaderOrTheClaimsAreRefusedPreciselyOrIgnored() throws Exception {
    TokenVerifier verifier = TokenVerifier.builder().clock(MutableClock.at(NOW))
        .issuer(TrustedIssuer.builder(ISS).jwks(TestTokens.jwks(rsa)).algorithms(SigningAlgorithm.RS256)
            .audiences("api").authorizedParties("app").build())
        .build();
    try {
      String header = "{\"alg\":\"RS256\",\"kid\":\"rsa-1\"}";
      String base = "\"iss\":\"" + ISS + "\",\"aud\":\"api\",\"azp\":\"app\",\"exp\":" + (NOW.getEpochSecond() + 60);
      assertThat(verifier.verify(signed(header, "{" + base + ",\"sub\":\"u\"}")).subject()).isEqualTo("u");
      List<String> headers = List.of("{\"alg\":\"RS256\",\"kid\":null}", "{\"alg\":null,\"kid\":\"rsa-1\"}",
          "{\"alg\":\"RS256\",\"kid\":\"rsa-1\",\"crit\":null}", "{\"alg\":\"RS256\",\"kid\":\"rsa-1\",\"typ\":null}",
          "{\"alg\":\"RS256\",\"kid\":\"rsa-1\",\"jku\":null}", "null", "{}");
      for (String h : headers) {
        check(verifier, signed(h, "{" + base + ",\"sub\":\"u\"}"), h);
      }
      List<String> claims = List.of("\"sub\":null", "\"sub\":\"u\",\"exp\":null", "\"sub\":\"u\",\"nbf\":null",
          "\"sub\":\"u\",\"iat\":null", "\"sub\":\"u\",\"aud\":null", "\"sub\":\"u\",\"aud\":[null]",
          "\"sub\":\"u\",\"azp\":null", "\"sub\":\"u\",\"iss\":null", "\"sub\":\"u\",\"jti\":null",
          "\"sub\":\"u\",\"tenant_id\":null", "\"sub\":\"u\",\"roles\":null", "\"sub\":\"u\",\"roles\":[null]",
          "\"sub\":\"u\",\"permissions\":[null]", "\"sub\":\"u\",\"scope\":null", "\"sub\":\"u\",\"email\":null",
          "\"sub\":\"u\",\"saaskit_pv\":null", "\"sub\":\"u\",\"org\":{\"id\":null}", "\"sub\":\"u\",\"o\":null");
      for (String c : claims) {
        // the later key wins in the parser: a null after the base's value replaces it
        check(verifier, signed(header, "{" + base + "," + c + "}"), c);
      }
      check(verifier, signed(header, "null"), "null payload");
      check(verifier, signed(header, "[null]"), "array payload");
    } finally {
      verifier.close();
    }
  }

  private static void check(TokenVerifier verifier, String token, String what) {
    Throwable t = catchThrowable(() -> verifier.verify(token));
    assertThat(t).as(what).satisfiesAnyOf(x -> assertThat(x).isNull(),
        x -> assertThat(x).isInstanceOf(InvalidTokenException.class));
  }
}
