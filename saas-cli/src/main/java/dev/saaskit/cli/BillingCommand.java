package dev.saaskit.cli;

import dev.saaskit.billing.Billing;
import dev.saaskit.billing.BillingConfig;
import dev.saaskit.billing.BillingWebhooks.InboxEvent;
import dev.saaskit.billing.BillingWebhooks.InboxSummary;
import dev.saaskit.billing.BillingWebhooks.ReplayReport;
import dev.saaskit.billing.Drift;
import dev.saaskit.billing.DriftReport;
import dev.saaskit.billing.TenantBilling;
import dev.saaskit.cli.JobsCommand.DurationConverter;
import dev.saaskit.cli.JobsCommand.Format;
import dev.saaskit.cli.JobsCommand.FormatNames;
import dev.saaskit.core.SaasException;
import dev.saaskit.core.TenantId;
import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code saaskit billing ...}: the operator's commands of saas-billing ({@link Billing}): reconcile the mirror with
 * Stripe, replay missed events, a tenant's status or the inbox's health, and the event inbox. Logged in as the
 * application's role; the Stripe key comes from an environment variable. Exit 0 when all is well, 1 when drift was
 * found and not fixed, events failed, or the event does not exist, 2 for usage, connection and Stripe errors.
 */
@Command(
    name = "billing",
    mixinStandardHelpOptions = true,
    versionProvider = SaasKit.Version.class,
    synopsisSubcommandLabel = "COMMAND",
    header = "Operate saas-billing: sync the mirror with Stripe, replay missed events, status, the event inbox.",
    descriptionHeading = "%n",
    description = {
        "Log in as the application's role (granted BillingSchema.grantApp): billing works per tenant under "
            + "row-level security, as the application does. The Stripe secret key is read from the environment "
            + "variable named by --stripe-key-env (default " + BillingOptions.DEFAULT_STRIPE_KEY_ENV + "), never "
            + "from the command line."},
    subcommands = {BillingCommand.Sync.class, BillingCommand.Replay.class, BillingCommand.Status.class,
        BillingCommand.Events.class},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {
        "0:done: no drift (or all fixed), no failed event",
        "1:drift found and not fixed (or a fix failed), failed or exhausted events, or no such event",
        "2:usage error, missing Stripe key, cannot connect, wrong role, Stripe unreachable, or another failure"},
    footer = {"", "Run 'saaskit billing COMMAND --help' for the options of a command."})
final class BillingCommand implements Callable<Integer> {
  /** Exit code: drift not fixed, failed events, or no such event. */
  static final int EXIT_FINDINGS = SaasKit.EXIT_FINDINGS;
  /** Stripe keeps events this long: a longer replay would silently miss some. */
  static final Duration MAX_REPLAY = Duration.ofDays(30);
  private static final List<String> STATUSES = List.of("received", "applied", "failed", "ignored", "parked",
      "discarded");

  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    throw new ParameterException(spec.commandLine(), "Missing required subcommand (sync, replay, status or events)");
  }

  /** Lower-case inbox statuses for the usage help. */
  static final class StatusNames implements Iterable<String> {
    @Override
    public java.util.Iterator<String> iterator() {
      return STATUSES.iterator();
    }
  }

  /** The work of a command on a billing instance; returns the exit code. */
  @FunctionalInterface
  interface BillingWork {
    int run(Billing billing, PrintWriter out, PrintWriter err);
  }

  /**
   * Reads the Stripe key and the password, connects, runs {@code work} on a billing instance over that one
   * connection, closes it. Every failure becomes one line without the Stripe key or the password.
   */
  static int withBilling(CommandSpec spec, CommonOptions common, BillingOptions options, BillingWork work) {
    common.apply();
    Function<String, @Nullable String> environment = SaasKit.environment(spec);
    BillingConfig config = options.config(spec, environment);
    String dbPassword = Connections.passwordFromEnv(spec, options.passwordEnv, environment);
    List<String> secrets = options.secrets(config, dbPassword);
    String command = spec.qualifiedName(" ").replaceFirst("^saaskit ", "");
    try (Connection connection = options.connect(spec, command, dbPassword)) {
      PrintWriter out = spec.commandLine().getOut();
      PrintWriter err = spec.commandLine().getErr();
      int code;
      try {
        code = work.run(BillingOptions.billing(config, connection), out, err);
      } catch (CliException e) {
        throw e;
      } catch (SaasException e) { // BillingException's messages are safe; redacted all the same
        throw new CliException(Redaction.text(oneLine(e.getMessage()), secrets), Redaction.throwable(e, secrets));
      } catch (RuntimeException e) {
        throw new CliException("unexpected failure: " + Redaction.text(oneLine(e.toString()), secrets)
            + " (run again with " + CommonOptions.VERBOSE + " for the stack trace)", Redaction.throwable(e, secrets));
      }
      out.flush();
      err.flush();
      return code;
    } catch (SQLException e) { // closing the connection
      throw new CliException("closing the connection failed: " + Connections.reason(e), e);
    }
  }

  static String oneLine(@Nullable String message) {
    return message == null ? "failed" : message.strip().replaceAll("\\s*\\R\\s*", " ");
  }

  /** {@code billing sync}. */
  @Command(name = "sync", mixinStandardHelpOptions = true, versionProvider = SaasKit.Version.class,
      sortOptions = false, usageHelpAutoWidth = true,
      header = "Compare the billing mirror with Stripe, object by object; with --fix, write Stripe's version.",
      description = {"Lists Stripe's products, prices, customers, subscriptions and invoices and reports each "
          + "difference (kind, object, tenant, field, mirror value -> Stripe value), then a summary. A customer "
          + "linked to no tenant is reported (unlinked) and never fixed."},
      descriptionHeading = "%n",
      optionListHeading = "%nOptions:%n",
      exitCodeListHeading = "%nExit codes:%n",
      exitCodeList = {
          "0:no drift, or --fix fixed every drift",
          "1:drift found and not fixed (no --fix, a fix failed, or an unlinked customer)",
          "2:usage error, missing Stripe key, cannot connect, Stripe unreachable, or another failure"})
  static final class Sync implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin CommonOptions common;
    @Mixin BillingOptions options;

    @Option(names = "--fix", order = 10,
        description = "After reporting, write Stripe's version of each drifted object into the mirror.")
    boolean fix;

    @Option(names = "--format", paramLabel = "<format>", order = 11, defaultValue = "text",
        completionCandidates = FormatNames.class,
        description = "Output format: ${COMPLETION-CANDIDATES}. Default: ${DEFAULT-VALUE}.")
    Format format = Format.TEXT;

    @Override
    public Integer call() {
      return withBilling(spec, common, options, (billing, out, err) -> {
        DriftReport report = billing.reconciler().sync(fix);
        out.print(format == Format.JSON ? BillingOutput.syncJson(report) : BillingOutput.syncText(report));
        return exitCode(report);
      });
    }

    static int exitCode(DriftReport report) {
      if (report.isClean()) {
        return SaasKit.EXIT_OK;
      }
      boolean allFixed = report.fixed() && report.fixFailures().isEmpty()
          && report.ofKind(Drift.Kind.UNLINKED).isEmpty();
      return allFixed ? SaasKit.EXIT_OK : EXIT_FINDINGS;
    }
  }

  /** {@code billing replay}. */
  @Command(name = "replay", mixinStandardHelpOptions = true, versionProvider = SaasKit.Version.class,
      sortOptions = false, usageHelpAutoWidth = true,
      header = "Record and apply the events Stripe created recently that the webhook endpoint never received.",
      description = {"Lists Stripe's events created since --since ago, records those the inbox lacks and applies "
          + "them, oldest first. Events already recorded are left alone (see 'billing events')."},
      descriptionHeading = "%n",
      optionListHeading = "%nOptions:%n")
  static final class Replay implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin CommonOptions common;
    @Mixin BillingOptions options;

    @Option(names = "--since", paramLabel = "<duration>", order = 10, defaultValue = "3d",
        converter = DurationConverter.class,
        description = "How far back: 30s, 15m, 12h, 7d or ISO-8601 (PT36H); at most 30d (Stripe keeps events 30 "
            + "days). Default: ${DEFAULT-VALUE}.")
    Duration since = Duration.ofDays(3);

    @Option(names = "--format", paramLabel = "<format>", order = 11, defaultValue = "text",
        completionCandidates = FormatNames.class,
        description = "Output format: ${COMPLETION-CANDIDATES}. Default: ${DEFAULT-VALUE}.")
    Format format = Format.TEXT;

    @Override
    public Integer call() {
      if (since.isNegative() || since.isZero() || since.compareTo(MAX_REPLAY) > 0) {
        throw new ParameterException(spec.commandLine(), "--since must be more than 0 and at most 30d (Stripe "
            + "keeps events 30 days) but was " + since);
      }
      return withBilling(spec, common, options, (billing, out, err) -> {
        Instant from = billing.config().clock().instant().minus(since);
        ReplayReport report = billing.webhooks().replay(from);
        out.print(format == Format.JSON ? BillingOutput.replayJson(report, from)
            : BillingOutput.replayText(report, from));
        return report.failed() > 0 ? EXIT_FINDINGS : SaasKit.EXIT_OK;
      });
    }
  }

  /** {@code billing status}. */
  @Command(name = "status", mixinStandardHelpOptions = true, versionProvider = SaasKit.Version.class,
      sortOptions = false, usageHelpAutoWidth = true,
      header = "A tenant's billing status, or (without --tenant) the event inbox's health.",
      description = {"With --tenant: its access state, whether it has access and until when, and the subscription "
          + "that governs it, read from the mirror. Without: how many events the inbox holds per status; exit 1 "
          + "when any failed (or used up their attempts), so it serves as a health check."},
      descriptionHeading = "%n",
      optionListHeading = "%nOptions:%n")
  static final class Status implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin CommonOptions common;
    @Mixin BillingOptions options;

    @Option(names = "--tenant", paramLabel = "<tenant>", order = 10, description = "The tenant id.")
    @Nullable String tenant;

    @Option(names = "--format", paramLabel = "<format>", order = 11, defaultValue = "text",
        completionCandidates = FormatNames.class,
        description = "Output format: ${COMPLETION-CANDIDATES}. Default: ${DEFAULT-VALUE}.")
    Format format = Format.TEXT;

    @Override
    public Integer call() {
      TenantId id = null;
      String value = tenant;
      if (value != null) {
        TenantId[] parsed = new TenantId[1];
        Options.checked(spec, "--tenant", () -> parsed[0] = TenantId.of(value));
        id = parsed[0];
      }
      TenantId chosen = id;
      return withBilling(spec, common, options, (billing, out, err) -> {
        if (chosen != null) {
          TenantBilling status = billing.status(chosen);
          out.print(format == Format.JSON ? BillingOutput.statusJson(status) : BillingOutput.statusText(status));
          return SaasKit.EXIT_OK;
        }
        InboxSummary summary = billing.webhooks().inboxSummary();
        out.print(format == Format.JSON ? BillingOutput.summaryJson(summary) : BillingOutput.summaryText(summary));
        if (summary.parked() > 0) {
          // not a failure: events of a customer that checkout has not linked to a tenant yet wait for it
          err.println("billing status: " + summary.parked() + " parked event(s) wait for their customer to be"
              + " linked to a tenant; see 'saaskit billing events --status parked'");
        }
        if (summary.failed() > 0 || summary.exhausted() > 0) {
          err.println("billing status: " + summary.failed() + " failed event(s), " + summary.exhausted()
              + " of them out of attempts; see 'saaskit billing events --status failed'");
          return EXIT_FINDINGS;
        }
        return SaasKit.EXIT_OK;
      });
    }
  }

  /** {@code billing events}. */
  @Command(name = "events", mixinStandardHelpOptions = true, versionProvider = SaasKit.Version.class,
      sortOptions = false, usageHelpAutoWidth = true,
      header = "List the webhook event inbox, newest first, or retry one event (--retry).",
      optionListHeading = "%nOptions:%n",
      exitCodeListHeading = "%nExit codes:%n",
      exitCodeList = {
          "0:listed; or the retried event is applied (or ignored)",
          "1:--retry: no such event in the inbox, applying it failed again, or it is still parked",
          "2:usage error, missing Stripe key, cannot connect, or another failure"})
  static final class Events implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin CommonOptions common;
    @Mixin BillingOptions options;

    @Option(names = "--status", paramLabel = "<status>", order = 10, completionCandidates = StatusNames.class,
        description = "Only events in this status: ${COMPLETION-CANDIDATES}. Default: every status.")
    @Nullable String status;

    @Option(names = "--limit", paramLabel = "<n>", order = 11, defaultValue = "50",
        description = "At most this many events (1 to 10000). Default: ${DEFAULT-VALUE}.")
    int limit = 50;

    @Option(names = "--retry", paramLabel = "<evt_id>", order = 12,
        description = "Apply this recorded event now, whatever its attempts, and print the result.")
    @Nullable String retry;

    @Option(names = "--format", paramLabel = "<format>", order = 13, defaultValue = "text",
        completionCandidates = FormatNames.class,
        description = "Output format: ${COMPLETION-CANDIDATES}. Default: ${DEFAULT-VALUE}.")
    Format format = Format.TEXT;

    @Override
    public Integer call() {
      String wanted = status;
      if (wanted != null && !STATUSES.contains(wanted)) {
        throw new ParameterException(spec.commandLine(), "invalid --status: '" + wanted + "' (expected one of "
            + String.join(", ", STATUSES) + ")");
      }
      if (limit < 1 || limit > 10_000) {
        throw new ParameterException(spec.commandLine(), "--limit must be between 1 and 10000 but was " + limit);
      }
      String id = retry;
      if (id != null && wanted != null) {
        throw new ParameterException(spec.commandLine(), "--retry and --status exclude each other");
      }
      return withBilling(spec, common, options, (billing, out, err) -> {
        if (id != null) {
          Optional<InboxEvent> known = billing.webhooks().event(id);
          if (known.isEmpty()) {
            err.println("error: no event " + JobsOutput.visible(id) + " in the inbox (list them with 'saaskit "
                + "billing events'; 'saaskit billing replay' records events Stripe sent that never arrived)");
            return EXIT_FINDINGS;
          }
          InboxEvent after = billing.webhooks().retry(id);
          out.print(format == Format.JSON ? BillingOutput.eventJson(after) : BillingOutput.retryText(after));
          return "failed".equals(after.status()) || "received".equals(after.status())
              || "parked".equals(after.status()) ? EXIT_FINDINGS : SaasKit.EXIT_OK;
        }
        List<InboxEvent> events = billing.webhooks().inbox(wanted, limit);
        out.print(format == Format.JSON ? BillingOutput.eventsJson(events) : BillingOutput.eventsText(events));
        return SaasKit.EXIT_OK;
      });
    }
  }
}
