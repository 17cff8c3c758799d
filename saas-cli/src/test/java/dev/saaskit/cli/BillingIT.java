package dev.saaskit.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.saaskit.cli.CliProcess.Result;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.io.IOException;
import java.sql.SQLException;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * {@code saaskit billing ...} as a process (java -jar saaskit.jar): the shaded jar carries saas-billing, stripe-java
 * and Gson, reads the Stripe key from the environment and never prints it.
 */
@ExtendWith(PostgresExtension.class)
@TestMethodOrder(MethodOrderer.MethodName.class)
class BillingIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  static TestDatabase db;
  private static BillingFixtures fx;

  @BeforeAll
  static void setUp() throws SQLException {
    fx = new BillingFixtures(db);
  }

  @AfterAll
  static void tearDown() {
    if (fx != null) {
      fx.close();
    }
  }

  private static Result billing(Map<String, String> env, String command, String... args) {
    List<String> all = fx.args(command, args);
    Result r = CliProcess.run(env, all.toArray(String[]::new));
    assertThat(r.out() + r.err()).as(r.toString()).doesNotContain(BillingFixtures.STRIPE_KEY, db.appPassword());
    return r;
  }

  @Test
  void a1SyncFixThenCleanThenStatusActive() throws IOException {
    Result fix = billing(fx.env(), "sync", "--fix", "--format", "json");
    assertThat(fix.exitCode()).as(fix.toString()).isZero();
    JsonNode report = JSON.readTree(fix.out());
    assertThat(report.get("fixed").asBoolean()).isTrue();
    assertThat(report.get("fixFailures")).isEmpty();
    assertThat(report.get("drifts").toString()).contains(fx.subscription);

    Result clean = billing(fx.env(), "sync", "--verbose");
    assertThat(clean.exitCode()).as(clean.toString()).isZero();
    assertThat(clean.out()).startsWith("no drift");

    Result status = billing(fx.env(), "status", "--tenant", BillingFixtures.TENANT);
    assertThat(status.exitCode()).as(status.toString()).isZero();
    assertThat(status.out()).containsPattern("state: +ACTIVE");
    assertThat(status.err()).isEmpty();
  }

  @Test
  void a2ReplayAndTheInboxHealth() {
    Result replay = billing(fx.env(), "replay", "--since", "2d");
    assertThat(replay.exitCode()).as(replay.toString()).isZero();
    assertThat(replay.out()).contains("failed 0");
    Result health = billing(fx.env(), "status");
    assertThat(health.exitCode()).as(health.toString()).isZero();
    Result unknown = billing(fx.env(), "events", "--retry", "evt_it_unknown");
    assertThat(unknown.exitCode()).as(unknown.toString()).isEqualTo(1);
    assertThat(unknown.err()).startsWith("error: no event evt_it_unknown in the inbox");
  }

  @Test
  void a3WithoutTheKeyItIsExitTwoNamingTheVariable() {
    Result r = billing(Map.of(BillingFixtures.PASSWORD_VAR, db.appPassword()), "status");
    assertThat(r.exitCode()).as(r.toString()).isEqualTo(2);
    assertThat(r.err()).startsWith("error: the environment variable " + BillingFixtures.KEY_VAR + " (named by "
        + "--stripe-key-env) is not set");
  }
}
