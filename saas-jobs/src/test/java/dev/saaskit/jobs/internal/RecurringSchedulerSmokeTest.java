package dev.saaskit.jobs.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.jobs.CronSyntax;
import dev.saaskit.jobs.JobsSchema;
import dev.saaskit.jobs.MisfirePolicy;
import dev.saaskit.testing.MutableClock;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import javax.sql.DataSource;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(PostgresExtension.class)
class RecurringSchedulerSmokeTest {
  private static DataSource worker;

  @BeforeAll
  static void setUp(TestDatabase db) throws SQLException {
    JobsSchema.defaults().migrate(db.ownerDataSource());
    String role = db.createRole("cron_worker", "");
    try (Connection c = db.ownerDataSource().getConnection()) {
      JobsSchema.defaults().grantWorker(c, role);
    }
    worker = db.newPool(role, db.rolePassword(role), 2);
  }

  @Test
  void firesDueOccurrencesOnce(TestDatabase db) throws SQLException {
    MutableClock clock = MutableClock.at(Instant.parse("2026-01-01T00:00:30Z"));
    RecurringDefinition d = new RecurringDefinition("smoke", CronSchedule.parse(CronSyntax.UNIX, "* * * * *",
        ZoneOffset.UTC), "acme", "default", "smoke.type", "{\"a\":1}", 0, 3, null, MisfirePolicy.FIRE_ONCE,
        Duration.ofMinutes(1), 100);
    try (RecurringScheduler s = new RecurringScheduler(worker, "saaskit_jobs", clock,
        new RecurringJobInserter("saaskit_jobs"), Duration.ofSeconds(1), 100, 10_000, Duration.ofSeconds(5))) {
      s.register(List.of(d));
      assertThat(s.nextFireAt("smoke")).contains(Instant.parse("2026-01-01T00:01:00Z"));
      assertThat(s.tick()).isZero();
      for (int i = 0; i < 3; i++) {
        clock.advance(Duration.ofMinutes(1));
        assertThat(s.tick()).isEqualTo(1);
        assertThat(s.tick()).isZero();
      }
    }
    try (Connection c = db.adminDataSource().getConnection(); Statement st = c.createStatement();
        ResultSet rs = st.executeQuery("SELECT count(*), count(DISTINCT unique_key), min(unique_key)"
            + " FROM saaskit_jobs.jobs WHERE type = 'smoke.type' AND tenant_id = 'acme'")) {
      rs.next();
      assertThat(rs.getLong(1)).isEqualTo(3);
      assertThat(rs.getLong(2)).isEqualTo(3);
      assertThat(rs.getString(3)).isEqualTo("cron:smoke:2026-01-01T00:01:00Z");
    }
  }
}
