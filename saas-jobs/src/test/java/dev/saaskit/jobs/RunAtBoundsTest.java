package dev.saaskit.jobs;

import static dev.saaskit.jobs.QueueFixtures.ACME;
import static dev.saaskit.jobs.QueueFixtures.as;
import static dev.saaskit.jobs.QueueFixtures.count;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;

import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Run times at the ends of {@link Instant}'s range. Before: {@code enqueue} threw DateTimeException for
 * Instant.MIN/MAX and a database error past the year 294276; {@code enqueueAll} (which sends ISO text) failed with
 * a database error for every year before 1 or from 10000 on, which {@code enqueue} accepted.
 */
@ExtendWith(PostgresExtension.class)
class RunAtBoundsTest {
  private static JobQueue queue;
  private static TestDatabase db;

  @BeforeAll
  static void setUp(TestDatabase database) throws SQLException {
    db = database;
    QueueFixtures.setUp(db);
    queue = JobQueue.builder(db.appDataSource()).build();
  }

  @Test
  void aRunTimeFromTheYear10000OnIsRefusedByTheBuilder() {
    for (Instant at : List.of(Instant.MAX, Instant.parse("+300000-01-01T00:00:00Z"),
        Instant.parse("+10000-01-01T00:00:00Z"))) {
      assertThatIllegalArgumentException().isThrownBy(() -> JobRequest.builder("t", 1).runAt(at))
          .withMessageContaining("runAt must be before the year 10000");
    }
    Instant last = Instant.parse("9999-12-31T23:59:59Z");
    JobId one = as(ACME, () -> queue.enqueue(JobRequest.builder("t", 1).runAt(last).build()));
    List<JobId> batch = as(ACME, () -> queue.enqueueAll(List.of(JobRequest.builder("t", 1).runAt(last).build(),
        JobRequest.builder("t", 2).build())));
    assertThat(count(db, "id IN (?, ?) AND run_at = '9999-12-31T23:59:59Z'", one.value(), batch.get(0).value()))
        .isEqualTo(2);
  }

  @Test
  void aRunTimeBeforeTheYear1MeansAtOnceInEveryEnqueue() {
    for (Instant at : List.of(Instant.MIN, Instant.parse("-5000-01-01T00:00:00Z"),
        Instant.parse("-0001-06-01T00:00:00Z"))) {
      JobId one = as(ACME, () -> queue.enqueue(JobRequest.builder("t", 1).runAt(at).build()));
      List<JobId> batch = as(ACME, () -> queue.enqueueAll(List.of(JobRequest.builder("t", 1).runAt(at).build(),
          JobRequest.builder("t", 2).build())));
      assertThat(count(db, "id IN (?, ?) AND run_at = '0001-01-01T00:00:00Z' AND run_at < now()", one.value(),
          batch.get(0).value())).as("run time for %s", at).isEqualTo(2);
    }
  }
}
