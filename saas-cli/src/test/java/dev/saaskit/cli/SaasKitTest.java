package dev.saaskit.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.ParseResult;

/** Argument parsing and the errors found before any connection, in process. */
class SaasKitTest {
  private static final String STACK_FRAME = "\tat ";

  record Run(int code, String out, String err) {}

  static Run run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = SaasKit.run(args, new PrintWriter(out), new PrintWriter(err));
    return new Run(code, out.toString(), err.toString());
  }

  static RlsAuditCommand parse(String... args) {
    CommandLine cl = SaasKit.commandLine(new PrintWriter(new StringWriter()), new PrintWriter(new StringWriter()));
    ParseResult result = cl.parseArgs(args);
    return (RlsAuditCommand) result.subcommand().commandSpec().userObject();
  }

  @Test
  void defaults() {
    RlsAuditCommand c = parse("rls-audit", "--url", "jdbc:postgresql://h/db");
    assertThat(c.url).isEqualTo("jdbc:postgresql://h/db");
    assertThat(c.format).isEqualTo(RlsAuditCommand.Format.TEXT);
    assertThat(c.connectTimeoutSeconds).isEqualTo(10);
    assertThat(c.schemas).isEmpty();
    assertThat(c.tenantColumns).isEmpty();
    assertThat(c.user).isNull();
    assertThat(c.passwordEnv).isNull();
    assertThat(c.appRole).isNull();
    assertThat(c.setting).isNull();
    assertThat(c.baseline).isNull();
    assertThat(c.output).isNull();
    assertThat(c.common.verbose).isFalse();
  }

  @Test
  void everyOption() {
    RlsAuditCommand c = parse("rls-audit", "--url=jdbc:postgresql://h/db", "--user", "u", "--password-env", "PW",
        "--app-role", "app", "--schema", "a", "--schema", "b", "--tenant-column", "org_id", "--setting", "x.t",
        "--format", "SARIF", "--baseline", "base.txt", "-o", "out.sarif", "--connect-timeout", "3", "--verbose");
    assertThat(c.user).isEqualTo("u");
    assertThat(c.passwordEnv).isEqualTo("PW");
    assertThat(c.appRole).isEqualTo("app");
    assertThat(c.schemas).containsExactly("a", "b");
    assertThat(c.tenantColumns).containsExactly("org_id");
    assertThat(c.setting).isEqualTo("x.t");
    assertThat(c.format).isEqualTo(RlsAuditCommand.Format.SARIF);
    assertThat(c.baseline).isEqualTo(Path.of("base.txt"));
    assertThat(c.output).isEqualTo(Path.of("out.sarif"));
    assertThat(c.connectTimeoutSeconds).isEqualTo(3);
    assertThat(c.common.verbose).isTrue();
    assertThat(parse("rls-audit", "--url", "u", "--format", "json").format).isEqualTo(RlsAuditCommand.Format.JSON);
  }

  @Test
  void helpAndVersion() {
    Run top = run("--help");
    assertThat(top.code).isZero();
    assertThat(top.out).contains("Usage: saaskit [-hV] COMMAND", "rls-audit", "Exit codes:");
    Run sub = run("help", "rls-audit");
    assertThat(sub.code).isZero();
    assertThat(sub.out).contains("Usage: saaskit rls-audit", "--password-env=<VAR>", "text, json, sarif",
        "Default: text", "Default: 10");
    Run version = run("rls-audit", "--version");
    assertThat(version.code).isZero();
    assertThat(version.out).startsWith("saaskit ");
  }

  @Test
  void noCommandIsAUsageError() {
    Run r = run();
    assertThat(r.code).isEqualTo(2);
    assertThat(r.err).contains("error: Missing required subcommand", "Usage: saaskit");
    assertThat(r.out).isEmpty();
  }

  @Test
  void anUnknownCommandIsAUsageErrorWithSuggestions() {
    Run r = run("rls-audi");
    assertThat(r.code).isEqualTo(2);
    assertThat(r.err).contains("Unmatched argument", "rls-audit");
  }

  @Test
  void badValuesAreUsageErrors() {
    Run format = run("rls-audit", "--url", "jdbc:postgresql://h/db", "--format", "xml");
    assertThat(format.code).isEqualTo(2);
    assertThat(format.err).contains("Invalid value for option '--format'", "Usage: saaskit rls-audit");
    Run schema = run("rls-audit", "--url", "jdbc:postgresql://h/db", "--schema", "");
    assertThat(schema.code).isEqualTo(2);
    assertThat(schema.err).startsWith("error: invalid --schema: ").contains("Usage: saaskit rls-audit");
    Run setting = run("rls-audit", "--url", "jdbc:postgresql://h/db", "--setting", "nodot");
    assertThat(setting.code).isEqualTo(2);
    assertThat(setting.err).startsWith("error: invalid --setting: ").contains("nodot");
    Run timeout = run("rls-audit", "--url", "jdbc:postgresql://h/db", "--connect-timeout", "0");
    assertThat(timeout.code).isEqualTo(2);
    assertThat(timeout.err).contains("--connect-timeout must be >= 1 but was 0");
  }

  @Test
  void aPasswordOnTheCommandLineIsRefusedAndNotEchoed() {
    Run r = run("rls-audit", "--url", "jdbc:postgresql://h/db", "--password", "s3cret-value");
    assertThat(r.code).isEqualTo(2);
    assertThat(r.err).contains("--password is not accepted", "--password-env").doesNotContain("s3cret-value");
  }

  @Test
  void aUrlOfAnotherDriverIsRefusedBeforeConnecting() {
    Run r = run("rls-audit", "--url", "jdbc:mysql://h/db?user=a&password=pw1x");
    assertThat(r.code).isEqualTo(2);
    assertThat(r.err).isEqualTo(Connections.PASSWORD_IN_URL_WARNING + System.lineSeparator()
        + "error: not a PostgreSQL JDBC URL: jdbc:mysql://h/db?user=a&password=*** "
        + "(expected jdbc:postgresql://host[:port]/database[?parameters])" + System.lineSeparator());
  }

  @Test
  void aMalformedPostgresUrlIsRefused() {
    Run r = run("rls-audit", "--url", "jdbc:postgresql://h:notaport/db");
    assertThat(r.code).isEqualTo(2);
    assertThat(r.err).startsWith("error: invalid PostgreSQL JDBC URL: jdbc:postgresql://h:notaport/db")
        .doesNotContain(STACK_FRAME, "WARNING");
  }

  @Test
  void aMissingBaselineFileIsAnError(@TempDir Path dir) {
    Path missing = dir.resolve("nope.txt");
    Run r = run("rls-audit", "--url", "jdbc:postgresql://h/db", "--baseline", missing.toString());
    assertThat(r.code).isEqualTo(2);
    assertThat(r.err).isEqualTo("error: cannot read baseline " + missing + ": no such file" + System.lineSeparator())
        .doesNotContain(STACK_FRAME);
  }

  @Test
  void aUrlWithUserInfoIsRefusedBeforeConnectingWithoutEchoingIt() {
    Run r = run("rls-audit", "--url", "jdbc:postgresql://auditor:pw-in-userinfo@127.0.0.1:1/app", "--verbose");
    assertThat(r.code).isEqualTo(2);
    assertThat(r.out).isEmpty();
    assertThat(r.err).startsWith(Connections.PASSWORD_IN_URL_WARNING + System.lineSeparator()
            + "error: the PostgreSQL JDBC driver does not read a user or password written before the host: "
            + "jdbc:postgresql://***@127.0.0.1:1/app; name the role with --user")
        .doesNotContain("pw-in-userinfo", "auditor");
    Run userOnly = run("jobs", "counts", "--url", "jdbc:postgresql://auditor@127.0.0.1:1/app");
    assertThat(userOnly.code).isEqualTo(2);
    assertThat(userOnly.err).startsWith("error: the PostgreSQL JDBC driver does not read a user")
        .contains("jdbc:postgresql://***@127.0.0.1:1/app").doesNotContain("warning", "auditor");
  }

  @Test
  void theValueOfPasswordEnvIsNeverEchoed() {
    for (String command : new String[] {"rls-audit", "jobs list"}) {
      String[] base = (command + " --url jdbc:postgresql://127.0.0.1:1/app --password-env").split(" ");
      Run notAName = run(append(base, "s3cret pass-word!"));
      assertThat(notAName.code).isEqualTo(2);
      assertThat(notAName.err).startsWith("error: --password-env takes the name of an environment variable")
          .contains("Usage: saaskit ").doesNotContain("s3cret");
      Run unset = run(append(base, "S3cretPassword_surely_unset"));
      assertThat(unset.code).isEqualTo(2);
      assertThat(unset.err).isEqualTo("error: the environment variable named by --password-env is not set (its "
          + "name is not shown, in case it is the password itself): set it to the password, or pass the name of "
          + "the variable that holds it" + System.lineSeparator());
    }
  }

  @Test
  void theDriversLogUnderVerboseIsRedacted() {
    Run r = run("rls-audit", "--url", "jdbc:postgresql://127.0.0.1:1?password=logged-s3cret", "--verbose");
    assertThat(r.code).isEqualTo(2);
    assertThat(r.err).contains("JDBC URL must contain a / at the end of the host or port: "
        + "jdbc:postgresql://127.0.0.1:1?password=***", "error: invalid PostgreSQL JDBC URL", STACK_FRAME)
        .doesNotContain("logged-s3cret");
    Run quiet = run("rls-audit", "--url", "jdbc:postgresql://127.0.0.1:1?password=logged-s3cret");
    assertThat(quiet.err).doesNotContain("JDBC URL must contain", STACK_FRAME);
  }

  @Test
  void aUrlQuotedByAUsageErrorIsRedacted() {
    Run r = run("jobs", "counts", "--url", "jdbc:postgresql://127.0.0.1:1/app",
        "jdbc:postgresql://127.0.0.1/app?password=stray-s3cret");
    assertThat(r.code).isEqualTo(2);
    assertThat(r.err).contains("Unmatched argument", "'jdbc:postgresql://127.0.0.1/app?password=***'")
        .doesNotContain("stray-s3cret");
  }

  private static String[] append(String[] args, String last) {
    String[] all = Arrays.copyOf(args, args.length + 1);
    all[args.length] = last;
    return all;
  }

  /**
   * Review of 2026-12-06: options put before the subcommand's name ({@code saaskit tenants --url ... list}, the
   * way {@code git -C} works) were dropped without a word, and the error said the {@code --url} just given was
   * missing.
   */
  @Test
  void optionsBeforeTheSubcommandAreNamedAsMisplaced() {
    for (String group : List.of("tenants", "jobs")) {
      Run run = run(group, "--url", "jdbc:postgresql://db.example/app", "list");
      assertThat(run.code()).as(run.err()).isEqualTo(SaasKit.EXIT_USAGE);
      assertThat(run.err()).as(group)
          .contains("'--url' is not an option of 'saaskit " + group + "'")
          .contains("put it after the command name: saaskit " + group + " list --url ...")
          .doesNotContain("db.example")
          .doesNotContain(STACK_FRAME);
    }
    Run unknown = run("tenants", "--bogus", "list", "--url", "jdbc:postgresql://db.example/app");
    assertThat(unknown.code()).isEqualTo(SaasKit.EXIT_USAGE);
    assertThat(unknown.err()).contains("'--bogus'").doesNotContain("Missing required");
  }
}
