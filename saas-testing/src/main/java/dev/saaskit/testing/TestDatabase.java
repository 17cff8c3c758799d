package dev.saaskit.testing;

import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.testing.internal.DefaultTestDatabase;
import dev.saaskit.testing.internal.SharedServer;
import java.util.Map;
import javax.sql.DataSource;

/**
 * A fresh, empty database on the {@linkplain PostgresServer#shared() shared server}, with two roles that behave
 * like a production deployment, so that Row-Level Security and privileges are tested as they will run:
 *
 * <ul>
 *   <li>the <b>owner</b> role ({@link #ownerRole()}) owns the database and schema {@code public} and runs
 *       migrations. It is {@code LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB}: table owners bypass RLS
 *       unless a table says {@code FORCE ROW LEVEL SECURITY}, exactly as in production.
 *   <li>the <b>app</b> role ({@link #appRole()}) is what application code logs in as. It is
 *       {@code LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB}, owns nothing, has {@code CONNECT} on the
 *       database and {@code USAGE} on {@code public}, and by default privileges gets {@code SELECT, INSERT,
 *       UPDATE, DELETE} on every table and {@code USAGE, SELECT} on every sequence the owner role creates in
 *       {@code public}. So it can use tables but never drop, alter or escape their policies.
 * </ul>
 *
 * <p>{@code PUBLIC} has no {@code CONNECT} on the database and no privileges on {@code public}; extra roles come
 * from {@link #createRole(String, String)}. Database and role names start with {@code saas_t_} and a random
 * suffix; passwords are random. Roles are server-wide, so {@link #close()} drops them together with the database.
 *
 * <p>Inside JUnit, use {@link PostgresExtension}, which creates one per test class and closes it after. Elsewhere
 * (benchmarks, a {@code main}) use {@link #create()} with try-with-resources:
 *
 * <pre>{@code
 * try (TestDatabase db = TestDatabase.create()) {
 *   try (Connection c = db.ownerDataSource().getConnection()) { ...migrate... }
 *   DataSource app = db.appDataSource();
 * }
 * }</pre>
 *
 * <p>Instances are thread-safe.
 */
public interface TestDatabase extends AutoCloseable {

  /**
   * Creates a fresh database with its owner and app roles on the shared server (starting the server if needed).
   * The caller closes it. Any still open when the JVM exits are dropped by a shutdown hook on a server this JVM
   * did not start ({@code SAAS_TEST_POSTGRES_URL}), and vanish with the server otherwise.
   *
   * @throws dev.saaskit.core.SaasException if the server cannot be started or the database cannot be created
   */
  static TestDatabase create() {
    return DefaultTestDatabase.create(SharedServer.get(), "TestDatabase.create()");
  }

  /** The database name, e.g. {@code saas_t_1a2b3c4d5e6f}. */
  String name();

  /** The JDBC URL of this database, without user or password, e.g. {@code jdbc:postgresql://localhost:5432/saas_t_1a2b3c4d5e6f}. */
  String jdbcUrl();

  /** The role that owns the database and schema {@code public}: run migrations as this role. */
  String ownerRole();

  /** The owner role's password. */
  String ownerPassword();

  /** The application role: log in as this role to test what application code can see and do. */
  String appRole();

  /** The application role's password. */
  String appPassword();

  /** A pool (HikariCP, at most 4 connections, opened on demand) logged in as {@link #ownerRole()}. */
  DataSource ownerDataSource();

  /** A pool (HikariCP, at most 10 connections, opened on demand) logged in as {@link #appRole()}. */
  DataSource appDataSource();

  /**
   * A pool (HikariCP, at most 2 connections, opened on demand) logged in as the server's superuser and connected
   * to this database: for checks that must see everything, such as counting all rows past RLS.
   */
  DataSource adminDataSource();

  /**
   * A new pool connected to this database as {@code role}, for a custom role or pool size. The caller closes it;
   * any still open are closed by {@link #close()}. Connections are opened on demand.
   */
  HikariDataSource newPool(String role, String password, int maxPoolSize);

  /**
   * Like {@link #newPool(String, String, int)}, with extra PgJDBC connection properties (for example
   * {@code "ApplicationName"} or {@code "options"}).
   */
  HikariDataSource newPool(String role, String password, int maxPoolSize, Map<String, String> jdbcProperties);

  /**
   * Creates a {@code LOGIN} role named {@code <name()>_<nameSuffix>} with a random password and
   * {@code attributes} (raw SQL role options such as {@code "SUPERUSER"}, {@code "BYPASSRLS"} or {@code ""}),
   * grants it {@code CONNECT} on this database and {@code USAGE} on {@code public}, and returns its name. Table
   * privileges are up to the caller. The role is dropped by {@link #close()}.
   *
   * @param nameSuffix 1 to 32 characters of {@code a-z}, {@code 0-9} and {@code _}, not {@code owner} or
   *     {@code app}
   * @throws IllegalArgumentException if the suffix is malformed or already used
   */
  String createRole(String nameSuffix, String attributes);

  /**
   * The password of a role this database created (owner, app or one from {@link #createRole(String, String)}).
   *
   * @throws IllegalArgumentException for any other role
   */
  String rolePassword(String role);

  /** The server this database lives on. */
  PostgresServer server();

  /**
   * Closes every pool, ends remaining sessions, drops the database and then its roles. Safe to call more than
   * once; later calls do nothing. Every step is attempted even if an earlier one fails.
   *
   * @throws dev.saaskit.core.SaasException if some step failed (the first failure is the cause, the others are
   *     suppressed)
   */
  @Override
  void close();
}
