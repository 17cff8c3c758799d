package dev.saaskit.jobs;

import static dev.saaskit.jobs.QueueFixtures.ACME;
import static dev.saaskit.jobs.QueueFixtures.GLOBEX;
import static dev.saaskit.jobs.QueueFixtures.as;
import static dev.saaskit.jobs.QueueFixtures.count;
import static dev.saaskit.jobs.QueueFixtures.rows;
import static dev.saaskit.jobs.QueueFixtures.update;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.core.MissingTenantException;
import dev.saaskit.testing.MutableClock;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(PostgresExtension.class)
class BatchEnqueueTest {
  record Item(int index) {}

  private static final MutableClock CLOCK = MutableClock.at(Instant.parse("2032-01-01T00:00:00Z"));
  private static TestDatabase db;
  private static JobQueue queue;

  @BeforeAll
  static void setUp(TestDatabase database) throws SQLException {
    db = database;
    QueueFixtures.setUp(db);
    queue = JobQueue.builder(db.appDataSource()).clock(CLOCK).build();
  }

  @Test
  void thousandJobsComeBackInRequestOrderWithTheirOwnRows() {
    List<JobRequest> requests = new ArrayList<>();
    for (int i = 0; i < 1000; i++) {
      JobRequest.Builder b = JobRequest.builder("batch.item", new Item(i)).queue("q" + (i % 3)).priority(i % 7)
          .maxAttempts(1 + i % 5);
      if (i % 10 == 0) {
        b.timeout(Duration.ofMillis(1000 + i));
      }
      if (i % 4 == 0) {
        b.delay(Duration.ofSeconds(i));
      }
      requests.add(as(ACME, b::build)); // the request takes the tenant current when it is built
    }
    List<JobId> ids = queue.enqueueAll(requests);

    assertThat(ids).hasSize(1000).doesNotHaveDuplicates().isSortedAccordingTo((a, b) -> Long.compare(a.value(), b.value()));
    List<Map<String, Object>> stored = rows(db.adminDataSource(), "SELECT id, tenant_id, queue, priority, max_attempts,"
        + " timeout_ms, run_at, (payload->>'index')::int AS idx FROM saaskit_jobs.jobs WHERE id = ANY(?) ORDER BY id",
        (Object) ids.stream().map(JobId::value).toArray(Long[]::new));
    assertThat(stored).hasSize(1000);
    for (int i = 0; i < 1000; i++) {
      Map<String, Object> row = stored.get(i);
      assertThat(row.get("id")).isEqualTo(ids.get(i).value());
      assertThat(row.get("idx")).isEqualTo(i);
      assertThat(row.get("tenant_id")).isEqualTo("acme");
      assertThat(row.get("queue")).isEqualTo("q" + (i % 3));
      assertThat(row.get("priority")).isEqualTo(i % 7);
      assertThat(row.get("max_attempts")).isEqualTo(1 + i % 5);
      assertThat(row.get("timeout_ms")).isEqualTo(i % 10 == 0 ? (long) (1000 + i) : null);
      if (i % 4 == 0) {
        assertThat(((Timestamp) row.get("run_at")).toInstant()).isEqualTo(CLOCK.instant().plusSeconds(i));
      }
    }
  }

  @Test
  void mixedTenantsAndUniqueKeysResolveToTheRightJobs() {
    JobId live = as(GLOBEX, () -> queue.enqueue(JobRequest.builder("t", 0).uniqueKey("k1").build()));
    List<JobRequest> requests = as(ACME, () -> List.of(
        JobRequest.builder("t", 1).uniqueKey("k1").build(),               // acme k1: new
        JobRequest.builder("t", 2).tenant(GLOBEX).uniqueKey("k1").build(), // globex k1: the live one
        JobRequest.builder("t", 3).build(),                                // acme, no key
        JobRequest.builder("t", 4).uniqueKey("k1").build(),               // acme k1 again: same as #0
        JobRequest.builder("t", 5).tenant(GLOBEX).build(),                 // globex, no key
        JobRequest.builder("t", 6).uniqueKey("k2").build()));             // acme k2: new
    List<JobId> ids = as(ACME, () -> queue.enqueueAll(requests));

    assertThat(ids).hasSize(6);
    assertThat(ids.get(1)).isEqualTo(live);
    assertThat(ids.get(3)).isEqualTo(ids.get(0));
    assertThat(new HashSet<>(List.of(ids.get(0), ids.get(2), ids.get(4), ids.get(5), live))).hasSize(5);
    assertThat(tenantAndPayload(ids.get(0))).isEqualTo("acme:1");
    assertThat(tenantAndPayload(ids.get(2))).isEqualTo("acme:3");
    assertThat(tenantAndPayload(ids.get(4))).isEqualTo("globex:5");
    assertThat(tenantAndPayload(ids.get(5))).isEqualTo("acme:6");
    assertThat(count(db, "unique_key = 'k1' AND tenant_id = 'acme'")).isEqualTo(1);
  }

  @Test
  void aKeyWhoseHolderFinishedGetsANewJob() {
    JobId first = as(ACME, () -> queue.enqueueAll(List.of(JobRequest.builder("t", 1).uniqueKey("again").build())))
        .get(0);
    update(db, "UPDATE saaskit_jobs.jobs SET state = 'completed', finished_at = now() WHERE id = ?", first.value());
    JobId second = as(ACME, () -> queue.enqueueAll(List.of(JobRequest.builder("t", 2).uniqueKey("again").build(),
        JobRequest.builder("t", 3).uniqueKey("again").build()))).get(1);
    assertThat(second).isNotEqualTo(first);
    assertThat(count(db, "unique_key = 'again'")).isEqualTo(2);
  }

  @Test
  void oneBadRequestEnqueuesNothing() {
    long before = count(db, "true");
    assertThatThrownBy(() -> queue.enqueueAll(List.of(JobRequest.builder("t", 1).tenant(ACME).build(),
        JobRequest.builder("t", 2).build()))).isInstanceOf(MissingTenantException.class);
    // refused by the database in the second tenant's statement: the first tenant's rows are rolled back too
    assertThatThrownBy(() -> as(ACME, () -> queue.enqueueAll(List.of(JobRequest.builder("t", 1).build(),
        JobRequest.builder("t", 2).noTenant().build())))).hasMessageContaining("grantWorker");
    assertThat(count(db, "true")).isEqualTo(before);
    assertThat(queue.enqueueAll(List.of())).isEmpty();
  }

  private static String tenantAndPayload(JobId id) {
    Map<String, Object> row = QueueFixtures.job(db, id);
    return row.get("tenant_id") + ":" + row.get("payload_text");
  }
}
