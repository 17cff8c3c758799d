package dev.saaskit.cli;

import dev.saaskit.core.SaasException;
import dev.saaskit.core.TenantId;
import dev.saaskit.jobs.JobAdmin;
import dev.saaskit.jobs.JobCount;
import dev.saaskit.jobs.JobFilter;
import dev.saaskit.jobs.JobId;
import dev.saaskit.jobs.JobState;
import dev.saaskit.jobs.JobStatus;
import dev.saaskit.jobs.JobsSchema;
import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.TypeConversionException;

/**
 * {@code saaskit jobs ...}: the operator's view of the saas-jobs queue through {@link JobAdmin}, logged in as the
 * workers' role (which sees every tenant). Exit 0 when the command did its work, 1 when the job is not found or
 * the action is not allowed in its state, 2 for usage and connection errors.
 */
@Command(
    name = "jobs",
    mixinStandardHelpOptions = true,
    versionProvider = SaasKit.Version.class,
    synopsisSubcommandLabel = "COMMAND",
    header = "Inspect and manage background jobs (saas-jobs): list, show, retry, cancel, counts, prune.",
    descriptionHeading = "%n",
    description = {
        "Log in as the job workers' role (or another role granted JobsSchema.grantWorker): the job table's "
            + "row-level security shows every tenant's jobs to that role only."},
    subcommands = {JobsCommand.ListJobs.class, JobsCommand.Show.class, JobsCommand.Retry.class,
        JobsCommand.Cancel.class, JobsCommand.Counts.class, JobsCommand.Prune.class},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {
        "0:done",
        "1:no such job, or the action is not allowed in the job's state",
        "2:usage error, cannot connect, wrong role, or another failure"},
    footer = {"", "Run 'saaskit jobs COMMAND --help' for the options of a command."})
final class JobsCommand implements Callable<Integer> {
  /** Exit code: the job does not exist, or the action is not allowed in its state. */
  static final int EXIT_NOT_FOUND_OR_NOT_ALLOWED = 1;

  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    throw new ParameterException(spec.commandLine(), "Missing required subcommand (list, show, retry, cancel,"
        + " counts or prune)");
  }

  /** Output formats of the commands that print jobs; written in lower case on the command line. */
  enum Format {
    TEXT, JSON
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

  /** Lower-case names of {@link JobState} for the usage help. */
  static final class StateNames implements Iterable<String> {
    @Override
    public Iterator<String> iterator() {
      List<String> names = new ArrayList<>();
      for (JobState s : JobState.values()) {
        names.add(s.dbValue());
      }
      return names.iterator();
    }
  }

  /** Reads a job id argument; a bad one is a usage error. */
  static final class JobIdConverter implements ITypeConverter<JobId> {
    @Override
    public JobId convert(String value) {
      try {
        return JobId.parse(value);
      } catch (IllegalArgumentException e) {
        throw new TypeConversionException(e.getMessage());
      }
    }
  }

  /** Reads a duration: {@code 30s}, {@code 15m}, {@code 12h}, {@code 7d}, or ISO-8601 ({@code PT36H}). */
  static final class DurationConverter implements ITypeConverter<Duration> {
    private static final Pattern SHORT = Pattern.compile("(\\d{1,9})([smhd])");

    @Override
    public Duration convert(String value) {
      Matcher m = SHORT.matcher(value.trim().toLowerCase(Locale.ROOT));
      if (m.matches()) {
        long n = Long.parseLong(m.group(1));
        return switch (m.group(2)) {
          case "s" -> Duration.ofSeconds(n);
          case "m" -> Duration.ofMinutes(n);
          case "h" -> Duration.ofHours(n);
          default -> Duration.ofDays(n);
        };
      }
      try {
        return Duration.parse(value);
      } catch (DateTimeParseException e) {
        throw new TypeConversionException("'" + value + "' is not a duration (examples: 30s, 15m, 12h, 7d, PT36H)");
      }
    }
  }

  /** The work of a command on an open admin; returns the exit code. */
  @FunctionalInterface
  interface AdminWork {
    int run(JobAdmin admin, PrintWriter out, PrintWriter err);
  }

  /** Connects with the command's options, runs {@code work}, closes the connection. */
  static int withAdmin(CommandSpec spec, CommonOptions common, JobsOptions options, AdminWork work) {
    common.apply();
    JobsSchema schema = options.validate(spec);
    String command = spec.qualifiedName(" ").replaceFirst("^saaskit ", "");
    try (Connection connection = options.connect(spec, command, schema)) {
      PrintWriter out = spec.commandLine().getOut();
      PrintWriter err = spec.commandLine().getErr();
      int code;
      try {
        code = work.run(JobsOptions.admin(connection, schema), out, err);
      } catch (CliException e) {
        throw e;
      } catch (SaasException e) {
        throw new CliException(oneLine(e.getMessage()), e);
      }
      out.flush();
      err.flush();
      return code;
    } catch (SQLException e) { // closing the connection
      throw new CliException("closing the connection failed: " + Connections.reason(e), e);
    }
  }

  private static String oneLine(@Nullable String message) {
    return message == null ? "failed" : message.strip().replaceAll("\\s*\\R\\s*", " ");
  }

  /** Prints "error: ..." and returns {@link #EXIT_NOT_FOUND_OR_NOT_ALLOWED}. */
  static int refused(PrintWriter err, String message) {
    err.println("error: " + message);
    return EXIT_NOT_FOUND_OR_NOT_ALLOWED;
  }

  static String notFound(JobId id) {
    return "no job " + id + " (never enqueued, or pruned after its retention)";
  }

  /** {@code jobs list}. */
  @Command(name = "list", mixinStandardHelpOptions = true, versionProvider = SaasKit.Version.class,
      sortOptions = false, usageHelpAutoWidth = true,
      header = "List jobs of every tenant, newest first, filtered by state, queue, tenant and type.",
      optionListHeading = "%nOptions:%n",
      footerHeading = "%nExamples:%n",
      footer = {
          "  JOBS_PW=... java -jar saaskit.jar jobs list \\",
          "      --url jdbc:postgresql://db:5432/app --user jobs_worker \\",
          "      --password-env JOBS_PW --state dead --queue mail --limit 20",
          "A full page prints the option for the next page on stderr (--before <id>)."})
  static final class ListJobs implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin CommonOptions common;
    @Mixin JobsOptions options;

    @Option(names = "--state", paramLabel = "<state>", order = 10, split = ",",
        completionCandidates = StateNames.class,
        description = "Only jobs in this state (${COMPLETION-CANDIDATES}); repeat or separate with commas for "
            + "several. Default: every state.")
    List<String> states = new ArrayList<>();

    @Option(names = "--queue", paramLabel = "<queue>", order = 11, description = "Only jobs of this queue.")
    @Nullable String queue;

    @ArgGroup(exclusive = true, multiplicity = "0..1", order = 12)
    @Nullable TenantChoice tenant;

    @Option(names = "--type", paramLabel = "<type>", order = 14, description = "Only jobs of this type.")
    @Nullable String type;

    @Option(names = "--limit", paramLabel = "<n>", order = 15, defaultValue = "50",
        description = "At most this many jobs (1 to 1000). Default: ${DEFAULT-VALUE}.")
    int limit = 50;

    @Option(names = "--before", paramLabel = "<id>", order = 16, converter = JobIdConverter.class,
        description = "Only jobs older than this id: the next page after a list ending with it.")
    @Nullable JobId before;

    @Option(names = "--format", paramLabel = "<format>", order = 17, defaultValue = "text",
        completionCandidates = FormatNames.class,
        description = "Output format: ${COMPLETION-CANDIDATES}. Default: ${DEFAULT-VALUE}.")
    Format format = Format.TEXT;

    /** --tenant and --no-tenant exclude each other. */
    static final class TenantChoice {
      @Option(names = "--tenant", paramLabel = "<tenant>", order = 12, description = "Only jobs of this tenant.")
      @Nullable String tenant;

      @Option(names = "--no-tenant", order = 13, description = "Only jobs of no tenant (system jobs).")
      boolean noTenant;
    }

    @Override
    public Integer call() {
      JobFilter filter = filter();
      return withAdmin(spec, common, options, (admin, out, err) -> {
        List<JobStatus> jobs = admin.list(filter);
        boolean full = jobs.size() == filter.limit();
        out.print(format == Format.JSON ? JobsOutput.listJson(jobs, full) : JobsOutput.listText(jobs));
        if (full && format == Format.TEXT) {
          err.println("jobs list: " + jobs.size() + " jobs shown; for the next page add --before "
              + jobs.get(jobs.size() - 1).id());
        }
        return SaasKit.EXIT_OK;
      });
    }

    private JobFilter filter() {
      JobFilter.Builder b = JobFilter.builder();
      List<JobState> parsed = new ArrayList<>();
      for (String s : states) {
        try {
          parsed.add(JobState.fromDbValue(s.trim()));
        } catch (IllegalArgumentException e) {
          throw new ParameterException(spec.commandLine(), "invalid --state: '" + s + "' (expected one of "
              + String.join(", ", new StateNames()) + ")");
        }
      }
      Options.checked(spec, "--state", () -> b.states(parsed.toArray(JobState[]::new)));
      String q = queue;
      if (q != null) {
        Options.checked(spec, "--queue", () -> b.queue(q));
      }
      String t = type;
      if (t != null) {
        Options.checked(spec, "--type", () -> b.type(t));
      }
      TenantChoice choice = tenant;
      if (choice != null && choice.noTenant) {
        b.noTenant();
      } else if (choice != null && choice.tenant != null) {
        String value = choice.tenant;
        Options.checked(spec, "--tenant", () -> b.tenant(TenantId.of(value)));
      }
      Options.checked(spec, "--limit", () -> b.limit(limit));
      JobId cursor = before;
      if (cursor != null) {
        b.before(cursor);
      }
      return b.build();
    }

  }

  /** {@code jobs show <id>}. */
  @Command(name = "show", mixinStandardHelpOptions = true, versionProvider = SaasKit.Version.class,
      sortOptions = false, usageHelpAutoWidth = true,
      header = "Show one job: state, attempts, progress, result, timestamps and its last error.",
      optionListHeading = "%nOptions:%n")
  static final class Show implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin CommonOptions common;
    @Mixin JobsOptions options;

    @Parameters(index = "0", paramLabel = "<id>", converter = JobIdConverter.class, description = "The job id.")
    JobId id;

    @Option(names = "--payload", order = 10,
        description = "Also print the job's payload (it may hold personal data).")
    boolean payload;

    @Option(names = "--format", paramLabel = "<format>", order = 11, defaultValue = "text",
        completionCandidates = FormatNames.class,
        description = "Output format: ${COMPLETION-CANDIDATES}. Default: ${DEFAULT-VALUE}.")
    Format format = Format.TEXT;

    @Override
    public Integer call() {
      return withAdmin(spec, common, options, (admin, out, err) -> {
        Optional<JobStatus> job = admin.show(id);
        if (job.isEmpty()) {
          return refused(err, notFound(id));
        }
        String body = payload ? admin.payload(id).orElse(null) : null;
        out.print(format == Format.JSON ? JobsOutput.showJson(job.get(), body) : JobsOutput.showText(job.get(), body));
        return SaasKit.EXIT_OK;
      });
    }
  }

  /** {@code jobs retry <id>}. */
  @Command(name = "retry", mixinStandardHelpOptions = true, versionProvider = SaasKit.Version.class,
      sortOptions = false, usageHelpAutoWidth = true,
      header = "Put a dead (or cancelled) job back to pending, due now, with its attempt count reset.",
      description = "Its attempt limit stays; its last error is kept until the next attempt replaces it.",
      descriptionHeading = "%n",
      optionListHeading = "%nOptions:%n")
  static final class Retry implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin CommonOptions common;
    @Mixin JobsOptions options;

    @Parameters(index = "0", paramLabel = "<id>", converter = JobIdConverter.class, description = "The job id.")
    JobId id;

    @Override
    public Integer call() {
      return withAdmin(spec, common, options, (admin, out, err) -> {
        boolean retried;
        try {
          retried = admin.retry(id);
        } catch (SaasException e) { // a live job holds its unique key: not allowed now
          return refused(err, oneLine(e.getMessage()));
        }
        if (retried) {
          out.println("job " + id + " is pending again");
          return SaasKit.EXIT_OK;
        }
        Optional<JobStatus> job = admin.show(id);
        if (job.isEmpty()) {
          return refused(err, notFound(id));
        }
        return refused(err, "job " + id + " is " + job.get().state().dbValue()
            + ": only dead or cancelled jobs can be retried");
      });
    }
  }

  /** {@code jobs cancel <id>}. */
  @Command(name = "cancel", mixinStandardHelpOptions = true, versionProvider = SaasKit.Version.class,
      sortOptions = false, usageHelpAutoWidth = true,
      header = "Cancel a job: a pending job is cancelled at once, a running one is asked to stop.",
      optionListHeading = "%nOptions:%n")
  static final class Cancel implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin CommonOptions common;
    @Mixin JobsOptions options;

    @Parameters(index = "0", paramLabel = "<id>", converter = JobIdConverter.class, description = "The job id.")
    JobId id;

    @Override
    public Integer call() {
      return withAdmin(spec, common, options, (admin, out, err) -> {
        boolean cancelled = admin.cancel(id);
        Optional<JobStatus> job = admin.show(id);
        if (job.isEmpty()) {
          return refused(err, notFound(id));
        }
        JobState state = job.get().state();
        if (!cancelled) {
          return refused(err, "job " + id + " has already finished (" + state.dbValue() + ")");
        }
        out.println(state == JobState.RUNNING
            ? "job " + id + " is running: cancellation requested, its handler stops at its next check"
            : "job " + id + " is " + state.dbValue());
        return SaasKit.EXIT_OK;
      });
    }
  }

  /** {@code jobs counts}. */
  @Command(name = "counts", mixinStandardHelpOptions = true, versionProvider = SaasKit.Version.class,
      sortOptions = false, usageHelpAutoWidth = true,
      header = "Count jobs per queue and state (reads the whole job table).",
      optionListHeading = "%nOptions:%n")
  static final class Counts implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin CommonOptions common;
    @Mixin JobsOptions options;

    @Option(names = "--format", paramLabel = "<format>", order = 10, defaultValue = "text",
        completionCandidates = FormatNames.class,
        description = "Output format: ${COMPLETION-CANDIDATES}. Default: ${DEFAULT-VALUE}.")
    Format format = Format.TEXT;

    @Override
    public Integer call() {
      return withAdmin(spec, common, options, (admin, out, err) -> {
        List<JobCount> counts = admin.counts();
        out.print(format == Format.JSON ? JobsOutput.countsJson(counts) : JobsOutput.countsText(counts));
        return SaasKit.EXIT_OK;
      });
    }
  }

  /** {@code jobs prune}. */
  @Command(name = "prune", mixinStandardHelpOptions = true, versionProvider = SaasKit.Version.class,
      sortOptions = false, usageHelpAutoWidth = true,
      header = "Delete finished jobs (completed, dead, cancelled) older than the retention, in small batches.",
      optionListHeading = "%nOptions:%n")
  static final class Prune implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin CommonOptions common;
    @Mixin JobsOptions options;

    @Option(names = "--retention", required = true, paramLabel = "<duration>", order = 10,
        converter = DurationConverter.class,
        description = "Keep jobs that finished less than this long ago: 30s, 15m, 12h, 7d or ISO-8601 (PT36H).")
    Duration retention;

    @Option(names = "--batch-size", paramLabel = "<n>", order = 11, defaultValue = "1000",
        description = "Rows deleted per transaction (1 to 100000). Default: ${DEFAULT-VALUE}.")
    int batchSize = 1000;

    @Override
    public Integer call() {
      if (retention.isNegative()) {
        throw new ParameterException(spec.commandLine(), "--retention must not be negative but was " + retention);
      }
      if (batchSize < 1 || batchSize > JobAdmin.MAX_PRUNE_BATCH) {
        throw new ParameterException(spec.commandLine(), "--batch-size must be between 1 and "
            + JobAdmin.MAX_PRUNE_BATCH + " but was " + batchSize);
      }
      return withAdmin(spec, common, options, (admin, out, err) -> {
        long deleted = admin.prune(retention, batchSize);
        out.println("pruned " + deleted + " finished job(s) older than " + retention);
        return SaasKit.EXIT_OK;
      });
    }
  }
}
