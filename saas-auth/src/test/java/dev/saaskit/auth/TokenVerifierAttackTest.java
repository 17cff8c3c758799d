package dev.saaskit.auth;

import static dev.saaskit.auth.TestTokens.NOW;
import static dev.saaskit.auth.TestTokens.claims;
import static dev.saaskit.auth.TestTokens.sign;
import static dev.saaskit.auth.TokenVerifierVectorsTest.assertReason;
import static dev.saaskit.auth.TokenVerifierVectorsTest.flipSignature;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.util.Base64URL;
import com.nimbusds.jwt.JWTClaimsSet;
import dev.saaskit.auth.InvalidTokenException.Reason;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.MutableClock;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Date;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Hand-made hostile and invalid tokens against issuers with static keys (no network). */
class TokenVerifierAttackTest {
  private static final String RSA_ISS = "https://rsa.example";
  private static final String EC_ISS = "https://ec.example";
  private static final String ACME_ISS = "https://sso.acme.example";

  private final RSAKey rsa = TestTokens.rsaKey("rsa-1");
  private final ECKey ec = TestTokens.ecKey("ec-1");
  private final ECKey acmeKey = TestTokens.ecKey("acme-1");
  private final MutableClock clock = MutableClock.at(NOW);
  private TokenVerifier verifier;

  @BeforeEach
  void setUp() {
    verifier = TokenVerifier.builder().clock(clock)
        .issuer(TrustedIssuer.builder(RSA_ISS).jwks(TestTokens.jwks(rsa)).algorithms(SigningAlgorithm.RS256)
            .audiences("api").build())
        .issuer(TrustedIssuer.builder(EC_ISS).jwks(TestTokens.jwks(ec)).algorithms(SigningAlgorithm.ES256)
            .authorizedParties("https://app.example").allowedTenants(TenantId.of("t1"), TenantId.of("t2"))
            .build())
        .issuer(TrustedIssuer.builder(ACME_ISS).jwks(TestTokens.jwks(acmeKey)).algorithms(SigningAlgorithm.ES256)
            .tenant(TenantId.of("acme")).build())
        .build();
  }

  @AfterEach
  void tearDown() {
    verifier.close();
  }

  private String rsaToken(JWTClaimsSet.Builder c) {
    return sign(rsa, c.audience("api").build());
  }

  @Test
  void a_valid_token_becomes_a_principal_keyed_by_issuer_and_subject() {
    Principal p = verifier.verify(rsaToken(claims(RSA_ISS, "user-1").jwtID("j1").claim("email", "a@b.example")
        .claim("tenant_id", "t9").claim("roles", List.of("admin", "member")).claim("saaskit_pv", 4)));
    assertThat(p.issuer()).isEqualTo(RSA_ISS);
    assertThat(p.subject()).isEqualTo("user-1");
    assertThat(p.userKey()).isEqualTo(RSA_ISS + '\0' + "user-1");
    assertThat(p.tenant()).contains(TenantId.of("t9"));
    assertThat(p.roles()).containsExactlyInAnyOrder("admin", "member");
    assertThat(p.permissionVersion().getAsLong()).isEqualTo(4);
    assertThat(p.email()).contains("a@b.example");
    assertThat(p.credentialId()).contains("j1");
    assertThat(p.expiresAt()).contains(NOW.plusSeconds(600));
    assertThat(p.method()).isEqualTo(Principal.Method.TOKEN);
  }

  @Test
  void a_closed_verifier_refuses_every_token_with_an_illegal_state_even_a_cached_one() {
    String ecToken = sign(ec, claims(EC_ISS, "user-1").claim("azp", "https://app.example").claim("tenant_id", "t1")
        .build());
    String rsa1 = rsaToken(claims(RSA_ISS, "user-2"));
    verifier.verify(ecToken); // now in the verified-token cache
    verifier.verify(rsa1);
    verifier.close();
    verifier.close(); // idempotent
    for (String token : List.of(ecToken, rsa1)) {
      assertThatThrownBy(() -> verifier.verify(token)).isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("closed");
    }
  }

  @Test
  void alg_none_is_refused_in_any_spelling() {
    String payload = "{\"iss\":\"" + RSA_ISS + "\",\"sub\":\"u\",\"aud\":\"api\",\"exp\":"
        + NOW.plusSeconds(60).getEpochSecond() + "}";
    for (String alg : List.of("none", "None", "NONE", " none")) {
      assertReason(verifier, TestTokens.raw("{\"alg\":\"" + alg + "\"}", payload, ""), Reason.UNSIGNED);
    }
    String good = rsaToken(claims(RSA_ISS, "u"));
    String stripped = TestTokens.b64("{\"alg\":\"none\"}") + good.substring(good.indexOf('.'), good.lastIndexOf('.'))
        + ".";
    assertReason(verifier, stripped, Reason.UNSIGNED);
  }

  @Test
  void hs256_made_with_the_rsa_public_key_is_refused() {
    JWTClaimsSet c = claims(RSA_ISS, "attacker").audience("api").build();
    byte[] pem = rsa.toPublicJWK().toJSONString().getBytes(StandardCharsets.UTF_8);
    byte[] der = null;
    try {
      der = rsa.toRSAPublicKey().getEncoded();
    } catch (com.nimbusds.jose.JOSEException e) {
      throw new AssertionError(e);
    }
    byte[] jwksBytes = TestTokens.jwks(rsa).getBytes(StandardCharsets.UTF_8);
    for (byte[] secret : List.of(pem, der, jwksBytes)) {
      String forged = TestTokens.signHmac(secret, new JWSHeader.Builder(JWSAlgorithm.HS256).keyID("rsa-1").build(), c);
      assertReason(verifier, forged, Reason.DISALLOWED_ALGORITHM);
    }
  }

  @Test
  void an_issuer_cannot_mix_a_secret_with_asymmetric_algorithms() {
    assertThatThrownBy(() -> TrustedIssuer.builder("x").hmacSecret(new byte[32]).algorithms(SigningAlgorithm.RS256,
        SigningAlgorithm.HS256).build()).isInstanceOf(IllegalStateException.class).hasMessageContaining("RS256");
    assertThatThrownBy(() -> TrustedIssuer.builder("x").jwks(TestTokens.jwks(rsa)).algorithms(SigningAlgorithm.HS256)
        .build()).isInstanceOf(IllegalStateException.class).hasMessageContaining("HS256");
    assertThatThrownBy(() -> TrustedIssuer.builder("x").jwks(TestTokens.jwks(rsa)).build())
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("pinned");
  }

  @Test
  void an_oct_key_in_a_jwks_is_never_used() {
    String octOnly = "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"k\",\"k\":\"" + Base64URL.encode(new byte[32]) + "\"}]}";
    // a set holding nothing but a secret is refused when the issuer is built
    assertThatThrownBy(() -> TrustedIssuer.builder("https://oct.example").jwks(octOnly)
        .algorithms(SigningAlgorithm.ES256).build()).isInstanceOf(IllegalStateException.class);
    // next to a public key, the secret is never used
    String jwks = "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"k\",\"k\":\"" + Base64URL.encode(new byte[32]) + "\"},"
        + ec.toPublicJWK().toJSONString() + "]}";
    TrustedIssuer weird = TrustedIssuer.builder("https://oct.example").jwks(jwks).algorithms(SigningAlgorithm.ES256)
        .build();
    try (TokenVerifier v = TokenVerifier.builder().issuer(weird).clock(clock).build()) {
      String forged = TestTokens.signHmac(new byte[32], new JWSHeader.Builder(JWSAlgorithm.HS256).keyID("k").build(),
          claims("https://oct.example", "u").build());
      assertReason(v, forged, Reason.DISALLOWED_ALGORITHM);
    }
  }

  @Test
  void an_rsa_key_below_2048_bits_is_never_used() throws Exception {
    // RFC 7518 3.3: RS256 keys MUST be 2048 bits or larger; a 1024-bit key can be factored by a funded attacker
    java.security.KeyPairGenerator g = java.security.KeyPairGenerator.getInstance("RSA");
    g.initialize(1024);
    java.security.KeyPair weak = g.generateKeyPair();
    RSAKey weakJwk = new RSAKey.Builder((java.security.interfaces.RSAPublicKey) weak.getPublic()).keyID("weak")
        .build();
    TrustedIssuer issuer = TrustedIssuer.builder("https://weak.example").jwks(TestTokens.jwks(weakJwk))
        .algorithms(SigningAlgorithm.RS256).build();
    String header = TestTokens.b64("{\"alg\":\"RS256\",\"kid\":\"weak\"}");
    String payload = TestTokens.b64(claims("https://weak.example", "u").build().toString());
    java.security.Signature rs256 = java.security.Signature.getInstance("SHA256withRSA");
    rs256.initSign(weak.getPrivate());
    rs256.update((header + "." + payload).getBytes(StandardCharsets.US_ASCII));
    String token = header + "." + payload + "." + Base64URL.encode(rs256.sign());
    try (TokenVerifier v = TokenVerifier.builder().issuer(issuer).clock(clock).build()) {
      assertReason(v, token, Reason.UNKNOWN_KEY);
    }
  }

  @Test
  void a_disallowed_algorithm_is_refused_even_with_the_right_key() {
    String es = sign(ec, new JWSHeader.Builder(JWSAlgorithm.ES256).keyID("ec-1").build(),
        claims(RSA_ISS, "u").audience("api").build());
    assertReason(verifier, es, Reason.DISALLOWED_ALGORITHM);
    String ps = sign(rsa, new JWSHeader.Builder(JWSAlgorithm.PS256).keyID("rsa-1").build(),
        claims(RSA_ISS, "u").audience("api").build());
    assertReason(verifier, ps, Reason.DISALLOWED_ALGORITHM);
  }

  @Test
  void a_kid_naming_another_issuers_key_is_unknown() {
    // signed with the ACME issuer's key, but claims to come from EC_ISS and names the ACME kid
    String token = sign(acmeKey, new JWSHeader.Builder(JWSAlgorithm.ES256).keyID("acme-1").build(),
        claims(EC_ISS, "u").claim("azp", "https://app.example").build());
    assertReason(verifier, token, Reason.UNKNOWN_KEY);
  }

  @Test
  void an_embedded_jwk_is_ignored() {
    ECKey attacker = TestTokens.ecKey("ec-1"); // same kid as the real key
    String token = sign(attacker, new JWSHeader.Builder(JWSAlgorithm.ES256).keyID("ec-1")
        .jwk(attacker.toPublicJWK()).build(), claims(EC_ISS, "u").claim("azp", "https://app.example").build());
    assertReason(verifier, token, Reason.BAD_SIGNATURE);
    String noKid = sign(attacker, new JWSHeader.Builder(JWSAlgorithm.ES256).jwk(attacker.toPublicJWK()).build(),
        claims(EC_ISS, "u").claim("azp", "https://app.example").build());
    assertReason(verifier, noKid, Reason.BAD_SIGNATURE);
  }

  @Test
  void an_unknown_kid_is_refused() {
    ECKey other = TestTokens.ecKey("ec-2");
    assertReason(verifier, sign(other, claims(EC_ISS, "u").claim("azp", "https://app.example").build()),
        Reason.UNKNOWN_KEY);
  }

  @Test
  void unknown_issuer_and_missing_iss_are_refused() {
    assertReason(verifier, sign(ec, claims("https://evil.example", "u").build()), Reason.UNKNOWN_ISSUER);
    assertReason(verifier, sign(ec, claims(EC_ISS + "/", "u").build()), Reason.UNKNOWN_ISSUER);
    assertReason(verifier, sign(ec, new JWTClaimsSet.Builder().subject("u")
        .expirationTime(Date.from(NOW.plusSeconds(60))).build()), Reason.UNKNOWN_ISSUER);
  }

  @Test
  void expiry_is_required_and_checked_with_the_skew() {
    assertReason(verifier, sign(rsa, new JWTClaimsSet.Builder().issuer(RSA_ISS).subject("u").audience("api").build()),
        Reason.MISSING_EXPIRY);
    String token = rsaToken(claims(RSA_ISS, "u"));
    clock.set(NOW.plusSeconds(600 + 60));
    assertThat(verifier.verify(token).subject()).isEqualTo("u"); // exactly at exp + skew
    clock.set(NOW.plusSeconds(600 + 61));
    assertReason(verifier, token, Reason.EXPIRED);
  }

  @Test
  void not_before_and_issued_at_in_the_future_are_refused_beyond_the_skew() {
    String nbf = rsaToken(claims(RSA_ISS, "u").notBeforeTime(Date.from(NOW.plusSeconds(120))));
    assertReason(verifier, nbf, Reason.NOT_YET_VALID);
    clock.set(NOW.plusSeconds(60));
    assertThat(verifier.verify(nbf).subject()).isEqualTo("u");
    clock.set(NOW);
    String iat = rsaToken(claims(RSA_ISS, "u").issueTime(Date.from(NOW.plusSeconds(90))));
    assertReason(verifier, iat, Reason.NOT_YET_VALID);
  }

  @Test
  void clock_skew_is_at_most_five_minutes() {
    assertThatThrownBy(() -> TrustedIssuer.builder("x").clockSkew(Duration.ofSeconds(301)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("PT5M1S");
    assertThatThrownBy(() -> TrustedIssuer.builder("x").clockSkew(Duration.ofSeconds(-1)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThat(TrustedIssuer.builder("x").clockSkew(Duration.ofMinutes(5)).hmacSecret(new byte[32]).build()
        .clockSkew()).isEqualTo(Duration.ofMinutes(5));
    assertThat(TrustedIssuer.builder("x").hmacSecret(new byte[32]).build().clockSkew())
        .isEqualTo(Duration.ofSeconds(60));
  }

  @Test
  void audience_and_authorized_party_are_enforced() {
    assertReason(verifier, sign(rsa, claims(RSA_ISS, "u").audience("other").build()), Reason.WRONG_AUDIENCE);
    assertReason(verifier, sign(rsa, claims(RSA_ISS, "u").build()), Reason.WRONG_AUDIENCE);
    assertThat(verifier.verify(sign(rsa, claims(RSA_ISS, "u").audience(List.of("x", "api")).build())).subject())
        .isEqualTo("u");
    assertReason(verifier, sign(ec, claims(EC_ISS, "u").claim("azp", "https://evil.example").build()),
        Reason.WRONG_AUDIENCE);
    assertReason(verifier, sign(ec, claims(EC_ISS, "u").build()), Reason.WRONG_AUDIENCE);
  }

  @Test
  void a_fixed_tenant_issuer_cannot_speak_for_another_tenant() {
    Principal own = verifier.verify(sign(acmeKey, claims(ACME_ISS, "u").build()));
    assertThat(own.tenant()).contains(TenantId.of("acme"));
    Principal same = verifier.verify(sign(acmeKey, claims(ACME_ISS, "u").claim("tenant_id", "acme").build()));
    assertThat(same.tenant()).contains(TenantId.of("acme"));
    assertReason(verifier, sign(acmeKey, claims(ACME_ISS, "u").claim("tenant_id", "globex").build()),
        Reason.TENANT_NOT_ALLOWED);
  }

  @Test
  void a_multi_tenant_issuer_is_limited_to_its_allowed_tenants() {
    JWTClaimsSet.Builder base = claims(EC_ISS, "u").claim("azp", "https://app.example");
    assertThat(verifier.verify(sign(ec, base.claim("tenant_id", "t2").build())).tenant())
        .contains(TenantId.of("t2"));
    assertReason(verifier, sign(ec, base.claim("tenant_id", "t3").build()), Reason.TENANT_NOT_ALLOWED);
    assertReason(verifier, sign(ec, base.claim("tenant_id", java.util.Map.of("id", "t1")).build()), Reason.BAD_CLAIM);
    assertReason(verifier, sign(ec, base.claim("tenant_id", " t1").build()), Reason.BAD_CLAIM);
  }

  @Test
  void unknown_critical_headers_are_refused() {
    String token = sign(rsa, new JWSHeader.Builder(JWSAlgorithm.RS256).keyID("rsa-1").customParam("exp", 1)
        .criticalParams(Set.of("exp")).build(), claims(RSA_ISS, "u").audience("api").build());
    assertReason(verifier, token, Reason.UNSUPPORTED_CRITICAL_HEADER);
  }

  @Test
  void an_empty_critical_list_is_refused_too() throws Exception {
    // "any crit is refused" (RFC 7515 4.1.11: a producer must not even send an empty list)
    String header = "{\"alg\":\"RS256\",\"kid\":\"rsa-1\",\"crit\":[]}";
    String input = TestTokens.b64(header) + "." + TestTokens.b64(TestTokens.json(
        claims(RSA_ISS, "u").audience("api").build().toJSONObject()));
    String token = input + "." + new com.nimbusds.jose.crypto.RSASSASigner(rsa).sign(
        new JWSHeader(JWSAlgorithm.RS256), input.getBytes(StandardCharsets.US_ASCII));
    assertReason(verifier, token, Reason.UNSUPPORTED_CRITICAL_HEADER);
  }

  @Test
  void oversized_tokens_are_refused_before_parsing() {
    String big = rsaToken(claims(RSA_ISS, "u").claim("pad", "x".repeat(17_000)));
    assertThat(big.length()).isGreaterThan(16 * 1024);
    assertReason(verifier, big, Reason.MALFORMED);
    String garbage = "a".repeat(20_000) + ".b.c";
    assertThatThrownBy(() -> verifier.verify(garbage)).isInstanceOfSatisfying(InvalidTokenException.class, e -> {
      assertThat(e.reason()).isEqualTo(Reason.MALFORMED);
      assertThat(e.getMessage()).doesNotContain("aaaa");
    });
    try (TokenVerifier small = TokenVerifier.builder().issuer(TrustedIssuer.builder(RSA_ISS)
        .jwks(TestTokens.jwks(rsa)).algorithms(SigningAlgorithm.RS256).build()).clock(clock).maxTokenLength(300)
        .build()) {
      String token = sign(rsa, claims(RSA_ISS, "u").build());
      assertThat(token.length()).isGreaterThan(300);
      assertReason(small, token, Reason.MALFORMED);
    }
    assertThatThrownBy(() -> TokenVerifier.builder().maxTokenLength(10)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("10");
  }

  @Test
  void deeply_nested_json_is_refused() {
    String nested = "[".repeat(5_000) + "]".repeat(5_000);
    String payload = "{\"iss\":\"" + RSA_ISS + "\",\"sub\":\"u\",\"exp\":" + NOW.plusSeconds(60).getEpochSecond()
        + ",\"x\":" + nested + "}";
    assertReason(verifier, TestTokens.raw("{\"alg\":\"RS256\",\"kid\":\"rsa-1\"}", payload, "c2ln"),
        Reason.MALFORMED);
    String header = "{\"alg\":\"RS256\",\"x\":" + "{\"a\":".repeat(40) + "1" + "}".repeat(40) + "}";
    assertReason(verifier, TestTokens.raw(header, "{}", "c2ln"), Reason.MALFORMED);
    // brackets inside strings do not count
    Principal p = verifier.verify(rsaToken(claims(RSA_ISS, "u").claim("note", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[")));
    assertThat(p.subject()).isEqualTo("u");
  }

  @Test
  void empty_bad_and_truncated_signatures_are_refused() {
    String token = rsaToken(claims(RSA_ISS, "u"));
    String unsigned = token.substring(0, token.lastIndexOf('.') + 1);
    assertReason(verifier, unsigned, Reason.BAD_SIGNATURE);
    assertReason(verifier, flipSignature(token), Reason.BAD_SIGNATURE);
    assertReason(verifier, token.substring(0, token.length() - 40), Reason.BAD_SIGNATURE);
    String es = sign(ec, claims(EC_ISS, "u").claim("azp", "https://app.example").build());
    assertReason(verifier, es.substring(0, es.lastIndexOf('.') + 1), Reason.BAD_SIGNATURE);
  }

  @Test
  void a_valid_signature_has_exactly_one_spelling() {
    // a lenient base64url decoder skips characters outside the alphabet and ignores the unused low bits of the
    // last character: every variant below would decode to the same signature and verify as the same token, so one
    // token would have countless spellings (each a new verified-token cache entry, each past a denylist of tokens)
    String token = sign(ec, claims(EC_ISS, "u").claim("azp", "https://app.example").build());
    assertThat(verifier.verify(token).subject()).isEqualTo("u");
    int dot = token.lastIndexOf('.');
    String head = token.substring(0, dot + 1);
    String sig = token.substring(dot + 1);
    for (String junk : List.of("!", "=", "+", "/", "~", " ", "\n", "*")) {
      assertReason(verifier, head + sig.substring(0, 10) + junk + sig.substring(10), Reason.MALFORMED);
      assertReason(verifier, head + sig + junk, Reason.MALFORMED);
    }
    assertReason(verifier, head + sig + "==", Reason.MALFORMED);
    // an ES256 signature is 64 bytes: 86 characters, the last one with 4 unused bits
    assertThat(sig).hasSize(86);
    String alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    int last = alphabet.indexOf(sig.charAt(85));
    for (int spare = 1; spare < 16; spare++) {
      String respelled = head + sig.substring(0, 85) + alphabet.charAt(last ^ spare);
      assertThatThrownBy(() -> verifier.verify(respelled)).isInstanceOf(InvalidTokenException.class);
    }
    assertThat(verifier.verify(token).subject()).isEqualTo("u");
  }

  @Test
  void malformed_shapes_are_refused() {
    for (String bad : List.of("", "abc", "a.b", "a.b.c.d", ".b.c", "!!!.???.###",
        TestTokens.raw("[]", "{}", "x"), TestTokens.raw("{\"alg\":\"RS256\"}", "[1]", "x"),
        TestTokens.raw("{}", "{}", "x"))) {
      assertReason(verifier, bad, Reason.MALFORMED);
    }
  }

  @Test
  void a_subject_is_required_and_must_not_carry_nul() {
    assertReason(verifier, sign(rsa, new JWTClaimsSet.Builder().issuer(RSA_ISS).audience("api")
        .expirationTime(Date.from(NOW.plusSeconds(60))).build()), Reason.BAD_CLAIM);
    assertReason(verifier, rsaToken(claims(RSA_ISS, "a\u0000b")), Reason.BAD_CLAIM);
  }

  @Test
  void registering_the_same_issuer_twice_fails() {
    TrustedIssuer i = TrustedIssuer.builder(RSA_ISS).jwks(TestTokens.jwks(rsa)).algorithms(SigningAlgorithm.RS256)
        .build();
    assertThatThrownBy(() -> TokenVerifier.builder().issuer(i).issuer(i)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> TokenVerifier.builder().build()).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void a_legacy_supabase_hs256_issuer_verifies_with_its_secret_only() {
    byte[] secret = "super-secret-jwt-token-with-at-least-32-characters-long".getBytes(StandardCharsets.UTF_8);
    String iss = "https://abc.supabase.co/auth/v1";
    TrustedIssuer supabase = TrustedIssuer.builder(iss).hmacSecret(secret).audiences("authenticated")
        .claimMapping(ClaimMappings.supabase()).build();
    try (TokenVerifier v = TokenVerifier.builder().issuer(supabase).clock(clock).build()) {
      JWTClaimsSet c = claims(iss, "0d3f").audience("authenticated").claim("role", "authenticated").build();
      Principal p = v.verify(TestTokens.signHmac(secret, new JWSHeader(JWSAlgorithm.HS256), c));
      assertThat(p.subject()).isEqualTo("0d3f");
      assertThat(p.roles()).isEmpty(); // the database role "authenticated" is not a tenant role
      byte[] other = "another-secret-jwt-token-with-at-least-32-characters".getBytes(StandardCharsets.UTF_8);
      assertReason(v, TestTokens.signHmac(other, new JWSHeader(JWSAlgorithm.HS256), c), Reason.BAD_SIGNATURE);
      assertReason(v, sign(ec, c), Reason.DISALLOWED_ALGORITHM);
      assertThat(supabase.toString()).doesNotContain("super-secret");
    }
  }
}
