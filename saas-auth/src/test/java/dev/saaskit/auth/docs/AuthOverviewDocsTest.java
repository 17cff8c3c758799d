package dev.saaskit.auth.docs;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.auth.AccessDeniedException;
import dev.saaskit.auth.AuthContext;
import dev.saaskit.auth.Authorizer;
import dev.saaskit.auth.ClaimMappings;
import dev.saaskit.auth.InvalidTokenException;
import dev.saaskit.auth.Principal;
import dev.saaskit.auth.RoleModel;
import dev.saaskit.auth.SigningAlgorithm;
import dev.saaskit.auth.TokenIssuer;
import dev.saaskit.auth.TokenVerifier;
import dev.saaskit.auth.TrustedIssuer;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The code of docs/auth.md: a request from bearer token to a decision, with the tenant set for RLS. */
class AuthOverviewDocsTest {
  @Test
  void fromTokenToDecision() {
    // the IdP: our own minimal issuer stands in for Clerk, Auth0, Keycloak...
    TokenIssuer idp = TokenIssuer.builder("https://idp.example.com").build();
    String bearer = idp.token("user-42").tenant(TenantId.of("acme")).roles("member").permissionVersion(1)
        .audience("api").ttl(Duration.ofMinutes(10)).sign();
    String jwksJson = idp.jwksJson();
    StringBuilder log = new StringBuilder();
    // snippet: overview
    TokenVerifier verifier = TokenVerifier.builder()
        .issuer(TrustedIssuer.builder("https://idp.example.com")
            .jwks(jwksJson)                        // or .jwksUri(...): fetched, cached, refreshed, rate-limited
            .algorithms(SigningAlgorithm.ES256)    // pinned: the token header never chooses
            .audiences("api")
            .claimMapping(ClaimMappings.standard())
            .build())
        .build();
    Authorizer authorizer = Authorizer.builder(RoleModel.defaults()).build();

    // per request, at the edge:
    try {
      Principal principal = verifier.verify(bearer);        // signature, exp, aud, tenant binding
      AuthContext.run(principal, () -> {                    // TenantContext = the token's tenant: RLS follows
        authorizer.require(principal, "invoice:read");      // in memory, no query, no allocation
        log.append("200 for tenant ").append(TenantContext.require().value());
      });
    } catch (InvalidTokenException e) {
      log.append("401");                                    // e.reason() to logs and metrics only
    } catch (AccessDeniedException e) {
      log.append("403");
    }
    // end snippet
    assertThat(log).hasToString("200 for tenant acme");
    verifier.close();
  }
}
