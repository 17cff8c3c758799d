package dev.saaskit.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.cli.CliProcess.Result;
import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The runnable jar never prints a password, however it was given: in the user-info of the URL, in a password
 * parameter of the URL (plain or percent-encoded), or by mistake as the value of {@code --password-env}; on stdout
 * or stderr, with or without {@code --verbose}, for {@code rls-audit} and {@code jobs}. A password in the URL draws a
 * warning on stderr. Only the loopback interface is contacted.
 */
class SecretsIT {
  private static final String WARNING = "warning: --url contains a password";
  private static final List<List<String>> COMMANDS = List.of(List.of("rls-audit"), List.of("jobs", "counts"));
  private static final List<Boolean> VERBOSITY = List.of(false, true);

  @Test
  void aPasswordInTheUserInfoOfTheUrlIsNeverPrintedAndNothingIsContacted() throws IOException {
    String plain = "Tr0ub4dor-in-userinfo";
    String base64ish = "xK9/p+Q2w==zz"; // unencoded '/', '+' and '=', as pasted from a secret store
    try (PasswordRejectingServer server = new PasswordRejectingServer()) {
      String hostPort = "127.0.0.1:" + server.port();
      List<String> urls = List.of(
          "jdbc:postgresql://auditor:" + plain + "@" + hostPort + "/app?sslmode=disable",
          "jdbc:postgresql://auditor:" + base64ish + "@127.0.0.1/app"); // no port: pgjdbc cannot even parse it
      for (String url : urls) {
        for (List<String> command : COMMANDS) {
          for (boolean verbose : VERBOSITY) {
            Result r = run(Map.of(), command, verbose, "--url", url);
            assertThat(r.exitCode()).as(r.toString()).isEqualTo(2);
            assertThat(r.out()).as(r.toString()).isEmpty();
            assertThat(r.err()).as(r.toString()).doesNotContain(plain, base64ish, "auditor:")
                .contains(WARNING, "--password-env", "jdbc:postgresql://***@127.0.0.1", "--user");
          }
        }
      }
      assertThat(server.connections).as("refused before connecting").hasValue(0);
    }
  }

  @Test
  void aPasswordParameterOfTheUrlIsNeverPrinted() throws IOException {
    String secret = "p@ss/w0rd?#x&y=z"; // percent-encoded in the URL, decoded by the driver
    String encoded = URLEncoder.encode(secret, StandardCharsets.UTF_8);
    String sslSecret = "Key-Passphrase-77";
    try (PasswordRejectingServer server = new PasswordRejectingServer()) {
      // the driver reads only "password" and "sslpassword"; the redaction ignores case all the same
      String url = server.jdbcUrl() + "&user=auditor&password=" + encoded + "&SSLPassword=" + sslSecret;
      for (List<String> command : COMMANDS) {
        for (boolean verbose : VERBOSITY) {
          Result r = run(Map.of(), command, verbose, "--url", url);
          assertThat(r.exitCode()).as(r.toString()).isEqualTo(2);
          assertThat(r.out()).as(r.toString()).isEmpty();
          assertThat(r.err()).as(r.toString()).doesNotContain(secret, encoded, sslSecret, "p@ss")
              .contains(WARNING, "--password-env", "password authentication failed for user \"auditor\"",
                  "&password=***", "SSLPassword=***");
        }
      }
      assertThat(server.passwordsReceived).as("the URL's password was the one sent").isNotEmpty()
          .allMatch(secret::equals);

      // a malformed URL (no '/' after the port): pgjdbc's own log line repeats it under --verbose
      String malformed = "jdbc:postgresql://127.0.0.1:" + server.port() + "?password=" + sslSecret;
      for (List<String> command : COMMANDS) {
        Result r = run(Map.of(), command, true, "--url", malformed);
        assertThat(r.exitCode()).as(r.toString()).isEqualTo(2);
        assertThat(r.out()).as(r.toString()).isEmpty();
        assertThat(r.err()).as(r.toString()).doesNotContain(sslSecret)
            .contains(WARNING, "error: invalid PostgreSQL JDBC URL: jdbc:postgresql://127.0.0.1:" + server.port()
                + "?password=***");
      }
    }
  }

  @Test
  void theValueGivenToPasswordEnvIsNeverEchoed() throws IOException {
    String notAName = "correct horse battery staple!";
    String looksLikeAName = "Hunter2IsMyPassword"; // a valid variable name, but no such variable is set
    try (PasswordRejectingServer server = new PasswordRejectingServer()) {
      for (List<String> command : COMMANDS) {
        for (boolean verbose : VERBOSITY) {
          Result bad = run(Map.of(), command, verbose, "--url", server.jdbcUrl(), "--password-env", notAName);
          assertThat(bad.exitCode()).as(bad.toString()).isEqualTo(2);
          assertThat(bad.out()).as(bad.toString()).isEmpty();
          assertThat(bad.err()).as(bad.toString()).doesNotContain(notAName, "horse")
              .contains("error: --password-env takes the name of an environment variable");

          Result unset = run(Map.of(), command, verbose, "--url", server.jdbcUrl(), "--password-env=" + looksLikeAName);
          assertThat(unset.exitCode()).as(unset.toString()).isEqualTo(2);
          assertThat(unset.out()).as(unset.toString()).isEmpty();
          assertThat(unset.err()).as(unset.toString()).doesNotContain(looksLikeAName, "Hunter2")
              .contains("error: the environment variable named by --password-env is not set");
        }
      }
      Result empty = run(Map.of(looksLikeAName, ""), COMMANDS.get(0), false, "--url", server.jdbcUrl(),
          "--password-env", looksLikeAName);
      assertThat(empty.exitCode()).as(empty.toString()).isEqualTo(2);
      assertThat(empty.err()).as(empty.toString()).doesNotContain(looksLikeAName)
          .contains("error: the environment variable named by --password-env is empty");
      assertThat(server.connections).as("refused before connecting").hasValue(0);
    }
  }

  @Test
  void aUrlEchoedInAUsageErrorIsRedacted() {
    String secret = "Pa55word-in-a-stray-argument";
    for (List<String> command : COMMANDS) {
      Result r = run(Map.of(), command, false, "--url", "jdbc:postgresql://127.0.0.1:1/app", "stray",
          "jdbc:postgresql://auditor:" + secret + "@db/app?password=" + secret);
      assertThat(r.exitCode()).as(r.toString()).isEqualTo(2);
      assertThat(r.err()).as(r.toString()).doesNotContain(secret)
          .contains("error: Unmatched arguments", "'jdbc:postgresql://***@db/app?password=***'");
    }
  }

  private static Result run(Map<String, String> env, List<String> command, boolean verbose, String... options) {
    List<String> args = new ArrayList<>(command);
    args.addAll(List.of(options));
    if (verbose) {
      args.add(CommonOptions.VERBOSE);
    }
    return CliProcess.run(env, args.toArray(String[]::new));
  }
}
