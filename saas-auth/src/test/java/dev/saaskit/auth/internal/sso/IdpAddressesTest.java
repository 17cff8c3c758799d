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

  @Test
  void anIdpTricklingItsAnswerCannotHoldTheCallerPastTwiceTheTimeout() throws Exception {
    // one byte every 100 ms: never a read timeout (1 s), but the 100 kB body would take almost three hours
    try (java.net.ServerSocket trickling = new java.net.ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      java.util.List<java.net.Socket> clients = new java.util.concurrent.CopyOnWriteArrayList<>();
      Thread server = new Thread(() -> {
        while (!trickling.isClosed()) {
          java.net.Socket s;
          try {
            s = trickling.accept();
          } catch (IOException e) {
            return;   // the test is over
          }
          clients.add(s);
          Thread one = new Thread(() -> {   // one thread per client: both callers trickle at once
            try {
              java.io.OutputStream out = s.getOutputStream();
              out.write(("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
                  .getBytes(StandardCharsets.US_ASCII));
              while (!s.isClosed()) {
                out.flush();
                Thread.sleep(100);
                out.write(' ');
              }
            } catch (IOException | InterruptedException e) {
              // the client gave up, or the test is over
            }
          }, "trickling-idp-client");
          one.setDaemon(true);
          one.start();
        }
      }, "trickling-idp");
      server.setDaemon(true);
      server.start();
      java.util.concurrent.ExecutorService caller = java.util.concurrent.Executors.newFixedThreadPool(2);
      try {
        String base = "http://127.0.0.1:" + trickling.getLocalPort();
        HTTPRequest request = new HTTPRequest(HTTPRequest.Method.GET, URI.create(base + "/.well-known/x"));
        request.setConnectTimeout(1000);
        request.setReadTimeout(1000);
        java.util.concurrent.Future<Throwable> discovery = caller.submit(() -> failure(
            () -> request.send(new BoundedHttp(BoundedHttp.MAX_RESPONSE_BYTES, true))));
        java.util.concurrent.Future<Throwable> keys = caller.submit(() -> failure(
            () -> IdpAddresses.retriever(1000, 256 * 1024, true).retrieveResource(new URL(base + "/jwks"))));
        // the deadline is 2 s; 60 s leaves a loaded machine plenty of room
        assertThat(discovery.get(60, java.util.concurrent.TimeUnit.SECONDS)).isInstanceOf(IOException.class)
            .hasMessageContaining("took longer than");
        assertThat(keys.get(60, java.util.concurrent.TimeUnit.SECONDS)).isInstanceOf(IOException.class)
            .hasMessageContaining("took longer than");
        // and the threads left reading the trickle stop too (the JDK's own keep-alive cleaner may drain the rest)
        dev.saaskit.testing.Await.until("no fetch thread is still reading", java.time.Duration.ofSeconds(60),
            () -> Thread.getAllStackTraces().keySet().stream().noneMatch(
                t -> t.getName().equals("saaskit-idp-fetch") && t.getState() == Thread.State.RUNNABLE));
      } finally {
        caller.shutdownNow();
        trickling.close();
        for (java.net.Socket s : clients) {
          s.close();
        }
        server.interrupt();
      }
    }
  }

  /** What {@code call} threw (null if it returned). */
  private static Throwable failure(org.assertj.core.api.ThrowableAssert.ThrowingCallable call) {
    try {
      call.call();
      return null;
    } catch (Throwable t) {
      return t;
    }
  }
}
