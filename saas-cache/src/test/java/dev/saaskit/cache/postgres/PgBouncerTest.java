package dev.saaskit.cache.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.cache.Invalidation;
import dev.saaskit.testing.Await;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The bus behind a real PgBouncer in transaction pooling mode (two server connections shared by every client):
 * polling mode works through it, and a node left in LISTEN mode notices that its listener connection does not
 * keep a session and falls back to polling instead of waiting for notifications that cannot arrive. Skipped when
 * pgbouncer is not installed (.ci/run installs it); started as the postgres OS user when running as root.
 */
@ExtendWith(PostgresExtension.class)
class PgBouncerTest {
  static BusFixture fx;
  static Process bouncer;
  static Path dir;
  static int port;

  @BeforeAll
  static void start(TestDatabase db) throws Exception {
    Path binary = Stream.of("/usr/sbin/pgbouncer", "/usr/local/sbin/pgbouncer", "/usr/bin/pgbouncer",
        "/usr/local/bin/pgbouncer").map(Path::of).filter(Files::isExecutable).findFirst().orElse(null);
    assumeTrue(binary != null, "pgbouncer not installed");
    BusFixture.migrate(db);
    fx = new BusFixture(db);
    dir = Files.createTempDirectory("saaskit-cache-pgbouncer");
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    write("userlist.txt", "\"" + db.appRole() + "\" \"" + db.appPassword() + "\"\n");
    String host = "localhost".equals(db.server().host()) ? "127.0.0.1" : db.server().host();
    try (ServerSocket free = new ServerSocket(0)) {
      port = free.getLocalPort();
    }
    write("pgbouncer.ini", String.join("\n", "[databases]",
        "cache = host=" + host + " port=" + db.server().port() + " dbname=" + db.name(),
        "[pgbouncer]", "listen_addr = 127.0.0.1", "listen_port = " + port, "unix_socket_dir =",
        "auth_type = md5", "auth_file = " + dir.resolve("userlist.txt"), "pool_mode = transaction",
        "default_pool_size = 2", "max_client_conn = 50", "ignore_startup_parameters = extra_float_digits", ""));
    List<String> command = new ArrayList<>();
    if ("root".equals(System.getProperty("user.name"))) {
      command.addAll(List.of("runuser", "-u", "postgres", "--")); // pgbouncer refuses to run as root
    }
    command.addAll(List.of(binary.toString(), dir.resolve("pgbouncer.ini").toString()));
    bouncer = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(dir.resolve("log").toFile())
        .start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
    // the address pgbouncer listens on (listen_addr above), as bytes: no name to resolve
    InetAddress listenAddr = InetAddress.getByAddress(new byte[] {127, 0, 0, 1});
    while (true) {
      try (Socket s = new Socket()) {
        s.connect(new InetSocketAddress(listenAddr, port), 200);
        break;
      } catch (IOException notYet) {
        if (!bouncer.isAlive() || System.nanoTime() > deadline) {
          throw new IllegalStateException("pgbouncer did not start: " + Files.readString(dir.resolve("log")));
        }
        LockSupport.parkNanos(50_000_000);
      }
    }
  }

  @AfterEach
  void closeNodes() {
    if (fx != null) {
      fx.close();
    }
  }

  @AfterAll
  static void stop() throws Exception {
    if (bouncer != null) {
      bouncer.descendants().forEach(ProcessHandle::destroy);
      bouncer.destroy();
      bouncer.waitFor(10, TimeUnit.SECONDS);
    }
    if (dir != null) {
      try (Stream<Path> files = Files.walk(dir)) {
        files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  @Test
  void pollingNodesWorkThroughTransactionPooling() throws SQLException {
    PostgresInvalidationBus a = fx.node("a", bouncerPool(), x -> x.pollingOnly(true).pollInterval(Duration.ofMillis(50)));
    PostgresInvalidationBus b = fx.node("b", bouncerPool(), x -> x.pollingOnly(true).pollInterval(Duration.ofMillis(50)));
    RecordingListener onB = new RecordingListener();
    b.subscribe(onB);
    List<Invalidation> all = IntStream.range(0, 40).mapToObj(i -> Invalidation.tag("bounced-" + i)).toList();
    all.subList(0, 20).forEach(a::publish);
    try (Connection c = bouncerPool().getConnection()) {
      c.setAutoCommit(false);
      all.subList(20, 40).forEach(i -> a.publish(c, i));
      c.commit();
    }
    Await.until("everything through PgBouncer", () -> onB.hasAll(all));
    assertThat(onB.receivedAmong(all)).containsExactlyElementsOf(all);
    assertThat(onB.flushes).hasValue(0);
  }

  @Test
  void publishAndCommitWorksThroughTransactionPooling() throws Exception {
    // the COMMIT rides in the insert's message batch: PgBouncer must hand the server connection back after it,
    // and the client's next transaction must start cleanly on whichever server connection it gets
    PostgresInvalidationBus a = fx.node("a", bouncerPool(), x -> x.pollingOnly(true).pollInterval(Duration.ofMillis(50)));
    PostgresInvalidationBus b = fx.node("b", bouncerPool(), x -> x.pollingOnly(true).pollInterval(Duration.ofMillis(50)));
    RecordingListener onB = new RecordingListener();
    b.subscribe(onB);
    HikariDataSource clients = bouncerPool();
    List<Invalidation> all = IntStream.range(0, 60).mapToObj(i -> Invalidation.tag("together-" + i)).toList();
    ExecutorService threads = Executors.newFixedThreadPool(3);
    try {
      List<Future<?>> done = new ArrayList<>();
      for (int t = 0; t < 3; t++) {
        List<Invalidation> mine = all.subList(t * 20, t * 20 + 20);
        done.add(threads.submit(() -> {
          try (Connection c = clients.getConnection()) {
            c.setAutoCommit(false);
            for (int i = 0; i < 10; i++) {
              a.publishAndCommit(c, mine.get(i));
            }
            for (int i = 10; i < mine.size(); i += 2) {
              a.publishAndCommit(c, mine.subList(i, i + 2)); // the multi-row insert
            }
          }
          return null;
        }));
      }
      for (Future<?> f : done) {
        f.get(1, TimeUnit.MINUTES);
      }
    } finally {
      threads.shutdownNow();
    }
    Await.until("everything through PgBouncer", () -> onB.hasAll(all));
    assertThat(onB.received).hasSize(all.size());
    assertThat(onB.flushes).hasValue(0);
  }

  @Test
  void aListeningNodeBehindTransactionPoolingDetectsItAndPolls() {
    // both nodes in the default (LISTEN) mode: LISTEN lands on whichever server connection PgBouncer picked
    PostgresInvalidationBus a = fx.node("a", bouncerPool(), x -> x.pollInterval(Duration.ofMillis(100)));
    PostgresInvalidationBus b = fx.node("b", bouncerPool(), x -> x.pollInterval(Duration.ofMillis(100)));
    RecordingListener onB = new RecordingListener();
    b.subscribe(onB);
    List<Invalidation> all = IntStream.range(0, 30).mapToObj(i -> Invalidation.tag("detected-" + i)).toList();
    all.forEach(a::publish);
    Await.until("everything, by polling", () -> onB.hasAll(all));
    // a's traffic makes PgBouncer hand b's statements to the other server connection sooner or later
    Await.until("b noticed that its listener connection has no session of its own", () -> {
      a.publish(Invalidation.tag("filler"));
      return !b.stats().listening();
    });
    assertThat(onB.receivedAmong(all)).containsExactlyElementsOf(all);
  }

  @Test
  void theRecommendedSetupPublishesThroughPgBouncerAndListensDirectly() throws SQLException {
    // no periodic reads: only a NOTIFY sent through PgBouncer and received on the direct connection wakes b
    PostgresInvalidationBus a = fx.node("a", bouncerPool(),
        x -> x.listenerDataSource(fx.appPool(1)).pollInterval(Duration.ofHours(1)));
    PostgresInvalidationBus b = fx.node("b", bouncerPool(),
        x -> x.listenerDataSource(fx.appPool(1)).pollInterval(Duration.ofHours(1)));
    RecordingListener onB = new RecordingListener();
    b.subscribe(onB);
    Await.until("b listening directly", () -> b.stats().listening());
    Invalidation own = Invalidation.tag("own-transaction");
    a.publish(own);
    Invalidation inTx = Invalidation.tag("app-transaction");
    try (Connection c = bouncerPool().getConnection()) {
      c.setAutoCommit(false);
      a.publish(c, inTx);
      c.commit();
    }
    Await.until("both, woken by notifications", () -> onB.has(own) && onB.has(inTx));
    assertThat(b.stats().listening()).isTrue();
    assertThat(b.stats().replayed()).isZero();
  }

  private static HikariDataSource bouncerPool() {
    HikariConfig config = new HikariConfig();
    config.setJdbcUrl("jdbc:postgresql://127.0.0.1:" + port + "/cache");
    config.setUsername(fx.db.appRole());
    config.setPassword(fx.db.appPassword());
    config.setMaximumPoolSize(3);
    config.setMinimumIdle(0);
    // PgBouncer 1.18 in transaction mode does not carry server-side prepared statements across server connections
    config.addDataSourceProperty("prepareThreshold", "0");
    HikariDataSource pool = new HikariDataSource(config);
    fx.register(pool);
    return pool;
  }

  private static void write(String name, String content) throws IOException {
    Path file = dir.resolve(name);
    Files.writeString(file, content, StandardCharsets.UTF_8);
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
  }
}
