package dev.saaskit.cli;

import dev.saaskit.core.TenantId;
import dev.saaskit.fleet.CredentialResolver;
import dev.saaskit.fleet.FleetException;
import dev.saaskit.fleet.FleetMigrations;
import dev.saaskit.fleet.FleetSchema;
import dev.saaskit.fleet.MoveReport;
import dev.saaskit.fleet.Placement;
import dev.saaskit.fleet.TenantData;
import dev.saaskit.fleet.TenantDirectory;
import dev.saaskit.fleet.TenantEntry;
import dev.saaskit.fleet.TenantLifecycle;
import dev.saaskit.fleet.TenantMove;
import dev.saaskit.fleet.TenantState;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.concurrent.Callable;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code saaskit tenants ...}: the fleet's tenant directory (saas-fleet) for operators. Logs in to the control
 * database; the credentials of each placement come from environment variables named by its credentials reference
 * ({@code REF_ADMIN_USER}, {@code REF_ADMIN_PASSWORD}). Exit 0 when done, 1 when the tenant is unknown or the
 * operation is refused, 2 for usage and connection errors.
 */
@Command(
    name = "tenants",
    mixinStandardHelpOptions = true,
    versionProvider = SaasKit.Version.class,
    synopsisSubcommandLabel = "COMMAND",
    header = "Operate a fleet of tenant databases (saas-fleet): list, show, onboard, suspend, activate, move, "
        + "migrate, export, erase.",
    subcommands = {TenantsCommand.ListTenants.class, TenantsCommand.Show.class, TenantsCommand.Onboard.class,
        TenantsCommand.Suspend.class,
        TenantsCommand.Activate.class, TenantsCommand.Move.class, TenantsCommand.Migrate.class,
        TenantsCommand.Export.class, TenantsCommand.Erase.class},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {"0:done", "1:no such tenant, or the operation was refused", "2:usage error, cannot connect, "
        + "or another failure"},
    footer = {"", "Run 'saaskit tenants COMMAND --help' for the options of a command."})
final class TenantsCommand implements Callable<Integer> {
  static final int EXIT_REFUSED = 1;

  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    throw new ParameterException(spec.commandLine(), "Missing required subcommand (list, show, onboard, suspend,"
        + " activate, move, migrate, export or erase)");
  }

  /** The connection options of every tenants command. */
  static final class TenantsOptions {
    @Option(names = "--url", required = true, paramLabel = "<jdbc-url>", order = 1,
        description = "JDBC URL of the control database (the one holding the saaskit_fleet schema).")
    String url;

    @Option(names = "--user", paramLabel = "<role>", order = 2, description = "Role to log in as.")
    @Nullable String user;

    @Option(names = "--password-env", paramLabel = "<VAR>", order = 3,
        description = "Name of the environment variable holding the password.")
    @Nullable String passwordEnv;

    @Option(names = "--schema", paramLabel = "<schema>", order = 4, defaultValue = FleetSchema.DEFAULT_SCHEMA,
        description = "The control schema. Default: ${DEFAULT-VALUE}.")
    String schema = FleetSchema.DEFAULT_SCHEMA;

    @Mixin CommonOptions common;
  }

  /** A command's work on the directory; returns the exit code. */
  @FunctionalInterface
  interface Work {
    int run(TenantDirectory directory, PrintWriter out) throws SQLException;
  }

  /** A command's work on the directory and the control login (which may also create databases); the exit code. */
  @FunctionalInterface
  interface AdminWork {
    int run(TenantDirectory directory, DataSource controlLogin, PrintWriter out) throws SQLException;
  }

  static int withDirectory(CommandSpec spec, TenantsOptions options, String command, Work work) {
    return withDirectory(spec, options, command, (AdminWork) (directory, login, out) -> work.run(directory, out));
  }

  static int withDirectory(CommandSpec spec, TenantsOptions options, String command, AdminWork work) {
    options.common.apply();
    try (Connection c = Connections.open(spec.commandLine().getErr(), options.url, options.user,
        Connections.passwordFromEnv(spec, options.passwordEnv, SaasKit.environment(spec)), 10,
        "saaskit tenants " + command)) {
      DataSource login = new SingleConnectionDataSource(c);
      TenantDirectory directory = TenantDirectory.builder(login)
          .schema(FleetSchema.named(options.schema))
          .credentialResolver(CredentialResolver.fromLookup(SaasKit.environment(spec)))
          .build();
      return work.run(directory, login, spec.commandLine().getOut());
    } catch (FleetException e) {
      SQLException database = databaseFailure(e);
      if (database != null) {
        // not a refusal of the operation: scripts that read exit 1 as "no such tenant" must not mistake a wrong
        // database, a missing schema or a lost connection for it
        throw new CliException("saaskit tenants " + command + ": " + Redaction.text(e.getMessage())
            + setupHint(database, options.schema), e);
      }
      spec.commandLine().getErr().println("saaskit tenants " + command + ": " + Redaction.text(e.getMessage()));
      return EXIT_REFUSED;
    } catch (SQLException e) {
      throw new CliException("saaskit tenants " + command + ": " + Redaction.text(e.getMessage()), e);
    }
  }

  /**
   * The database failure behind {@code e} when it says the command could not work at all rather than that the
   * operation was refused: the connection failed or was lost (SQLState class 08), the login or a privilege was
   * refused (28, 42501), the database, schema or a table of it does not exist (3D, 3F, 42P01), or the server is
   * shutting down or short of resources (57P, 53); null otherwise.
   */
  static @Nullable SQLException databaseFailure(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof SQLException sql && sql.getSQLState() != null) {
        String state = sql.getSQLState();
        if (state.startsWith("08") || state.startsWith("28") || state.startsWith("3D") || state.startsWith("3F")
            || state.startsWith("57P") || state.startsWith("53") || state.equals("42P01")
            || state.equals("42501")) {
          return sql;
        }
      }
      if (t.getCause() == t) {
        break;
      }
    }
    return null;
  }

  /** What to check when the control schema or one of its tables is missing; empty for other failures. */
  static String setupHint(SQLException failure, String schema) {
    String state = failure.getSQLState();
    if (state != null && (state.equals("42P01") || state.startsWith("3F"))) {
      return ". Is --url the control database, and is --schema (" + schema + ") the schema that "
          + "FleetSchema.migrate(..) created there?";
    }
    return "";
  }

  /**
   * The tenant id given on the command line; one that is not a valid tenant id (blank, padded, a control
   * character) is a usage error, not an unexpected failure.
   */
  static TenantId tenantId(CommandSpec spec, String value) {
    try {
      return TenantId.of(value);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), "not a valid tenant id: " + e.getMessage());
    }
  }

  static String line(TenantEntry e) {
    return e.tenant().value() + "\t" + e.state().sqlName() + "\t" + e.placement().describe();
  }

  @Command(name = "list", mixinStandardHelpOptions = true, description = "List every tenant: id, state, placement.")
  static final class ListTenants implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin TenantsOptions options;

    @Override
    public Integer call() {
      return withDirectory(spec, options, "list", (directory, out) -> {
        for (TenantEntry e : directory.list()) {
          out.println(line(e));
        }
        return 0;
      });
    }
  }

  @Command(name = "show", mixinStandardHelpOptions = true, description = "Show one tenant's directory entry.")
  static final class Show implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin TenantsOptions options;
    @Parameters(paramLabel = "<tenant>", description = "The tenant id.") String tenant;

    @Override
    public Integer call() {
      TenantId id = tenantId(spec, tenant);
      return withDirectory(spec, options, "show", (directory, out) -> {
        TenantEntry e = directory.require(id);
        out.println(line(e) + "\tversion " + e.version() + "\tupdated " + e.updatedAt());
        return 0;
      });
    }
  }

  @Command(name = "onboard", mixinStandardHelpOptions = true,
      description = "Give a new tenant a dedicated database: create it (the role you log in as needs CREATEDB), "
          + "owned by the --credentials reference's admin role, apply the application's migrations, register the "
          + "tenant. On any failure the database is dropped again and nothing is registered.")
  static final class Onboard implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin TenantsOptions options;
    @Parameters(paramLabel = "<tenant>", description = "The new tenant's id.") String tenant;
    @Option(names = "--database", required = true, paramLabel = "<name>",
        description = "The new database: a-z, 0-9 and '_', at most 63 characters.") String database;
    @Option(names = "--credentials", required = true, paramLabel = "<REF>",
        description = "The credentials reference of the new database (REF_USER, REF_PASSWORD, REF_ADMIN_USER, "
            + "REF_ADMIN_PASSWORD in the environment).") String credentials;
    @Option(names = "--url-template", required = true, paramLabel = "<jdbc-url>",
        description = "The new database's JDBC URL with {database} in place of its name, e.g. "
            + "jdbc:postgresql://db9:5432/{database}.") String urlTemplate;
    @Option(names = "--locations", required = true, split = ",", paramLabel = "<location>",
        description = "The application's Flyway locations, e.g. filesystem:db/migration.") String[] locations;

    @Override
    public Integer call() {
      if (!urlTemplate.contains("{database}")) {
        throw new ParameterException(spec.commandLine(), "--url-template must contain {database}");
      }
      TenantId id = tenantId(spec, tenant);
      return withDirectory(spec, options, "onboard", (directory, login, out) -> {
        TenantLifecycle lifecycle = TenantLifecycle.builder(directory, login,
            FleetMigrations.builder(directory).locations(locations).build()).jdbcUrlTemplate(urlTemplate).build();
        TenantEntry entry;
        try {
          entry = lifecycle.onboardDedicated(id, database, credentials);
        } catch (IllegalArgumentException e) {
          throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        out.println(line(entry));
        return 0;
      });
    }
  }

  @Command(name = "suspend", mixinStandardHelpOptions = true, description = "Suspend a tenant: no connections.")
  static final class Suspend implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin TenantsOptions options;
    @Parameters(paramLabel = "<tenant>", description = "The tenant id.") String tenant;

    @Override
    public Integer call() {
      TenantId id = tenantId(spec, tenant);
      return withDirectory(spec, options, "suspend", (directory, out) -> {
        out.println(line(directory.setState(id, TenantState.SUSPENDED)));
        return 0;
      });
    }
  }

  @Command(name = "activate", mixinStandardHelpOptions = true, description = "Make a tenant active again.")
  static final class Activate implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin TenantsOptions options;
    @Parameters(paramLabel = "<tenant>", description = "The tenant id.") String tenant;

    @Override
    public Integer call() {
      TenantId id = tenantId(spec, tenant);
      return withDirectory(spec, options, "activate", (directory, out) -> {
        out.println(line(directory.setState(id, TenantState.ACTIVE)));
        return 0;
      });
    }
  }

  @Command(name = "move", mixinStandardHelpOptions = true,
      description = "Move a tenant to a shard (--to-shard) or a dedicated database (--to-url and --credentials); "
          + "--resume or --rollback an interrupted move.")
  static final class Move implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin TenantsOptions options;
    @Parameters(paramLabel = "<tenant>", description = "The tenant id.") String tenant;
    @Option(names = "--to-shard", paramLabel = "<shard>") @Nullable String toShard;
    @Option(names = "--to-url", paramLabel = "<jdbc-url>") @Nullable String toUrl;
    @Option(names = "--credentials", paramLabel = "<REF>") @Nullable String credentials;
    @Option(names = "--resume", description = "Carry on the tenant's interrupted move.") boolean resume;
    @Option(names = "--rollback", description = "Undo the tenant's interrupted move.") boolean rollback;
    @Option(names = "--drain-wait", paramLabel = "<duration>", defaultValue = "5s",
        converter = JobsCommand.DurationConverter.class,
        description = "How long the application's nodes may route by a cached directory entry (their "
            + "directoryCacheTtl): the move waits this long after blocking writes and again after the flip "
            + "before deleting the source's rows. Default: ${DEFAULT-VALUE}.")
    java.time.Duration drainWait = java.time.Duration.ofSeconds(5);

    @Override
    public Integer call() {
      int modes = (toShard != null ? 1 : 0) + (toUrl != null ? 1 : 0) + (resume ? 1 : 0) + (rollback ? 1 : 0);
      if (modes != 1 || (toUrl != null) != (credentials != null)) {
        throw new ParameterException(spec.commandLine(), "give exactly one of --to-shard, --to-url with "
            + "--credentials, --resume or --rollback");
      }
      if (drainWait.isNegative()) {
        throw new ParameterException(spec.commandLine(), "--drain-wait must not be negative but was " + drainWait);
      }
      TenantId id = tenantId(spec, tenant);
      // a shard name, URL or reference the directory would refuse is a usage error, found before connecting
      @Nullable Placement target = null;
      if (toShard != null || toUrl != null) {
        try {
          target = toShard != null ? Placement.shared(toShard)
              : Placement.dedicated(java.util.Objects.requireNonNull(toUrl), java.util.Objects.requireNonNull(
                  credentials));
        } catch (IllegalArgumentException e) {
          throw new ParameterException(spec.commandLine(), "invalid move target: " + e.getMessage());
        }
      }
      @Nullable Placement to = target;
      return withDirectory(spec, options, "move", (directory, out) -> {
        // this process serves no traffic: the application's nodes learn of 'moving' and of the flip only when
        // their directory cache expires, so the move waits that long before copying and before cleaning
        TenantMove move = TenantMove.builder(directory).drainWait(drainWait).build();
        MoveReport report;
        if (resume) {
          report = move.resume(id);
        } else if (rollback) {
          report = move.rollback(id);
        } else {
          report = move.move(id, java.util.Objects.requireNonNull(to));
        }
        out.println(report.outcome() + ": " + tenant + " -> " + report.target().describe() + ", "
            + report.rowsCopied() + " rows, writes blocked " + report.writeBlocked().toMillis() + " ms");
        return 0;
      });
    }
  }

  @Command(name = "migrate", mixinStandardHelpOptions = true,
      description = "Apply the application's Flyway migrations to every database of the fleet.")
  static final class Migrate implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin TenantsOptions options;
    @Option(names = "--locations", required = true, split = ",", paramLabel = "<location>",
        description = "Flyway locations, e.g. filesystem:db/migration.") String[] locations;
    @Option(names = "--parallelism", defaultValue = "4", paramLabel = "<n>") int parallelism = 4;

    @Override
    public Integer call() {
      if (parallelism < 1) {
        throw new ParameterException(spec.commandLine(), "--parallelism must be >= 1 but was " + parallelism);
      }
      return withDirectory(spec, options, "migrate", (directory, out) -> {
        FleetMigrations.Report report = FleetMigrations.builder(directory).locations(locations)
            .parallelism(parallelism).build().migrate();
        for (FleetMigrations.DatabaseResult r : report.results()) {
          out.println(r.placement().describe() + "\t" + r.status() + "\t" + r.versionBefore() + " -> "
              + r.versionAfter() + (r.error().isEmpty() ? "" : "\t" + Redaction.text(r.error())));
        }
        return report.succeeded() ? 0 : EXIT_REFUSED;
      });
    }
  }

  @Command(name = "export", mixinStandardHelpOptions = true, description = "Export every row of a tenant.")
  static final class Export implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin TenantsOptions options;
    @Parameters(paramLabel = "<tenant>", description = "The tenant id.") String tenant;
    @Option(names = "--dir", required = true, paramLabel = "<directory>") Path dir;
    @Option(names = "--csv", description = "CSV files instead of JSON lines.") boolean csv;

    @Override
    public Integer call() {
      TenantId id = tenantId(spec, tenant);
      return withDirectory(spec, options, "export", (directory, out) -> {
        TenantData.Report r = TenantData.builder(directory).build().export(id, dir,
            csv ? TenantData.Format.CSV : TenantData.Format.JSON_LINES);
        for (TenantData.TableCount t : r.tables()) {
          out.println(t.table() + "\t" + t.before() + " rows\t" + t.processed() + " exported");
        }
        out.println(r.complete() ? "complete" : "INCOMPLETE");
        return r.complete() ? 0 : EXIT_REFUSED;
      });
    }
  }

  @Command(name = "erase", mixinStandardHelpOptions = true,
      description = "Delete every row of a tenant in its database (GDPR erasure); needs --yes.")
  static final class Erase implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin TenantsOptions options;
    @Parameters(paramLabel = "<tenant>", description = "The tenant id.") String tenant;
    @Option(names = "--yes", description = "Confirm the erasure.") boolean yes;

    @Override
    public Integer call() {
      if (!yes) {
        throw new ParameterException(spec.commandLine(), "erase deletes every row of the tenant: add --yes");
      }
      TenantId id = tenantId(spec, tenant);
      return withDirectory(spec, options, "erase", (directory, out) -> {
        TenantData.Report r = TenantData.builder(directory).build().erase(id);
        for (TenantData.TableCount t : r.tables()) {
          out.println(t.table() + "\t" + t.before() + " before\t" + t.processed() + " deleted\t" + t.after()
              + " after");
        }
        out.println(r.complete() ? "complete" : "INCOMPLETE");
        return r.complete() ? 0 : EXIT_REFUSED;
      });
    }
  }
}
