package dev.saaskit.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.testing.MutableClock;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Attack review of 2026-12-06: a node whose clock is behind registers a changed schedule (a rolling deploy). The
 * new next fire time is computed from that node's clock, so it can fall at or before the occurrence another node
 * already fired; once that occurrence's job has finished, its unique key no longer stops a second enqueue, and the
 * occurrence ran twice. An occurrence at or before the last fired one is never enqueued again.
 */
@ExtendWith(PostgresExtension.class)
class RecurringRescheduleBehindClockTest {
  private static final String NAME = "report.hourly";

  @Test
  void aScheduleChangedByANodeWhoseClockIsBehindDoesNotFireAnOccurrenceAgain(TestDatabase db) throws Exception {
    String workerRole = db.createRole("cron_skew", "");
    JobsSchema.defaults().migrate(db.ownerDataSource());
    try (Connection c = db.ownerDataSource().getConnection()) {
      JobsSchema.defaults().grantWorker(c, workerRole);
    }
    JobRequest template = JobRequest.builder("cron.skew", Map.of()).noTenant().build();
    try (HikariDataSource pool = db.newPool(workerRole, db.rolePassword(workerRole), 2)) {
      MutableClock ahead = MutableClock.at(Instant.parse("2026-03-01T09:59:50Z"));
      RecurringJobs first = RecurringJobs.builder(pool).clock(ahead)
          .add(RecurringJob.builder(NAME, "0 * * * *", template).build()).create();
      ahead.set(Instant.parse("2026-03-01T10:00:05Z"));
      assertThat(first.tick()).isEqualTo(1);
      completeJobs(db);

      // the second node's clock reads 09:59:58 and its code fires on the half hour too
      MutableClock behind = MutableClock.at(Instant.parse("2026-03-01T09:59:58Z"));
      RecurringJobs second = RecurringJobs.builder(pool).clock(behind)
          .add(RecurringJob.builder(NAME, "0,30 * * * *", template).build()).create();

      ahead.set(Instant.parse("2026-03-01T10:00:10Z"));
      first.tick();
      behind.set(Instant.parse("2026-03-01T10:00:10Z"));
      second.tick();

      assertThat(runAts(db)).as("the 10:00 occurrence, once").containsExactly("2026-03-01T10:00:00Z");
      assertThat(second.nextFireAt(NAME)).contains(Instant.parse("2026-03-01T10:30:00Z"));

      behind.set(Instant.parse("2026-03-01T10:30:01Z"));
      assertThat(second.tick()).isEqualTo(1);
      assertThat(runAts(db)).containsExactly("2026-03-01T10:00:00Z", "2026-03-01T10:30:00Z");
    }
  }

  private static void completeJobs(TestDatabase db) throws SQLException {
    try (Connection c = db.adminDataSource().getConnection(); Statement st = c.createStatement()) {
      st.executeUpdate("UPDATE saaskit_jobs.jobs SET state = 'completed', finished_at = now() WHERE type = 'cron.skew'");
    }
  }

  private static java.util.List<String> runAts(TestDatabase db) throws SQLException {
    java.util.List<String> out = new java.util.ArrayList<>();
    try (Connection c = db.adminDataSource().getConnection(); Statement st = c.createStatement();
        ResultSet rs = st.executeQuery("SELECT run_at FROM saaskit_jobs.jobs WHERE type = 'cron.skew' ORDER BY id")) {
      while (rs.next()) {
        out.add(rs.getObject(1, java.time.OffsetDateTime.class).toInstant().toString());
      }
    }
    return out;
  }
}
