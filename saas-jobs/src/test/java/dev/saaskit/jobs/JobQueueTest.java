package dev.saaskit.jobs;

import static dev.saaskit.jobs.QueueFixtures.ACME;
import static dev.saaskit.jobs.QueueFixtures.GLOBEX;
import static dev.saaskit.jobs.QueueFixtures.as;
import static dev.saaskit.jobs.QueueFixtures.job;
import static dev.saaskit.jobs.QueueFixtures.update;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.saaskit.core.MissingTenantException;
import dev.saaskit.core.SaasException;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantSetting;
import dev.saaskit.testing.MutableClock;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(PostgresExtension.class)
class JobQueueTest {
  record Export(String report, int rows) {}

  private static final ObjectMapper MAPPER = JsonMapper.builder().build();
  private static final MutableClock CLOCK = MutableClock.at(Instant.parse("2031-05-06T07:08:09Z"));

  private static TestDatabase db;
  private static JobQueue queue;
  private static com.zaxxer.hikari.HikariDataSource workerPool;

  @BeforeAll
  static void setUp(TestDatabase database) throws SQLException {
    db = database;
    String worker = QueueFixtures.setUp(db);
    workerPool = db.newPool(worker, db.rolePassword(worker), 2);
    queue = JobQueue.builder(db.appDataSource()).clock(CLOCK).build();
  }

  @AfterAll
  static void tearDown() {
    workerPool.close();
  }

  @Test
  void enqueueWritesTheRowWithDefaultsForTheCurrentTenant() throws Exception {
    Instant before = dbNow();
    JobId id = as(ACME, () -> queue.enqueue(JobRequest.builder("report.export", new Export("r1", 3)).build()));
    Instant after = dbNow();

    Map<String, Object> row = job(db, id);
    assertThat(row.get("tenant_id")).isEqualTo("acme");
    assertThat(row.get("queue")).isEqualTo("default");
    assertThat(row.get("type")).isEqualTo("report.export");
    assertThat(MAPPER.readTree((String) row.get("payload_text"))).isEqualTo(MAPPER.readTree("{\"report\":\"r1\",\"rows\":3}"));
    assertThat(row.get("state")).isEqualTo("pending");
    assertThat(row.get("priority")).isEqualTo(0);
    assertThat(row.get("attempts")).isEqualTo(0);
    assertThat(row.get("max_attempts")).isEqualTo(20);
    assertThat(row.get("timeout_ms")).isNull();
    assertThat(row.get("unique_key")).isNull();
    assertThat(row.get("cancel_requested")).isEqualTo(false);
    Instant runAt = ((Timestamp) row.get("run_at")).toInstant();
    assertThat(runAt).isBetween(before, after); // the database's now(), not the test clock in 2031
    assertThat(((Timestamp) row.get("created_at")).toInstant()).isEqualTo(runAt);
  }

  @Test
  void enqueueWritesEveryOption() throws Exception {
    Instant at = Instant.parse("2030-01-02T03:04:05.123456Z");
    JobId id = queue.enqueue(JobRequest.builder("mail.send", Map.of("to", "a@example.com"))
        .tenant(GLOBEX).queue("mail").priority(-5).runAt(at).maxAttempts(3).timeout(Duration.ofSeconds(90))
        .uniqueKey("welcome:42").build());
    Map<String, Object> row = job(db, id);
    assertThat(row).containsEntry("tenant_id", "globex").containsEntry("queue", "mail")
        .containsEntry("priority", -5).containsEntry("max_attempts", 3)
        .containsEntry("timeout_ms", 90_000L).containsEntry("unique_key", "welcome:42");
    assertThat(((Timestamp) row.get("run_at")).toInstant()).isEqualTo(at);

    JobId delayed = queue.enqueue(JobRequest.builder("mail.send", null).tenant(GLOBEX)
        .delay(Duration.ofMinutes(5)).build());
    assertThat(((Timestamp) job(db, delayed).get("run_at")).toInstant())
        .isEqualTo(CLOCK.instant().plus(Duration.ofMinutes(5)));
    assertThat(job(db, delayed).get("payload_text")).isEqualTo("null");
  }

  @Test
  void rawJsonPayloadIsStoredAsGiven() {
    JobId id = queue.enqueue(JobRequest.builder("t", "ignored").payloadJson("{\"a\": [1, 2, {\"b\": null}]}")
        .tenant(ACME).build());
    assertThat(job(db, id).get("payload_text")).isEqualTo("{\"a\": [1, 2, {\"b\": null}]}");
    JobId text = queue.enqueue(JobRequest.builder("t", "just text").tenant(ACME).build());
    assertThat(job(db, text).get("payload_text")).isEqualTo("\"just text\"");
  }

  @Test
  void explicitTenantWinsOverTheContext() {
    JobId id = as(ACME, () -> queue.enqueue(JobRequest.builder("t", 1).tenant(GLOBEX).build()));
    assertThat(job(db, id).get("tenant_id")).isEqualTo("globex");
  }

  @Test
  void noTenantAnywhereIsRefusedBeforeTouchingTheDatabase() {
    long before = QueueFixtures.count(db, "true");
    assertThatThrownBy(() -> queue.enqueue(JobRequest.builder("report.export", 1).build()))
        .isInstanceOf(MissingTenantException.class)
        .hasMessageContaining("report.export").hasMessageContaining("TenantContext.run");
    assertThat(QueueFixtures.count(db, "true")).isEqualTo(before);
  }

  @Test
  void systemJobsNeedTheWorkerRole() {
    assertThatThrownBy(() -> queue.enqueue(JobRequest.builder("cleanup", 1).noTenant().build()))
        .isInstanceOf(SaasException.class)
        .hasMessageContaining("grantWorker");
    JobQueue workerQueue = JobQueue.builder(workerPool).build();
    JobId id = workerQueue.enqueue(JobRequest.builder("cleanup", 1).noTenant().build());
    assertThat(job(db, id).get("tenant_id")).isNull();
  }

  @Test
  void payloadLimitAndUnwritablePayloadsFailClearly() {
    JobQueue small = JobQueue.builder(db.appDataSource()).maxPayloadBytes(100).build();
    assertThatIllegalArgumentException()
        .isThrownBy(() -> small.enqueue(JobRequest.builder("big", "x".repeat(200)).tenant(ACME).build()))
        .withMessageContaining("202 bytes").withMessageContaining("limit of 100");
    JobId fits = small.enqueue(JobRequest.builder("big", "x".repeat(90)).tenant(ACME).build());
    assertThat(job(db, fits).get("type")).isEqualTo("big");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> queue.enqueue(JobRequest.builder("bad", new Object()).tenant(ACME).build()))
        .withMessageContaining("cannot be written as JSON");
    assertThatIllegalArgumentException().isThrownBy(() -> JobQueue.builder(db.appDataSource()).maxPayloadBytes(0));
  }

  @Test
  void statusIsVisibleOnlyToTheJobsTenant() {
    JobId id = as(ACME, () -> queue.enqueue(JobRequest.builder("report.export", 1).queue("reports")
        .uniqueKey("k-status").build()));
    JobStatus status = as(ACME, () -> queue.status(id)).orElseThrow();
    assertThat(status.id()).isEqualTo(id);
    assertThat(status.tenant()).isEqualTo(ACME);
    assertThat(status.queue()).isEqualTo("reports");
    assertThat(status.type()).isEqualTo("report.export");
    assertThat(status.state()).isEqualTo(JobState.PENDING);
    assertThat(status.uniqueKey()).isEqualTo("k-status");
    assertThat(status.progress()).isNull();
    assertThat(status.startedAt()).isNull();
    assertThat(status.isFinished()).isFalse();

    assertThat(as(GLOBEX, () -> queue.status(id))).isEmpty();
    assertThat(TenantContext.current()).isEmpty();
    assertThat(queue.status(id)).isEmpty();
    assertThat(as(ACME, () -> queue.status(JobId.of(id.value() + 1_000_000)))).isEmpty();
  }

  @Test
  void statusReadsProgressResultErrorAndTimestamps() {
    JobId id = as(ACME, () -> queue.enqueue(JobRequest.builder("report.export", 1).build()));
    update(db, "UPDATE saaskit_jobs.jobs SET state = 'completed', attempts = 2, progress = 0.3,"
        + " progress_message = 'rows 3/10', result = '{\"report\":\"r9\",\"rows\":10}', last_error = 'boom',"
        + " started_at = now(), finished_at = now() WHERE id = ?", id.value());
    JobStatus s = as(ACME, () -> queue.status(id)).orElseThrow();
    assertThat(s.state()).isEqualTo(JobState.COMPLETED);
    assertThat(s.isFinished()).isTrue();
    assertThat(s.attempts()).isEqualTo(2);
    assertThat(s.progress()).isEqualTo(0.3);
    assertThat(s.progressMessage()).isEqualTo("rows 3/10");
    assertThat(s.result(Export.class)).isEqualTo(new Export("r9", 10));
    Map<?, ?> asMap = s.result(Map.class);
    assertThat(asMap).isNotNull().hasSize(2);
    assertThat(asMap.get("rows")).isEqualTo(10);
    assertThat(s.resultJson()).contains("\"report\"");
    assertThat(s.lastError()).isEqualTo("boom");
    assertThat(s.startedAt()).isNotNull();
    assertThat(s.finishedAt()).isNotNull();
    assertThatThrownBy(() -> s.result(Integer.class)).isInstanceOf(SaasException.class)
        .hasMessageContaining("cannot be read as java.lang.Integer");
  }

  @Test
  void cancelPendingRunningAndFinished() {
    JobId pending = as(ACME, () -> queue.enqueue(JobRequest.builder("t", 1).build()));
    JobId running = as(ACME, () -> queue.enqueue(JobRequest.builder("t", 2).build()));
    JobId done = as(ACME, () -> queue.enqueue(JobRequest.builder("t", 3).build()));
    update(db, "UPDATE saaskit_jobs.jobs SET state = 'running', attempts = 1, started_at = now() WHERE id = ?",
        running.value());
    update(db, "UPDATE saaskit_jobs.jobs SET state = 'completed', finished_at = now() WHERE id = ?", done.value());

    assertThat(as(GLOBEX, () -> queue.cancel(pending))).isFalse();
    assertThat(queue.cancel(pending)).isFalse(); // no tenant: sees nothing
    assertThat(job(db, pending).get("state")).isEqualTo("pending");

    assertThat(as(ACME, () -> queue.cancel(pending))).isTrue();
    JobStatus p = as(ACME, () -> queue.status(pending)).orElseThrow();
    assertThat(p.state()).isEqualTo(JobState.CANCELLED);
    assertThat(p.finishedAt()).isNotNull();
    assertThat(as(ACME, () -> queue.cancel(pending))).isFalse();

    assertThat(as(ACME, () -> queue.cancel(running))).isTrue();
    JobStatus r = as(ACME, () -> queue.status(running)).orElseThrow();
    assertThat(r.state()).isEqualTo(JobState.RUNNING);
    assertThat(r.cancelRequested()).isTrue();
    assertThat(r.finishedAt()).isNull();

    assertThat(as(ACME, () -> queue.cancel(done))).isFalse();
    assertThat(job(db, done).get("cancel_requested")).isEqualTo(false);
  }

  @Test
  void simpleQueryModeUsesAnExplicitTransaction() throws SQLException {
    // the other tests run the one-round-trip path: set_config and the statement in one implicit transaction
    try (java.sql.Connection c = db.appDataSource().getConnection()) {
      assertThat(dev.saaskit.jobs.internal.QueueSession.pipelinesInImplicitTransaction(c)).isTrue();
    }
    try (var simple = db.newPool(db.appRole(), db.appPassword(), 1, Map.of("preferQueryMode", "simple"))) {
      try (java.sql.Connection c = simple.getConnection()) {
        assertThat(dev.saaskit.jobs.internal.QueueSession.pipelinesInImplicitTransaction(c)).isFalse();
      }
      JobQueue q = JobQueue.builder(simple).build();
      JobId id = as(ACME, () -> q.enqueue(JobRequest.builder("t", Map.of("k", "it's")).uniqueKey("simple").build()));
      assertThat(as(ACME, () -> q.enqueue(JobRequest.builder("t", 2).uniqueKey("simple").build()))).isEqualTo(id);
      assertThat(as(ACME, () -> q.status(id))).map(JobStatus::type).contains("t");
      assertThat(as(ACME, () -> q.enqueueAll(java.util.List.of(JobRequest.builder("t", 1).build(),
          JobRequest.builder("t", 2).uniqueKey("simple").build())))).hasSize(2).endsWith(id);
      assertThat(job(db, id).get("payload_text")).isEqualTo("{\"k\": \"it's\"}");
    }
  }

  @Test
  void missingSchemaSaysToMigrate() {
    JobQueue elsewhere = JobQueue.builder(db.appDataSource()).schema(JobsSchema.builder().name("nowhere").tenantSetting(TenantSetting.DEFAULT).build())
        .build();
    assertThatThrownBy(() -> as(ACME, () -> elsewhere.enqueue(JobRequest.builder("t", 1).build())))
        .isInstanceOf(SaasException.class).hasMessageContaining("JobsSchema");
    assertThat(Optional.of(elsewhere.schema().name())).contains("nowhere");
  }

  private static Instant dbNow() {
    Object now = QueueFixtures.rows(db.adminDataSource(), "SELECT statement_timestamp() AS t").get(0).get("t");
    return ((Timestamp) now).toInstant();
  }

}
