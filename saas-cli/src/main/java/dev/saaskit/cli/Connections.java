package dev.saaskit.cli;

import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.function.Function;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;

/** Opens the one JDBC connection a command needs, failing fast and with a one-line message. */
final class Connections {
  static final String URL_PREFIX = "jdbc:postgresql:";
  private static final String EXPECTED = " (expected jdbc:postgresql://host[:port]/database[?parameters])";

  /** Printed to stderr when --url holds a password, before anything else happens. */
  static final String PASSWORD_IN_URL_WARNING = "warning: --url contains a password, which other users can see in "
      + "the process list and which stays in shell history; put it in an environment variable and pass the "
      + "variable's name with --password-env instead";

  /** A portable environment variable name (POSIX): letters, digits and '_', not starting with a digit. */
  static final Pattern ENV_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");

  /** The URL properties pgjdbc reads a secret from. */
  private static final List<String> SECRET_PROPERTIES = List.of("password", "sslpassword");

  private Connections() {}

  /**
   * Connects to {@code url} with pgjdbc. {@code user} and {@code password} may be null (then the URL's, or
   * pgjdbc's defaults, apply); parameters written in the URL win over these, as always with pgjdbc. A password in
   * the URL draws {@link #PASSWORD_IN_URL_WARNING} on {@code err} first.
   *
   * @throws CliException if the URL is not a PostgreSQL JDBC URL, has a user-info part (which pgjdbc does not
   *     read), or the connection fails; the message names the URL and gives the server's or driver's reason, both
   *     passed through {@link Redaction}, and so does the cause attached for {@code --verbose}
   */
  static Connection open(PrintWriter err, String url, @Nullable String user, @Nullable String password,
      int timeoutSeconds, String applicationName) {
    List<String> secrets = new ArrayList<>(Redaction.secretsIn(url));
    if (!secrets.isEmpty()) {
      err.println(PASSWORD_IN_URL_WARNING);
      err.flush();
    }
    if (!url.startsWith(URL_PREFIX)) {
      throw new CliException("not a PostgreSQL JDBC URL: " + Redaction.url(url) + EXPECTED);
    }
    // pgjdbc 42.7 takes "user:password@host" for a host name (and logs it, or resolves it): refuse it unread
    if (Redaction.hasUserInfo(url)) {
      throw new CliException("the PostgreSQL JDBC driver does not read a user or password written before the "
          + "host: " + Redaction.url(url) + "; name the role with --user (or user= in the URL) and the "
          + "environment variable holding the password with --password-env");
    }
    // checked here because pgjdbc's own message ("Unable to parse URL ...") repeats the URL, password and all
    Properties parsed = org.postgresql.Driver.parseURL(url, null);
    if (parsed == null) {
      throw new CliException("invalid PostgreSQL JDBC URL: " + Redaction.url(url) + EXPECTED);
    }
    for (String key : SECRET_PROPERTIES) { // as the driver decoded them
      String value = parsed.getProperty(key);
      if (value != null && !value.isEmpty()) {
        secrets.add(value);
      }
    }
    Properties props = new Properties();
    // fail fast on an unreachable host (TCP connect) and on a server that accepts but never answers (login)
    props.setProperty("connectTimeout", Integer.toString(timeoutSeconds));
    props.setProperty("loginTimeout", Integer.toString(timeoutSeconds));
    props.setProperty("ApplicationName", applicationName);
    if (user != null) {
      props.setProperty("user", user);
    }
    if (password != null) {
      props.setProperty("password", password);
      secrets.add(password);
    }
    Connection connection;
    try {
      connection = new org.postgresql.Driver().connect(url, props);
    } catch (SQLException e) { // pgjdbc does not echo passwords, but its messages may name the URL: make sure
      throw new CliException("cannot connect to " + Redaction.url(url) + ": " + Redaction.text(reason(e), secrets),
          Redaction.throwable(e, secrets));
    }
    if (connection == null) { // not expected after parseURL, but Driver.connect may return null
      throw new CliException("invalid PostgreSQL JDBC URL: " + Redaction.url(url) + EXPECTED);
    }
    return connection;
  }

  /**
   * The password held by the environment variable that {@code --password-env} names, or null without the option.
   * The value given to the option is never printed: it may be the password itself, given by mistake.
   *
   * @throws ParameterException if the value is not an environment variable name
   * @throws CliException if the variable is not set or empty
   */
  static @Nullable String passwordFromEnv(CommandSpec spec, @Nullable String name) {
    return passwordFromEnv(spec, name, System::getenv);
  }

  /** Like {@link #passwordFromEnv(CommandSpec, String)}, reading the variable through {@code environment}. */
  static @Nullable String passwordFromEnv(CommandSpec spec, @Nullable String name,
      Function<String, @Nullable String> environment) {
    if (name == null) {
      return null;
    }
    if (!ENV_NAME.matcher(name).matches()) {
      throw new ParameterException(spec.commandLine(), "--password-env takes the name of an environment variable "
          + "(letters, digits and '_', not starting with a digit) that holds the password, not the password "
          + "itself; the value given is not shown");
    }
    String value = environment.apply(name);
    if (value == null || value.isEmpty()) {
      throw new CliException("the environment variable named by --password-env is "
          + (value == null ? "not set" : "empty") + " (its name is not shown, in case it is the password "
          + "itself): set it to the password, or pass the name of the variable that holds it");
    }
    return value;
  }

  /** The exception's message on one line, without pgjdbc's "FATAL: " prefix, plus a low-level cause if any. */
  static String reason(Throwable e) {
    String message = oneLine(e.getMessage());
    if (message.startsWith("FATAL: ")) {
      message = message.substring("FATAL: ".length());
    }
    Throwable cause = e.getCause();
    if (cause != null && cause != e) {
      String causeMessage = oneLine(cause.getMessage());
      // skip a cause the message already tells (pgjdbc often repeats it); short ones, such as a host name, it does not
      boolean told = causeMessage.length() >= 12 && message.contains(causeMessage);
      if (!told) {
        message += " (" + cause.getClass().getSimpleName() + (causeMessage.isEmpty() ? "" : ": " + causeMessage)
            + ")";
      }
    }
    return message.isEmpty() ? e.getClass().getSimpleName() : message;
  }

  private static String oneLine(@Nullable String message) {
    return message == null ? "" : message.strip().replaceAll("\\s*\\R\\s*", " ");
  }
}
