package dev.saaskit.auth;

import static dev.saaskit.auth.TestTokens.NOW;
import static dev.saaskit.auth.TestTokens.claims;
import static dev.saaskit.auth.TestTokens.sign;
import static dev.saaskit.auth.TokenVerifierVectorsTest.assertReason;
import static org.assertj.core.api.Assertions.assertThat;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.jwk.ECKey;
import dev.saaskit.auth.InvalidTokenException.Reason;
import dev.saaskit.testing.Await;
import dev.saaskit.testing.MutableClock;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Issuers whose keys come from a JWKS URL, served by a local counting server. nimbus's JWKSourceBuilder keeps its
 * cache times on the system clock, so tests that need a cache to expire use tiny TTLs and wait for the observable
 * effect with a bound (Await) instead of sleeping; the token times run on a fixed clock.
 */
class JwksIssuerTest {
  private static final String ISS = "https://idp.example";
  private static final Duration BOUND = Duration.ofSeconds(20);

  private final ECKey keyA = TestTokens.ecKey("A");
  private final ECKey keyB = TestTokens.ecKey("B");
  private final MutableClock clock = MutableClock.at(NOW);
  private CountingHttpServer idp;
  private CountingHttpServer attacker;

  @BeforeEach
  void start() throws IOException {
    idp = new CountingHttpServer(TestTokens.jwks(keyA));
    attacker = new CountingHttpServer(TestTokens.jwks(TestTokens.ecKey("evil")));
  }

  @AfterEach
  void stop() throws IOException {
    idp.close();
    attacker.close();
  }

  private TrustedIssuer.Builder issuer() {
    return TrustedIssuer.builder(ISS).jwksUri(idp.uri("/.well-known/jwks.json")).algorithms(SigningAlgorithm.ES256);
  }

  private TokenVerifier verifier(TrustedIssuer issuer) {
    return TokenVerifier.builder().issuer(issuer).clock(clock).verifiedTokenCacheSize(0).build();
  }

  private static String token(ECKey key, String subject) {
    return sign(key, claims(ISS, subject).build());
  }

  private static boolean verifies(TokenVerifier verifier, String token) {
    try {
      verifier.verify(token);
      return true;
    } catch (InvalidTokenException e) {
      return false;
    }
  }

  @Test
  void keys_are_fetched_lazily_and_never_for_an_unknown_issuer() {
    try (TokenVerifier v = verifier(issuer().build())) {
      assertThat(idp.hits()).isZero();
      assertReason(v, sign(keyA, claims("https://other.example", "u").build()), Reason.UNKNOWN_ISSUER);
      assertThat(idp.hits()).isZero();
      assertThat(v.verify(token(keyA, "u")).subject()).isEqualTo("u");
      assertThat(v.verify(token(keyA, "u2")).subject()).isEqualTo("u2");
      assertThat(idp.hits()).isEqualTo(1);
    }
  }

  @Test
  void jku_x5u_and_embedded_jwk_never_cause_a_fetch() throws Exception {
    ECKey evil = TestTokens.ecKey("evil");
    JWSHeader header = new JWSHeader.Builder(JWSAlgorithm.ES256).keyID("evil")
        .jwkURL(attacker.uri("/jwks.json")).x509CertURL(attacker.uri("/cert.pem"))
        .jwk(evil.toPublicJWK()).build();
    try (TokenVerifier v = verifier(issuer().jwksMinRefetchInterval(Duration.ofMillis(1)).build())) {
      assertReason(v, sign(evil, header, claims(ISS, "u").build()), Reason.UNKNOWN_KEY);
      assertReason(v, sign(evil, header, claims("https://attacker.example", "u").build()), Reason.UNKNOWN_ISSUER);
      // the same kid as the real key, the attacker's signature
      JWSHeader sameKid = new JWSHeader.Builder(header).keyID("A").build();
      assertReason(v, sign(evil, sameKid, claims(ISS, "u").build()), Reason.BAD_SIGNATURE);
    }
    assertThat(attacker.hits()).isZero();
    assertThat(idp.hits()).isPositive();
  }

  @Test
  void a_rotated_in_key_is_accepted_after_a_refetch_and_a_removed_key_is_refused_once_the_cache_expires() {
    TrustedIssuer issuer = issuer().jwksCacheTtl(Duration.ofMillis(400)).jwksRefreshAhead(Duration.ofMillis(100))
        .jwksMinRefetchInterval(Duration.ofMillis(20)).build();
    try (TokenVerifier v = verifier(issuer)) {
      String tokenA = token(keyA, "a");
      String tokenB = token(keyB, "b");
      assertThat(v.verify(tokenA).subject()).isEqualTo("a");
      assertReason(v, tokenB, Reason.UNKNOWN_KEY); // not published yet
      idp.serve(TestTokens.jwks(keyB, keyA)); // the IdP publishes its next key
      Await.until("the new key B is accepted after a refetch", BOUND, () -> verifies(v, tokenB));
      assertThat(v.verify(tokenA).subject()).isEqualTo("a"); // both during the overlap
      idp.serve(TestTokens.jwks(keyB)); // the IdP retires A
      Await.until("the removed key A is refused once the cached JWKS expires", BOUND, () -> !verifies(v, tokenA));
      assertReason(v, tokenA, Reason.UNKNOWN_KEY);
      assertThat(v.verify(tokenB).subject()).isEqualTo("b");
    }
  }

  @Test
  void cached_keys_keep_working_while_the_jwks_url_is_down() {
    TrustedIssuer issuer = issuer().jwksCacheTtl(Duration.ofMillis(300)).jwksRefreshAhead(Duration.ofMillis(50))
        .jwksMinRefetchInterval(Duration.ofMillis(10)).jwksOutageTolerance(Duration.ofHours(1)).build();
    try (TokenVerifier v = verifier(issuer)) {
      String tokenA = token(keyA, "a");
      assertThat(v.verify(tokenA).subject()).isEqualTo("a");
      int before = idp.hits();
      idp.down();
      List<Boolean> results = new ArrayList<>();
      // wait until two fetches have failed (the cache has expired at least once while down), verifying meanwhile
      Await.until("two failed fetches while the IdP is down", BOUND, () -> {
        results.add(verifies(v, tokenA));
        return idp.hits() >= before + 2;
      });
      assertThat(results).isNotEmpty().containsOnly(true);
      assertThat(v.verify(tokenA).subject()).isEqualTo("a");
    }
  }

  @Test
  void with_nothing_cached_an_outage_is_reported_as_keys_unavailable() {
    idp.down();
    try (TokenVerifier v = verifier(issuer().build())) {
      assertReason(v, token(keyA, "a"), Reason.KEYS_UNAVAILABLE);
    }
  }

  @Test
  void a_flood_of_unknown_kids_causes_a_bounded_number_of_refetches_and_locks_nobody_out() throws Exception {
    try (TokenVerifier v = verifier(issuer().jwksMinRefetchInterval(Duration.ofMinutes(1)).build())) {
      String valid = token(keyA, "a");
      assertThat(v.verify(valid).subject()).isEqualTo("a");
      ExecutorService pool = Executors.newFixedThreadPool(4);
      try {
        List<Future<Reason>> results = new ArrayList<>();
        for (int i = 0; i < 400; i++) {
          ECKey random = TestTokens.ecKey(UUID.randomUUID().toString());
          String forged = token(random, "x");
          results.add(pool.submit(() -> {
            try {
              v.verify(forged);
              return null;
            } catch (InvalidTokenException e) {
              return e.reason();
            }
          }));
        }
        for (Future<Reason> f : results) {
          assertThat(f.get(30, TimeUnit.SECONDS)).isEqualTo(Reason.UNKNOWN_KEY);
        }
      } finally {
        pool.shutdownNow();
      }
      assertThat(idp.hits()).isBetween(1, 3);
      assertThat(v.verify(valid).subject()).isEqualTo("a");
    }
  }

  @Test
  void an_idp_that_trickles_its_jwks_cannot_hold_a_verification_past_the_fetch_deadline() throws Exception {
    // one byte every 100 ms: never a read timeout (1 s), but the 100 kB body would take almost three hours
    java.net.ServerSocket server = new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress());
    java.util.concurrent.CopyOnWriteArrayList<java.net.Socket> clients = new java.util.concurrent.CopyOnWriteArrayList<>();
    Thread trickler = new Thread(() -> {
      while (!server.isClosed()) {
        try {
          java.net.Socket s = server.accept();
          clients.add(s);
          java.io.OutputStream out = s.getOutputStream();
          out.write(("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
              .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
          out.flush();
          while (!s.isClosed()) {
            Thread.sleep(100);
            out.write(' ');
            out.flush();
          }
        } catch (IOException e) {
          // the client gave up, or the test closed the server: serve the next one, or stop
        } catch (InterruptedException e) {
          return;
        }
      }
    }, "trickling-idp");
    trickler.setDaemon(true);
    trickler.start();
    ExecutorService caller = Executors.newSingleThreadExecutor();
    try (TokenVerifier v = verifier(TrustedIssuer.builder(ISS)
        .jwksUri(java.net.URI.create("http://127.0.0.1:" + server.getLocalPort() + "/jwks.json"))
        .algorithms(SigningAlgorithm.ES256).jwksHttpTimeout(Duration.ofSeconds(1)).build())) {
      Future<Reason> outcome = caller.submit(() -> {
        try {
          v.verify(token(keyA, "a"));
          return null;
        } catch (InvalidTokenException e) {
          return e.reason();
        }
      });
      // the deadline is twice the timeout (2 s); 60 s leaves a loaded machine plenty of room
      assertThat(outcome.get(60, TimeUnit.SECONDS)).isEqualTo(Reason.KEYS_UNAVAILABLE);
    } finally {
      caller.shutdownNow();
      server.close();
      for (java.net.Socket s : clients) {
        s.close();
      }
      trickler.interrupt();
    }
  }

  @Test
  void jwks_urls_must_be_https_except_on_localhost() {
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> TrustedIssuer.builder(ISS)
        .jwksUri(java.net.URI.create("http://idp.example/jwks.json")))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("https");
  }
}
