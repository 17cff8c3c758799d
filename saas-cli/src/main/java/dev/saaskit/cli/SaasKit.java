package dev.saaskit.cli;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.Properties;
import java.util.function.Function;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.logging.SimpleFormatter;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.IVersionProvider;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * The {@code saaskit} command: the entry point of {@code saaskit.jar}. It only dispatches to its subcommands
 * ({@code rls-audit}, {@code jobs}, ...) and sets the rules they share:
 *
 * <ul>
 *   <li>environment variables (passwords, the Stripe key) are read through one lookup, the process's environment
 *       outside tests;
 *   <li>reports go to stdout, messages to stderr, both UTF-8;
 *   <li>exit {@value #EXIT_OK} when all is well, {@value #EXIT_FINDINGS} when a check found an error-level problem
 *       (for {@code jobs}: the job does not exist or the action is not allowed in its state),
 *       {@value #EXIT_USAGE} when the command could not do its work: bad options (with a short usage), a bad input
 *       file, a database it cannot reach, or an unexpected failure;
 *   <li>an error is one line ({@code error: ...}); the stack trace only with {@code --verbose};
 *   <li>no password is printed: every error, stack trace and driver log line goes through {@link Redaction}.
 * </ul>
 */
@Command(
    name = "saaskit",
    mixinStandardHelpOptions = true,
    versionProvider = SaasKit.Version.class,
    synopsisSubcommandLabel = "COMMAND",
    description = "Operator tools for saaskit applications on PostgreSQL.",
    subcommands = {RlsAuditCommand.class, JobsCommand.class, BillingCommand.class, TenantsCommand.class,
        CommandLine.HelpCommand.class},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {
        "0:success, no error-level finding",
        "1:a check found at least one error-level problem; jobs: no such job, or not allowed in its state; "
            + "billing: drift not fixed, failed events, or no such event",
        "2:usage error, bad input file, unreachable database or other failure"},
    footer = {"", "Run 'saaskit COMMAND --help' for the options of a command."})
public final class SaasKit {
  /** Exit code: the command ran and found nothing at error level. */
  public static final int EXIT_OK = 0;
  /** Exit code: the command ran and found at least one error-level problem. */
  public static final int EXIT_FINDINGS = 1;
  /** Exit code: the command could not do its work (usage, input, connection or unexpected error). */
  public static final int EXIT_USAGE = 2;

  // held so the level set in main() is not lost when the JDK drops an unreferenced logger
  private static final Logger PGJDBC_LOGGER = Logger.getLogger("org.postgresql");

  /** Reads environment variables: the process's, or a test's map. */
  private final Function<String, @Nullable String> environment;

  private SaasKit(Function<String, @Nullable String> environment) {
    this.environment = environment;
  }

  /**
   * The value of the environment variable {@code name} as this run sees it ({@link System#getenv} outside tests),
   * or null when it is not set.
   */
  @Nullable String env(String name) {
    return environment.apply(name);
  }

  /** The environment lookup of the command line {@code spec} belongs to. */
  static Function<String, @Nullable String> environment(CommandLine.Model.CommandSpec spec) {
    Object root = spec.root().userObject();
    return root instanceof SaasKit ? ((SaasKit) root)::env : System::getenv;
  }

  /** Runs the command line and exits the JVM with its exit code. */
  public static void main(String[] args) {
    PrintWriter out = utf8(FileDescriptor.out);
    PrintWriter err = utf8(FileDescriptor.err);
    int code = run(args, out, err);
    out.flush();
    err.flush();
    System.exit(code);
  }

  /** Runs the command line with the given streams and returns the exit code; does not exit the JVM. */
  static int run(String[] args, PrintWriter out, PrintWriter err) {
    return run(args, out, err, System::getenv);
  }

  /** Like {@link #run(String[], PrintWriter, PrintWriter)}, reading environment variables from {@code environment}. */
  static int run(String[] args, PrintWriter out, PrintWriter err, Function<String, @Nullable String> environment) {
    boolean verbose = false;
    for (String arg : args) {
      verbose |= arg.equals(CommonOptions.VERBOSE);
    }
    // pgjdbc logs through java.util.logging, and prints warnings (such as "JDBC URL must contain a / ...", with
    // the URL) to stderr on its own; the command reports such failures itself, so they are shown only with
    // --verbose, and then redacted
    Handler pgjdbcLog = verbose ? new RedactingHandler(err) : null;
    PGJDBC_LOGGER.setLevel(verbose ? null : Level.OFF);
    if (pgjdbcLog != null) {
      PGJDBC_LOGGER.setUseParentHandlers(false);
      PGJDBC_LOGGER.addHandler(pgjdbcLog);
    }
    try {
      int code = commandLine(out, err, environment).execute(args);
      out.flush();
      err.flush();
      return code;
    } finally {
      if (pgjdbcLog != null) {
        PGJDBC_LOGGER.removeHandler(pgjdbcLog);
        PGJDBC_LOGGER.setUseParentHandlers(true);
      }
    }
  }

  /** The configured command line, for {@link #run} and tests. */
  static CommandLine commandLine(PrintWriter out, PrintWriter err) {
    return commandLine(out, err, System::getenv);
  }

  /** The configured command line, reading environment variables from {@code environment}. */
  static CommandLine commandLine(PrintWriter out, PrintWriter err, Function<String, @Nullable String> environment) {
    CommandLine cl = new CommandLine(new SaasKit(Objects.requireNonNull(environment, "environment")));
    cl.setOut(out);
    cl.setErr(err);
    cl.setCaseInsensitiveEnumValuesAllowed(true);
    cl.setParameterExceptionHandler(SaasKit::usageError);
    cl.setExecutionExceptionHandler(SaasKit::executionError);
    return cl;
  }

  private static int usageError(ParameterException ex, String[] args) {
    CommandLine cmd = ex.getCommandLine();
    PrintWriter err = cmd.getErr();
    // picocli checks the subcommand before it complains about what its parent could not match, so an option put
    // before the subcommand's name ("saaskit tenants --url ... list") came out as that option missing
    String misplaced = misplacedOption(cmd);
    if (misplaced != null) {
      err.println("error: " + Redaction.text(misplaced));
      err.print(cmd.getHelp().fullSynopsis());
      err.printf("Run '%s --help' for more information.%n", cmd.getCommandSpec().qualifiedName());
      err.flush();
      return EXIT_USAGE;
    }
    // picocli's messages may quote an argument, such as a stray URL
    err.println("error: " + Redaction.text(ex.getMessage()));
    UnmatchedArgumentException.printSuggestions(ex, err);
    err.print(cmd.getHelp().fullSynopsis());
    err.printf("Run '%s --help' for more information.%n", cmd.getCommandSpec().qualifiedName());
    err.flush();
    return EXIT_USAGE;
  }

  /**
   * The message for the first option-like argument that a parent of {@code cmd} (the command that failed) could not
   * match, or null if there is none.
   */
  private static @Nullable String misplacedOption(CommandLine cmd) {
    for (CommandLine parent = cmd.getParent(); parent != null; parent = parent.getParent()) {
      for (String arg : parent.getUnmatchedArguments()) {
        if (!arg.startsWith("-")) {
          continue;
        }
        int eq = arg.indexOf('=');
        String option = eq > 0 ? arg.substring(0, eq) : arg;
        String parentName = parent.getCommandSpec().qualifiedName();
        boolean known = cmd.getCommandSpec().findOption(option) != null;
        return "'" + option + "' is not an option of '" + parentName + "'" + (known
            ? ": it is an option of '" + cmd.getCommandSpec().qualifiedName() + "', put it after the command name: "
                + cmd.getCommandSpec().qualifiedName() + " " + option + " ..."
            : "");
      }
    }
    return null;
  }

  private static int executionError(Exception ex, CommandLine cmd, ParseResult parseResult) {
    PrintWriter err = cmd.getErr();
    boolean verbose = isVerbose(parseResult);
    // a CliException's message and cause are redacted where it is made; this catches what no one foresaw
    if (ex instanceof CliException) {
      err.println("error: " + Redaction.text(ex.getMessage()));
    } else {
      err.println("error: unexpected failure: " + Redaction.text(ex.toString()));
      if (!verbose) {
        err.println("Run again with " + CommonOptions.VERBOSE + " for the stack trace.");
      }
    }
    if (verbose) {
      StringWriter trace = new StringWriter();
      ex.printStackTrace(new PrintWriter(trace));
      err.print(Redaction.text(trace.toString()));
    }
    err.flush();
    return EXIT_USAGE;
  }

  private static boolean isVerbose(ParseResult parseResult) {
    for (ParseResult pr = parseResult; pr != null; pr = pr.subcommand()) {
      if (pr.hasMatchedOption(CommonOptions.VERBOSE)) {
        return true;
      }
    }
    return false;
  }

  private static PrintWriter utf8(FileDescriptor fd) {
    return new PrintWriter(new OutputStreamWriter(new FileOutputStream(fd), StandardCharsets.UTF_8), true);
  }

  /** Writes pgjdbc's log records to the command's stderr, redacted. */
  private static final class RedactingHandler extends Handler {
    private final PrintWriter err;
    private final SimpleFormatter format = new SimpleFormatter();

    RedactingHandler(PrintWriter err) {
      this.err = err;
    }

    @Override
    public void publish(LogRecord record) {
      if (isLoggable(record)) {
        err.print(Redaction.text(format.format(record)));
        err.flush();
      }
    }

    @Override
    public void flush() {
      err.flush();
    }

    @Override
    public void close() {}
  }

  /** {@code --version}: this build's version, the driver's and the JVM's. */
  static final class Version implements IVersionProvider {
    @Override
    public String[] getVersion() throws IOException {
      Properties props = new Properties();
      try (InputStream in = SaasKit.class.getResourceAsStream("version.properties")) {
        if (in != null) {
          props.load(in);
        }
      }
      return new String[] {
        "saaskit " + props.getProperty("version", "(unknown version)"),
        "PostgreSQL JDBC driver " + org.postgresql.util.DriverInfo.DRIVER_VERSION,
        "Java " + System.getProperty("java.version") + " (" + System.getProperty("java.vendor") + ")"
      };
    }
  }
}
