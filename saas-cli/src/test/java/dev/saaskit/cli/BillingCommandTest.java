package dev.saaskit.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.saaskit.cli.SaasKitTest.Run;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * {@code saaskit billing ...} in process against a real database and a StripeEmulator, in order: the mirror starts
 * empty while Stripe has a tenant's subscription (made without webhooks reaching anyone).
 */
@ExtendWith(PostgresExtension.class)
@TestMethodOrder(MethodOrderer.MethodName.class)
class BillingCommandTest {
  private static final String STACK_FRAME = "\tat ";
  private static final ObjectMapper JSON = new ObjectMapper();
  /** Every run's output, checked for the Stripe key at the end. */
  private static final List<Run> RUNS = new ArrayList<>();
  private static BillingFixtures fx;

  @BeforeAll
  static void setUp(TestDatabase db) throws SQLException {
    fx = new BillingFixtures(db);
  }

  @AfterAll
  static void tearDown() {
    if (fx != null) {
      fx.close();
    }
  }

  static Run run(Map<String, String> env, List<String> args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = SaasKit.run(args.toArray(String[]::new), new PrintWriter(out), new PrintWriter(err), env::get);
    Run run = new Run(code, out.toString(), err.toString());
    RUNS.add(run);
    return run;
  }

  private static Run billing(String command, String... args) {
    return run(fx.env(), fx.args(command, args));
  }

  @Test
  void a1SyncReportsTheRowsMissingFromTheMirror() throws Exception {
    Run sync = billing("sync");
    assertThat(sync.code()).as(sync.toString()).isEqualTo(1);
    List<String> lines = sync.out().lines().toList();
    assertThat(lines.get(0)).startsWith("KIND").contains("TYPE", "ID", "TENANT", "FIELD", "MIRROR -> STRIPE");
    assertThat(sync.out()).contains("missing_in_mirror", "subscription", fx.subscription, fx.customer, fx.product,
        fx.price, BillingFixtures.TENANT, "checked: ", "1 subscription", "fixed: none (run again with --fix");
    assertThat(lines).anyMatch(l -> l.matches("missing_in_mirror +subscription +" + fx.subscription + " +"
        + BillingFixtures.TENANT + " +- +\\(absent\\) -> \\(present\\)"));
    assertThat(sync.err()).isEmpty();
    assertThat(fx.count("SELECT count(*) FROM saaskit_billing.subscriptions")).isZero();

    Run json = billing("sync", "--format", "json");
    assertThat(json.code()).as(json.toString()).isEqualTo(1);
    JsonNode report = JSON.readTree(json.out());
    assertThat(report.get("clean").asBoolean()).isFalse();
    assertThat(report.get("fixed").asBoolean()).isFalse();
    assertThat(report.at("/checked/subscription").asInt()).isEqualTo(1);
    boolean found = false;
    for (JsonNode d : report.get("drifts")) {
      if (d.get("objectId").asText().equals(fx.subscription)) {
        found = true;
        assertThat(d.get("kind").asText()).isEqualTo("missing_in_mirror");
        assertThat(d.get("objectType").asText()).isEqualTo("subscription");
        assertThat(d.get("tenant").asText()).isEqualTo(BillingFixtures.TENANT);
      }
    }
    assertThat(found).as(json.out()).isTrue();
  }

  @Test
  void a2SyncFixFixesAndASecondSyncIsClean() throws Exception {
    Run fix = billing("sync", "--fix");
    assertThat(fix.code()).as(fix.toString()).isZero();
    assertThat(fix.out()).contains("missing_in_mirror", fx.subscription, "fix failures: 0").containsPattern(
        "fixed: [1-9][0-9]* object\\(s\\)");
    assertThat(fx.count("SELECT count(*) FROM saaskit_billing.subscriptions")).isEqualTo(1);

    Run again = billing("sync");
    assertThat(again.code()).as(again.toString()).isZero();
    assertThat(again.out()).startsWith("no drift: the mirror agrees with Stripe\n").contains("drifts: 0");
    Run json = billing("sync", "--format", "json");
    assertThat(json.code()).isZero();
    assertThat(JSON.readTree(json.out()).get("clean").asBoolean()).isTrue();
  }

  @Test
  void a3ReplayRecordsTheEventsTheEndpointNeverReceived() throws Exception {
    assertThat(fx.count("SELECT count(*) FROM saaskit_billing.events")).isZero();
    Run replay = billing("replay", "--since", "1d");
    assertThat(replay.code()).as(replay.toString()).isZero();
    assertThat(replay.out()).startsWith("replayed events created since ").contains("failed 0");
    long recorded = fx.count("SELECT count(*) FROM saaskit_billing.events");
    assertThat(recorded).isPositive();
    assertThat(replay.out()).contains("recorded " + recorded + ",");

    Run again = billing("replay", "--format", "json"); // default 3d
    assertThat(again.code()).as(again.toString()).isZero();
    JsonNode json = JSON.readTree(again.out());
    assertThat(json.get("listed").asInt()).isGreaterThanOrEqualTo((int) recorded);
    assertThat(json.get("recorded").asInt()).isZero();
    assertThat(json.get("failed").asInt()).isZero();
  }

  @Test
  void a4StatusOfTheTenantIsActive() throws Exception {
    Run status = billing("status", "--tenant", BillingFixtures.TENANT);
    assertThat(status.code()).as(status.toString()).isZero();
    assertThat(status.out()).startsWith("tenant " + BillingFixtures.TENANT + "\n")
        .containsPattern("state: +ACTIVE\n").containsPattern("has access: +yes\n")
        .containsPattern("subscription: +" + fx.subscription + " \\(active\\)\n")
        .contains(fx.price + " x 3", "charge_automatically", "period end:");
    JsonNode json = JSON.readTree(billing("status", "--tenant", BillingFixtures.TENANT, "--format", "json").out());
    assertThat(json.get("state").asText()).isEqualTo("ACTIVE");
    assertThat(json.get("hasAccess").asBoolean()).isTrue();
    assertThat(json.at("/subscription/id").asText()).isEqualTo(fx.subscription);
    assertThat(json.at("/subscription/items/0/quantity").asLong()).isEqualTo(3);
    assertThat(json.at("/subscription").has("cancelAt")).as("no cancellation date: present, null").isTrue();
    assertThat(json.at("/subscription/cancelAt").isNull()).isTrue();
    assertThat(status.out()).doesNotContain("cancel at:");

    Run nobody = billing("status", "--tenant", "cli-nobody");
    assertThat(nobody.code()).isZero();
    assertThat(nobody.out()).containsPattern("state: +NONE\n").containsPattern("subscription: +\\(none\\)\n");
  }

  @Test
  void a5StatusWithoutTenantIsAHealthCheckOfTheInbox() throws Exception {
    Run healthy = billing("status");
    assertThat(healthy.code()).as(healthy.toString()).isZero();
    assertThat(healthy.out()).startsWith("event inbox\n").containsPattern("failed: +0\n");

    fx.plantFailedEvent("evt_cli_planted_1", "IllegalStateException: planted failure");
    Run sick = billing("status");
    assertThat(sick.code()).as(sick.toString()).isEqualTo(1);
    assertThat(sick.out()).containsPattern("failed: +1\n");
    assertThat(sick.err()).contains("1 failed event(s)", "saaskit billing events --status failed");
    JsonNode json = JSON.readTree(billing("status", "--format", "json").out());
    assertThat(json.get("failed").asLong()).isEqualTo(1);
    assertThat(json.get("applied").asLong()).isPositive();

    Run failed = billing("events", "--status", "failed");
    assertThat(failed.code()).as(failed.toString()).isZero();
    List<String> lines = failed.out().lines().toList();
    assertThat(lines).hasSize(2);
    assertThat(lines.get(0)).startsWith("ID").contains("TYPE", "CREATED", "STATUS", "ATTEMPTS", "LAST ERROR");
    assertThat(lines.get(1)).startsWith("evt_cli_planted_1").contains("customer.subscription.updated", "failed",
        "IllegalStateException: planted failure");

    Run all = billing("events", "--limit", "2", "--format", "json");
    assertThat(all.code()).isZero();
    assertThat(JSON.readTree(all.out()).get("events")).hasSize(2);
  }

  @Test
  void a5pParkedEventsAreCountedListedAndPointedAtWithoutFailingTheHealthCheck() throws Exception {
    Run before = billing("status", "--format", "json");
    long failedBefore = JSON.readTree(before.out()).get("failed").asLong();
    fx.plantParkedEvent("evt_cli_parked_1", "cus_nobodys");
    Run status = billing("status");
    assertThat(status.out()).containsPattern("parked: +1\n").containsPattern("discarded: +0\n");
    assertThat(status.err()).contains("1 parked event(s)", "saaskit billing events --status parked");
    assertThat(status.code()).as("only failed events fail the health check").isEqualTo(failedBefore > 0 ? 1 : 0);
    assertThat(JSON.readTree(billing("status", "--format", "json").out()).get("parked").asLong()).isEqualTo(1);

    Run parked = billing("events", "--status", "parked");
    assertThat(parked.code()).as(parked.toString()).isZero();
    List<String> lines = parked.out().lines().toList();
    assertThat(lines).hasSize(2);
    assertThat(lines.get(1)).startsWith("evt_cli_parked_1").contains("customer.subscription.created", "parked");
    assertThat(billing("events", "--status", "discarded").out().lines()).hasSize(1);
  }

  @Test
  void a6RetryOfAnUnknownEventExitsOneAndAFailingRetryToo() {
    Run unknown = billing("events", "--retry", "evt_cli_never_seen");
    assertThat(unknown.code()).as(unknown.toString()).isEqualTo(1);
    assertThat(unknown.out()).isEmpty();
    assertThat(unknown.err()).startsWith("error: no event evt_cli_never_seen in the inbox")
        .doesNotContain(STACK_FRAME);

    Run planted = billing("events", "--retry", "evt_cli_planted_1");
    assertThat(planted.code()).as(planted.toString()).isEqualTo(1);
    assertThat(planted.out()).startsWith("event evt_cli_planted_1 (customer.subscription.updated) is failed after 4"
        + " attempt(s)");
  }

  @Test
  void a7AMissingStripeKeyIsExitTwoNamingTheVariable() {
    Map<String, String> noKey = new HashMap<>(fx.env());
    noKey.remove(BillingFixtures.KEY_VAR);
    Run missing = run(noKey, fx.args("status"));
    assertThat(missing.code()).isEqualTo(2);
    assertThat(missing.err()).isEqualTo("error: the environment variable " + BillingFixtures.KEY_VAR
        + " (named by --stripe-key-env) is not set: set it to the Stripe secret key (sk_live_..., sk_test_... or "
        + "rk_...), or name the variable that holds it with --stripe-key-env" + System.lineSeparator());

    List<String> defaultVar = new ArrayList<>(List.of("billing", "sync", "--url", fx.db.jdbcUrl()));
    Run byDefault = run(Map.of(), defaultVar);
    assertThat(byDefault.code()).isEqualTo(2);
    assertThat(byDefault.err()).startsWith("error: the environment variable STRIPE_API_KEY (named by "
        + "--stripe-key-env) is not set");

    Map<String, String> badKey = new HashMap<>(fx.env());
    badKey.put(BillingFixtures.KEY_VAR, "pk_test_publishable_not_secret");
    Run bad = run(badKey, fx.args("sync"));
    assertThat(bad.code()).isEqualTo(2);
    assertThat(bad.err()).startsWith("error: the environment variable " + BillingFixtures.KEY_VAR
        + " does not hold a Stripe secret key").doesNotContain("pk_test_publishable_not_secret");

    Run onTheCommandLine = run(fx.env(), fx.args("sync", "--stripe-key", BillingFixtures.STRIPE_KEY));
    assertThat(onTheCommandLine.code()).isEqualTo(2);
    assertThat(onTheCommandLine.err()).contains("--stripe-key is not accepted", "--stripe-key-env");

    Run stray = run(fx.env(), fx.args("sync", BillingFixtures.STRIPE_KEY));
    assertThat(stray.code()).isEqualTo(2);
    assertThat(stray.err()).contains("Unmatched argument", "'sk_test_***'");

    Run keyAsName = run(fx.env(), List.of("billing", "sync", "--url", fx.db.jdbcUrl(), "--stripe-key-env",
        "sk_test_Looks-Like-A-Key"));
    assertThat(keyAsName.code()).isEqualTo(2);
    assertThat(keyAsName.err()).contains("--stripe-key-env takes the name of an environment variable")
        .doesNotContain("sk_test_Looks-Like-A-Key");
  }

  @Test
  void a8StripeErrorsAreOneLineWithoutTheKey() {
    Map<String, String> wrongKey = new HashMap<>(fx.env());
    String wrong = "sk_test_WrongKeyAlsoNeverPrinted_42";
    wrongKey.put(BillingFixtures.KEY_VAR, wrong);
    Run refused = run(wrongKey, fx.args("sync", "--verbose"));
    assertThat(refused.code()).as(refused.toString()).isEqualTo(2);
    assertThat(refused.err()).startsWith("error: ").doesNotContain(wrong);
    assertThat(refused.out()).doesNotContain(wrong);

    fx.emu.down(true);
    try {
      Run down = run(fx.env(), fx.args("replay", "--verbose"));
      assertThat(down.code()).as(down.toString()).isEqualTo(2);
      assertThat(down.err()).startsWith("error: ").contains(STACK_FRAME);
      Run quiet = run(fx.env(), fx.args("sync"));
      assertThat(quiet.code()).as(quiet.toString()).isEqualTo(2);
      assertThat(quiet.err()).startsWith("error: ").doesNotContain(STACK_FRAME);
      assertThat(quiet.err().lines()).hasSize(1);
    } finally {
      fx.emu.down(false);
    }
  }

  @Test
  void a9UsageErrorsAndHelp() {
    Run since = billing("replay", "--since", "31d");
    assertThat(since.code()).isEqualTo(2);
    assertThat(since.err()).contains("--since must be more than 0 and at most 30d");
    Run status = billing("events", "--status", "dead");
    assertThat(status.code()).isEqualTo(2);
    assertThat(status.err()).contains("invalid --status: 'dead'",
        "received, applied, failed, ignored, parked, discarded");
    assertThat(billing("events", "--limit", "0").err()).contains("--limit must be between 1 and 10000");
    assertThat(billing("status", "--tenant", " padded").err()).contains("invalid --tenant");
    Run password = run(fx.env(), fx.args("status", "--password", "hunter2-pw"));
    assertThat(password.code()).isEqualTo(2);
    assertThat(password.err()).contains("--password is not accepted").doesNotContain("hunter2-pw");
    Run wrongSchema = billing("status", "--schema", "elsewhere");
    assertThat(wrongSchema.code()).isEqualTo(2);
    assertThat(wrongSchema.err()).contains("no billing schema elsewhere");
    Run none = run(fx.env(), List.of("billing"));
    assertThat(none.code()).isEqualTo(2);
    assertThat(none.err()).contains("Missing required subcommand");

    Run help = run(Map.of(), List.of("billing", "--help"));
    assertThat(help.code()).isZero();
    assertThat(help.out()).contains("sync", "replay", "status", "events", "BillingSchema.grantApp");
    Run syncHelp = run(Map.of(), List.of("billing", "sync", "--help"));
    assertThat(syncHelp.out()).contains("--url", "--user", "--password-env", "--schema", "--stripe-key-env",
        "--stripe-api-base", "--fix", "--format", "text, json", "STRIPE_API_KEY")
        .doesNotContain("--stripe-key=", "--password=");
    assertThat(run(Map.of(), List.of("--help")).out()).contains("billing");
  }

  @Test
  void z9TheStripeKeyAppearsInNoOutput() {
    assertThat(RUNS).hasSizeGreaterThan(20);
    for (Run r : RUNS) {
      assertThat(r.out() + r.err()).as(r.toString()).doesNotContain(BillingFixtures.STRIPE_KEY)
          .doesNotContain(fx.db.appPassword());
    }
  }
}
