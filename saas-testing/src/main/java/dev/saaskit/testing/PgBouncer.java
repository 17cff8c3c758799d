package dev.saaskit.testing;

import java.io.File;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;

/**
 * A real PgBouncer process in transaction pooling mode in front of test databases, one alias each, for tests that
 * prove code is safe where one server connection serves many clients' transactions in turn.
 *
 * <p>It runs the machine's {@code pgbouncer} (Debian's package puts it in {@code /usr/sbin}); {@link #findBinary()}
 * returns null when there is none, so a test can skip with an assumption. PgBouncer refuses to run as root: as
 * root it is started as the {@code postgres} OS user. It listens on 127.0.0.1 on a free port; its auth file holds
 * the app and owner roles of every database given, whose passwords it checks (md5) and, if the server asks, sends
 * upstream. Clients should connect with {@code prepareThreshold=0}: PgBouncer 1.18 does not follow named prepared
 * statements from one server connection to the next.
 *
 * <pre>{@code
 * Path binary = PgBouncer.findBinary();
 * assumeTrue(binary != null, "pgbouncer is not installed");
 * try (PgBouncer bouncer = PgBouncer.builder(binary).defaultPoolSize(2).database("app", db).start()) {
 *   String url = bouncer.jdbcUrl("app") + "?prepareThreshold=0";
 * }
 * }</pre>
 */
public final class PgBouncer implements AutoCloseable {
  private final Process process;
  private final Path dir;
  private final int port;

  private PgBouncer(Process process, Path dir, int port) {
    this.process = process;
    this.dir = dir;
    this.port = port;
  }

  /** The pgbouncer executable, or null if it is not installed (Debian puts it in /usr/sbin, off users' PATH). */
  public static @Nullable Path findBinary() {
    List<String> dirs = new ArrayList<>(List.of(System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)));
    dirs.addAll(List.of("/usr/sbin", "/usr/local/sbin", "/usr/local/bin", "/usr/bin"));
    return dirs.stream().filter(d -> !d.isEmpty()).map(d -> Path.of(d, "pgbouncer"))
        .filter(Files::isExecutable).findFirst().orElse(null);
  }

  /** A builder that runs {@code binary}. */
  public static Builder builder(Path binary) {
    return new Builder(binary);
  }

  /** The JDBC URL of {@code alias} through PgBouncer, without user or password. */
  public String jdbcUrl(String alias) {
    return "jdbc:postgresql://127.0.0.1:" + port + "/" + alias;
  }

  /** The port PgBouncer listens on (127.0.0.1). */
  public int port() {
    return port;
  }

  /** PgBouncer's log so far. */
  public String log() {
    try {
      return Files.readString(dir.resolve("pgbouncer.log"), StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "(no log: " + e + ")";
    }
  }

  /** Stops PgBouncer and deletes its files. */
  @Override
  public void close() {
    stop();
    deleteQuietly(dir);
  }

  /** How a {@link PgBouncer} is set up: its databases and pool sizes. */
  public static final class Builder {
    private final Path binary;
    private final Map<String, TestDatabase> databases = new LinkedHashMap<>();
    private final Map<String, Integer> poolSizes = new LinkedHashMap<>();
    private int defaultPoolSize = 2;
    private int maxClientConnections = 200;

    private Builder(Path binary) {
      this.binary = Objects.requireNonNull(binary, "binary");
    }

    /** Serves {@code db} as {@code alias} with the default pool size. */
    public Builder database(String alias, TestDatabase db) {
      if (!alias.matches("[A-Za-z0-9_]+")) {
        throw new IllegalArgumentException("alias must be letters, digits and '_' but was '" + alias + "'");
      }
      databases.put(alias, db);
      return this;
    }

    /** Serves {@code db} as {@code alias} with {@code poolSize} server connections per user. */
    public Builder database(String alias, TestDatabase db, int poolSize) {
      database(alias, db);
      poolSizes.put(alias, positive("poolSize", poolSize));
      return this;
    }

    /** Server connections per database and user (default 2). */
    public Builder defaultPoolSize(int poolSize) {
      this.defaultPoolSize = positive("defaultPoolSize", poolSize);
      return this;
    }

    /** Client connections PgBouncer accepts in all (default 200). */
    public Builder maxClientConnections(int connections) {
      this.maxClientConnections = positive("maxClientConnections", connections);
      return this;
    }

    /**
     * Starts PgBouncer and waits until it listens (15 s at most).
     *
     * @throws IOException if it exits or does not listen in time (the message holds its log)
     */
    public PgBouncer start() throws IOException {
      if (databases.isEmpty()) {
        throw new IllegalStateException("add at least one database");
      }
      boolean root = "root".equals(System.getProperty("user.name"));
      Path dir = Files.createTempDirectory("saaskit-pgbouncer");
      Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x")); // readable by postgres
      Set<String> users = new LinkedHashSet<>();
      List<String> aliases = new ArrayList<>();
      for (Map.Entry<String, TestDatabase> e : databases.entrySet()) {
        TestDatabase db = e.getValue();
        users.add(quote(db.appRole()) + " " + quote(db.appPassword()));
        users.add(quote(db.ownerRole()) + " " + quote(db.ownerPassword()));
        // "localhost" may resolve to ::1 first, where the server may not listen
        String host = "localhost".equals(db.server().host()) ? "127.0.0.1" : db.server().host();
        Integer poolSize = poolSizes.get(e.getKey());
        aliases.add(e.getKey() + " = host=" + host + " port=" + db.server().port() + " dbname=" + db.name()
            + (poolSize == null ? "" : " pool_size=" + poolSize));
      }
      write(dir.resolve("userlist.txt"), String.join("\n", users) + "\n");
      IOException lastFailure = null;
      for (int attempt = 0; attempt < 3; attempt++) { // the free port may be taken before PgBouncer binds it
        int port = freePort();
        List<String> ini = new ArrayList<>();
        ini.add("[databases]");
        ini.addAll(aliases);
        ini.addAll(List.of(
            "[pgbouncer]",
            "listen_addr = 127.0.0.1",
            "listen_port = " + port,
            "unix_socket_dir =",
            "auth_type = md5",
            "auth_file = " + dir.resolve("userlist.txt"),
            "pool_mode = transaction",
            "default_pool_size = " + defaultPoolSize,
            "max_client_conn = " + maxClientConnections,
            // pgjdbc sends extra_float_digits in the start-up packet, which PgBouncer refuses unless ignored
            "ignore_startup_parameters = extra_float_digits",
            ""));
        write(dir.resolve("pgbouncer.ini"), String.join("\n", ini));
        List<String> command = new ArrayList<>();
        if (root) { // PgBouncer refuses to run as root
          command.addAll(List.of("runuser", "-u", "postgres", "--"));
        }
        command.addAll(List.of(binary.toString(), dir.resolve("pgbouncer.ini").toString()));
        Process process = new ProcessBuilder(command).redirectErrorStream(true)
            .redirectOutput(dir.resolve("pgbouncer.log").toFile()).start();
        PgBouncer bouncer = new PgBouncer(process, dir, port);
        try {
          bouncer.awaitListening(Duration.ofSeconds(15));
          return bouncer;
        } catch (IOException e) {
          bouncer.stop();
          lastFailure = e;
        }
      }
      deleteQuietly(dir);
      throw Objects.requireNonNull(lastFailure);
    }

    private static int positive(String name, int value) {
      if (value < 1) {
        throw new IllegalArgumentException(name + " must be >= 1 but was " + value);
      }
      return value;
    }
  }

  private void awaitListening(Duration bound) throws IOException {
    try {
      Await.until("pgbouncer listens on 127.0.0.1:" + port, bound, () -> {
        if (!process.isAlive()) {
          throw new IOException("pgbouncer exited with " + process.exitValue());
        }
        try (Socket socket = new Socket()) {
          socket.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 200);
          return true;
        } catch (IOException notYet) {
          return false;
        }
      });
    } catch (AssertionError e) {
      throw new IOException(e.getMessage() + ":\n" + log(), e);
    }
  }

  /**
   * Under runuser the signal goes to pgbouncer itself (runuser then exits with it; signalled, runuser would wait
   * 2 s before passing a SIGKILL on).
   */
  private void stop() {
    List<ProcessHandle> children = process.descendants().toList();
    if (children.isEmpty()) {
      process.destroy();
    } else {
      children.forEach(ProcessHandle::destroy);
    }
    try {
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static void deleteQuietly(Path dir) {
    try (Stream<Path> files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException ignored) {
      // a temp dir left behind is harmless
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }

  private static String quote(String value) {
    return "\"" + value.replace("\"", "\"\"") + "\"";
  }

  private static void write(Path file, String content) throws IOException {
    Files.writeString(file, content, StandardCharsets.UTF_8);
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
  }
}
