package dev.saaskit.auth;

import static dev.saaskit.auth.TestTokens.NOW;
import static dev.saaskit.auth.TokenVerifierVectorsTest.assertReason;
import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.auth.InvalidTokenException.Reason;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.MutableClock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The verified-token cache: on for ES256/EdDSA issuers, off for RSA/HMAC, bounded, and never past a token's exp. */
class VerifiedTokenCacheTest {
  private final MutableClock clock = MutableClock.at(NOW);
  private final TokenIssuer es = TokenIssuer.builder("https://es.example").clock(clock).build();
  private final TokenIssuer rs = TokenIssuer.builder("https://rs.example").algorithm(SigningAlgorithm.RS256)
      .clock(clock).build();

  @Test
  void es256_tokens_are_cached_and_rs256_tokens_are_not_by_default() {
    try (TokenVerifier v = TokenVerifier.builder().issuer(es.trusted().build()).issuer(rs.trusted().build())
        .clock(clock).build()) {
      Principal first = v.verify(es.token("u").tenant(TenantId.of("acme")).sign());
      assertThat(v.cachedTokens()).isEqualTo(1);
      v.verify(rs.token("u").sign());
      assertThat(v.cachedTokens()).isEqualTo(1);
      assertThat(first.tenant()).contains(TenantId.of("acme"));
    }
  }

  @Test
  void a_cached_token_is_the_same_principal_and_is_refused_once_expired() {
    try (TokenVerifier v = TokenVerifier.builder().issuer(es.trusted().build()).clock(clock).build()) {
      String token = es.token("u").ttl(Duration.ofMinutes(5)).sign();
      Principal first = v.verify(token);
      assertThat(v.verify(token)).isSameAs(first); // served from the cache
      clock.advance(Duration.ofMinutes(5).plusSeconds(61)); // past exp and the 60 s skew
      assertReason(v, token, Reason.EXPIRED);
    }
  }

  @Test
  void a_token_valid_for_centuries_is_verified_and_cached_rather_than_crashing_the_cache() {
    // exp beyond ~292 years from now does not fit a long of nanoseconds: the cache's expiry must saturate, not throw
    try (TokenVerifier v = TokenVerifier.builder().issuer(es.trusted().build()).clock(clock).build()) {
      String token = es.token("u").ttl(Duration.ofDays(365L * 400)).sign();
      Principal first = v.verify(token);
      assertThat(first.subject()).isEqualTo("u");
      assertThat(v.verify(token)).isSameAs(first);
    }
  }

  @Test
  void a_cached_hit_still_honours_exp_within_the_skew() {
    try (TokenVerifier v = TokenVerifier.builder().issuer(es.trusted().build()).clock(clock).build()) {
      String token = es.token("u").ttl(Duration.ofMinutes(5)).sign();
      v.verify(token);
      clock.advance(Duration.ofMinutes(5).plusSeconds(30)); // past exp, within the skew: still valid
      assertThat(v.verify(token).subject()).isEqualTo("u");
      clock.advance(Duration.ofSeconds(31));
      assertReason(v, token, Reason.EXPIRED);
    }
  }

  @Test
  void a_tampered_copy_of_a_cached_token_is_not_a_hit() {
    try (TokenVerifier v = TokenVerifier.builder().issuer(es.trusted().build()).clock(clock).build()) {
      String token = es.token("u").sign();
      v.verify(token);
      assertReason(v, TokenVerifierVectorsTest.flipSignature(token), Reason.BAD_SIGNATURE);
    }
  }

  @Test
  void the_cache_is_configurable_per_issuer_and_per_verifier() {
    try (TokenVerifier off = TokenVerifier.builder().issuer(es.trusted().build()).clock(clock)
        .verifiedTokenCacheSize(0).build()) {
      off.verify(es.token("u").sign());
      assertThat(off.cachedTokens()).isZero();
    }
    try (TokenVerifier rsOn = TokenVerifier.builder().issuer(rs.trusted().cacheVerifiedTokens(true).build())
        .clock(clock).build()) {
      String token = rs.token("u").sign();
      Principal p = rsOn.verify(token);
      assertThat(rsOn.verify(token)).isSameAs(p);
      assertThat(rsOn.cachedTokens()).isEqualTo(1);
    }
    try (TokenVerifier esOff = TokenVerifier.builder().issuer(es.trusted().cacheVerifiedTokens(false).build())
        .clock(clock).build()) {
      esOff.verify(es.token("u").sign());
      assertThat(esOff.cachedTokens()).isZero();
    }
  }

  @Test
  void the_cache_is_bounded() {
    try (TokenVerifier v = TokenVerifier.builder().issuer(es.trusted().build()).clock(clock)
        .verifiedTokenCacheSize(10).build()) {
      for (int i = 0; i < 200; i++) {
        v.verify(es.token("u" + i).sign());
      }
      dev.saaskit.testing.Await.until("eviction down to the bound", Duration.ofSeconds(20),
          () -> v.cachedTokens() <= 10);
    }
  }

  @Test
  void concurrent_verification_of_one_hot_token_agrees() throws Exception {
    String token = es.token("u").tenant(TenantId.of("acme")).sign();
    try (TokenVerifier v = TokenVerifier.builder().issuer(es.trusted().build()).clock(clock).build()) {
      ExecutorService pool = Executors.newFixedThreadPool(4);
      CountDownLatch start = new CountDownLatch(1);
      try {
        List<Future<Principal>> results = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
          results.add(pool.submit(() -> {
            start.await();
            Principal last = null;
            for (int j = 0; j < 200; j++) {
              last = v.verify(token);
            }
            return last;
          }));
        }
        start.countDown();
        for (Future<Principal> f : results) {
          Principal p = f.get(30, TimeUnit.SECONDS);
          assertThat(p.userKey()).isEqualTo(Principal.userKey("https://es.example", "u"));
          assertThat(p.tenant()).contains(TenantId.of("acme"));
        }
      } finally {
        pool.shutdownNow();
      }
      assertThat(v.cachedTokens()).isEqualTo(1);
    }
  }
}
