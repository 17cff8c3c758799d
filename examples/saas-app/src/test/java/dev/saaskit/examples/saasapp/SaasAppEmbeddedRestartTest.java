package dev.saaskit.examples.saasapp;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.saaskit.cache.redis.RateLimit;
import dev.saaskit.testing.Await;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's run mode: no {@code DATABASE_URL}, so the app starts its own embedded PostgreSQL in
 * {@code SAAS_APP_DATA_DIR}, and what the demo tenants wrote is still there after a restart (the other tests run on
 * the shared test server instead).
 */
class SaasAppEmbeddedRestartTest {
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

  @Test
  void withoutADatabaseUrlTheDataSurvivesARestart(@TempDir Path dir) throws Exception {
    Path dataDir = dir.resolve("pgdata");
    String projectId;
    try (SaasApp app = SaasApp.start(config(dataDir))) {
      assertThat(Files.isDirectory(dataDir.resolve("base"))).as("the embedded server's data is in the folder")
          .isTrue();
      String token = login(app);
      JsonNode created = call(app, "POST", "/api/projects", token, "{\"name\":\"kept\"}", 201);
      projectId = created.get("id").asText();
      call(app, "GET", "/ready", null, null, 200);
    }
    try (SaasApp again = SaasApp.start(config(dataDir))) {
      call(again, "GET", "/ready", null, null, 200);
      String token = login(again);
      JsonNode project = call(again, "GET", "/api/projects/" + projectId, token, null, 200);
      assertThat(project.get("name").asText()).isEqualTo("kept");
      assertThat(call(again, "GET", "/api/projects", token, null, 200).get("projects").size()).isEqualTo(1);
    }
  }

  /**
   * A SIGTERM (a process manager, {@code docker stop}) runs {@code main}'s shutdown hook, which closes the app newest
   * part first and the embedded PostgreSQL last. The embedded server used to register a hook of its own that stopped
   * it at the same moment: the pools, the worker and the bus lost their connections mid-close, logged warnings with
   * stack traces, and the bus waited out its close timeout.
   */
  @Test
  void aSigtermClosesTheAppBeforeItsDatabase(@TempDir Path dir) throws Exception {
    Path log = dir.resolve("app.log");   // a file, not a pipe: the JDK may close a pipe under a reader at exit
    ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"), SaasApp.class.getName())
        .redirectErrorStream(true)
        .redirectOutput(log.toFile());
    pb.environment().put("PORT", "0");
    pb.environment().put("HOST", "127.0.0.1");
    pb.environment().put("SAAS_APP_DATA_DIR", dir.resolve("pgdata").toString());
    pb.environment().remove("DATABASE_URL");
    Process process = pb.start();
    try {
      Await.until("the app printed how to stop it", Duration.ofMinutes(3),
          () -> Files.readString(log).contains("Stop with Ctrl+C") || !process.isAlive());
      String started = Files.readString(log);
      java.util.regex.Matcher url = java.util.regex.Pattern.compile("running at (http://\\S+)").matcher(started);
      assertThat(url.find()).as(started).isTrue();
      // in use, as it would be: the pools hold connections when the process is stopped
      HttpResponse<String> login = http.send(HttpRequest.newBuilder(URI.create(url.group(1) + "/dev/login"))
          .header("Content-Type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofString(
              "{\"tenant\":\"stop-co\",\"email\":\"olga@stop.test\",\"role\":\"owner\"}"))
          .build(), HttpResponse.BodyHandlers.ofString());
      assertThat(login.statusCode()).as(login.body()).isEqualTo(200);
      process.destroy();   // SIGTERM: the shutdown hooks run
      assertThat(process.waitFor(2, java.util.concurrent.TimeUnit.MINUTES)).as("the app stopped").isTrue();
    } finally {
      process.destroyForcibly();
    }
    String output = Files.readString(log);
    // HikariCP's "Thread starvation or clock leap detected" is a loaded machine's, not the shutdown's
    String afterStart = output.substring(output.indexOf("Stop with Ctrl+C")).lines()
        .filter(line -> !line.contains("Thread starvation or clock leap"))
        .collect(java.util.stream.Collectors.joining("\n"));
    assertThat(afterStart).as(afterStart).doesNotContain("Exception").doesNotContain(" WARN ")
        .doesNotContain(" ERROR ");
  }

  private static AppConfig config(Path dataDir) {
    return AppConfig.builder()
        .port(0)
        .host("127.0.0.1")
        .dataDir(dataDir)
        .demo(true)
        .reportSteps(1)
        .reportStepDelay(Duration.ofMillis(10))
        .ipRateLimit(RateLimit.perMinute(100_000))
        .build();
  }

  private String login(SaasApp app) throws Exception {
    return call(app, "POST", "/dev/login", null, AppFixture.JSON.writeValueAsString(
        Map.of("tenant", "restart-co", "email", "olga@restart.test", "role", "owner")), 200).get("token").asText();
  }

  private JsonNode call(SaasApp app, String method, String path, @Nullable String token, @Nullable String body,
      int expectedStatus) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + app.port() + path))
        .timeout(Duration.ofSeconds(30))
        .header("Content-Type", "application/json")
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
            : HttpRequest.BodyPublishers.ofString(body));
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as(method + " " + path + ": " + r.body()).isEqualTo(expectedStatus);
    return AppFixture.JSON.readTree(r.body());
  }
}
