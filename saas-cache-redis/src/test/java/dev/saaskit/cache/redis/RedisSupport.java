package dev.saaskit.cache.redis;

import static org.junit.jupiter.api.Assertions.fail;

import io.lettuce.core.KeyScanCursor;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.ScanCursor;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Assumptions;

/**
 * The shared Redis of the tests (127.0.0.1:6379, or {@code SAAS_TEST_REDIS_URL}). Other test runs may use it at the
 * same time: every test class writes under its own random app prefix, deletes only its own keys (never FLUSHALL or
 * FLUSHDB) and kills only its own connections (by their client name). When Redis is unreachable the tests fail
 * under {@code CI=true} and are skipped otherwise.
 */
public final class RedisSupport implements AutoCloseable {
  public static final String URI = System.getenv().getOrDefault("SAAS_TEST_REDIS_URL", "redis://127.0.0.1:6379");

  public final String app = "t" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
  private final RedisClient client;
  private final StatefulRedisConnection<String, String> connection;
  final RedisCommands<String, String> admin;

  private RedisSupport(RedisClient client, StatefulRedisConnection<String, String> connection) {
    this.client = client;
    this.connection = connection;
    this.admin = connection.sync();
  }

  /** Connects to the shared Redis, or fails (CI) or skips (locally) the test class when it is unreachable. */
  public static RedisSupport connect() {
    RedisURI uri = RedisURI.create(URI);
    uri.setTimeout(Duration.ofSeconds(10));
    RedisClient client = RedisClient.create(uri);
    try {
      StatefulRedisConnection<String, String> connection = client.connect();
      connection.sync().ping();
      return new RedisSupport(client, connection);
    } catch (RuntimeException e) {
      client.shutdown();
      String message = "Redis is not reachable at " + URI + " (" + e.getMessage() + "): start it with"
          + " 'redis-server --daemonize yes' (.ci/run does) or point SAAS_TEST_REDIS_URL at one";
      if ("true".equals(System.getenv("CI"))) {
        fail(message, e);
      }
      Assumptions.abort(message);
      throw e;
    }
  }

  /** A client name unique to this class and {@code node}, to find (and kill) its connections. */
  String clientName(String node) {
    return app + "-" + node;
  }

  /** A SaasRedis on the shared Redis under this class's prefix. */
  public SaasRedis.Builder redis(String node) {
    return SaasRedis.builder(URI).app(app).clientName(clientName(node));
  }

  /** Every key under this class's prefix. */
  public List<String> keys() {
    List<String> keys = new ArrayList<>();
    ScanCursor cursor = ScanCursor.INITIAL;
    do {
      KeyScanCursor<String> page = admin.scan(cursor, ScanArgs.Builder.matches(app + ":*").limit(1000));
      keys.addAll(page.getKeys());
      cursor = page;
    } while (!cursor.isFinished());
    return keys;
  }

  /** Kills the connections named {@code clientName(node)}; returns how many. */
  int killClients(String node) {
    String name = clientName(node);
    int killed = 0;
    for (String line : admin.clientList().lines().toList()) {
      if (line.contains(" name=" + name + " ")) {
        String id = line.substring(line.indexOf("id=") + 3, line.indexOf(' ', line.indexOf("id=")));
        killed += (int) (long) admin.clientKill(io.lettuce.core.KillArgs.Builder.id(Long.parseLong(id)));
      }
    }
    return killed;
  }

  @Override
  public void close() {
    try {
      List<String> keys = keys();
      if (!keys.isEmpty()) {
        admin.del(keys.toArray(new String[0]));
      }
    } finally {
      connection.close();
      client.shutdown();
    }
  }

  /** A free TCP port on loopback. */
  static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }

  /** A redis-server of a test's own, on a free port, without persistence; stopping it affects no one else. */
  static final class OwnServer implements AutoCloseable {
    final int port;
    private final Path dir;
    private Process process;

    OwnServer() throws IOException {
      this.port = freePort();
      this.dir = Files.createTempDirectory("saaskit-redis-");
      start();
    }

    String uri() {
      return "redis://127.0.0.1:" + port;
    }

    void start() throws IOException {
      process = new ProcessBuilder("/usr/bin/redis-server", "--port", Integer.toString(port), "--bind",
          "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir.toString())
          .redirectErrorStream(true).redirectOutput(dir.resolve("log").toFile()).start();
      dev.saaskit.testing.Await.until("redis-server on port " + port + " answers", () -> {
        try (java.net.Socket socket = new java.net.Socket(java.net.InetAddress.getLoopbackAddress(), port)) {
          socket.getOutputStream().write("PING\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
          byte[] reply = new byte[7];
          return socket.getInputStream().read(reply) > 0 && new String(reply,
              java.nio.charset.StandardCharsets.US_ASCII).startsWith("+PONG");
        } catch (IOException e) {
          return false;
        }
      });
    }

    void stop() throws InterruptedException {
      process.destroy();
      process.waitFor();
    }

    @Override
    public void close() throws InterruptedException, IOException {
      stop();
      try (java.util.stream.Stream<Path> files = Files.walk(dir)) {
        for (Path file : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
          Files.deleteIfExists(file);
        }
      }
    }
  }
}
