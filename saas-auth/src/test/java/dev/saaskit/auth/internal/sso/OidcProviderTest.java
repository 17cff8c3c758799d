package dev.saaskit.auth.internal.sso;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.jwk.source.JWKSetBasedJWKSource;
import com.nimbusds.jose.jwk.source.JWKSetSource;
import com.nimbusds.jose.jwk.source.JWKSetSourceWrapper;
import com.nimbusds.jose.jwk.source.RefreshAheadCachingJWKSetSource;
import com.nimbusds.jose.proc.SecurityContext;
import com.sun.net.httpserver.HttpServer;
import dev.saaskit.auth.sso.SsoException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Discovery against a local server playing a hostile IdP (its URL is whatever a tenant admin configured). */
class OidcProviderTest {
  private HttpServer server;
  private String issuer;
  private final AtomicReference<String> padding = new AtomicReference<>("");

  @BeforeEach
  void start() throws IOException {
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    issuer = "http://localhost:" + server.getAddress().getPort();
    server.createContext("/.well-known/openid-configuration", exchange -> {
      byte[] body = ("{\"issuer\":\"" + issuer + "\",\"authorization_endpoint\":\"" + issuer + "/authorize\","
          + "\"token_endpoint\":\"" + issuer + "/token\",\"jwks_uri\":\"" + issuer + "/jwks\","
          + "\"response_types_supported\":[\"code\"],\"subject_types_supported\":[\"public\"],"
          + "\"id_token_signing_alg_values_supported\":[\"RS256\"],\"x_padding\":\"" + padding.get() + "\"}")
          .getBytes(StandardCharsets.UTF_8);
      exchange.getResponseHeaders().set("Content-Type", "application/json");
      exchange.sendResponseHeaders(200, body.length);
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(body);
      }
    });
    server.start();
  }

  @AfterEach
  void stop() {
    server.stop(0);
  }

  private OidcProvider discover() {
    return OidcProvider.discover(issuer, "client-1", Set.of(JWSAlgorithm.RS256), Duration.ofSeconds(5),
        Clock.systemUTC(), Duration.ofSeconds(60), true);
  }

  @Test
  void aNormalDiscoveryDocumentIsRead() {
    OidcProvider provider = discover();
    assertThat(provider.tokenEndpoint().toString()).isEqualTo(issuer + "/token");
  }

  @Test
  void theKeysAreRefreshedAheadOnSharedDaemonThreadsNoProviderOwns() throws Exception {
    // OidcLogin drops a provider from its discovery cache without closing it: a thread of its own would outlive it
    ExecutorService first = refreshExecutor(discover());
    assertThat(first.submit(() -> Thread.currentThread().isDaemon()).get(10, TimeUnit.SECONDS)).isTrue();
    assertThat(refreshExecutor(discover())).isSameAs(first);
  }

  private static ExecutorService refreshExecutor(OidcProvider provider) {
    JWKSetSource<SecurityContext> source =
        ((JWKSetBasedJWKSource<SecurityContext>) provider.validator().keys()).getJWKSetSource();
    while (!(source instanceof RefreshAheadCachingJWKSetSource)) {
      assertThat(source).as("a refresh-ahead cache in the key source chain").isInstanceOf(JWKSetSourceWrapper.class);
      source = ((JWKSetSourceWrapper<SecurityContext>) source).getSource();
    }
    return ((RefreshAheadCachingJWKSetSource<SecurityContext>) source).getExecutorService();
  }

  @Test
  void anOversizedDiscoveryDocumentIsRefusedInsteadOfBeingReadIntoMemory() {
    // a tenant's "IdP" answering with an endless document would otherwise exhaust the heap of a shared node
    padding.set("x".repeat(2 * 1024 * 1024));
    assertThatThrownBy(this::discover).isInstanceOfSatisfying(SsoException.class,
        e -> assertThat(e.reason()).isEqualTo(SsoException.Reason.DISCOVERY_FAILED));
  }
}
