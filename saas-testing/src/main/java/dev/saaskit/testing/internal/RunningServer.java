package dev.saaskit.testing.internal;

import dev.saaskit.core.SaasException;
import dev.saaskit.testing.PostgresServer;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * A reachable PostgreSQL server with superuser credentials, whatever started it. Knows how to open a superuser
 * connection to any database on it and, for servers this JVM started, how to stop it.
 */
public final class RunningServer implements PostgresServer {
  private static final org.postgresql.Driver DRIVER = new org.postgresql.Driver();
  private static final Pattern PASSWORD_PARAM = Pattern.compile("(?i)(password=)[^&]*");

  private final String hostSpec;
  private final String host;
  private final int port;
  private final String superuser;
  private final String superuserPassword;
  private final String maintenanceDatabase;
  private final Map<String, String> urlParameters;
  private final int majorVersion;
  private final String description;
  private final @Nullable AutoCloseable stopper;

  private RunningServer(Spec spec, String superuser, int majorVersion, String description) {
    this.hostSpec = spec.hostSpec;
    this.host = spec.host;
    this.port = spec.port;
    this.superuser = superuser;
    this.superuserPassword = spec.password;
    this.maintenanceDatabase = spec.maintenanceDatabase;
    this.urlParameters = spec.urlParameters;
    this.majorVersion = majorVersion;
    this.description = description;
    this.stopper = spec.stopper;
  }

  /** Where a server is and how to log in as its superuser, before we checked it. */
  public static final class Spec {
    final String kind;
    final String hostSpec;
    final String host;
    final int port;
    final @Nullable String user;
    final String password;
    final String maintenanceDatabase;
    final Map<String, String> urlParameters;
    final @Nullable AutoCloseable stopper;

    /**
     * @param kind how the server was found, the start of {@link #description()}
     * @param user the superuser, or null to take whoever the driver logs in as
     * @param stopper stops the server at JVM exit, or null for a server this JVM did not start
     */
    public Spec(String kind, String host, int port, @Nullable String user, String password,
        String maintenanceDatabase, @Nullable AutoCloseable stopper) {
      this(kind, host + ":" + port, host, port, user, password, maintenanceDatabase, Map.of(), stopper);
    }

    Spec(String kind, String hostSpec, String host, int port, @Nullable String user, String password,
        String maintenanceDatabase, Map<String, String> urlParameters, @Nullable AutoCloseable stopper) {
      this.kind = kind;
      this.hostSpec = hostSpec;
      this.host = host;
      this.port = port;
      this.user = user;
      this.password = password;
      this.maintenanceDatabase = maintenanceDatabase;
      this.urlParameters = Map.copyOf(urlParameters);
      this.stopper = stopper;
    }
  }

  /**
   * Parses a superuser JDBC URL ({@code SAAS_TEST_POSTGRES_URL}) into a spec; nothing is connected yet.
   *
   * @throws SaasException if it is not a PostgreSQL JDBC URL
   */
  public static Spec parseUrl(String url) {
    Properties parsed = org.postgresql.Driver.parseURL(url, new Properties());
    if (parsed == null) {
      throw new SaasException("SAAS_TEST_POSTGRES_URL is not a PostgreSQL JDBC URL: '" + redact(url)
          + "'. Use a superuser URL such as jdbc:postgresql://127.0.0.1:5432/postgres?user=postgres");
    }
    // limit -1 keeps empty entries, so the n-th host still pairs with the n-th port
    String[] hosts = parsed.getProperty("PGHOST", "localhost").split(",", -1);
    String[] ports = parsed.getProperty("PGPORT", "5432").split(",", -1);
    StringBuilder hostSpec = new StringBuilder();
    for (int i = 0; i < hosts.length; i++) {
      if (i > 0) {
        hostSpec.append(',');
      }
      hostSpec.append(hosts[i]).append(':').append(i < ports.length ? ports[i] : "5432");
    }
    int port;
    try {
      port = Integer.parseInt(ports[0]);
    } catch (NumberFormatException e) {
      throw new SaasException("SAAS_TEST_POSTGRES_URL has an invalid port: '" + redact(url) + "'", e);
    }
    Map<String, String> parameters = new TreeMap<>();
    for (String key : parsed.stringPropertyNames()) {
      if (!key.equals("PGHOST") && !key.equals("PGPORT") && !key.equals("PGDBNAME") && !key.equals("user")
          && !key.equals("password")) {
        parameters.put(key, parsed.getProperty(key));
      }
    }
    String database = parsed.getProperty("PGDBNAME", "");
    return new Spec("SAAS_TEST_POSTGRES_URL server", hostSpec.toString(), hosts[0], port,
        parsed.getProperty("user"), parsed.getProperty("password", ""), database.isEmpty() ? "postgres" : database,
        parameters, null);
  }

  /** {@code url} with the value of any {@code password=} parameter replaced, for messages. */
  public static String redact(String url) {
    return PASSWORD_PARAM.matcher(url).replaceAll("$1***");
  }

  /**
   * Connects to the server described by {@code spec}, checks that the login is a superuser and reads the version.
   * If that fails, the server is stopped (when this JVM started it) and a SaasException says what to do.
   */
  public static RunningServer check(Spec spec, String whatToDo) {
    RunningServer unchecked = new RunningServer(spec, spec.user == null ? "" : spec.user, 0, spec.kind);
    try (Connection c = unchecked.connect(spec.maintenanceDatabase);
        Statement st = c.createStatement();
        ResultSet rs = st.executeQuery("select current_user, current_setting('server_version'), "
            + "current_setting('server_version_num')::int, "
            + "(select rolsuper from pg_catalog.pg_roles where rolname = current_user)")) {
      rs.next();
      String user = rs.getString(1);
      String version = firstWord(rs.getString(2));
      int major = rs.getInt(3) / 10000;
      if (!rs.getBoolean(4)) {
        throw new SaasException(spec.kind + " at " + spec.hostSpec + ": role '" + user + "' is not a superuser. "
            + "The test kit creates databases and roles, so it needs a superuser login. " + whatToDo);
      }
      return new RunningServer(spec, user, major, spec.kind + " " + version);
    } catch (SQLException | RuntimeException e) {
      unchecked.stop();
      if (e instanceof SaasException) {
        throw (SaasException) e;
      }
      throw new SaasException("Could not connect to the " + spec.kind + " at " + spec.hostSpec + " as "
          + (spec.user == null ? "the default user" : "'" + spec.user + "'") + ": " + e.getMessage() + ". "
          + whatToDo, e);
    }
  }

  /** A new superuser connection (auto-commit) to {@code database}; the caller closes it. */
  public Connection connect(String database) throws SQLException {
    Properties props = new Properties();
    if (!superuser.isEmpty()) {
      props.setProperty("user", superuser);
    }
    if (!superuserPassword.isEmpty()) {
      props.setProperty("password", superuserPassword);
    }
    props.setProperty("ApplicationName", "saas-testing admin");
    Connection c = DRIVER.connect(jdbcUrl(database), props);
    if (c == null) {
      throw new SQLException("the PostgreSQL driver did not accept " + jdbcUrl(database));
    }
    return c;
  }

  /** The database that superuser connections use when not working inside a test database. */
  public String maintenanceDatabase() {
    return maintenanceDatabase;
  }

  /** Whether this JVM started the server (and so it goes away at exit, with every database on it). */
  public boolean ownedByThisJvm() {
    return stopper != null;
  }

  /** Stops the server if this JVM started it; otherwise does nothing. */
  public void stop() {
    if (stopper != null) {
      try {
        stopper.close();
      } catch (Exception e) {
        throw new SaasException("Could not stop the " + description + ": " + e.getMessage(), e);
      }
    }
  }

  @Override
  public String host() {
    return host;
  }

  @Override
  public int port() {
    return port;
  }

  @Override
  public String superuser() {
    return superuser;
  }

  @Override
  public String superuserPassword() {
    return superuserPassword;
  }

  @Override
  public String jdbcUrl(String database) {
    StringBuilder url = new StringBuilder("jdbc:postgresql://").append(hostSpec).append('/')
        .append(URLEncoder.encode(database, StandardCharsets.UTF_8));
    char sep = '?';
    for (Map.Entry<String, String> p : new LinkedHashMap<>(urlParameters).entrySet()) {
      url.append(sep).append(URLEncoder.encode(p.getKey(), StandardCharsets.UTF_8)).append('=')
          .append(URLEncoder.encode(p.getValue(), StandardCharsets.UTF_8));
      sep = '&';
    }
    return url.toString();
  }

  @Override
  public int majorVersion() {
    return majorVersion;
  }

  @Override
  public String description() {
    return description;
  }

  @Override
  public String toString() {
    return description + " at " + hostSpec;
  }

  /** The text up to the first space: {@code "16.4 (Debian 16.4-1)"} gives {@code "16.4"}. */
  private static String firstWord(String text) {
    int space = text.indexOf(' ');
    return space < 0 ? text : text.substring(0, space);
  }
}
