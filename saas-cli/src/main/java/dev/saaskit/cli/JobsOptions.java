package dev.saaskit.cli;

import dev.saaskit.core.TenantSetting;
import dev.saaskit.jobs.JobAdmin;
import dev.saaskit.jobs.JobsSchema;
import dev.saaskit.jobs.SaasJobs;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

/** The connection options of every {@code jobs} command (mixed in with {@code @Mixin}). */
final class JobsOptions {
  @Option(names = "--url", required = true, paramLabel = "<jdbc-url>", order = 1,
      description = "JDBC URL of the application's database, e.g. jdbc:postgresql://db:5432/app. May carry user= "
          + "(and password=, with a warning: prefer --password-env); parameters in the URL win over --user and "
          + "--password-env. Passwords are never printed.")
  String url;

  @Option(names = "--user", paramLabel = "<role>", order = 2,
      description = "Role to log in as: the job workers' role (or another role granted JobsSchema.grantWorker), "
          + "which sees the jobs of every tenant. Default: user= in the URL, else the driver's default.")
  @Nullable String user;

  @Option(names = "--password-env", paramLabel = "<VAR>", order = 3,
      description = "Name of the environment variable holding the password (it must be set and not empty). "
          + "Default: password= in the URL, else none (pgjdbc may still find one in ~/.pgpass).")
  @Nullable String passwordEnv;

  @Option(names = "--password", paramLabel = "<password>", hidden = true,
      description = "Refused: a password on the command line leaks into shell history and process lists.")
  @Nullable String password;

  @Option(names = "--schema", paramLabel = "<schema>", order = 4, defaultValue = JobsSchema.DEFAULT_SCHEMA,
      description = "The schema holding the job table. Default: ${DEFAULT-VALUE}.")
  String schema = JobsSchema.DEFAULT_SCHEMA;

  @Option(names = "--connect-timeout", paramLabel = "<seconds>", order = 90, defaultValue = "10",
      description = "Give up connecting after this many seconds. Default: ${DEFAULT-VALUE}.")
  int connectTimeoutSeconds = 10;

  /** Checks the options that need no connection; usage errors name the option. */
  JobsSchema validate(CommandSpec spec) {
    if (password != null) {
      throw new ParameterException(spec.commandLine(), "--password is not accepted: put the password in an "
          + "environment variable and pass its name with --password-env VAR");
    }
    if (connectTimeoutSeconds < 1) {
      throw new ParameterException(spec.commandLine(),
          "--connect-timeout must be >= 1 but was " + connectTimeoutSeconds);
    }
    try {
      return JobsSchema.builder().name(schema).tenantSetting(TenantSetting.DEFAULT).build();
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), "invalid --schema: " + e.getMessage(), e);
    }
  }

  /**
   * Connects and checks that the job table exists and that the role sees every tenant's jobs, so an empty list
   * never hides a wrong role. The connection stays in auto-commit mode: each admin call is its own transaction.
   *
   * @throws ParameterException if --password-env does not name an environment variable
   * @throws CliException if the variable is unset, the connection fails, the table is missing or the role would
   *     see no jobs
   */
  Connection connect(CommandSpec spec, String command, JobsSchema jobsSchema) {
    Connection connection = Connections.open(spec.commandLine().getErr(), url, user,
        Connections.passwordFromEnv(spec, passwordEnv), connectTimeoutSeconds, "saaskit " + command);
    try {
      checkAccess(connection, jobsSchema.name());
      return connection;
    } catch (RuntimeException e) {
      closeQuietly(connection, e);
      throw e;
    } catch (SQLException e) {
      closeQuietly(connection, e);
      throw new CliException("cannot inspect the job table: " + Connections.reason(e), e);
    }
  }

  /** An admin that works on {@code connection} (never closing it). */
  static JobAdmin admin(Connection connection, JobsSchema jobsSchema) {
    DataSource single = new SingleConnectionDataSource(connection);
    return SaasJobs.builder(single).workerDataSource(single).schema(jobsSchema).build().admin();
  }

  private static void checkAccess(Connection c, String schema) throws SQLException {
    String table = '"' + schema.replace("\"", "\"\"") + "\".jobs";
    try (PreparedStatement ps = c.prepareStatement("SELECT to_regclass(?) IS NOT NULL, current_user,"
        + " (SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user),"
        + " EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = to_regclass(?)"
        + " AND p.polname LIKE 'jobs\\_worker\\_%'"
        + " AND EXISTS (SELECT 1 FROM unnest(p.polroles) r WHERE r <> 0 AND pg_has_role(current_user, r, 'MEMBER')))")) {
      ps.setString(1, table);
      ps.setString(2, table);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        if (!rs.getBoolean(1)) {
          throw new CliException("there is no job table " + schema + ".jobs in this database: name the schema with"
              + " --schema, or create it with JobsSchema.migrate");
        }
        if (!rs.getBoolean(3) && !rs.getBoolean(4)) {
          throw new CliException("role " + rs.getString(2) + " would see no job: the job table's row-level"
              + " security admits all tenants' jobs only to roles granted JobsSchema.grantWorker; log in as the"
              + " workers' role with --user");
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
