package dev.saaskit.examples.saasapp;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.saaskit.cache.redis.RateLimit;
import dev.saaskit.examples.saasapp.AppFixture.Answer;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The rate limits: a tenant over its {@code /api} limit, and a client IP over its limit on {@code /dev/login}, on
 * {@code /api/invitations/accept} and on refused credentials, get 429 with {@code Retry-After} and the usual JSON
 * error, while another tenant, or another IP, goes on. The limits are a few requests an hour, so nothing refills
 * during the test (no timing). The other IP is 127.0.0.2: a client socket bound there reaches the app on 127.0.0.1.
 */
class SaasAppRateLimitTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int API_LIMIT = 8;
  private static final int IP_LIMIT = 4;
  private static final byte[] OTHER_IP = {127, 0, 0, 2};

  private AppFixture f;

  @BeforeEach
  void start() throws Exception {
    f = AppFixture.start(b -> b.apiRateLimit(new RateLimit(API_LIMIT, Duration.ofHours(1)))
        .ipRateLimit(new RateLimit(IP_LIMIT, Duration.ofHours(1))));
  }

  @AfterEach
  void stop() throws Exception {
    f.close();
  }

  @Test
  void aTenantOverItsApiLimitGets429AndAnotherTenantDoesNot() throws Exception {
    String acme = f.login("acme", "ada@acme.test", "owner");
    String globex = f.login("globex", "gus@globex.test", "owner");
    for (int i = 0; i < API_LIMIT; i++) {
      Answer a = f.get("/api/me", acme);
      assertThat(a.status()).as(a.raw()).isEqualTo(200);
      assertThat(a.headers().firstValue("RateLimit-Limit")).hasValue(Integer.toString(API_LIMIT));
    }
    Answer over = f.get("/api/projects", acme);
    assertRateLimited(over.status(), over.body(), over.headers().firstValue("Retry-After").orElse(null));

    Answer other = f.get("/api/me", globex);
    assertThat(other.status()).as(other.raw()).isEqualTo(200);
  }

  @Test
  void withRedisTheTenantLimitIsKeptThereAndStillSeparatesTenants() throws Exception {
    f.close();
    // the per-IP limits stay the fixture's generous ones: 127.0.0.1's buckets in the shared Redis outlive this run
    f = AppFixture.start(b -> b.apiRateLimit(new RateLimit(API_LIMIT, Duration.ofHours(1)))
        .redisUrl(System.getenv().getOrDefault("SAAS_TEST_REDIS_URL", "redis://127.0.0.1:6379")));
    // tenants of this run only: the buckets outlive the app in Redis (until their period ends)
    String run = Long.toString(System.nanoTime(), 36);
    String acme = f.login("acme" + run, "ada@acme.test", "owner");
    String globex = f.login("globex" + run, "gus@globex.test", "owner");
    for (int i = 0; i < API_LIMIT; i++) {
      Answer a = f.get("/api/me", acme);
      assertThat(a.status()).as(a.raw()).isEqualTo(200);
    }
    Answer over = f.get("/api/me", acme);
    assertRateLimited(over.status(), over.body(), over.headers().firstValue("Retry-After").orElse(null));
    assertThat(f.get("/api/me", globex).status()).isEqualTo(200);
  }

  @Test
  void oneIpOverTheLoginLimitGets429AndAnotherIpDoesNot() throws Exception {
    String login = "{\"tenant\":\"acme\",\"email\":\"ada@acme.test\",\"role\":\"owner\"}";
    for (int i = 0; i < IP_LIMIT; i++) {
      assertThat(f.post("/dev/login", null, login).status()).isEqualTo(200);
    }
    Answer over = f.post("/dev/login", null, login);
    assertRateLimited(over.status(), over.body(), over.headers().firstValue("Retry-After").orElse(null));

    Raw other = fromOtherIp("POST", "/dev/login", null, login);
    assertThat(other.status).as(other.text).isEqualTo(200);
  }

  @Test
  void oneIpOverTheInvitationAcceptLimitGets429AndAnotherIpDoesNot() throws Exception {
    String body = "{\"token\":\"guessed-token\"}";
    String token = f.login("acme", "ivy@acme.test", "member");
    for (int i = 0; i < IP_LIMIT; i++) {
      Answer a = f.post("/api/invitations/accept", token, body);
      assertThat(a.status()).as(a.raw()).isEqualTo(400);
      assertThat(a.body().at("/error/code").asText()).isEqualTo("invalid_invitation");
    }
    Answer over = f.post("/api/invitations/accept", token, body);
    assertRateLimited(over.status(), over.body(), over.headers().firstValue("Retry-After").orElse(null));

    Raw other = fromOtherIp("POST", "/api/invitations/accept", token, body);
    assertThat(other.status).as(other.text).isEqualTo(400);
  }

  @Test
  void oneIpOverTheRefusedCredentialLimitGets429EvenWithAGoodTokenAndAnotherIpDoesNot() throws Exception {
    String good = f.login("acme", "ada@acme.test", "owner");
    for (int i = 0; i < IP_LIMIT; i++) {
      Answer a = f.get("/api/me", "not-a-token-" + i);
      assertThat(a.status()).as(a.raw()).isEqualTo(401);
    }
    Answer over = f.get("/api/me", "not-a-token-x");
    assertRateLimited(over.status(), over.body(), over.headers().firstValue("Retry-After").orElse(null));
    // refused before its credential is even verified: guessing stops here, a good token included
    Answer goodFromThere = f.get("/api/me", good);
    assertRateLimited(goodFromThere.status(), goodFromThere.body(),
        goodFromThere.headers().firstValue("Retry-After").orElse(null));
    // another IP: its bad token is an ordinary 401, its good token works
    Raw badElsewhere = fromOtherIp("GET", "/api/me", "not-a-token-y", null);
    assertThat(badElsewhere.status).as(badElsewhere.text).isEqualTo(401);
    Raw goodElsewhere = fromOtherIp("GET", "/api/me", good, null);
    assertThat(goodElsewhere.status).as(goodElsewhere.text).isEqualTo(200);
  }

  private static void assertRateLimited(int status, JsonNode body, @Nullable String retryAfter) {
    assertThat(status).as(body.toString()).isEqualTo(429);
    assertThat(body.at("/error/code").asText()).isEqualTo("rate_limited");
    assertThat(body.at("/error/message").asText()).isNotBlank();
    assertThat(retryAfter).isNotNull();
    assertThat(Long.parseLong(retryAfter)).isPositive();
  }

  /** An answer read off a socket: status, headers (lower-case names), JSON body. */
  private record Raw(int status, Map<String, String> headers, JsonNode body, String text) {}

  /** Sends one HTTP/1.1 request from a socket bound to 127.0.0.2. */
  private Raw fromOtherIp(String method, String path, @Nullable String token, @Nullable String body)
      throws Exception {
    byte[] payload = body == null ? new byte[0] : body.getBytes(StandardCharsets.UTF_8);
    StringBuilder request = new StringBuilder(method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + "Connection: close\r\n");
    if (token != null) {
      request.append("Authorization: Bearer ").append(token).append("\r\n");
    }
    if (body != null) {
      request.append("Content-Type: application/json\r\nContent-Length: ").append(payload.length).append("\r\n");
    }
    request.append("\r\n");
    try (Socket socket = new Socket(InetAddress.getByAddress(new byte[] {127, 0, 0, 1}), f.app.port(),
        InetAddress.getByAddress(OTHER_IP), 0)) {
      socket.setSoTimeout(30_000);
      OutputStream out = socket.getOutputStream();
      out.write(request.toString().getBytes(StandardCharsets.ISO_8859_1));
      out.write(payload);
      out.flush();
      InputStream in = socket.getInputStream();
      ByteArrayOutputStream answer = new ByteArrayOutputStream();
      in.transferTo(answer);
      String text = answer.toString(StandardCharsets.UTF_8);
      int end = text.indexOf("\r\n\r\n");
      Map<String, String> headers = new java.util.HashMap<>();
      for (String line : text.substring(0, end).lines().toList()) {
        int colon = line.indexOf(':');
        if (colon > 0) {
          headers.put(line.substring(0, colon).toLowerCase(Locale.ROOT), line.substring(colon + 1).strip());
        }
      }
      String rest = text.substring(end + 4);
      JsonNode json = rest.isEmpty() || rest.charAt(0) != '{' ? JSON.missingNode() : JSON.readTree(rest);
      return new Raw(Integer.parseInt(text.substring(9, 12)), headers, json, text);
    }
  }
}
