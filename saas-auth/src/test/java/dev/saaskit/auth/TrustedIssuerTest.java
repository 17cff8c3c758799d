package dev.saaskit.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** A static JWK set is checked when the issuer is built, not when the first token arrives. */
class TrustedIssuerTest {
  @Test
  void aJwkSetThatDoesNotParseOrHoldsNoPublicKeyFailsTheBuild() {
    assertThatThrownBy(() -> TrustedIssuer.builder("https://idp.test").jwks("{not json")
        .algorithms(SigningAlgorithm.RS256).build())
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("not a JWK set");
    // a shared secret published as a JWK is never a verification key of ours: nothing public is left
    assertThatThrownBy(() -> TrustedIssuer.builder("https://idp.test")
        .jwks("{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA\"}]}")
        .algorithms(SigningAlgorithm.RS256).build())
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("no public key");
    TokenIssuer issuer = TokenIssuer.builder("https://idp.test").build();
    assertThat(issuer.trusted().build().keySource()).isEqualTo(TrustedIssuer.KeySource.STATIC_JWKS);
  }
}
