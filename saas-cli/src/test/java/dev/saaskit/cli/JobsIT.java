package dev.saaskit.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.saaskit.cli.CliProcess.Result;
import dev.saaskit.jobs.JobId;
import dev.saaskit.jobs.JobRequest;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.io.IOException;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.ExtendWith;

/** {@code saaskit jobs ...} as a process (java -jar saaskit.jar), logged in as the workers' role. */
@ExtendWith(PostgresExtension.class)
@TestMethodOrder(MethodOrderer.MethodName.class) // a3 changes the dead job that a1 lists
class JobsIT {
  private static final String PASSWORD_VAR = "SAASKIT_IT_PASSWORD";
  private static final String STACK_FRAME = "\tat ";
  private static final ObjectMapper JSON = new ObjectMapper();

  static TestDatabase db;
  private static JobsFixtures fx;
  private static JobId dead;
  private static JobId pending;

  @BeforeAll
  static void setUp() throws SQLException {
    fx = new JobsFixtures(db);
    dead = fx.enqueue("acme", JobRequest.builder("mail.send", 1).queue("mail"));
    fx.sql("UPDATE saaskit_jobs.jobs SET state = 'dead', attempts = 20, last_error = 'smtp down',"
        + " finished_at = now() WHERE id = ?", dead.value());
    pending = fx.enqueue("globex", JobRequest.builder("report.export", 2).queue("reports"));
  }

  private static Result jobs(String command, String... args) {
    List<String> all = new ArrayList<>(List.of("jobs", command, "--url", db.jdbcUrl(), "--user", fx.worker,
        "--password-env", PASSWORD_VAR));
    all.addAll(List.of(args));
    return CliProcess.run(Map.of(PASSWORD_VAR, db.rolePassword(fx.worker)), all.toArray(String[]::new));
  }

  @Test
  void a1ListDeadJobsAsJson() throws IOException {
    Result r = jobs("list", "--state", "dead", "--format", "json");
    assertThat(r.exitCode()).as(r.toString()).isZero();
    JsonNode json = JSON.readTree(r.out());
    assertThat(json.get("jobs")).hasSize(1);
    assertThat(json.at("/jobs/0/id").asText()).isEqualTo(dead.toString());
    assertThat(json.at("/jobs/0/lastError").asText()).isEqualTo("smtp down");
    assertThat(r.err()).isEmpty();
  }

  @Test
  void a2ShowAnUnknownJobExitsOne() {
    Result r = jobs("show", "987654");
    assertThat(r.exitCode()).as(r.toString()).isEqualTo(1);
    assertThat(r.out()).isEmpty();
    assertThat(r.err()).startsWith("error: no job 987654").doesNotContain(STACK_FRAME);
  }

  @Test
  void a3RetryTheDeadJobThenCancelIt() {
    Result retry = jobs("retry", dead.toString());
    assertThat(retry.exitCode()).as(retry.toString()).isZero();
    assertThat(fx.state(dead)).isEqualTo("pending");
    Result cancel = jobs("cancel", dead.toString());
    assertThat(cancel.exitCode()).as(cancel.toString()).isZero();
    assertThat(fx.state(dead)).isEqualTo("cancelled");
    Result again = jobs("cancel", dead.toString());
    assertThat(again.exitCode()).as(again.toString()).isEqualTo(1);
  }

  @Test
  void a4TheApplicationRoleIsRefused() {
    Result r = CliProcess.run(Map.of(PASSWORD_VAR, db.appPassword()), "jobs", "show", pending.toString(), "--url",
        db.jdbcUrl(), "--user", db.appRole(), "--password-env", PASSWORD_VAR);
    assertThat(r.exitCode()).as(r.toString()).isEqualTo(2);
    assertThat(r.err()).contains("would see no job").doesNotContain(db.appPassword());
  }

  @Test
  void a5UnreachableDatabaseIsExitTwo() {
    Result r = CliProcess.run("jobs", "counts", "--url", "jdbc:postgresql://127.0.0.1:1/none?password=s3cret");
    assertThat(r.exitCode()).as(r.toString()).isEqualTo(2);
    assertThat(r.err()).startsWith("warning: --url contains a password").contains("error: cannot connect to",
        "password=***").doesNotContain("s3cret");
  }
}
