package dev.saaskit.cli;

import dev.saaskit.core.SaasException;
import dev.saaskit.core.TenantSetting;
import dev.saaskit.tenancy.audit.AuditReport;
import dev.saaskit.tenancy.audit.Baseline;
import dev.saaskit.tenancy.audit.RlsAudit;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code saaskit rls-audit}: connects to a database, runs {@link RlsAudit} and prints its report as text, JSON or
 * SARIF. Exit code 1 when the report has an error-level finding (after the baseline), 0 otherwise, 2 when the audit
 * could not run.
 */
@Command(
    name = "rls-audit",
    mixinStandardHelpOptions = true,
    versionProvider = SaasKit.Version.class,
    sortOptions = false,
    usageHelpAutoWidth = true,
    header = "Audit a PostgreSQL database for Row-Level Security holes in tenant tables.",
    descriptionHeading = "%n",
    description = {
        "Connects once, reads the catalog in a read-only transaction and reports tables that hold a tenant column "
            + "without RLS enabled and forced or without a policy, views and SECURITY DEFINER functions that "
            + "bypass RLS, and an application role that can escape it.",
        "Log in as a role that can read the catalog (the owner/migration role is a good choice) and name the "
            + "application's role with --app-role."},
    optionListHeading = "%nOptions:%n",
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {
        "0:no error-level finding (after the baseline); warnings and notes may remain",
        "1:at least one error-level finding",
        "2:usage error, unreadable or bad baseline, cannot connect, or the audit failed"},
    footerHeading = "%nExamples:%n",
    footer = {
        "  AUDIT_PW=... java -jar saaskit.jar rls-audit \\",
        "      --url jdbc:postgresql://db:5432/app --user migrator \\",
        "      --password-env AUDIT_PW --app-role app \\",
        "      --format sarif --output rls-audit.sarif",
        "",
        "Baseline file lines: <rule-id> <object> -- <reason>   ('*' matches any object, '#' starts a comment)."})
final class RlsAuditCommand implements Callable<Integer> {

  /** The output formats; written in lower case on the command line. */
  enum Format {
    TEXT, JSON, SARIF
  }

  /** Lower-case names of {@link Format} for the usage help. */
  static final class FormatNames implements Iterable<String> {
    @Override
    public Iterator<String> iterator() {
      List<String> names = new ArrayList<>();
      for (Format f : Format.values()) {
        names.add(f.name().toLowerCase(Locale.ROOT));
      }
      return names.iterator();
    }
  }

  @Spec CommandSpec spec;

  @Mixin CommonOptions common;

  @Option(names = "--url", required = true, paramLabel = "<jdbc-url>", order = 1,
      description = "JDBC URL of the database to audit, e.g. jdbc:postgresql://db:5432/app?sslmode=require. "
          + "May carry user= (and password=, with a warning: prefer --password-env); parameters in the URL win "
          + "over --user and --password-env. Passwords are never printed.")
  String url;

  @Option(names = "--user", paramLabel = "<role>", order = 2,
      description = "Role to log in as. Default: user= in the URL, else the driver's default (the OS user).")
  @Nullable String user;

  @Option(names = "--password-env", paramLabel = "<VAR>", order = 3,
      description = "Name of the environment variable holding the password (it must be set and not empty). "
          + "Default: password= in the URL, else none (pgjdbc may still find one in ~/.pgpass).")
  @Nullable String passwordEnv;

  @Option(names = "--password", paramLabel = "<password>", hidden = true,
      description = "Refused: a password on the command line leaks into shell history and process lists.")
  @Nullable String password;

  @Option(names = "--app-role", paramLabel = "<role>", order = 4,
      description = "The role the application logs in as, whose access is judged (SUPERUSER, BYPASSRLS, "
          + "owning or truncating tenant tables, policies that apply to it). Default: the role the audit logs in "
          + "as.")
  @Nullable String appRole;

  @Option(names = "--schema", paramLabel = "<schema>", order = 5,
      description = "A schema to audit; repeat for several. Default: every schema except the system ones.")
  List<String> schemas = new ArrayList<>();

  @Option(names = "--tenant-column", paramLabel = "<column>", order = 6,
      description = "Name of a column that marks a table as holding tenant data; repeat for several. "
          + "Default: tenant_id.")
  List<String> tenantColumns = new ArrayList<>();

  @Option(names = "--ignore-table", paramLabel = "<schema.table>", order = 7,
      description = "A table that has a tenant column but holds no tenant data (a directory of tenants, say), as "
          + "schema.table; repeat for several. It is not judged as a tenant table. Default: none.")
  List<String> ignoredTables = new ArrayList<>();

  @Option(names = "--include-table", paramLabel = "<schema.table>", order = 7,
      description = "A table with no tenant column and no foreign key path to one that still holds tenant data, as "
          + "schema.table; repeat for several. It is judged like a child of a tenant table. Default: none.")
  List<String> includedTables = new ArrayList<>();

  @Option(names = "--setting", paramLabel = "<name>", order = 7,
      description = "The setting the policies read the current tenant from. Default: app.tenant_id.")
  @Nullable String setting;

  @Option(names = "--format", paramLabel = "<format>", order = 8, defaultValue = "text",
      completionCandidates = FormatNames.class,
      description = "Output format: ${COMPLETION-CANDIDATES}. Default: ${DEFAULT-VALUE}.")
  Format format = Format.TEXT;

  @Option(names = "--baseline", paramLabel = "<file>", order = 9,
      description = "Accepted findings, one per line: <rule-id> <object> -- <reason>. Matching findings are "
          + "suppressed and do not fail the run. Default: none.")
  @Nullable Path baseline;

  @Option(names = {"-o", "--output"}, paramLabel = "<file>", order = 10,
      description = "Write the report to this file (UTF-8, replaced if it exists) instead of stdout.")
  @Nullable Path output;

  @Option(names = "--sarif-file", paramLabel = "<path>", order = 11,
      description = "With --format sarif: also place every result in this repository file (e.g. your main "
          + "migration file), for code-scanning services that reject results without a file. Default: none.")
  @Nullable String sarifFile;

  @Option(names = "--connect-timeout", paramLabel = "<seconds>", order = 12, defaultValue = "10",
      description = "Give up connecting after this many seconds. Default: ${DEFAULT-VALUE}.")
  int connectTimeoutSeconds = 10;

  @Override
  public Integer call() {
    common.apply();
    if (password != null) {
      throw new ParameterException(spec.commandLine(), "--password is not accepted: put the password in an "
          + "environment variable and pass its name with --password-env VAR");
    }
    if (connectTimeoutSeconds < 1) {
      throw new ParameterException(spec.commandLine(),
          "--connect-timeout must be >= 1 but was " + connectTimeoutSeconds);
    }
    String secret = Connections.passwordFromEnv(spec, passwordEnv);
    RlsAudit audit = audit(loadBaseline());
    AuditReport report;
    try (Connection connection = Connections.open(spec.commandLine().getErr(), url, user, secret,
        connectTimeoutSeconds, "saaskit rls-audit")) {
      // belt and braces: the audit only reads the catalog, and the server holds it to that
      connection.setAutoCommit(false);
      connection.setReadOnly(true);
      report = audit.run(connection);
      connection.rollback();
    } catch (CliException e) { // from connecting: already says it all
      throw e;
    } catch (SaasException e) { // the catalog could not be read, or the application role does not exist
      // the library's messages speak to code; here the knob is an option
      throw new CliException(String.valueOf(e.getMessage()).replace("RlsAudit.builder().appRole(...)", "--app-role"),
          e);
    } catch (SQLException e) { // from the transaction calls or closing the connection
      throw new CliException("the audit failed: " + Connections.reason(e), e);
    }
    write(render(report));
    if (output != null) {
      spec.commandLine().getErr().println("rls-audit: " + summary(report) + "; report written to " + output);
    }
    return report.hasErrors() ? SaasKit.EXIT_FINDINGS : SaasKit.EXIT_OK;
  }

  private @Nullable Baseline loadBaseline() {
    if (baseline == null) {
      return null;
    }
    try {
      return Baseline.load(baseline);
    } catch (IllegalArgumentException e) { // "<file>: baseline line <n>: ..."
      String message = String.valueOf(e.getMessage());
      throw new CliException(message.startsWith(baseline + ": ") ? message : baseline + ": " + message, e);
    } catch (SaasException | UncheckedIOException e) { // unreadable
      Throwable cause = e.getCause();
      throw new CliException(cause instanceof IOException
          ? "cannot read baseline " + baseline + ": " + ioReason((IOException) cause)
          : String.valueOf(e.getMessage()), e);
    }
  }

  private RlsAudit audit(@Nullable Baseline loaded) {
    RlsAudit.Builder builder = RlsAudit.builder();
    if (!tenantColumns.isEmpty()) {
      Options.checked(spec, "--tenant-column",
          () -> builder.tenantColumns(tenantColumns.toArray(String[]::new)));
    }
    if (!schemas.isEmpty()) {
      Options.checked(spec, "--schema", () -> builder.schemas(schemas.toArray(String[]::new)));
    }
    if (!ignoredTables.isEmpty()) {
      Options.checked(spec, "--ignore-table", () -> builder.ignoreTables(ignoredTables.toArray(String[]::new)));
    }
    if (!includedTables.isEmpty()) {
      Options.checked(spec, "--include-table",
          () -> builder.includeTables(includedTables.toArray(String[]::new)));
    }
    String role = appRole;
    if (role != null) {
      Options.checked(spec, "--app-role", () -> builder.appRole(role));
    }
    String name = setting;
    if (name != null) {
      Options.checked(spec, "--setting", () -> builder.tenantSetting(TenantSetting.of(name)));
    }
    if (loaded != null) {
      builder.baseline(loaded);
    }
    return builder.build();
  }

  private String render(AuditReport report) {
    return switch (format) {
      case TEXT -> report.toText();
      case JSON -> report.toJson();
      case SARIF -> sarifFile == null ? report.toSarif() : report.toSarif(sarifFile);
    };
  }

  private void write(String rendered) {
    String text = rendered.endsWith("\n") ? rendered : rendered + "\n";
    if (output == null) {
      PrintWriter out = spec.commandLine().getOut();
      out.print(text);
      out.flush();
      return;
    }
    try {
      Files.writeString(output, text, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new CliException("cannot write " + output + ": " + ioReason(e), e);
    }
  }

  static String summary(AuditReport report) {
    return report.errors().size() + " error(s), " + report.warnings().size() + " warning(s), "
        + report.infos().size() + " note(s), " + report.suppressed().size() + " suppressed by the baseline";
  }

  private static String ioReason(IOException e) {
    if (e instanceof NoSuchFileException) {
      return "no such file";
    }
    if (e instanceof AccessDeniedException) {
      return "permission denied";
    }
    // NoSuchFileException and friends carry only the path as message: name the kind too
    String name = e.getClass().getSimpleName();
    return e.getMessage() == null ? name : name + ": " + e.getMessage();
  }
}
