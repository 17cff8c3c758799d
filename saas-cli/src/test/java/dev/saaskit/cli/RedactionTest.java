package dev.saaskit.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.UnknownHostException;
import java.sql.SQLException;
import java.util.List;
import java.util.Properties;
import org.junit.jupiter.api.Test;

/** The one redaction helper: URLs, free text, exception chains. */
class RedactionTest {

  @Test
  void masksEverySecretParameterOfAUrlWhateverItsCaseOrEncoding() {
    assertThat(Redaction.url("jdbc:postgresql://h/db?user=a&password=x&sslpassword=y;Password=z&PASSWORD=p%40ss"))
        .isEqualTo("jdbc:postgresql://h/db?user=a&password=***&sslpassword=***;Password=***&PASSWORD=***");
    assertThat(Redaction.url("jdbc:postgresql://h/db?pass%77ord=x&SSLPassPhrase=y&client_secret=z&pwd=w"))
        .isEqualTo("jdbc:postgresql://h/db?pass%77ord=***&SSLPassPhrase=***&client_secret=***&pwd=***");
    assertThat(Redaction.url("jdbc:postgresql://h/db?password=a=b==&sslmode=require"))
        .isEqualTo("jdbc:postgresql://h/db?password=***&sslmode=require");
    assertThat(Redaction.url("jdbc:postgresql://h/db?password=p@ss/w?rd&user=u"))
        .isEqualTo("jdbc:postgresql://h/db?password=***&user=u");
    // not secrets: another name, an empty value
    assertThat(Redaction.url("jdbc:postgresql://h/db?passwordless=1&password=&sslpasswordcallback=C"))
        .isEqualTo("jdbc:postgresql://h/db?passwordless=1&password=&sslpasswordcallback=C");
  }

  @Test
  void masksTheUserInfoOfAUrl() {
    assertThat(Redaction.url("jdbc:postgresql://bob:hunter2@db:5432/app?sslmode=require"))
        .isEqualTo("jdbc:postgresql://***@db:5432/app?sslmode=require");
    assertThat(Redaction.url("jdbc:postgresql://bob@db/app")).isEqualTo("jdbc:postgresql://***@db/app");
    assertThat(Redaction.url("postgresql://bob:pw@db/app")).isEqualTo("postgresql://***@db/app");
    // unencoded '@', '/', '=', '?' inside the password do not end the user-info early
    assertThat(Redaction.url("jdbc:postgresql://bob:p@ss@db/app")).isEqualTo("jdbc:postgresql://***@db/app");
    assertThat(Redaction.url("jdbc:postgresql://bob:xK9/p+Q2w==@db/app")).isEqualTo("jdbc:postgresql://***@db/app");
    assertThat(Redaction.url("jdbc:postgresql://bob:ab/c@db")).isEqualTo("jdbc:postgresql://***@db");
    assertThat(Redaction.url("jdbc:postgresql://bob:p?ss@db/app?sslmode=require"))
        .isEqualTo("jdbc:postgresql://***@db/app?sslmode=require");
    assertThat(Redaction.url("jdbc:postgresql://bob:pw@h1:5432,h2:5433/app?password=x"))
        .isEqualTo("jdbc:postgresql://***@h1:5432,h2:5433/app?password=***");
    // an '@' in the database name after a plain host list, or in a parameter, is no user-info
    assertThat(Redaction.url("jdbc:postgresql://db:5432/team@corp")).isEqualTo("jdbc:postgresql://db:5432/team@corp");
    assertThat(Redaction.url("jdbc:postgresql://[::1]:5432/a@b")).isEqualTo("jdbc:postgresql://[::1]:5432/a@b");
    assertThat(Redaction.hasUserInfo("jdbc:postgresql://db:5432/team@corp")).isFalse();
    assertThat(Redaction.hasUserInfo("jdbc:postgresql://db/app?password=p@ss")).isFalse();
    assertThat(Redaction.hasUserInfo("jdbc:postgresql://bob@db/app")).isTrue();
    assertThat(Redaction.hasUserInfo("jdbc:postgresql:app")).isFalse();
  }

  @Test
  void findsTheSecretsOfAUrlAsWrittenAndDecoded() {
    assertThat(Redaction.secretsIn("jdbc:postgresql://bob:hunter%232@db/app?password=p%40ss&user=x&sslpassword="))
        .containsExactly("hunter%232", "hunter#2", "p%40ss", "p@ss");
    assertThat(Redaction.secretsIn("jdbc:postgresql://bob@db/app?user=x&passwordless=1")).isEmpty();
  }

  @Test
  void masksAnythingShapedLikeAStripeSecretAfterItsPrefix() {
    assertThat(Redaction.text("Unmatched argument at index 2: 'sk_live_51AbC9xyz' and sk_test_Q_1 rk_live_r2"
        + " whsec_abc123"))
        .isEqualTo("Unmatched argument at index 2: 'sk_live_***' and sk_test_*** rk_live_*** whsec_***");
    // the hint "sk_test_..." names a shape, not a key; an id that merely contains the letters is no key
    assertThat(Redaction.text("must look like sk_test_..., sk_live_... or rk_... (task_live_x is fine)"))
        .isEqualTo("must look like sk_test_..., sk_live_... or rk_... (task_live_x is fine)");
  }

  @Test
  void redactsKnownSecretsAndUrlsInFreeText() {
    assertThat(Redaction.text("Connection to bob:hunter22@db:1 refused (user \"a;password=xyz\")",
        List.of("hunter22")))
        .isEqualTo("Connection to bob:***@db:1 refused (user \"a;password=***\")");
    assertThat(Redaction.text("Unmatched argument: 'jdbc:postgresql://u:pw@h/db?sslpassword=k' and 'x'"))
        .isEqualTo("Unmatched argument: 'jdbc:postgresql://***@h/db?sslpassword=***' and 'x'");
    assertThat(Redaction.text("WARNING: JDBC URL must contain a /: jdbc:postgresql://h:1?password=pw\n"))
        .isEqualTo("WARNING: JDBC URL must contain a /: jdbc:postgresql://h:1?password=***\n");
    assertThat(Redaction.text("invalid connection option: host=db password=hunter2 PGPASSWORD=x"))
        .isEqualTo("invalid connection option: host=db password=*** PGPASSWORD=***");
    // in free text a value runs to white space or a quote: a ')' after it may be part of the password
    assertThat(Redaction.text("(password=x1)")).isEqualTo("(password=***");
    assertThat(Redaction.text("short secrets are left: abc", List.of("abc"))).endsWith(": abc");
    assertThat(Redaction.text(null)).isEmpty();
    String redacted = "cannot connect to jdbc:postgresql://***@h/db?password=***: refused (password=***)";
    assertThat(Redaction.text(redacted)).as("redacting twice changes nothing").isEqualTo(redacted);
  }

  @Test
  void copiesAnExceptionChainWithRedactedMessagesAndTheSameFrames() {
    SQLException original = new SQLException("The connection attempt failed for jdbc:postgresql://h/db?password=pw1");
    original.initCause(new UnknownHostException("bob:hunter22@db"));
    original.addSuppressed(new IllegalStateException("hunter22 again"));
    Throwable copy = Redaction.throwable(original, List.of("hunter22"));

    assertThat(copy.getStackTrace()).isEqualTo(original.getStackTrace());
    StringWriter trace = new StringWriter();
    copy.printStackTrace(new PrintWriter(trace));
    assertThat(trace.toString())
        .startsWith("java.sql.SQLException: The connection attempt failed for jdbc:postgresql://h/db?password=***")
        .contains("Caused by: java.net.UnknownHostException: bob:***@db",
            "Suppressed: java.lang.IllegalStateException: *** again", "\tat dev.saaskit.cli.RedactionTest.")
        .doesNotContain("hunter22", "pw1");
  }

  @Test
  void pgjdbcStillTakesUserInfoForPartOfTheHost() {
    // why Connections refuses a URL with user-info: pgjdbc 42.7 never reads it. If this fails after a driver
    // upgrade, the driver has learnt to read it: let such URLs through (still redacted, still with the warning).
    Properties parsed = org.postgresql.Driver.parseURL("jdbc:postgresql://bob:pw@db:5432/app", null);
    assertThat(parsed).isNotNull();
    assertThat(parsed.getProperty("PGHOST")).isEqualTo("bob:pw@db");
    assertThat(parsed.getProperty("password")).isNull();
  }
}
