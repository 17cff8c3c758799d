package dev.saaskit.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
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
    Run r = run("rls-audit", "--url", "jdbc:mysql://h/db?user=a&password=pw1");
    assertThat(r.code).isEqualTo(2);
    assertThat(r.err).isEqualTo("error: not a PostgreSQL JDBC URL: jdbc:mysql://h/db?user=a&password=*** "
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
  void redactsEveryPasswordParameter() {
    assertThat(Connections.redact("jdbc:postgresql://h/db?user=a&password=x&sslpassword=y;Password=z"))
        .isEqualTo("jdbc:postgresql://h/db?user=a&password=***&sslpassword=***;Password=***");
    assertThat(Connections.redact("jdbc:postgresql://h/db?passwordless=1")).isEqualTo(
        "jdbc:postgresql://h/db?passwordless=1");
  }
}
