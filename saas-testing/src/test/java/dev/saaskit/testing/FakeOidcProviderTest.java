package dev.saaskit.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.crypto.ECDSAVerifier;
import com.nimbusds.jose.crypto.RSASSAVerifier;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.util.JSONObjectUtils;
import com.nimbusds.jwt.JWTParser;
import com.nimbusds.jwt.PlainJWT;
import com.nimbusds.jwt.SignedJWT;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The fake IdP keeps the protocol's promises a relying party relies on, and breaks them when told to. */
class FakeOidcProviderTest {
  private static final String REDIRECT = "http://localhost:9999/callback";
  private static final String VERIFIER = "verifier-0123456789-0123456789-0123456789-abc";
  private final HttpClient http = HttpClient.newHttpClient();

  @Test
  void discoveryDescribesTheEndpointsAndTheJwksHoldsThePublicKeyOnly() throws Exception {
    try (FakeOidcProvider idp = FakeOidcProvider.start()) {
      Map<String, Object> doc = JSONObjectUtils.parse(get(idp.issuer() + "/.well-known/openid-configuration"));
      assertThat(doc).containsEntry("issuer", idp.issuer())
          .containsEntry("token_endpoint", idp.issuer() + "/token")
          .containsEntry("authorization_response_iss_parameter_supported", true);
      assertThat(idp.issuer()).startsWith("http://127.0.0.1:");
      JWKSet keys = JWKSet.parse(get(idp.jwksUri().toString()));
      assertThat(keys.getKeys()).hasSize(1);
      assertThat(keys.getKeys().get(0).isPrivate()).isFalse();
      assertThat(idp.discoveryRequests()).isEqualTo(1);
    }
  }

  @Test
  void codeFlowWithPkceIssuesASignedIdTokenWithTheNonceAndEachCodeWorksOnce() throws Exception {
    try (FakeOidcProvider idp = FakeOidcProvider.builder()
        .user(new FakeOidcProvider.User("sub-7", "ann@acme.test", true, "Ann")).start()) {
      URI callback = idp.authorize(authorizationUri(idp, "st-1", "n-1"));
      Map<String, String> q = query(callback);
      assertThat(callback.toString()).startsWith(REDIRECT + "?");
      assertThat(q).containsEntry("state", "st-1").containsEntry("iss", idp.issuer()).containsKey("code");

      HttpResponse<String> ok = token(idp, q.get("code"), VERIFIER, idp.clientSecret());
      assertThat(ok.statusCode()).isEqualTo(200);
      SignedJWT idToken = SignedJWT.parse((String) JSONObjectUtils.parse(ok.body()).get("id_token"));
      RSAKey key = JWKSet.parse(get(idp.jwksUri().toString())).getKeys().get(0).toRSAKey();
      assertThat(idToken.verify(new RSASSAVerifier(key))).isTrue();
      assertThat(idToken.getJWTClaimsSet().getSubject()).isEqualTo("sub-7");
      assertThat(idToken.getJWTClaimsSet().getAudience()).containsExactly(idp.clientId());
      assertThat(idToken.getJWTClaimsSet().getStringClaim("nonce")).isEqualTo("n-1");
      assertThat(idToken.getJWTClaimsSet().getStringClaim("email")).isEqualTo("ann@acme.test");
      assertThat(idToken.getJWTClaimsSet().getExpirationTime().toInstant()).isAfter(Instant.now());
      assertThat(idp.pkceVerified()).isEqualTo(1);

      assertThat(token(idp, q.get("code"), VERIFIER, idp.clientSecret()).statusCode()).isEqualTo(400);
      assertThat(idp.tokenErrors()).containsExactly("invalid_grant: unknown or used code");
    }
  }

  @Test
  void tokenEndpointRefusesAWrongVerifierAWrongSecretAndAnotherRedirectUri() throws Exception {
    try (FakeOidcProvider idp = FakeOidcProvider.start()) {
      String code = query(idp.authorize(authorizationUri(idp, "s", "n"))).get("code");
      assertThat(token(idp, code, VERIFIER, "not-the-secret").statusCode()).isEqualTo(401);
      assertThat(token(idp, code, VERIFIER + "x", idp.clientSecret()).statusCode()).isEqualTo(400);
      assertThat(idp.tokenErrors()).containsExactly(
          "invalid_client: client_secret_basic credentials missing or wrong",
          "invalid_grant: PKCE verifier missing or wrong");
      assertThat(idp.pkceVerified()).isZero();
      // plain PKCE and requests without a challenge are refused at the authorization endpoint
      URI plain = URI.create(authorizationUri(idp, "s", "n").toString().replace("S256", "plain"));
      assertThatThrownBy(() -> idp.authorize(plain)).isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("400");
    }
  }

  @Test
  void attackKnobsChangeWhatIsIssuedAndResetRestoresIt() throws Exception {
    try (FakeOidcProvider idp = FakeOidcProvider.builder().algorithm("ES256").start()) {
      idp.issParameter(FakeOidcProvider.IssParameter.WRONG);
      assertThat(query(idp.authorize(authorizationUri(idp, "s", "n")))).containsEntry("iss",
          "https://attacker.example");
      idp.issParameter(FakeOidcProvider.IssParameter.MISSING);
      assertThat(query(idp.authorize(authorizationUri(idp, "s", "n")))).doesNotContainKey("iss");

      idp.unsignedIdToken(true);
      assertThat(JWTParser.parse(idToken(idp))).isInstanceOf(PlainJWT.class);
      idp.unsignedIdToken(false).signWithForeignKey(true);
      SignedJWT foreign = SignedJWT.parse(idToken(idp));
      ECKey published = JWKSet.parse(get(idp.jwksUri().toString())).getKeys().get(0).toECKey();
      assertThat(foreign.getHeader().getAlgorithm()).isEqualTo(JWSAlgorithm.ES256);
      assertThat(foreign.getHeader().getKeyID()).isEqualTo(published.getKeyID());
      assertThat(foreign.verify(new ECDSAVerifier(published))).isFalse();
      idp.signWithForeignKey(false).idTokenAudience("someone-else").idTokenNonce("other").expiredIdToken(true);
      SignedJWT odd = SignedJWT.parse(idToken(idp));
      assertThat(odd.verify(new ECDSAVerifier(published))).isTrue();
      assertThat(odd.getJWTClaimsSet().getAudience()).containsExactly("someone-else");
      assertThat(odd.getJWTClaimsSet().getStringClaim("nonce")).isEqualTo("other");
      assertThat(odd.getJWTClaimsSet().getExpirationTime().toInstant()).isBefore(Instant.now());

      idp.reset();
      SignedJWT normal = SignedJWT.parse(idToken(idp));
      assertThat(normal.getJWTClaimsSet().getAudience()).containsExactly(idp.clientId());
      assertThat(normal.getJWTClaimsSet().getStringClaim("nonce")).isEqualTo("n");
    }
  }

  private String idToken(FakeOidcProvider idp) throws Exception {
    String code = query(idp.authorize(authorizationUri(idp, "s", "n"))).get("code");
    HttpResponse<String> response = token(idp, code, VERIFIER, idp.clientSecret());
    assertThat(response.statusCode()).isEqualTo(200);
    return (String) JSONObjectUtils.parse(response.body()).get("id_token");
  }

  private static URI authorizationUri(FakeOidcProvider idp, String state, String nonce) throws Exception {
    String challenge = Base64.getUrlEncoder().withoutPadding().encodeToString(
        MessageDigest.getInstance("SHA-256").digest(VERIFIER.getBytes(StandardCharsets.US_ASCII)));
    return URI.create(idp.issuer() + "/authorize?response_type=code&scope=openid+email&client_id="
        + enc(idp.clientId()) + "&redirect_uri=" + enc(REDIRECT) + "&state=" + enc(state) + "&nonce=" + enc(nonce)
        + "&code_challenge=" + challenge + "&code_challenge_method=S256");
  }

  private HttpResponse<String> token(FakeOidcProvider idp, String code, String verifier, String secret)
      throws Exception {
    String basic = Base64.getEncoder().encodeToString((enc(idp.clientId()) + ":" + enc(secret))
        .getBytes(StandardCharsets.UTF_8));
    String form = "grant_type=authorization_code&code=" + enc(code) + "&redirect_uri=" + enc(REDIRECT)
        + "&code_verifier=" + enc(verifier);
    return http.send(HttpRequest.newBuilder(URI.create(idp.issuer() + "/token"))
        .header("Authorization", "Basic " + basic).header("Content-Type", "application/x-www-form-urlencoded")
        .POST(HttpRequest.BodyPublishers.ofString(form)).build(), HttpResponse.BodyHandlers.ofString());
  }

  private String get(String uri) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(uri)).build(), HttpResponse.BodyHandlers.ofString()).body();
  }

  private static Map<String, String> query(URI uri) {
    Map<String, String> out = new HashMap<>();
    for (String pair : uri.getRawQuery().split("&", -1)) {
      int eq = pair.indexOf('=');
      out.put(pair.substring(0, eq), java.net.URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
    }
    return out;
  }

  private static String enc(String value) {
    return URLEncoder.encode(value, StandardCharsets.UTF_8);
  }
}
