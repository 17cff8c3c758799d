package dev.saaskit.fleet;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A real primary and a streaming hot standby made with the machine's PostgreSQL binaries ({@code initdb},
 * {@code pg_basebackup -R}, {@code pg_ctl}) in a temporary folder, each on a free loopback port, trust
 * authentication, fsync off. As root the server processes run as the {@code postgres} user (PostgreSQL refuses root).
 * For tests only.
 */
final class StreamingReplica implements AutoCloseable {
  final Path dir;
  final Path bin;
  final int primaryPort;
  final int standbyPort;
  private final boolean asPostgres;

  private StreamingReplica(Path bin) throws IOException, InterruptedException {
    this.bin = bin;
    this.asPostgres = "root".equals(System.getProperty("user.name"));
    this.dir = Files.createTempDirectory("saaskit-replica");
    this.primaryPort = freePort();
    this.standbyPort = freePort();
    if (asPostgres) {
      run("chown", "postgres", dir.toString());
    }
    Path primary = dir.resolve("primary");
    Path standby = dir.resolve("standby");
    pg("initdb", "-D", primary.toString(), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync");
    append(primary.resolve("postgresql.conf"), "listen_addresses = '127.0.0.1'", "port = " + primaryPort,
        "unix_socket_directories = '" + dir + "'", "fsync = off", "synchronous_commit = off", "wal_level = replica",
        "max_wal_senders = 4", "hot_standby = on", "hot_standby_feedback = on");
    pg("pg_ctl", "-D", primary.toString(), "-l", dir.resolve("primary.log").toString(), "-w", "start");
    pg("pg_basebackup", "-h", "127.0.0.1", "-p", String.valueOf(primaryPort), "-U", "postgres", "-D",
        standby.toString(), "-R", "-X", "stream");
    append(standby.resolve("postgresql.conf"), "port = " + standbyPort);
    pg("pg_ctl", "-D", standby.toString(), "-l", dir.resolve("standby.log").toString(), "-w", "start");
  }

  /** The pair, or empty when this machine has no PostgreSQL server binaries (Debian's /usr/lib/postgresql). */
  static Optional<StreamingReplica> startIfPossible() throws IOException, InterruptedException {
    Path root = Path.of("/usr/lib/postgresql");
    if (!Files.isDirectory(root)) {
      return Optional.empty();
    }
    Optional<Path> bin;
    try (Stream<Path> versions = Files.list(root)) {
      bin = versions.map(v -> v.resolve("bin")).filter(b -> Files.isExecutable(b.resolve("pg_basebackup")))
          .max(Comparator.comparing(b -> Integer.parseInt(b.getParent().getFileName().toString())));
    }
    if (bin.isEmpty()) {
      return Optional.empty();
    }
    return Optional.of(new StreamingReplica(bin.get()));
  }

  String primaryUrl(String database) {
    return "jdbc:postgresql://127.0.0.1:" + primaryPort + "/" + database;
  }

  String standbyUrl(String database) {
    return "jdbc:postgresql://127.0.0.1:" + standbyPort + "/" + database;
  }

  void stopPrimary() throws IOException, InterruptedException {
    pg("pg_ctl", "-D", dir.resolve("primary").toString(), "-m", "immediate", "-w", "stop");
  }

  void stopStandby() throws IOException, InterruptedException {
    pg("pg_ctl", "-D", dir.resolve("standby").toString(), "-m", "immediate", "-w", "stop");
  }

  @Override
  public void close() throws IOException, InterruptedException {
    for (String node : List.of("standby", "primary")) {
      if (Files.exists(dir.resolve(node).resolve("postmaster.pid"))) {
        pg("pg_ctl", "-D", dir.resolve(node).toString(), "-m", "immediate", "-w", "stop");
      }
    }
    try (Stream<Path> all = Files.walk(dir)) {
      all.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  private void pg(String tool, String... args) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>();
    if (asPostgres) {
      command.addAll(List.of("runuser", "-u", "postgres", "--"));
    }
    command.add(bin.resolve(tool).toString());
    command.addAll(List.of(args));
    run(command.toArray(String[]::new));
  }

  private void run(String... command) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).directory(dir.toFile()).start();
    String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
      p.destroyForcibly();
      throw new IOException(String.join(" ", command) + " failed: " + output);
    }
  }

  private static void append(Path file, String... lines) throws IOException {
    // as root into a folder of postgres: root may write, the server only reads it
    Files.writeString(file, "\n" + String.join("\n", lines) + "\n", StandardOpenOption.APPEND);
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }
}
