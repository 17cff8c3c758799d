package dev.saaskit.auth;

import static dev.saaskit.auth.TestTokens.NOW;
import static dev.saaskit.auth.TokenVerifierVectorsTest.assertReason;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.nimbusds.jose.JWSObject;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import dev.saaskit.auth.InvalidTokenException.Reason;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.MutableClock;
import java.io.IOException;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The minimal issuer of our own: minting, the public JWKS, rotation with a grace period, and its trusted issuer. */
class TokenIssuerTest {
  private final MutableClock clock = MutableClock.at(NOW);

  @Test
  void mintedTokensVerifyIntoThePrincipalTheyDescribe() {
    // snippet: minimal-issuer
    TokenIssuer issuer = TokenIssuer.builder("https://app.example.com")
        .clock(clock)
        .build();
    String token = issuer.token("user-42")
        .tenant(TenantId.of("acme"))
        .roles("admin")
        .permissions("invoices:export")
        .permissionVersion(3)
        .audience("api")
        .ttl(Duration.ofMinutes(15))
        .sign();
    TokenVerifier verifier = TokenVerifier.builder()
        .issuer(issuer.trusted().audiences("api").build())
        .clock(clock)
        .build();
    Principal principal = verifier.verify(token);
    // end snippet
    try (verifier) {
      assertThat(principal.userKey()).isEqualTo(Principal.userKey("https://app.example.com", "user-42"));
      assertThat(principal.tenant()).contains(TenantId.of("acme"));
      assertThat(principal.roles()).containsExactly("admin");
      assertThat(principal.permissions()).containsExactly("invoices:export");
      assertThat(principal.permissionVersion().getAsLong()).isEqualTo(3);
      assertThat(principal.expiresAt()).contains(NOW.plus(Duration.ofMinutes(15)));
      assertThat(principal.credentialId()).isPresent();
      clock.advance(Duration.ofMinutes(17));
      assertReason(verifier, token, Reason.EXPIRED);
    }
  }

  @Test
  void signsEs256ByDefaultAndRs256OnRequest() throws Exception {
    TokenIssuer es = TokenIssuer.builder("https://a.example").clock(clock).build();
    assertThat(JWSObject.parse(es.token("u").sign()).getHeader().getAlgorithm().getName()).isEqualTo("ES256");
    TokenIssuer rs = TokenIssuer.builder("https://b.example").algorithm(SigningAlgorithm.RS256).clock(clock).build();
    String token = rs.token("u").sign();
    assertThat(JWSObject.parse(token).getHeader().getAlgorithm().getName()).isEqualTo("RS256");
    assertThat(JWSObject.parse(token).getHeader().getKeyID()).isEqualTo(rs.currentKeyId());
    try (TokenVerifier v = TokenVerifier.builder().issuer(rs.trusted().build()).clock(clock).build()) {
      assertThat(v.verify(token).subject()).isEqualTo("u");
    }
    assertThatThrownBy(() -> TokenIssuer.builder("x").algorithm(SigningAlgorithm.HS256))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("HS256");
  }

  @Test
  void theJwksHasPublicKeysOnly() throws Exception {
    for (SigningAlgorithm alg : new SigningAlgorithm[] {SigningAlgorithm.ES256, SigningAlgorithm.RS256}) {
      TokenIssuer issuer = TokenIssuer.builder("https://a.example").algorithm(alg).build();
      issuer.rotate();
      String json = issuer.jwksJson();
      JWKSet set = JWKSet.parse(json);
      assertThat(set.getKeys()).hasSize(2);
      for (JWK k : set.getKeys()) {
        assertThat(k.isPrivate()).isFalse();
      }
      for (String privatePart : new String[] {"\"d\"", "\"p\"", "\"q\"", "\"dp\"", "\"dq\"", "\"qi\"", "\"k\""}) {
        assertThat(json).doesNotContain(privatePart);
      }
    }
  }

  @Test
  void rotationKeepsThePreviousKeyForItsGracePeriod() throws IOException {
    TokenIssuer issuer = TokenIssuer.builder("https://app.example.com").clock(clock).retiredKeys(1).build();
    String first = issuer.token("u").ttl(Duration.ofHours(1)).sign();
    String firstKid = issuer.currentKeyId();
    issuer.rotate();
    String second = issuer.token("u").ttl(Duration.ofHours(1)).sign();
    assertThat(issuer.currentKeyId()).isNotEqualTo(firstKid);
    try (TokenVerifier v = TokenVerifier.builder().issuer(issuer.trusted().build()).clock(clock).build()) {
      assertThat(v.verify(first).subject()).isEqualTo("u"); // signed before the rotation, still published
      assertThat(v.verify(second).subject()).isEqualTo("u");
    }
    issuer.rotate();
    assertThat(issuer.jwksJson()).doesNotContain(firstKid);
    try (TokenVerifier v = TokenVerifier.builder().issuer(issuer.trusted().build()).clock(clock).build()) {
      assertReason(v, first, Reason.UNKNOWN_KEY); // beyond the grace period
      assertThat(v.verify(second).subject()).isEqualTo("u");
    }
    // served at a URL, the rotation reaches verifiers through the JWKS refetch
    try (CountingHttpServer server = new CountingHttpServer(issuer.jwksJson());
        TokenVerifier v = TokenVerifier.builder().issuer(TrustedIssuer.builder(issuer.issuer())
            .jwksUri(server.uri("/jwks")).algorithms(SigningAlgorithm.ES256)
            .jwksMinRefetchInterval(Duration.ofMillis(1)).build()).clock(clock).build()) {
      assertThat(v.verify(second).subject()).isEqualTo("u");
      issuer.rotate();
      server.serve(issuer.jwksJson());
      String third = issuer.token("u").sign();
      dev.saaskit.testing.Await.until("the rotated-in key is fetched", Duration.ofSeconds(20), () -> {
        try {
          return v.verify(third).subject().equals("u");
        } catch (InvalidTokenException e) {
          return false;
        }
      });
    }
  }

  @Test
  void extraClaimsAndEmailTravelButNeverReplaceTheSubject() {
    TokenIssuer issuer = TokenIssuer.builder("https://app.example.com").clock(clock).build();
    String token = issuer.token("user-1").email("ana@acme.example").claim("plan", "pro")
        .claim("ctx", Map.of("region", "eu")).sign();
    try (TokenVerifier v = TokenVerifier.builder().issuer(issuer.trusted().build()).clock(clock).build()) {
      Principal p = v.verify(token);
      assertThat(p.subject()).isEqualTo("user-1");
      assertThat(p.email()).contains("ana@acme.example");
      assertThat(p.tenant()).isEmpty();
    }
  }

  @Test
  void buildersFailFastOnBadValues() {
    assertThatThrownBy(() -> TokenIssuer.builder(" ")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> TokenIssuer.builder("x").retiredKeys(11)).hasMessageContaining("11");
    assertThatThrownBy(() -> TokenIssuer.builder("x").defaultTtl(Duration.ZERO)).hasMessageContaining("PT0S");
    TokenIssuer issuer = TokenIssuer.builder("x").build();
    assertThatThrownBy(() -> issuer.token("")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> issuer.token("u").permissionVersion(-1)).hasMessageContaining("-1");
    assertThatThrownBy(() -> issuer.token("u").ttl(Duration.ofSeconds(-1))).isInstanceOf(
        IllegalArgumentException.class);
  }
}
