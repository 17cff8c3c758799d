package dev.saaskit.cli;

import dev.saaskit.billing.Billing;
import dev.saaskit.billing.BillingConfig;
import dev.saaskit.billing.BillingSchema;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

/** The connection and Stripe options of every {@code billing} command (mixed in with {@code @Mixin}). */
final class BillingOptions {
  /** The environment variable the Stripe secret key is read from by default. */
  static final String DEFAULT_STRIPE_KEY_ENV = "STRIPE_API_KEY";

  @Option(names = "--url", required = true, paramLabel = "<jdbc-url>", order = 1,
      description = "JDBC URL of the application's database, e.g. jdbc:postgresql://db:5432/app. May carry user= "
          + "(and password=, with a warning: prefer --password-env); parameters in the URL win over --user and "
          + "--password-env. Passwords are never printed.")
  String url;

  @Option(names = "--user", paramLabel = "<role>", order = 2,
      description = "Role to log in as: the application's role (granted BillingSchema.grantApp); billing reads and "
          + "writes each tenant's rows under row-level security, as the application does. Default: user= in the "
          + "URL, else the driver's default.")
  @Nullable String user;

  @Option(names = "--password-env", paramLabel = "<VAR>", order = 3,
      description = "Name of the environment variable holding the password (it must be set and not empty). "
          + "Default: password= in the URL, else none (pgjdbc may still find one in ~/.pgpass).")
  @Nullable String passwordEnv;

  @Option(names = "--password", paramLabel = "<password>", hidden = true,
      description = "Refused: a password on the command line leaks into shell history and process lists.")
  @Nullable String password;

  @Option(names = "--schema", paramLabel = "<schema>", order = 4, defaultValue = BillingSchema.DEFAULT_SCHEMA,
      description = "The schema holding the billing mirror and event inbox. Default: ${DEFAULT-VALUE}.")
  String schema = BillingSchema.DEFAULT_SCHEMA;

  @Option(names = "--stripe-key-env", paramLabel = "<VAR>", order = 5, defaultValue = DEFAULT_STRIPE_KEY_ENV,
      description = "Name of the environment variable holding the Stripe secret key (sk_live_..., sk_test_... or a "
          + "restricted rk_... key). The key is never taken from the command line and never printed. "
          + "Default: ${DEFAULT-VALUE}.")
  String stripeKeyEnv = DEFAULT_STRIPE_KEY_ENV;

  @Option(names = "--stripe-key", paramLabel = "<key>", hidden = true,
      description = "Refused: a secret key on the command line leaks into shell history and process lists.")
  @Nullable String stripeKey;

  @Option(names = "--stripe-api-base", paramLabel = "<url>", order = 6, defaultValue = BillingConfig.STRIPE_API_BASE,
      description = "Where Stripe's API is (a test double in tests). Default: ${DEFAULT-VALUE}.")
  String stripeApiBase = BillingConfig.STRIPE_API_BASE;

  @Option(names = "--connect-timeout", paramLabel = "<seconds>", order = 90, defaultValue = "10",
      description = "Give up connecting to the database after this many seconds. Default: ${DEFAULT-VALUE}.")
  int connectTimeoutSeconds = 10;

  /**
   * Checks the options that need no connection, reads the Stripe key and builds the configuration; usage errors
   * name the option.
   *
   * @throws ParameterException for a bad option
   * @throws CliException if the Stripe key's variable is not set, is empty, or does not hold a Stripe key
   */
  BillingConfig config(CommandSpec spec, Function<String, @Nullable String> environment) {
    if (password != null) {
      throw new ParameterException(spec.commandLine(), "--password is not accepted: put the password in an "
          + "environment variable and pass its name with --password-env VAR");
    }
    if (stripeKey != null) {
      throw new ParameterException(spec.commandLine(), "--stripe-key is not accepted: put the Stripe secret key in "
          + "an environment variable and pass its name with --stripe-key-env VAR (default "
          + DEFAULT_STRIPE_KEY_ENV + ")");
    }
    if (connectTimeoutSeconds < 1) {
      throw new ParameterException(spec.commandLine(),
          "--connect-timeout must be >= 1 but was " + connectTimeoutSeconds);
    }
    if (!Connections.ENV_NAME.matcher(stripeKeyEnv).matches()) {
      throw new ParameterException(spec.commandLine(), "--stripe-key-env takes the name of an environment variable "
          + "(letters, digits and '_', not starting with a digit) that holds the Stripe key, not the key itself; "
          + "the value given is not shown");
    }
    BillingConfig.Builder b = BillingConfig.builder();
    Options.checked(spec, "--schema", () -> b.schema(BillingSchema.builder().name(schema).build()));
    Options.checked(spec, "--stripe-api-base", () -> b.stripeApiBase(stripeApiBase));
    String key = environment.apply(stripeKeyEnv);
    if (key == null || key.isBlank()) {
      throw new CliException("the environment variable " + stripeKeyEnv + " (named by --stripe-key-env) is "
          + (key == null ? "not set" : "empty") + ": set it to the Stripe secret key (sk_live_..., sk_test_... or "
          + "rk_...), or name the variable that holds it with --stripe-key-env");
    }
    try {
      b.stripeApiKey(key.strip());
    } catch (IllegalArgumentException e) { // its message never holds the key
      throw new CliException("the environment variable " + stripeKeyEnv + " does not hold a Stripe secret key: "
          + e.getMessage());
    }
    return b.build();
  }

  /** The secrets a message of this command must not show: the Stripe key and the database password, when set. */
  List<String> secrets(BillingConfig config, @Nullable String dbPassword) {
    List<String> secrets = new ArrayList<>(Redaction.secretsIn(url));
    secrets.add(config.stripeApiKey());
    if (dbPassword != null) {
      secrets.add(dbPassword);
    }
    return secrets;
  }

  /**
   * Connects and checks that the billing schema exists and that the role may use it. The connection stays in
   * auto-commit mode: billing opens its own transaction per call.
   *
   * @throws CliException if the connection fails, the schema is missing or the role was not granted it
   */
  Connection connect(CommandSpec spec, String command, @Nullable String dbPassword) {
    Connection connection = Connections.open(spec.commandLine().getErr(), url, user, dbPassword,
        connectTimeoutSeconds, "saaskit " + command);
    try {
      checkAccess(connection, schema);
      return connection;
    } catch (RuntimeException e) {
      closeQuietly(connection, e);
      throw e;
    } catch (SQLException e) {
      closeQuietly(connection, e);
      throw new CliException("cannot inspect the billing schema: " + Connections.reason(e), e);
    }
  }

  /** A billing instance on {@code connection} (never closing it). */
  static Billing billing(BillingConfig config, Connection connection) {
    return Billing.create(config, new SingleConnectionDataSource(connection));
  }

  private static void checkAccess(Connection c, String schema) throws SQLException {
    String table = '"' + schema.replace("\"", "\"\"") + "\".events";
    try (PreparedStatement ps = c.prepareStatement("SELECT to_regclass(?) IS NOT NULL, current_user,"
        + " CASE WHEN to_regclass(?) IS NULL THEN false"
        + " ELSE has_table_privilege(current_user, to_regclass(?), 'SELECT, INSERT, UPDATE') END")) {
      ps.setString(1, table);
      ps.setString(2, table);
      ps.setString(3, table);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        if (!rs.getBoolean(1)) {
          throw new CliException("there is no billing schema " + schema + " in this database (no " + schema
              + ".events): name the schema with --schema, or create it with BillingSchema.migrate");
        }
        if (!rs.getBoolean(3)) {
          throw new CliException("role " + rs.getString(2) + " may not use the billing schema " + schema
              + ": log in as the application's role (granted BillingSchema.grantApp) with --user");
        }
      }
    }
  }

  private static void closeQuietly(Connection c, Exception failure) {
    try {
      c.close();
    } catch (SQLException e) {
      failure.addSuppressed(e);
    }
  }
}
