package dev.saaskit.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.saaskit.cli.SaasKitTest.Run;
import dev.saaskit.jobs.JobId;
import dev.saaskit.jobs.JobRequest;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** {@code saaskit jobs ...} in process against a real database (the jar's process tests are in JobsIT). */
@ExtendWith(PostgresExtension.class)
class JobsCommandTest {
  private static final String STACK_FRAME = "\tat ";
  private static final ObjectMapper JSON = new ObjectMapper();
  private static JobsFixtures fx;

  @BeforeAll
  static void setUp(TestDatabase db) throws SQLException {
    fx = new JobsFixtures(db);
  }

  @BeforeEach
  void empty() {
    fx.sql("DELETE FROM saaskit_jobs.jobs");
  }

  /**
   * Runs a jobs command logged in as the worker. In process no environment variable can be set for
   * --password-env, so the password is in the URL: the warning that draws is checked and dropped here.
   */
  private static Run jobs(String command, String... args) {
    List<String> all = new ArrayList<>(List.of("jobs", command, "--url", fx.workerUrl()));
    all.addAll(List.of(args));
    Run run = SaasKitTest.run(all.toArray(String[]::new));
    String warning = Connections.PASSWORD_IN_URL_WARNING + System.lineSeparator();
    if (run.code() == SaasKit.EXIT_OK) {
      assertThat(run.err()).as(run.toString()).startsWith(warning);
    }
    return run.err().startsWith(warning)
        ? new Run(run.code(), run.out(), run.err().substring(warning.length()))
        : run;
  }

  @Test
  void listFiltersAndPages() throws Exception {
    JobId a1 = fx.enqueue("acme", JobRequest.builder("mail.send", 1).queue("mail"));
    JobId g1 = fx.enqueue("globex", JobRequest.builder("report.export", 2).queue("reports"));
    JobId a2 = fx.enqueue("acme", JobRequest.builder("report.export", 3).queue("reports"));
    fx.sql("UPDATE saaskit_jobs.jobs SET state = 'dead', finished_at = now() WHERE id = ?", a2.value());

    Run all = jobs("list");
    assertThat(all.code()).as(all.toString()).isZero();
    List<String> lines = all.out().lines().toList();
    assertThat(lines.get(0)).startsWith("ID").contains("STATE", "QUEUE", "TYPE", "TENANT", "ATTEMPTS");
    assertThat(lines).hasSize(4);
    assertThat(lines.get(1)).startsWith(a2.toString()).contains("dead", "reports", "report.export", "acme", "0/20");
    assertThat(lines.get(3)).startsWith(a1.toString()).contains("pending", "mail");
    assertThat(all.err()).isEmpty();

    Run dead = jobs("list", "--state", "dead,pending", "--tenant", "acme", "--type", "report.export",
        "--format", "json");
    assertThat(dead.code()).as(dead.toString()).isZero();
    JsonNode json = JSON.readTree(dead.out());
    assertThat(json.get("jobs")).hasSize(1);
    assertThat(json.at("/jobs/0/id").asText()).isEqualTo(a2.toString());
    assertThat(json.at("/jobs/0/state").asText()).isEqualTo("dead");
    assertThat(json.at("/jobs/0/tenant").asText()).isEqualTo("acme");
    assertThat(json.at("/jobs/0/maxAttempts").asInt()).isEqualTo(20);
    assertThat(json.get("next").isNull()).isTrue();

    Run page = jobs("list", "--limit", "2", "--queue", "reports");
    assertThat(page.out().lines()).hasSize(3);
    assertThat(page.err()).contains("--before " + g1);
    Run next = jobs("list", "--limit", "2", "--before", g1.toString(), "--format", "json");
    assertThat(JSON.readTree(next.out()).at("/jobs/0/id").asText()).isEqualTo(a1.toString());

    Run none = jobs("list", "--no-tenant");
    assertThat(none.code()).isZero();
    assertThat(none.out().lines()).hasSize(1); // header only
  }

  @Test
  void showPrintsEveryFieldAndTheLastErrorIndented() throws Exception {
    JobId id = fx.enqueue("acme", JobRequest.builder("mail.send", java.util.Map.of("to", "x@example.com"))
        .queue("mail").uniqueKey("welcome:1").timeout(Duration.ofSeconds(30)));
    fx.sql("UPDATE saaskit_jobs.jobs SET state = 'dead', attempts = 20, progress = 0.25, progress_message = 'sent 1/4',"
        + " last_error = ?, started_at = now(), finished_at = now() WHERE id = ?",
        "java.io.IOException: smtp down\n\tat Mailer.send(Mailer.java:10)", id.value());

    Run text = jobs("show", id.toString());
    assertThat(text.code()).as(text.toString()).isZero();
    assertThat(text.out()).startsWith("job " + id + "\n").contains("state:", "dead", "tenant:", "acme",
        "attempts:", "20 of 20", "unique key:", "welcome:1", "timeout:", "PT30S", "progress:", "25.0% sent 1/4",
        "last error:\n    java.io.IOException: smtp down\n    \tat Mailer.send(Mailer.java:10)")
        .doesNotContain("x@example.com");

    Run withPayload = jobs("show", id.toString(), "--payload", "--format", "json");
    JsonNode json = JSON.readTree(withPayload.out());
    assertThat(json.at("/payload/to").asText()).isEqualTo("x@example.com");
    assertThat(json.at("/lastError").asText()).startsWith("java.io.IOException: smtp down");
    assertThat(json.at("/progress").asDouble()).isEqualTo(0.25);
    assertThat(json.at("/timeoutMillis").asLong()).isEqualTo(30_000);
    assertThat(Instant.parse(json.at("/createdAt").asText())).isBefore(Instant.now().plusSeconds(60));

    Run missing = jobs("show", "999999");
    assertThat(missing.code()).isEqualTo(1);
    assertThat(missing.out()).isEmpty();
    assertThat(missing.err()).isEqualTo("error: no job 999999 (never enqueued, or pruned after its retention)\n");
  }

  /** A row written by hand (or before migration V3) with a tenant id TenantId rejects is shown, flagged, not fatal. */
  @Test
  void aRowWhoseTenantIdIsNotValidIsShownFlagged() throws Exception {
    JobId good = fx.enqueue("acme", JobRequest.builder("mail.send", 1));
    fx.sql("INSERT INTO saaskit_jobs.jobs (tenant_id, queue, type, payload) VALUES (' padded', 'default', 't', '{}')");
    long bad = good.value() + 1;

    Run list = jobs("list");
    assertThat(list.code()).as(list.toString()).isZero();
    List<String> lines = list.out().lines().toList();
    assertThat(lines).hasSize(3);
    assertThat(lines.get(1)).startsWith(Long.toString(bad)).contains("(invalid: ' padded')");
    assertThat(lines.get(2)).startsWith(good.toString()).contains("acme");

    Run json = jobs("list", "--format", "json");
    assertThat(json.code()).as(json.toString()).isZero();
    JsonNode jobs = JSON.readTree(json.out()).get("jobs");
    assertThat(jobs.at("/0/tenant").asText()).isEqualTo(" padded");
    assertThat(jobs.at("/0/invalidTenant").asBoolean()).isTrue();
    assertThat(jobs.at("/1/tenant").asText()).isEqualTo("acme");
    assertThat(jobs.get(1).has("invalidTenant")).isFalse();

    Run show = jobs("show", Long.toString(bad));
    assertThat(show.code()).as(show.toString()).isZero();
    assertThat(show.out()).contains("tenant:", "(invalid: ' padded')");

    // a control character in such a value reaches the terminal escaped
    fx.sql("UPDATE saaskit_jobs.jobs SET tenant_id = 'x' || chr(27) || '[2J' WHERE id = ?", bad);
    Run escaped = jobs("show", Long.toString(bad));
    assertThat(escaped.out()).contains("(invalid: 'x\\u001B[2J')").doesNotContain("\u001b");
  }

  @Test
  void retryOnlyDeadOrCancelledJobs() {
    JobId dead = fx.enqueue("acme", JobRequest.builder("t", 1).uniqueKey("k"));
    fx.sql("UPDATE saaskit_jobs.jobs SET state = 'dead', attempts = 20, finished_at = now() WHERE id = ?",
        dead.value());
    Run ok = jobs("retry", dead.toString());
    assertThat(ok.code()).as(ok.toString()).isZero();
    assertThat(ok.out()).isEqualTo("job " + dead + " is pending again\n");
    assertThat(fx.state(dead)).isEqualTo("pending");

    Run again = jobs("retry", dead.toString());
    assertThat(again.code()).isEqualTo(1);
    assertThat(again.err()).isEqualTo("error: job " + dead + " is pending: only dead or cancelled jobs can be retried\n");

    fx.sql("UPDATE saaskit_jobs.jobs SET state = 'dead', finished_at = now() WHERE id = ?", dead.value());
    JobId holder = fx.enqueue("acme", JobRequest.builder("t", 2).uniqueKey("k"));
    Run conflict = jobs("retry", dead.toString());
    assertThat(conflict.code()).isEqualTo(1);
    assertThat(conflict.err()).contains("held by job " + holder).doesNotContain(STACK_FRAME);

    Run missing = jobs("retry", "424242");
    assertThat(missing.code()).isEqualTo(1);
    assertThat(missing.err()).contains("no job 424242");
  }

  @Test
  void cancelPendingRunningAndFinished() {
    JobId pending = fx.enqueue("acme", JobRequest.builder("t", 1));
    JobId running = fx.enqueue("globex", JobRequest.builder("t", 1));
    fx.sql("UPDATE saaskit_jobs.jobs SET state = 'running' WHERE id = ?", running.value());

    Run p = jobs("cancel", pending.toString());
    assertThat(p.code()).as(p.toString()).isZero();
    assertThat(p.out()).isEqualTo("job " + pending + " is cancelled\n");
    Run r = jobs("cancel", running.toString());
    assertThat(r.code()).isZero();
    assertThat(r.out()).contains("cancellation requested");
    Run finished = jobs("cancel", pending.toString());
    assertThat(finished.code()).isEqualTo(1);
    assertThat(finished.err()).isEqualTo("error: job " + pending + " has already finished (cancelled)\n");
    assertThat(jobs("cancel", "5555555").code()).isEqualTo(1);
  }

  @Test
  void countsAndPrune() throws Exception {
    JobId old = fx.enqueue("acme", JobRequest.builder("t", 1).queue("a"));
    fx.enqueue("acme", JobRequest.builder("t", 1).queue("a"));
    fx.enqueue("globex", JobRequest.builder("t", 1).queue("b"));
    fx.sql("UPDATE saaskit_jobs.jobs SET state = 'completed', finished_at = ? WHERE id = ?",
        Timestamp.from(Instant.now().minus(Duration.ofDays(10))), old.value());

    Run counts = jobs("counts");
    assertThat(counts.code()).isZero();
    assertThat(counts.out().lines().toList()).hasSize(4).element(1).asString().matches("a +completed +1");
    JsonNode json = JSON.readTree(jobs("counts", "--format", "json").out());
    assertThat(json.at("/counts/1/state").asText()).isEqualTo("pending");
    assertThat(json.at("/counts/1/count").asLong()).isEqualTo(1);

    Run prune = jobs("prune", "--retention", "7d", "--batch-size", "1");
    assertThat(prune.code()).as(prune.toString()).isZero();
    assertThat(prune.out()).isEqualTo("pruned 1 finished job(s) older than PT168H\n");
    assertThat(fx.state(old)).isNull();
    assertThat(jobs("prune", "--retention", "PT1H").out()).startsWith("pruned 0 ");
  }

  @Test
  void theWrongRoleOrSchemaIsAnErrorNotAnEmptyList() {
    String appUrl = fx.db.jdbcUrl() + "?user=" + fx.db.appRole() + "&password=" + fx.db.appPassword();
    Run app = SaasKitTest.run("jobs", "list", "--url", appUrl);
    assertThat(app.code()).isEqualTo(2);
    assertThat(app.err()).contains("role " + fx.db.appRole() + " would see no job", "grantWorker")
        .doesNotContain(fx.db.appPassword()).doesNotContain(STACK_FRAME);

    Run schema = jobs("list", "--schema", "elsewhere");
    assertThat(schema.code()).isEqualTo(2);
    assertThat(schema.err()).contains("no job table elsewhere.jobs");
  }

  @Test
  void usageErrors() {
    assertThat(SaasKitTest.run("jobs").code()).isEqualTo(2);
    assertThat(SaasKitTest.run("jobs").err()).contains("Missing required subcommand");
    Run badId = jobs("show", "abc");
    assertThat(badId.code()).isEqualTo(2);
    assertThat(badId.err()).contains("job id must be a positive decimal number but was 'abc'");
    Run badState = jobs("list", "--state", "done");
    assertThat(badState.code()).isEqualTo(2);
    assertThat(badState.err()).contains("invalid --state: 'done'", "pending, running, completed, dead, cancelled");
    assertThat(jobs("list", "--limit", "0").err()).contains("invalid --limit: limit must be between 1 and 1000");
    assertThat(jobs("list", "--tenant", "a", "--no-tenant").err()).contains("mutually exclusive");
    assertThat(jobs("list", "--queue", "a b").err()).contains("invalid --queue");
    assertThat(jobs("prune", "--retention", "soon").err()).contains("'soon' is not a duration");
    assertThat(jobs("prune").err()).contains("Missing required option: '--retention=<duration>'");
    Run password = SaasKitTest.run("jobs", "list", "--url", "jdbc:postgresql://127.0.0.1/x", "--password", "hunter2");
    assertThat(password.code()).isEqualTo(2);
    assertThat(password.err()).contains("--password is not accepted").doesNotContain("hunter2");
  }

  @Test
  void helpListsTheCommands() {
    Run help = SaasKitTest.run("jobs", "--help");
    assertThat(help.code()).isZero();
    assertThat(help.out()).contains("list", "show", "retry", "cancel", "counts", "prune", "grantWorker");
    Run listHelp = SaasKitTest.run("jobs", "list", "--help");
    assertThat(listHelp.out()).contains("--url", "--user", "--password-env", "--schema", "--state", "--queue",
        "--tenant", "--no-tenant", "--type", "--limit", "--before", "--format", "text, json");
  }
}
