package dev.saaskit.cli;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.Properties;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/** Opens the one JDBC connection a command needs, failing fast and with a one-line message. */
final class Connections {
  static final String URL_PREFIX = "jdbc:postgresql:";
  private static final String EXPECTED = " (expected jdbc:postgresql://host[:port]/database[?parameters])";

  /** Any URL parameter whose name ends in "password" (password, sslpassword), up to the next '&' or ';'. */
  private static final Pattern SECRET_PARAM = Pattern.compile("(?i)([?&;][a-z]*password=)[^&;]*");

  private Connections() {}

  /**
   * Connects to {@code url} with pgjdbc. {@code user} and {@code password} may be null (then the URL's, or
   * pgjdbc's defaults, apply); parameters written in the URL win over these, as always with pgjdbc.
   *
   * @throws CliException if the URL is not a PostgreSQL JDBC URL or the connection fails; the message names the
   *     URL with any password redacted and the server's or driver's reason
   */
  static Connection open(String url, @Nullable String user, @Nullable String password, int timeoutSeconds,
      String applicationName) {
    if (!url.startsWith(URL_PREFIX)) {
      throw new CliException("not a PostgreSQL JDBC URL: " + redact(url) + EXPECTED);
    }
    // checked here because pgjdbc's own message ("Unable to parse URL ...") repeats the URL, password and all
    if (org.postgresql.Driver.parseURL(url, null) == null) {
      throw new CliException("invalid PostgreSQL JDBC URL: " + redact(url) + EXPECTED);
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
    }
    Connection connection;
    try {
      connection = new org.postgresql.Driver().connect(url, props);
    } catch (SQLException e) {
      String reason = reason(e);
      if (password != null && password.length() >= 4) { // pgjdbc does not echo passwords; make sure of it
        reason = reason.replace(password, "***");
      }
      throw new CliException("cannot connect to " + redact(url) + ": " + reason, e);
    }
    if (connection == null) { // not expected after parseURL, but Driver.connect may return null
      throw new CliException("invalid PostgreSQL JDBC URL: " + redact(url) + EXPECTED);
    }
    return connection;
  }

  /** {@code url} with the value of every {@code ...password=} parameter replaced by {@code ***}. */
  static String redact(String url) {
    return SECRET_PARAM.matcher(url).replaceAll("$1***");
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
