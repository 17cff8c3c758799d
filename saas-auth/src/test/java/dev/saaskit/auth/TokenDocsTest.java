package dev.saaskit.auth;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.core.TenantId;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The issuer registrations and the verify call shown in docs/auth-tokens.md, compiled and checked here. */
class TokenDocsTest {

  @Test
  void issuerRegistrationsForEachIdp() {
    String supabaseJwtSecret = "legacy-supabase-jwt-secret-of-at-least-32-chars";
    // snippet: clerk
    TrustedIssuer clerk = TrustedIssuer.builder("https://clerk.example.com")
        .jwksUri(URI.create("https://clerk.example.com/.well-known/jwks.json"))
        .algorithms(SigningAlgorithm.RS256)
        .authorizedParties("https://app.example.com")
        .claimMapping(ClaimMappings.clerk())
        .build();
    // end snippet
    // snippet: supabase
    TrustedIssuer supabase = TrustedIssuer.builder("https://abcdefgh.supabase.co/auth/v1")
        .jwksUri(URI.create("https://abcdefgh.supabase.co/auth/v1/.well-known/jwks.json"))
        .algorithms(SigningAlgorithm.ES256)
        .audiences("authenticated")
        .claimMapping(ClaimMappings.supabase())
        .build();
    // end snippet
    // snippet: supabase-legacy
    TrustedIssuer supabaseLegacy = TrustedIssuer.builder("https://ijklmnop.supabase.co/auth/v1")
        .hmacSecret(supabaseJwtSecret) // the project's JWT secret; HS256 is then the only algorithm
        .audiences("authenticated")
        .claimMapping(ClaimMappings.supabase())
        .build();
    // end snippet
    // snippet: auth0
    TrustedIssuer auth0 = TrustedIssuer.builder("https://acme.us.auth0.com/")
        .jwksUri(URI.create("https://acme.us.auth0.com/.well-known/jwks.json"))
        .algorithms(SigningAlgorithm.RS256)
        .audiences("https://api.example.com")
        .claimMapping(ClaimMappings.auth0("https://example.com"))
        .build();
    // end snippet
    // snippet: keycloak
    TrustedIssuer keycloak = TrustedIssuer.builder("https://sso.example.com/realms/saas")
        .jwksUri(URI.create("https://sso.example.com/realms/saas/protocol/openid-connect/certs"))
        .algorithms(SigningAlgorithm.RS256)
        .audiences("saas-api")
        .claimMapping(ClaimMappings.keycloak("saas-api"))
        .build();
    // end snippet
    // snippet: workos
    TrustedIssuer workos = TrustedIssuer.builder("https://api.workos.com/user_management/client_01HXYZ")
        .jwksUri(URI.create("https://api.workos.com/sso/jwks/client_01HXYZ"))
        .algorithms(SigningAlgorithm.RS256)
        .claimMapping(ClaimMappings.workos())
        .build();
    // end snippet
    // snippet: enterprise
    TrustedIssuer acmeIdp = TrustedIssuer.builder("https://login.acme-corp.example")
        .jwksUri(URI.create("https://login.acme-corp.example/oauth2/v1/keys"))
        .algorithms(SigningAlgorithm.RS256, SigningAlgorithm.PS256)
        .audiences("api://saas")
        .tenant(TenantId.of("acme"))
        .claimMapping(ClaimMappings.generic().roleClaims("groups").build())
        .clockSkew(Duration.ofSeconds(30))
        .build();
    // end snippet
    // snippet: verifier
    TokenVerifier verifier = TokenVerifier.builder()
        .issuer(clerk)
        .issuer(supabase)
        .issuer(supabaseLegacy)
        .issuer(auth0)
        .issuer(keycloak)
        .issuer(workos)
        .issuer(acmeIdp)
        .build();
    // end snippet
    try (verifier) {
      assertThat(List.of(clerk, supabase, auth0, keycloak, workos, acmeIdp))
          .allMatch(i -> i.keySource() == TrustedIssuer.KeySource.JWKS_URI);
      assertThat(supabaseLegacy.keySource()).isEqualTo(TrustedIssuer.KeySource.HMAC_SECRET);
      assertThat(supabaseLegacy.algorithms()).containsExactly(SigningAlgorithm.HS256);
      assertThat(clerk.authorizedParties()).containsExactly("https://app.example.com");
      assertThat(acmeIdp.fixedTenant()).contains(TenantId.of("acme"));
      assertThat(acmeIdp.tenantRequired()).isTrue();
      // the defaults the docs state
      assertThat(clerk.clockSkew()).isEqualTo(Duration.ofSeconds(60));
      assertThat(clerk.jwksCacheTtl()).isEqualTo(Duration.ofMinutes(5));
      assertThat(clerk.jwksRefreshAhead()).isEqualTo(Duration.ofSeconds(30));
      assertThat(clerk.jwksMinRefetchInterval()).isEqualTo(Duration.ofSeconds(30));
      assertThat(clerk.jwksOutageTolerance()).isEqualTo(Duration.ofHours(6));
      assertThat(clerk.jwksHttpTimeout()).isEqualTo(Duration.ofSeconds(5));
      assertThat(clerk.cachesVerifiedTokens()).isFalse();
      assertThat(supabase.cachesVerifiedTokens()).isTrue();
      assertThat(supabaseLegacy.cachesVerifiedTokens()).isFalse();
      assertThat(clerk.audiences()).isEmpty();
      assertThat(clerk.allowedTenants()).isEqualTo(Set.of());
      assertThat(clerk.tenantRequired()).isFalse();
      assertThat(verifier.cachedTokens()).isZero();
    }
  }

  @Test
  void verifyingARequestsBearerToken() {
    TokenIssuer ourIssuer = TokenIssuer.builder("https://app.example.com").build();
    String authorization = "Bearer " + ourIssuer.token("user-1").tenant(TenantId.of("acme")).roles("admin").sign();
    try (TokenVerifier verifier = TokenVerifier.builder().issuer(ourIssuer.trusted().build()).build()) {
      int status;
      // snippet: verify
      Principal principal;
      try {
        principal = verifier.verify(authorization.substring("Bearer ".length()));
      } catch (InvalidTokenException e) {
        // log e.reason() for metrics; tell the client only "401 invalid token"
        status = 401;
        return;
      }
      TenantId tenant = principal.requireTenant();
      // end snippet
      status = 200;
      assertThat(status).isEqualTo(200);
      assertThat(tenant).isEqualTo(TenantId.of("acme"));
      assertThat(principal.roles()).containsExactly("admin");
    }
  }
}
