package dev.saaskit.auth.internal.sso;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.nimbusds.oauth2.sdk.http.HTTPRequest;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The addresses a tenant's IdP may not have, and the senders that check them before any byte leaves. */
class IdpAddressesTest {
  private HttpServer internal;
  private final AtomicInteger internalHits = new AtomicInteger();
  private final AtomicInteger redirectTargetHits = new AtomicInteger();

  @BeforeEach
  void startInternalService() throws IOException {
    internal = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    internal.createContext("/", exchange -> {
      internalHits.incrementAndGet();
      byte[] body = "{\"keys\":[]}".getBytes(StandardCharsets.UTF_8);
      exchange.sendResponseHeaders(200, body.length);
      exchange.getResponseBody().write(body);
      exchange.close();
    });
    internal.createContext("/redirect", exchange -> {
      exchange.getResponseHeaders().add("Location", base() + "/target");
      exchange.sendResponseHeaders(302, -1);
      exchange.close();
    });
    internal.createContext("/target", exchange -> {
      redirectTargetHits.incrementAndGet();
      exchange.sendResponseHeaders(200, -1);
      exchange.close();
    });
    internal.start();
  }

  @AfterEach
  void stop() {
    internal.stop(0);
  }

  private String base() {
    return "http://127.0.0.1:" + internal.getAddress().getPort();
  }

  @ParameterizedTest
  @ValueSource(strings = {"127.0.0.1", "127.8.9.10", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
      "169.254.169.254", "100.64.0.1", "100.127.255.254", "0.0.0.0", "0.1.2.3", "192.0.0.8", "198.18.0.1",
      "224.0.0.1", "240.0.0.1", "255.255.255.255", "::1", "::", "fc00::1", "fd12:3456::1", "fe80::1", "ff02::1",
      "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b::a00:1"})
  void addressesOfTheServersOwnNetworksAreNotPublic(String address) throws IOException {
    assertThat(IdpAddresses.nonPublicKind(InetAddress.getByName(address))).as(address).isNotNull();
    assertThatThrownBy(() -> IdpAddresses.requirePublic(address.contains(":") ? "[" + address + "]" : address))
        .isInstanceOf(IOException.class).hasMessageContaining("allowPrivateAddresses");
  }

  @ParameterizedTest
  @ValueSource(strings = {"8.8.8.8", "1.1.1.1", "93.184.216.34", "172.32.0.1", "100.128.0.1", "192.0.2.1",
      "2606:4700:4700::1111", "2001:4860:4860::8888", "64:ff9b::808:808"})
  void publicAddressesPass(String address) throws IOException {
    assertThat(IdpAddresses.nonPublicKind(InetAddress.getByName(address))).as(address).isNull();
  }

  @Test
  void aHostNameIsJudgedByWhatItResolvesTo() {
    assertThatThrownBy(() -> IdpAddresses.requirePublic("localhost")).isInstanceOf(IOException.class)
        .hasMessageContaining("loopback");
  }

  @Test
  void theSenderForDiscoveryAndTokensRefusesBeforeConnecting() throws IOException {
    HTTPRequest request = new HTTPRequest(HTTPRequest.Method.POST, URI.create(base() + "/token"));
    request.setBody("grant_type=authorization_code");
    assertThatThrownBy(() -> request.send(new BoundedHttp(BoundedHttp.MAX_RESPONSE_BYTES, false)))
        .isInstanceOf(IOException.class).hasMessageContaining("loopback");
    assertThat(internalHits).hasValue(0);
    assertThat(request.send(new BoundedHttp(BoundedHttp.MAX_RESPONSE_BYTES, true)).getStatusCode()).isEqualTo(200);
    assertThat(internalHits).hasValue(1);
  }

  @Test
  void theKeySetRetrieverRefusesBeforeConnectingAndFollowsNoRedirect() throws IOException {
    assertThatThrownBy(() -> IdpAddresses.retriever(2000, 1024, false).retrieveResource(new URL(base() + "/jwks")))
        .isInstanceOf(IOException.class).hasMessageContaining("loopback");
    assertThat(internalHits).hasValue(0);
    assertThat(IdpAddresses.retriever(2000, 1024, true).retrieveResource(new URL(base() + "/jwks")).getContent())
        .contains("keys");
    assertThatThrownBy(() -> IdpAddresses.retriever(2000, 1024, true)
        .retrieveResource(new URL(base() + "/redirect"))).isInstanceOf(IOException.class);
    assertThat(redirectTargetHits).as("a redirect reaches a host the check never saw").hasValue(0);
  }
}
