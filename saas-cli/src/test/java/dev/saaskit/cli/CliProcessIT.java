package dev.saaskit.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.cli.CliProcess.Result;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The runnable jar as a process, for everything that needs no database: help, usage errors and connection
 * failures. Only the loopback interface is ever contacted.
 */
class CliProcessIT {
  private static final String STACK_FRAME = "\tat ";

  @Test
  void helpOnTheTopCommandListsTheCommands() {
    Result r = CliProcess.run("--help");
    assertThat(r.exitCode()).as(r.toString()).isZero();
    assertThat(r.out()).contains("Usage: saaskit", "rls-audit", "jobs", "billing", "Exit codes");
    assertThat(r.err()).isEmpty();
  }

  @Test
  void helpOnRlsAuditListsEveryOption() {
    Result r = CliProcess.run("rls-audit", "--help");
    assertThat(r.exitCode()).as(r.toString()).isZero();
    assertThat(r.out()).contains("Usage: saaskit rls-audit", "--url", "--user", "--password-env", "--app-role",
        "--schema", "--tenant-column", "--setting", "--format", "text, json, sarif", "--baseline", "--output",
        "--connect-timeout", "--verbose", "Exit codes");
    assertThat(r.err()).isEmpty();
  }

  @Test
  void versionNamesTheBuild() {
    Result r = CliProcess.run("--version");
    assertThat(r.exitCode()).as(r.toString()).isZero();
    assertThat(r.out()).startsWith("saaskit ").contains("PostgreSQL JDBC driver 42.");
  }

  @Test
  void anUnknownOptionIsAUsageError() {
    Result r = CliProcess.run("rls-audit", "--url", "jdbc:postgresql://127.0.0.1/x", "--colour");
    assertThat(r.exitCode()).as(r.toString()).isEqualTo(2);
    assertThat(r.out()).isEmpty();
    assertThat(r.err()).contains("error: Unknown option: '--colour'", "Usage: saaskit rls-audit",
        "Run 'saaskit rls-audit --help'").doesNotContain(STACK_FRAME);
  }

  @Test
  void aMissingUrlIsAUsageError() {
    Result r = CliProcess.run("rls-audit", "--format", "json");
    assertThat(r.exitCode()).as(r.toString()).isEqualTo(2);
    assertThat(r.err()).contains("Missing required option: '--url=<jdbc-url>'", "Usage: saaskit rls-audit")
        .doesNotContain(STACK_FRAME);
  }

  @Test
  void aUrlForAnotherDriverIsRejected() {
    Result r = CliProcess.run("rls-audit", "--url", "jdbc:nope://x");
    assertThat(r.exitCode()).as(r.toString()).isEqualTo(2);
    assertThat(r.err()).startsWith("error: not a PostgreSQL JDBC URL: jdbc:nope://x").doesNotContain(STACK_FRAME);
  }

  @Test
  void anUnreachableServerFailsFastWithOneLine() throws IOException {
    int port = closedLoopbackPort();
    String url = "jdbc:postgresql://127.0.0.1:" + port + "/app?password=hunter2";
    Result r = CliProcess.run("rls-audit", "--url", url);
    assertThat(r.exitCode()).as(r.toString()).isEqualTo(2);
    assertThat(r.err().lines()).as(r.toString()).hasSize(2); // the password-in-URL warning, the error
    assertThat(r.err().lines().skip(1).findFirst().orElseThrow())
        .startsWith("error: cannot connect to jdbc:postgresql://127.0.0.1:" + port + "/app?password=***: ")
        .contains("refused");
    assertThat(r.err()).startsWith("warning: --url contains a password").doesNotContain("hunter2", STACK_FRAME);
    assertThat(r.elapsed()).isLessThan(Duration.ofSeconds(20));

    Result verbose = CliProcess.run("rls-audit", "--url", url, "--verbose");
    assertThat(verbose.exitCode()).as(verbose.toString()).isEqualTo(2);
    assertThat(verbose.err()).contains("\nerror: cannot connect to", STACK_FRAME).doesNotContain("hunter2");
  }

  @Test
  void aRejectedPasswordIsReportedWithoutThePassword() throws IOException {
    try (PasswordRejectingServer server = new PasswordRejectingServer()) {
      Result r = CliProcess.run(Map.of("AUDIT_PW", "not-the-password"),
          "rls-audit", "--url", server.jdbcUrl(), "--user", "auditor", "--password-env", "AUDIT_PW");
      assertThat(r.exitCode()).as(r.toString()).isEqualTo(2);
      assertThat(r.err().strip()).isEqualTo("error: cannot connect to " + server.jdbcUrl()
          + ": password authentication failed for user \"auditor\"");
      assertThat(server.passwordsReceived).as("the password came from the variable").contains("not-the-password");
    }
  }

  @Test
  void anUnsetPasswordVariableIsAnError() {
    Result r = CliProcess.run("rls-audit", "--url", "jdbc:postgresql://127.0.0.1:1/app",
        "--password-env", "SAASKIT_IT_SURELY_UNSET_VARIABLE");
    assertThat(r.exitCode()).as(r.toString()).isEqualTo(2);
    assertThat(r.err().strip()).startsWith("error: the environment variable named by --password-env is not set")
        .doesNotContain("SAASKIT_IT_SURELY_UNSET_VARIABLE");
  }

  private static int closedLoopbackPort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort(); // closed again when the test connects: nothing listens there
    }
  }
}
