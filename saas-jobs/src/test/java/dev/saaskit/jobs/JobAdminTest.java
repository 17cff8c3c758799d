package dev.saaskit.jobs;

import static dev.saaskit.jobs.QueueFixtures.ACME;
import static dev.saaskit.jobs.QueueFixtures.GLOBEX;
import static dev.saaskit.jobs.QueueFixtures.as;
import static dev.saaskit.jobs.QueueFixtures.count;
import static dev.saaskit.jobs.QueueFixtures.job;
import static dev.saaskit.jobs.QueueFixtures.update;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.core.SaasException;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.MutableClock;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(PostgresExtension.class)
class JobAdminTest {
  private static final Instant NOW = Instant.parse("2030-06-01T12:00:00Z");
  private static final MutableClock CLOCK = MutableClock.at(NOW);

  private static TestDatabase db;
  private static HikariDataSource workerPool;
  private static JobQueue queue;
  private static JobAdmin admin;

  @BeforeAll
  static void setUp(TestDatabase database) throws SQLException {
    db = database;
    String worker = QueueFixtures.setUp(db);
    workerPool = db.newPool(worker, db.rolePassword(worker), 2);
    queue = JobQueue.builder(db.appDataSource()).build();
    admin = JobAdmin.builder(workerPool).clock(CLOCK).build();
  }

  @AfterAll
  static void tearDown() {
    workerPool.close();
  }

  @BeforeEach
  void empty() {
    update(db, "DELETE FROM saaskit_jobs.jobs");
  }

  @Test
  void theAppRoleSeesItsTenantOnlyAndTheWorkerRoleSeesAll() {
    JobId a = as(ACME, () -> queue.enqueue(JobRequest.builder("t", 1).build()));
    JobId g = as(GLOBEX, () -> queue.enqueue(JobRequest.builder("t", 2).build()));
    JobId system = JobQueue.builder(workerPool).build().enqueue(JobRequest.builder("t", 3).noTenant().build());

    assertThat(as(ACME, () -> queue.status(g))).isEmpty();
    assertThat(as(GLOBEX, () -> queue.status(a))).isEmpty();
    assertThat(as(ACME, () -> queue.status(system))).isEmpty();
    assertThat(admin.show(a)).map(JobStatus::tenant).contains(ACME);
    assertThat(admin.show(g)).map(JobStatus::tenant).contains(GLOBEX);
    assertThat(admin.show(system)).hasValueSatisfying(s -> assertThat(s.tenant()).isNull());
    assertThat(admin.list(JobFilter.all())).extracting(JobStatus::id).containsExactly(system, g, a);

    JobAdmin throughAppRole = JobAdmin.builder(db.appDataSource()).build();
    assertThat(throughAppRole.list(JobFilter.all())).isEmpty();
    assertThat(throughAppRole.show(a)).isEmpty();
    assertThat(throughAppRole.cancel(a)).isFalse();
  }

  @Test
  void listFiltersByStateQueueTenantAndType() {
    List<JobId> ids = new ArrayList<>();
    for (int i = 0; i < 12; i++) {
      TenantId tenant = i % 2 == 0 ? ACME : GLOBEX;
      int n = i;
      ids.add(as(tenant, () -> queue.enqueue(JobRequest.builder(n % 3 == 0 ? "mail" : "report", n)
          .queue(n < 6 ? "fast" : "slow").build())));
    }
    JobId system = JobQueue.builder(workerPool).build().enqueue(JobRequest.builder("mail", 0).noTenant().build());
    update(db, "UPDATE saaskit_jobs.jobs SET state = 'dead', finished_at = now() WHERE id = ANY(?)",
        (Object) new Long[] {ids.get(1).value(), ids.get(4).value(), ids.get(9).value()});

    assertThat(admin.list(JobFilter.builder().states(JobState.DEAD).build())).extracting(JobStatus::id)
        .containsExactly(ids.get(9), ids.get(4), ids.get(1));
    assertThat(admin.list(JobFilter.builder().states(JobState.DEAD, JobState.PENDING).build())).hasSize(13);
    assertThat(admin.list(JobFilter.builder().states(JobState.DEAD).queue("fast").build()))
        .extracting(JobStatus::id).containsExactly(ids.get(4), ids.get(1));
    assertThat(admin.list(JobFilter.builder().tenant(ACME).type("mail").build())).extracting(JobStatus::id)
        .containsExactly(ids.get(6), ids.get(0));
    assertThat(admin.list(JobFilter.builder().noTenant().build())).extracting(JobStatus::id).containsExactly(system);
    assertThat(admin.list(JobFilter.builder().queue("none").build())).isEmpty();
  }

  @Test
  void keysetPagingWalksEveryJobOnceNewestFirst() {
    List<JobId> ids = as(ACME, () -> {
      List<JobRequest> requests = new ArrayList<>();
      for (int i = 0; i < 23; i++) {
        requests.add(JobRequest.builder("t", i).build());
      }
      return queue.enqueueAll(requests);
    });
    List<JobId> walked = new ArrayList<>();
    JobFilter page = JobFilter.builder().tenant(ACME).limit(5).build();
    int pages = 0;
    while (true) {
      List<JobStatus> jobs = admin.list(page);
      pages++;
      jobs.forEach(j -> walked.add(j.id()));
      if (jobs.size() < page.limit()) {
        break;
      }
      page = page.toBuilder().before(jobs.get(jobs.size() - 1).id()).build();
    }
    assertThat(pages).isEqualTo(5);
    List<JobId> newestFirst = new ArrayList<>(ids);
    java.util.Collections.reverse(newestFirst);
    assertThat(walked).isEqualTo(newestFirst);
    assertThatIllegalArgumentException().isThrownBy(() -> JobFilter.builder().limit(0))
        .withMessage("limit must be between 1 and 1000 but was 0");
  }

  @Test
  void showAndPayloadForOperators() {
    JobId id = as(ACME, () -> queue.enqueue(JobRequest.builder("t", java.util.Map.of("secret", "s")).build()));
    update(db, "UPDATE saaskit_jobs.jobs SET state = 'dead', attempts = 20, last_error = 'java.io.IOException: down',"
        + " finished_at = now() WHERE id = ?", id.value());
    JobStatus s = admin.show(id).orElseThrow();
    assertThat(s.state()).isEqualTo(JobState.DEAD);
    assertThat(s.lastError()).isEqualTo("java.io.IOException: down");
    assertThat(admin.payload(id)).contains("{\"secret\": \"s\"}");
    assertThat(admin.show(JobId.of(999_999))).isEmpty();
    assertThat(admin.payload(JobId.of(999_999))).isEmpty();
  }

  @Test
  void retryPutsADeadJobBackWithAFreshAttemptCountAndKeepsTheFencingEpoch() {
    JobId dead = as(ACME, () -> queue.enqueue(JobRequest.builder("t", 1).maxAttempts(3).build()));
    update(db, "UPDATE saaskit_jobs.jobs SET state = 'dead', attempts = 3, lease_epoch = 7, last_error = 'boom',"
        + " started_at = now(), finished_at = now(), run_at = now() - interval '1 day', worker_id = 'w1',"
        + " progress = 0.5 WHERE id = ?", dead.value());
    assertThat(admin.retry(dead)).isTrue();
    var row = job(db, dead);
    assertThat(row.get("state")).isEqualTo("pending");
    assertThat(row.get("attempts")).isEqualTo(0);
    assertThat(row.get("max_attempts")).isEqualTo(3);
    assertThat(row.get("lease_epoch")).isEqualTo(7L);
    assertThat(row.get("last_error")).isEqualTo("boom");
    assertThat(row.get("finished_at")).isNull();
    assertThat(row.get("started_at")).isNull();
    assertThat(row.get("worker_id")).isNull();
    assertThat(row.get("progress")).isNull();
    assertThat(((Timestamp) row.get("run_at")).toInstant()).isAfter(Instant.now().minusSeconds(60));

    assertThat(admin.retry(dead)).as("pending now").isFalse();
    assertThat(admin.retry(JobId.of(999_999))).isFalse();
    JobId completed = as(ACME, () -> queue.enqueue(JobRequest.builder("t", 1).build()));
    update(db, "UPDATE saaskit_jobs.jobs SET state = 'completed', finished_at = now() WHERE id = ?",
        completed.value());
    assertThat(admin.retry(completed)).isFalse();

    JobId cancelled = as(ACME, () -> queue.enqueue(JobRequest.builder("t", 1).build()));
    assertThat(as(ACME, () -> queue.cancel(cancelled))).isTrue();
    assertThat(admin.retry(cancelled)).isTrue();
    assertThat(admin.show(cancelled)).map(JobStatus::state).contains(JobState.PENDING);
    assertThat(admin.show(cancelled)).map(JobStatus::cancelRequested).contains(false);
  }

  @Test
  void retryRefusesToMakeTwoLiveJobsWithOneUniqueKey() {
    JobId dead = as(ACME, () -> queue.enqueue(JobRequest.builder("t", 1).uniqueKey("k").build()));
    update(db, "UPDATE saaskit_jobs.jobs SET state = 'dead', finished_at = now() WHERE id = ?", dead.value());
    JobId live = as(ACME, () -> queue.enqueue(JobRequest.builder("t", 2).uniqueKey("k").build()));
    assertThat(live).isNotEqualTo(dead);
    assertThatThrownBy(() -> admin.retry(dead)).isInstanceOf(SaasException.class)
        .hasMessageContaining("held by job " + live);
    assertThat(job(db, dead).get("state")).isEqualTo("dead");
  }

  @Test
  void cancelWorksAcrossTenants() {
    JobId pending = as(GLOBEX, () -> queue.enqueue(JobRequest.builder("t", 1).build()));
    JobId running = as(ACME, () -> queue.enqueue(JobRequest.builder("t", 1).build()));
    update(db, "UPDATE saaskit_jobs.jobs SET state = 'running' WHERE id = ?", running.value());
    assertThat(admin.cancel(pending)).isTrue();
    assertThat(admin.cancel(running)).isTrue();
    assertThat(admin.show(pending)).map(JobStatus::state).contains(JobState.CANCELLED);
    assertThat(admin.show(running)).map(JobStatus::cancelRequested).contains(true);
    assertThat(admin.cancel(pending)).isFalse();
  }

  @Test
  void pruneDeletesOnlyFinishedJobsPastRetentionInBatches() throws SQLException {
    List<JobId> old = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      JobId id = as(ACME, () -> queue.enqueue(JobRequest.builder("t", 1).build()));
      String state = new String[] {"completed", "dead", "cancelled"}[i % 3];
      update(db, "UPDATE saaskit_jobs.jobs SET state = ?, finished_at = ? WHERE id = ?", state,
          Timestamp.from(NOW.minus(Duration.ofDays(8)).minusSeconds(i)), id.value());
      old.add(id);
    }
    JobId recent = as(ACME, () -> queue.enqueue(JobRequest.builder("t", 1).build()));
    update(db, "UPDATE saaskit_jobs.jobs SET state = 'completed', finished_at = ? WHERE id = ?",
        Timestamp.from(NOW.minus(Duration.ofDays(6))), recent.value());
    JobId pending = as(ACME, () -> queue.enqueue(JobRequest.builder("t", 1).build()));
    JobId oldRunning = as(ACME, () -> queue.enqueue(JobRequest.builder("t", 1).build()));
    update(db, "UPDATE saaskit_jobs.jobs SET state = 'running', finished_at = ? WHERE id = ?",
        Timestamp.from(NOW.minus(Duration.ofDays(30))), oldRunning.value());

    // a row someone holds a lock on is skipped, not waited for
    try (Connection locker = db.adminDataSource().getConnection()) {
      locker.setAutoCommit(false);
      try (PreparedStatement ps = locker.prepareStatement("SELECT 1 FROM saaskit_jobs.jobs WHERE id = ? FOR UPDATE")) {
        ps.setLong(1, old.get(0).value());
        ps.executeQuery().close();
      }
      assertThat(admin.prune(Duration.ofDays(7), 3)).isEqualTo(9);
      locker.rollback();
    }
    assertThat(count(db, "id = ANY(?)", (Object) old.stream().map(JobId::value).toArray(Long[]::new))).isEqualTo(1);
    assertThat(admin.prune(Duration.ofDays(7), 3)).isEqualTo(1);
    assertThat(count(db, "true")).isEqualTo(3);
    assertThat(admin.show(recent)).isPresent();
    assertThat(admin.show(pending)).isPresent();
    assertThat(admin.show(oldRunning)).isPresent();

    CLOCK.advance(Duration.ofDays(2)); // now the "recent" one is 8 days old too
    try {
      assertThat(admin.prune(Duration.ofDays(7), 1000)).isEqualTo(1);
    } finally {
      CLOCK.set(NOW);
    }
    assertThat(admin.show(recent)).isEmpty();
    assertThatIllegalArgumentException().isThrownBy(() -> admin.prune(Duration.ofDays(-1), 10));
    assertThatIllegalArgumentException().isThrownBy(() -> admin.prune(Duration.ofDays(1), 0))
        .withMessage("batchSize must be between 1 and 100000 but was 0");
  }

  @Test
  void pruneWithARetentionLongerThanAnyJobCanBeFinishedDeletesNothingInsteadOfThrowing() {
    JobId ancient = as(ACME, () -> queue.enqueue(JobRequest.builder("t", 1).build()));
    update(db, "UPDATE saaskit_jobs.jobs SET state = 'completed', finished_at = '1900-01-01T00:00:00Z' WHERE id = ?",
        ancient.value());
    try {
      // Duration.ofSeconds(Long.MAX_VALUE) threw DateTimeException from Instant.minus (a stack trace for an
      // operator's "keep everything")
      assertThat(admin.prune(Duration.ofSeconds(Long.MAX_VALUE, 999_999_999), 10)).isZero();
      assertThat(admin.prune(Duration.ofDays(365L * 100_000_000), 10)).isZero();
      assertThat(admin.prune(RetryPolicy.MAX_DELAY, 10)).isZero();
      assertThat(admin.show(ancient)).isPresent();
    } finally {
      update(db, "DELETE FROM saaskit_jobs.jobs WHERE id = ?", ancient.value());
    }
  }

  @Test
  void countsPerQueueAndState() {
    as(ACME, () -> queue.enqueueAll(List.of(JobRequest.builder("t", 1).queue("a").build(),
        JobRequest.builder("t", 1).queue("a").build(), JobRequest.builder("t", 1).queue("b").build())));
    JobId dead = as(GLOBEX, () -> queue.enqueue(JobRequest.builder("t", 1).queue("b").build()));
    update(db, "UPDATE saaskit_jobs.jobs SET state = 'dead', finished_at = now() WHERE id = ?", dead.value());
    assertThat(admin.counts()).containsExactly(new JobCount("a", JobState.PENDING, 2),
        new JobCount("b", JobState.DEAD, 1), new JobCount("b", JobState.PENDING, 1));
  }
}
