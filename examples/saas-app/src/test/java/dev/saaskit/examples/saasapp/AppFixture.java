package dev.saaskit.examples.saasapp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.saaskit.cache.redis.RateLimit;
import dev.saaskit.testing.PostgresServer;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Map;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * The app started in-process on a free loopback port, on its own database and roles of the shared test PostgreSQL
 * (embedded by default, like every saaskit test), plus an HTTP client speaking its JSON.
 */
final class AppFixture implements AutoCloseable {
  static final ObjectMapper JSON = new ObjectMapper();

  /** An HTTP answer: status, JSON body (a missing node when empty), headers. */
  record Answer(int status, JsonNode body, java.net.http.HttpHeaders headers, String raw) {}

  final SaasApp app;
  final String base;
  final String adminUrl;
  final String database;
  final String rolePrefix;
  final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

  private AppFixture(SaasApp app, String adminUrl, String database, String rolePrefix) {
    this.app = app;
    this.base = "http://127.0.0.1:" + app.port();
    this.adminUrl = adminUrl;
    this.database = database;
    this.rolePrefix = rolePrefix;
  }

  static AppFixture start(Consumer<AppConfig.Builder> customize) throws Exception {
    PostgresServer server = PostgresServer.shared();
    String url = server.jdbcUrl("postgres");
    String adminUrl = url + (url.contains("?") ? "&" : "?") + "user=" + enc(server.superuser())
        + (server.superuserPassword().isEmpty() ? "" : "&password=" + enc(server.superuserPassword()));
    byte[] random = new byte[4];
    new SecureRandom().nextBytes(random);
    String suffix = HexFormat.of().formatHex(random);
    String database = "saas_app_t" + suffix;
    String prefix = "saas_app_t" + suffix;
    AppConfig.Builder config = AppConfig.builder()
        .port(0)
        .host("127.0.0.1")
        .adminDatabaseUrl(adminUrl)
        .database(database)
        .rolePrefix(prefix)
        .demo(true)
        .reportSteps(4)
        .reportStepDelay(Duration.ofMillis(100))
        .analyticsCron("*/2 * * * * *")
        // the tests sign in dozens of users and send refused tokens on purpose, all from 127.0.0.1: the per-IP
        // limit (60 a minute by default) is the subject of SaasAppRateLimitTest only
        .ipRateLimit(RateLimit.perMinute(100_000));
    customize.accept(config);
    return new AppFixture(SaasApp.start(config.build()), adminUrl, database, prefix);
  }

  Answer get(String path, @Nullable String token) throws Exception {
    return send(request(path, token).GET().build());
  }

  Answer delete(String path, @Nullable String token) throws Exception {
    return send(request(path, token).DELETE().build());
  }

  Answer post(String path, @Nullable String token, Object body) throws Exception {
    String text = body instanceof String s ? s : JSON.writeValueAsString(body);
    return send(request(path, token).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(text)).build());
  }

  Answer patch(String path, @Nullable String token, Object body) throws Exception {
    return send(request(path, token).header("Content-Type", "application/json")
        .method("PATCH", HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body))).build());
  }

  HttpRequest.Builder request(String path, @Nullable String token) {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(30));
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    return b;
  }

  Answer send(HttpRequest request) throws Exception {
    HttpResponse<String> r = http.send(request, HttpResponse.BodyHandlers.ofString());
    JsonNode body = r.body().isEmpty() ? JSON.missingNode() : parse(r.body());
    return new Answer(r.statusCode(), body, r.headers(), r.body());
  }

  private static JsonNode parse(String body) {
    try {
      return JSON.readTree(body);
    } catch (java.io.IOException e) {
      return JSON.missingNode();
    }
  }

  /** A probe that answers null until the awaited state is reached. */
  @FunctionalInterface
  interface Probe<T> {
    @Nullable T get() throws Exception;
  }

  /**
   * Polls {@code probe} every 50 ms until it answers non-null, at most {@code bound}, and returns that answer.
   * Not saas-testing's {@code Await}: its first thousand checks spin, which over HTTP would be a burst of requests
   * that the tenant's rate limit (300 a second) answers 429; the probes here are HTTP calls, so they are paced.
   */
  static <T> T await(String what, Duration bound, Probe<T> probe) throws Exception {
    long deadline = System.nanoTime() + bound.toNanos();
    while (true) {
      T value = probe.get();
      if (value != null) {
        return value;
      }
      if (System.nanoTime() - deadline > 0) {
        throw new AssertionError("timed out after " + bound + " waiting until " + what);
      }
      Thread.sleep(50);
    }
  }

  /** Signs in through {@code POST /dev/login}; returns the token. */
  String login(String tenant, String email, String role) throws Exception {
    Answer a = post("/dev/login", null, Map.of("tenant", tenant, "email", email, "role", role));
    if (a.status() != 200) {
      throw new AssertionError("login failed: " + a.status() + " " + a.raw());
    }
    return a.body().get("token").asText();
  }

  /** A superuser connection to the app's database (past RLS), for checks of what was written. */
  Connection adminConnection() throws Exception {
    PGSimpleDataSource ds = new PGSimpleDataSource();
    ds.setUrl(adminUrl);
    ds.setDatabaseName(database);
    return ds.getConnection();
  }

  long countAll(String table) throws Exception {
    try (Connection c = adminConnection(); Statement s = c.createStatement();
        var rs = s.executeQuery("SELECT count(*) FROM " + table)) {
      rs.next();
      return rs.getLong(1);
    }
  }

  @Override
  public void close() throws Exception {
    app.close();
    PGSimpleDataSource ds = new PGSimpleDataSource();
    ds.setUrl(adminUrl);
    try (Connection c = ds.getConnection(); Statement s = c.createStatement()) {
      s.execute("DROP DATABASE IF EXISTS " + database + " WITH (FORCE)");
      for (String role : new String[] {"_app", "_worker", "_analytics", "_owner"}) {
        s.execute("DROP ROLE IF EXISTS " + rolePrefix + role);
      }
    }
  }

  private static String enc(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8);
  }
}
