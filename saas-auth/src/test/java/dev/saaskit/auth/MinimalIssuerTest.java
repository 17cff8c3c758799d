package dev.saaskit.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import dev.saaskit.auth.InvalidTokenException.Reason;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.MutableClock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@link TokenIssuer}: minted tokens verify, the JWKS is public-only, rotation keeps the previous key published. */
class MinimalIssuerTest {
  private static final String ISS = "https://auth.app.example";
  private final MutableClock clock = MutableClock.at(Instant.parse("2026-05-01T12:00:00Z"));

  @Test
  void aMintedTokenVerifiesIntoThePrincipalItDescribes() {
    TokenIssuer issuer = TokenIssuer.builder(ISS).clock(clock).build();
    String token = issuer.token("user-42").tenant(TenantId.of("acme")).roles("admin")
        .permissions("invoice:read").permissionVersion(3).audience("api").email("a@example.com")
        .ttl(Duration.ofMinutes(5)).sign();
    try (TokenVerifier v = TokenVerifier.builder().clock(clock)
        .issuer(issuer.trusted().audiences("api").build()).build()) {
      Principal p = v.verify(token);
      assertThat(p.userKey()).isEqualTo(Principal.userKey(ISS, "user-42"));
      assertThat(p.tenant()).contains(TenantId.of("acme"));
      assertThat(p.roles()).containsExactly("admin");
      assertThat(p.permissions()).containsExactly("invoice:read");
      assertThat(p.permissionVersion()).hasValue(3);
      assertThat(p.email()).contains("a@example.com");
      assertThat(p.expiresAt()).contains(clock.instant().plus(Duration.ofMinutes(5)));
      assertThat(p.credentialId()).isPresent();

      clock.advance(Duration.ofMinutes(5).plusSeconds(61));
      assertThatThrownBy(() -> v.verify(token)).isInstanceOf(InvalidTokenException.class)
          .satisfies(e -> assertThat(((InvalidTokenException) e).reason()).isEqualTo(Reason.EXPIRED));
    }
  }

  @Test
  void theJwksHoldsPublicKeysOnly() throws Exception {
    for (SigningAlgorithm alg : List.of(SigningAlgorithm.ES256, SigningAlgorithm.RS256)) {
      TokenIssuer issuer = TokenIssuer.builder(ISS).algorithm(alg).clock(clock).build();
      issuer.rotate();
      String json = issuer.jwksJson();
      JWKSet set = JWKSet.parse(json);
      assertThat(set.getKeys()).hasSize(2);
      for (JWK k : set.getKeys()) {
        assertThat(k.isPrivate()).isFalse();
        Map<String, Object> fields = k.toJSONObject();
        assertThat(fields).doesNotContainKeys("d", "p", "q", "dp", "dq", "qi", "oth", "k");
      }
      assertThat(json).doesNotContain("\"d\"");
    }
  }

  @Test
  void rotationSignsWithTheNewKeyAndKeepsThePreviousOnePublished() {
    TokenIssuer issuer = TokenIssuer.builder(ISS).clock(clock).retiredKeys(1).build();
    String firstKid = issuer.currentKeyId();
    String before = issuer.token("u").sign();
    issuer.rotate();
    String secondKid = issuer.currentKeyId();
    assertThat(secondKid).isNotEqualTo(firstKid);
    String after = issuer.token("u").sign();
    try (TokenVerifier v = TokenVerifier.builder().clock(clock).issuer(issuer.trusted().build()).build()) {
      assertThat(v.verify(before).subject()).isEqualTo("u");
      assertThat(v.verify(after).subject()).isEqualTo("u");
    }
    issuer.rotate(); // the first key is now beyond the one retired key kept
    try (TokenVerifier v = TokenVerifier.builder().clock(clock).issuer(issuer.trusted().build()).build()) {
      assertThat(v.verify(after).subject()).isEqualTo("u");
      assertThatThrownBy(() -> v.verify(before)).isInstanceOf(InvalidTokenException.class)
          .satisfies(e -> assertThat(((InvalidTokenException) e).reason()).isEqualTo(Reason.UNKNOWN_KEY));
    }
  }

  @Test
  void anotherIssuersTokenIsRefusedEvenWithTheSameIss() {
    TokenIssuer real = TokenIssuer.builder(ISS).clock(clock).build();
    TokenIssuer impostor = TokenIssuer.builder(ISS).clock(clock).build();
    try (TokenVerifier v = TokenVerifier.builder().clock(clock).issuer(real.trusted().build()).build()) {
      assertThatThrownBy(() -> v.verify(impostor.token("admin").sign())).isInstanceOf(InvalidTokenException.class)
          .satisfies(e -> assertThat(((InvalidTokenException) e).reason()).isEqualTo(Reason.UNKNOWN_KEY));
    }
  }

  @Test
  void builderFailsFastOnBadSettings() {
    assertThatThrownBy(() -> TokenIssuer.builder(ISS).algorithm(SigningAlgorithm.HS256))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("HS256");
    assertThatThrownBy(() -> TokenIssuer.builder(ISS).defaultTtl(Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("defaultTtl");
    assertThatThrownBy(() -> TokenIssuer.builder(" ")).isInstanceOf(IllegalArgumentException.class);
  }
}
