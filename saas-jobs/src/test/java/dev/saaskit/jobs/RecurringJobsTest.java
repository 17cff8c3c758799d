package dev.saaskit.jobs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.core.SaasException;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.core.TenantSetting;
import dev.saaskit.testing.Await;
import dev.saaskit.testing.MutableClock;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(PostgresExtension.class)
class RecurringJobsTest {
  private static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");
  private static HikariDataSource worker;
  private static String workerRole;

  @BeforeAll
  static void setUp(TestDatabase db) {
    workerRole = db.createRole("cron_worker", "");
    worker = db.newPool(workerRole, db.rolePassword(workerRole), 3);
  }

  /**
   * A fresh job schema for one test: a scheduler fires every definition in its table, so tests sharing a table
   * would fire each other's.
   */
  private static JobsSchema schema(TestDatabase db, String name) throws SQLException {
    JobsSchema schema = JobsSchema.builder().name("cron_" + name).tenantSetting(TenantSetting.DEFAULT).build();
    schema.migrate(db.ownerDataSource());
    try (Connection c = db.ownerDataSource().getConnection()) {
      schema.grantWorker(c, workerRole);
      schema.grantApp(c, db.appRole());
    }
    return schema;
  }

  @AfterAll
  static void tearDown() {
    worker.close();
  }

  private static JobRequest system(String type) {
    return JobRequest.builder(type, Map.of("n", 1)).noTenant().build();
  }

  private static RecurringJobs node(JobsSchema schema, MutableClock clock, RecurringJob... jobs) {
    return RecurringJobs.builder(worker).schema(schema).clock(clock).addAll(List.of(jobs)).create();
  }

  /** Run times of the jobs a recurring job enqueued, in order. */
  private static List<Instant> runAts(TestDatabase db, JobsSchema schema, String name) throws SQLException {
    List<Instant> out = new ArrayList<>();
    try (Connection c = db.adminDataSource().getConnection();
        PreparedStatement ps = c.prepareStatement("SELECT run_at FROM " + schema.name() + ".jobs"
            + " WHERE unique_key LIKE ? ORDER BY run_at, id")) {
      ps.setString(1, "cron:" + name + ":%");
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.add(rs.getObject(1, OffsetDateTime.class).toInstant());
        }
      }
    }
    return out;
  }

  private static Instant t(String minutesAndSeconds) {
    return Instant.parse("2026-01-01T" + minutesAndSeconds + "Z");
  }

  // ---- misfire policies after a two-hour outage --------------------------------------------------------------

  @Test
  void fireOnceEnqueuesOneCatchUpRunForAnOutage(TestDatabase db) throws SQLException {
    JobsSchema schema = schema(db, "once");
    MutableClock clock = MutableClock.at(T0.plusSeconds(10));
    RecurringJob hourly = RecurringJob.builder("misfire.once", "0 * * * *", system("cron.misfire")).build();
    RecurringJobs node = node(schema, clock, hourly);
    clock.advance(Duration.ofMinutes(150)); // 02:30:10: 01:00 and 02:00 were missed
    assertThat(node.tick()).isEqualTo(1);
    assertThat(runAts(db, schema, "misfire.once")).containsExactly(t("02:00:00"));
    assertThat(node.nextFireAt("misfire.once")).contains(t("03:00:00"));
    assertThat(node.tick()).isZero();
  }

  @Test
  void fireOnceLetsAnOnTimeRunStandForTheMissedOnes(TestDatabase db) throws SQLException {
    JobsSchema schema = schema(db, "once_on_time");
    MutableClock clock = MutableClock.at(T0.plusSeconds(10));
    RecurringJob minutely = RecurringJob.builder("misfire.once-minutely", "* * * * *", system("cron.misfire"))
        .build();
    RecurringJobs node = node(schema, clock, minutely);
    clock.set(t("02:00:30"));
    assertThat(node.tick()).isEqualTo(1);
    assertThat(runAts(db, schema, "misfire.once-minutely")).containsExactly(t("02:00:00"));
  }

  @Test
  void fireAllEnqueuesEachMissedOccurrenceUpToTheCap(TestDatabase db) throws SQLException {
    JobsSchema schema = schema(db, "all_cap");
    MutableClock clock = MutableClock.at(T0.plusSeconds(10));
    RecurringJob minutely = RecurringJob.builder("misfire.all", "* * * * *", system("cron.misfire"))
        .misfirePolicy(MisfirePolicy.FIRE_ALL).maxCatchUp(50).build();
    RecurringJobs node = node(schema, clock, minutely);
    clock.set(t("02:00:30")); // 00:01 .. 01:59 missed (119), 02:00 on time
    assertThat(node.tick()).isEqualTo(51);
    List<Instant> fired = runAts(db, schema, "misfire.all");
    assertThat(fired).hasSize(51).startsWith(t("01:10:00")).endsWith(t("01:59:00"), t("02:00:00"));
    assertThat(node.nextFireAt("misfire.all")).contains(t("02:01:00"));
    clock.set(t("02:01:05"));
    assertThat(node.tick()).isEqualTo(1);
    assertThat(runAts(db, schema, "misfire.all")).hasSize(52).endsWith(t("02:01:00"));
  }

  @Test
  void fireAllWithinTheCapLeavesNoGap(TestDatabase db) throws SQLException {
    JobsSchema schema = schema(db, "all");
    MutableClock clock = MutableClock.at(T0.plusSeconds(10));
    RecurringJob quarterly = RecurringJob.builder("misfire.all-small", "*/15 * * * *", system("cron.misfire"))
        .misfirePolicy(MisfirePolicy.FIRE_ALL).build();
    RecurringJobs node = node(schema, clock, quarterly);
    clock.advance(Duration.ofHours(2)); // 02:00:10
    assertThat(node.tick()).isEqualTo(8);
    assertThat(runAts(db, schema, "misfire.all-small")).containsExactly(t("00:15:00"), t("00:30:00"), t("00:45:00"),
        t("01:00:00"), t("01:15:00"), t("01:30:00"), t("01:45:00"), t("02:00:00"));
  }

  @Test
  void skipEnqueuesNoMissedOccurrence(TestDatabase db) throws SQLException {
    JobsSchema schema = schema(db, "skip");
    MutableClock clock = MutableClock.at(T0.plusSeconds(10));
    RecurringJob hourly = RecurringJob.builder("misfire.skip", "0 * * * *", system("cron.misfire"))
        .misfirePolicy(MisfirePolicy.SKIP).build();
    RecurringJobs node = node(schema, clock, hourly);
    clock.advance(Duration.ofMinutes(150));
    assertThat(node.tick()).isZero();
    assertThat(runAts(db, schema, "misfire.skip")).isEmpty();
    assertThat(node.nextFireAt("misfire.skip")).contains(t("03:00:00"));
    clock.set(t("03:00:20"));
    assertThat(node.tick()).isEqualTo(1);
    assertThat(runAts(db, schema, "misfire.skip")).containsExactly(t("03:00:00"));
  }

  @Test
  void occurrencesLateByLessThanTheThresholdAreFiredEvenWithSkip(TestDatabase db) throws SQLException {
    JobsSchema schema = schema(db, "grace");
    MutableClock clock = MutableClock.at(T0.plusSeconds(10));
    RecurringJob minutely = RecurringJob.builder("misfire.grace", "* * * * *", system("cron.misfire"))
        .misfirePolicy(MisfirePolicy.SKIP).build();
    RecurringJobs node = node(schema, clock, minutely);
    clock.set(t("00:01:59")); // 00:01 is 59 s late: on time
    assertThat(node.tick()).isEqualTo(1);
    clock.set(t("00:03:01")); // 00:02 is 61 s late: missed; 00:03 on time
    assertThat(node.tick()).isEqualTo(1);
    assertThat(runAts(db, schema, "misfire.grace")).containsExactly(t("00:01:00"), t("00:03:00"));

    assertThat(node.remove("misfire.grace")).isTrue();
    RecurringJob lenient = RecurringJob.builder("misfire.grace-long", "* * * * *", system("cron.misfire"))
        .misfirePolicy(MisfirePolicy.SKIP).misfireThreshold(Duration.ofMinutes(5)).build();
    RecurringJobs lenientNode = node(schema, clock, lenient); // registered at 00:03:01, next 00:04
    clock.set(t("00:08:30")); // 00:04 is 4:30 late: within five minutes, all on time
    assertThat(lenientNode.tick()).isEqualTo(5);
    assertThat(runAts(db, schema, "misfire.grace-long"))
        .containsExactly(t("00:04:00"), t("00:05:00"), t("00:06:00"), t("00:07:00"), t("00:08:00"));
  }

  // ---- a node dying mid-pass -----------------------------------------------------------------------------------

  @Test
  void aNodeThatDiesMidPassLeavesItsOccurrencesToTheOthers(TestDatabase db) throws SQLException {
    JobsSchema schema = schema(db, "crash");
    MutableClock clock = MutableClock.at(t("00:00:10"));
    RecurringJobs survivor = node(schema, clock,
        RecurringJob.builder("crash.minutely", "* * * * *", system("cron.crash")).build());
    clock.set(t("00:01:05"));
    // a plain connection: a pool would try to roll back the dead connection on close
    try (Connection c = DriverManager.getConnection(db.jdbcUrl(), workerRole, db.rolePassword(workerRole))) {
      // what a node does in its pass, up to the commit it never reaches: lock the row, insert the job
      c.setAutoCommit(false);
      int pid;
      try (Statement st = c.createStatement()) {
        try (ResultSet rs = st.executeQuery("SELECT pg_backend_pid()")) {
          rs.next();
          pid = rs.getInt(1);
        }
        st.execute("SELECT * FROM " + schema.name() + ".recurring_jobs WHERE name = 'crash.minutely'"
            + " FOR UPDATE");
        st.executeUpdate("INSERT INTO " + schema.name() + ".jobs (tenant_id, queue, type, payload, unique_key)"
            + " VALUES (NULL, 'default', 'cron.crash', '{}', 'cron:crash.minutely:2026-01-01T00:01:00Z')");
      }
      // the other node skips the locked row instead of waiting for it, and fires nothing
      assertThat(survivor.tick()).isZero();
      try (Connection admin = db.adminDataSource().getConnection();
          PreparedStatement ps = admin.prepareStatement("SELECT pg_terminate_backend(?)")) {
        ps.setInt(1, pid);
        ps.execute();
      }
      awaitBackendGone(db, pid); // pg_terminate_backend only signals: the lock goes when the backend has exited
    }
    // the dead node's transaction left nothing; the survivor fires the occurrence, once
    assertThat(survivor.tick()).isEqualTo(1);
    assertThat(survivor.tick()).isZero();
    assertThat(runAts(db, schema, "crash.minutely")).containsExactly(t("00:01:00"));
  }

  private static void awaitBackendGone(TestDatabase db, int pid) throws SQLException {
    long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(10);
    try (Connection admin = db.adminDataSource().getConnection();
        PreparedStatement ps = admin.prepareStatement("SELECT count(*) FROM pg_stat_activity WHERE pid = ?")) {
      ps.setInt(1, pid);
      while (true) {
        try (ResultSet rs = ps.executeQuery()) {
          rs.next();
          if (rs.getLong(1) == 0) {
            return;
          }
        }
        if (System.nanoTime() > deadline) {
          throw new AssertionError("backend " + pid + " still alive 10 s after pg_terminate_backend");
        }
        Thread.onSpinWait();
      }
    }
  }

  // ---- definitions -------------------------------------------------------------------------------------------

  @Test
  void changingTheCronRecomputesTheNextFireTimeAndOtherChangesKeepIt(TestDatabase db) throws SQLException {
    JobsSchema schema = schema(db, "change");
    MutableClock clock = MutableClock.at(t("00:10:00"));
    RecurringJob hourly = RecurringJob.builder("definition.change", "0 * * * *", system("cron.def")).build();
    RecurringJobs first = node(schema, clock, hourly);
    assertThat(first.nextFireAt("definition.change")).contains(t("01:00:00"));

    clock.set(t("00:20:00"));
    // a restart with the same definition does not shift the schedule
    node(schema, clock, hourly);
    assertThat(first.nextFireAt("definition.change")).contains(t("01:00:00"));
    // a changed misfire policy neither
    node(schema, clock, hourly.toBuilder().misfirePolicy(MisfirePolicy.SKIP).build());
    assertThat(first.nextFireAt("definition.change")).contains(t("01:00:00"));
    // a changed expression restarts the schedule from now
    RecurringJobs second = node(schema, clock, RecurringJob.builder("definition.change", "*/25 * * * *",
        JobRequest.builder("cron.def", Map.of("n", 2)).noTenant().build()).build());
    assertThat(second.nextFireAt("definition.change")).contains(t("00:25:00"));
    // as does a changed zone: at 05:50 in Kolkata (+05:30) the next local :00, :25 or :50 is 06:00, 00:30 UTC
    node(schema, clock, RecurringJob.builder("definition.change", "*/25 * * * *",
            JobRequest.builder("cron.def", Map.of("n", 2)).noTenant().build())
        .zone(ZoneId.of("Asia/Kolkata")).build());
    assertThat(second.nextFireAt("definition.change")).contains(t("00:30:00"));

    // the row is the source of truth: the first node, started with the old definition, fires the new one
    clock.set(t("00:30:30"));
    assertThat(first.tick()).isEqualTo(1);
    try (Connection c = db.adminDataSource().getConnection(); Statement st = c.createStatement();
        ResultSet rs = st.executeQuery("SELECT payload->>'n', run_at FROM " + schema.name() + ".jobs"
            + " WHERE unique_key LIKE 'cron:definition.change:%'")) {
      assertThat(rs.next()).isTrue();
      assertThat(rs.getString(1)).isEqualTo("2");
      assertThat(rs.getObject(2, OffsetDateTime.class).toInstant()).isEqualTo(t("00:30:00"));
      assertThat(rs.next()).isFalse();
    }
    assertThat(first.nextFireAt("definition.change")).contains(t("00:55:00"));
  }

  // ---- time zones and DST ------------------------------------------------------------------------------------

  @Test
  void dailyAtTwoThirtyInParisRunsAtThreeOnSpringForwardAndOnceOnFallBack(TestDatabase db) throws SQLException {
    JobsSchema schema = schema(db, "dst");
    ZoneId paris = ZoneId.of("Europe/Paris");
    MutableClock clock = MutableClock.at(Instant.parse("2026-03-27T12:00:00Z"));
    // ticks every 20 / 40 minutes: a threshold of an hour keeps every occurrence on time
    RecurringJob daily = RecurringJob.builder("dst.paris", "30 2 * * *", system("cron.dst")).zone(paris)
        .misfireThreshold(Duration.ofHours(1)).build();
    RecurringJobs node = node(schema, clock, daily);
    // 2026-03-29 02:00 CET jumps to 03:00 CEST: 02:30 does not exist, that day's run is at the end of the gap
    for (int hour = 0; hour < 4 * 24; hour++) {
      clock.advance(Duration.ofMinutes(20));
      node.tick();
      clock.advance(Duration.ofMinutes(40));
      node.tick();
    }
    assertThat(runAts(db, schema, "dst.paris")).containsExactly(Instant.parse("2026-03-28T01:30:00Z"),
        Instant.parse("2026-03-29T01:00:00Z"), Instant.parse("2026-03-30T00:30:00Z"),
        Instant.parse("2026-03-31T00:30:00Z"));
    assertThat(runAts(db, schema, "dst.paris")).extracting(i -> i.atZone(paris).toLocalTime().toString())
        .containsExactly("02:30", "03:00", "02:30", "02:30");

    // 2026-10-25 03:00 CEST goes back to 02:00 CET: 02:30 happens twice, the job runs once (the first, CEST)
    assertThat(node.remove("dst.paris")).isTrue();
    clock.set(Instant.parse("2026-10-23T12:00:00Z"));
    RecurringJob autumn = daily.toBuilder().build();
    RecurringJobs autumnNode = node(schema, clock, autumn);
    for (int hour = 0; hour < 4 * 24; hour++) {
      clock.advance(Duration.ofMinutes(20));
      autumnNode.tick();
      clock.advance(Duration.ofMinutes(40));
      autumnNode.tick();
    }
    assertThat(runAts(db, schema, "dst.paris")).filteredOn(i -> i.isAfter(Instant.parse("2026-10-01T00:00:00Z")))
        .containsExactly(Instant.parse("2026-10-24T00:30:00Z"), Instant.parse("2026-10-25T00:30:00Z"),
            Instant.parse("2026-10-26T01:30:00Z"), Instant.parse("2026-10-27T01:30:00Z"));
  }

  @Test
  void disableEnableAndRemove(TestDatabase db) throws SQLException {
    JobsSchema schema = schema(db, "ops");
    MutableClock clock = MutableClock.at(t("00:00:10"));
    RecurringJobs node = node(schema, clock, RecurringJob.builder("ops.minutely", "* * * * *", system("cron.ops")).build());
    assertThat(node.disable("ops.minutely")).isTrue();
    clock.set(t("00:05:10"));
    assertThat(node.tick()).isZero();
    // disabled stays disabled when a node registers the definition again
    node(schema, clock, RecurringJob.builder("ops.minutely", "* * * * *", system("cron.ops")).build());
    assertThat(node.tick()).isZero();
    // enabling restarts from now: nothing of the disabled time is caught up
    assertThat(node.enable("ops.minutely")).isTrue();
    assertThat(node.nextFireAt("ops.minutely")).contains(t("00:06:00"));
    clock.set(t("00:06:01"));
    assertThat(node.tick()).isEqualTo(1);
    assertThat(runAts(db, schema, "ops.minutely")).containsExactly(t("00:06:00"));

    assertThat(node.remove("ops.minutely")).isTrue();
    assertThat(node.nextFireAt("ops.minutely")).isEmpty();
    clock.set(t("00:10:01"));
    assertThat(node.tick()).isZero();
    assertThat(node.remove("ops.minutely")).isFalse();
    assertThat(node.disable("ops.minutely")).isFalse();
    assertThat(node.enable("ops.minutely")).isFalse();
  }

  @Test
  void definitionsNotDeclaredByARunningNodeStillFire(TestDatabase db) throws SQLException {
    JobsSchema schema = schema(db, "orphan");
    MutableClock clock = MutableClock.at(t("00:00:10"));
    node(schema, clock, RecurringJob.builder("orphan.minutely", "* * * * *", system("cron.orphan")).build());
    RecurringJobs other = node(schema, clock); // declares nothing
    clock.set(t("00:01:01"));
    assertThat(other.tick()).isEqualTo(1);
    assertThat(runAts(db, schema, "orphan.minutely")).containsExactly(t("00:01:00"));
  }

  // ---- tenants -----------------------------------------------------------------------------------------------

  @Test
  void aTenantsRecurringJobRunsForThatTenantOnly(TestDatabase db) throws SQLException {
    JobsSchema schema = schema(db, "tenant");
    MutableClock clock = MutableClock.at(t("00:00:10"));
    RecurringJobs node = node(schema, clock,
        RecurringJob.builder("tenant.report:acme", "* * * * *",
            JobRequest.builder("cron.tenant", Map.of("r", "x")).tenant(TenantId.of("acme")).build()).build(),
        RecurringJob.builder("tenant.report:globex", "* * * * *",
            JobRequest.builder("cron.tenant", Map.of("r", "x")).tenant(TenantId.of("globex")).build()).build());
    clock.set(t("00:01:01"));
    assertThat(node.tick()).isEqualTo(2);

    JobQueue app = JobQueue.builder(db.appDataSource()).schema(schema).build();
    List<Long> ids = new ArrayList<>();
    try (Connection c = db.adminDataSource().getConnection(); Statement st = c.createStatement();
        ResultSet rs = st.executeQuery("SELECT id, tenant_id FROM " + schema.name() + ".jobs WHERE type = 'cron.tenant'"
            + " ORDER BY tenant_id")) {
      while (rs.next()) {
        ids.add(rs.getLong(1));
        assertThat(rs.getString(2)).isIn("acme", "globex");
      }
    }
    assertThat(ids).hasSize(2);
    JobId acmeJob = JobId.of(ids.get(0));
    JobId globexJob = JobId.of(ids.get(1));
    TenantContext.run(TenantId.of("acme"), () -> {
      assertThat(app.status(acmeJob)).isPresent();
      assertThat(app.status(globexJob)).isEmpty();
    });
  }

  @Test
  void aDefinitionWhoseTenantIdWasEditedIntoAnInvalidOneStopsFiringAndTheOthersGoOn(TestDatabase db)
      throws SQLException {
    JobsSchema schema = schema(db, "badtenant");
    MutableClock clock = MutableClock.at(t("00:00:10"));
    RecurringJobs node = node(schema, clock,
        RecurringJob.builder("report:acme", "* * * * *",
            JobRequest.builder("cron.bad", Map.of("r", "x")).tenant(TenantId.of("acme")).build()).build(),
        RecurringJob.builder("report:globex", "* * * * *",
            JobRequest.builder("cron.good", Map.of("r", "x")).tenant(TenantId.of("globex")).build()).build());
    try (Connection c = db.adminDataSource().getConnection(); Statement st = c.createStatement()) {
      st.execute("UPDATE " + schema.name() + ".recurring_jobs SET tenant_id = ' acme' WHERE name = 'report:acme'");
    }
    clock.set(t("00:01:01"));
    assertThat(node.tick()).isEqualTo(1);
    clock.set(t("00:02:01"));
    assertThat(node.tick()).isEqualTo(1);
    assertThat(runAts(db, schema, "report:globex")).containsExactly(t("00:01:00"), t("00:02:00"));
    assertThat(runAts(db, schema, "report:acme")).isEmpty();
    try (Connection c = db.adminDataSource().getConnection(); Statement st = c.createStatement();
        ResultSet rs = st.executeQuery("SELECT next_fire_at FROM " + schema.name()
            + ".recurring_jobs WHERE name = 'report:acme'")) {
      assertThat(rs.next()).isTrue();
      assertThat(rs.getObject(1)).as("parked until registered again").isNull();
    }
  }

  @Test
  void onlyTheWorkerRoleReadsDefinitions(TestDatabase db) throws SQLException {
    JobsSchema schema = schema(db, "rls");
    MutableClock clock = MutableClock.at(t("00:00:10"));
    node(schema, clock, RecurringJob.builder("rls.acme", "* * * * *",
        JobRequest.builder("cron.rls", Map.of()).tenant(TenantId.of("acme")).build()).build());
    try (Connection c = db.appDataSource().getConnection(); Statement st = c.createStatement()) {
      assertThatThrownBy(() -> st.executeQuery("SELECT * FROM " + schema.name() + ".recurring_jobs"))
          .hasMessageContaining("permission denied");
    }
    try (Connection c = db.adminDataSource().getConnection(); Statement st = c.createStatement();
        ResultSet rs = st.executeQuery("SELECT relrowsecurity, relforcerowsecurity FROM pg_class"
            + " WHERE oid = '" + schema.name() + ".recurring_jobs'::regclass")) {
      rs.next();
      assertThat(rs.getBoolean(1)).isTrue();
      assertThat(rs.getBoolean(2)).isTrue();
    }
    // the worker role sees every tenant's definitions through its own policy, with no tenant set
    try (Connection c = worker.getConnection(); Statement st = c.createStatement();
        ResultSet rs = st.executeQuery("SELECT tenant_id FROM " + schema.name() + ".recurring_jobs")) {
      assertThat(rs.next()).isTrue();
      assertThat(rs.getString(1)).isEqualTo("acme");
    }
    // a role with table privileges but without the worker policy is held to the tenant policy: no tenant, no rows
    String other = db.createRole("cron_other", "");
    try (Connection owner = db.ownerDataSource().getConnection(); Statement st = owner.createStatement()) {
      st.execute("GRANT USAGE ON SCHEMA " + schema.name() + " TO " + other);
      st.execute("GRANT SELECT ON " + schema.name() + ".recurring_jobs TO " + other);
    }
    try (HikariDataSource pool = db.newPool(other, db.rolePassword(other), 1);
        Connection c = pool.getConnection(); Statement st = c.createStatement();
        ResultSet rs = st.executeQuery("SELECT count(*) FROM " + schema.name() + ".recurring_jobs")) {
      rs.next();
      assertThat(rs.getLong(1)).isZero();
    }
  }

  // ---- the thread --------------------------------------------------------------------------------------------

  @Test
  void theStartedThreadFiresWhenTheClockReachesAnOccurrence(TestDatabase db) throws Exception {
    JobsSchema schema = schema(db, "thread");
    MutableClock clock = MutableClock.at(t("00:00:50"));
    try (RecurringJobs running = RecurringJobs.builder(worker).schema(schema).clock(clock).tickInterval(Duration.ofMillis(20))
        .add(RecurringJob.builder("thread.minutely", "* * * * *", system("cron.thread")).build())
        .build().start()) {
      assertThatThrownBy(running::start).isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("already started");
      assertThat(running.nextFireAt("thread.minutely")).contains(t("00:01:00"));
      clock.set(t("00:01:00"));
      Await.until("the tick thread fires the 00:01 occurrence", Duration.ofSeconds(30),
          () -> !runAts(db, schema, "thread.minutely").isEmpty());
      assertThat(runAts(db, schema, "thread.minutely")).containsExactly(t("00:01:00"));
      running.close();
      running.close(); // idempotent
      assertThatThrownBy(running::start).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
      clock.set(t("00:05:00"));
      assertThat(runAts(db, schema, "thread.minutely")).containsExactly(t("00:01:00"));
    }
  }

  @Test
  void startFailsClearlyWithoutTheSchema(TestDatabase db) {
    assertThatThrownBy(() -> RecurringJobs.builder(worker).schema(JobsSchema.builder().name("no_such_schema").tenantSetting(TenantSetting.DEFAULT).build())
            .add(RecurringJob.builder("x", "* * * * *", system("cron.x")).build()).build().start())
        .isInstanceOf(SaasException.class)
        .hasMessageContaining("JobsSchema.migrate");
  }

  // ---- validation --------------------------------------------------------------------------------------------

  @Test
  void invalidCronExpressionNamesTheExpressionAndTheField() {
    assertThatIllegalArgumentException()
        .isThrownBy(() -> RecurringJob.builder("bad", "0 25 * * *", system("cron.bad")).build())
        .withMessageContaining("'0 25 * * *'")
        .withMessageContaining("hour field '25'");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> RecurringJob.builder("bad", "0 0 25 * * *", system("cron.bad"))
            .syntax(CronSyntax.SPRING).build())
        .withMessageContaining("'0 0 25 * * *'")
        .withMessageContaining("hour field '25'");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> RecurringJob.builder("bad", "*/5 * * * * *", system("cron.bad")).build())
        .withMessageContaining("UNIX syntax needs 5 fields")
        .withMessageContaining("CronSyntax.SPRING");
  }

  @Test
  void templatesMustBeExplicitAboutTheTenantAndLeaveTimingToTheSchedule() {
    // outside a tenant scope, a template without tenant() or noTenant() cannot even be built
    assertThatThrownBy(() -> JobRequest.builder("cron.t", Map.of()).build())
        .isInstanceOf(dev.saaskit.core.MissingTenantException.class).hasMessageContaining(".noTenant()");
    assertThatIllegalArgumentException().isThrownBy(() -> RecurringJob.builder("t", "* * * * *",
            JobRequest.builder("cron.t", Map.of()).noTenant().delay(Duration.ofMinutes(1)).build()))
        .withMessageContaining("runAt or delay");
    assertThatIllegalArgumentException().isThrownBy(() -> RecurringJob.builder("t", "* * * * *",
            JobRequest.builder("cron.t", Map.of()).noTenant().uniqueKey("k").build()))
        .withMessageContaining("unique key");
  }

  @Test
  void anAbsurdMisfireThresholdOrANameThatCannotBeStoredIsRefusedByTheBuilder(TestDatabase db) throws SQLException {
    JobsSchema schema = schema(db, "absurd");
    RecurringJob.Builder b = RecurringJob.builder("absurd", "0 * * * *", system("cron.absurd"));
    // accepted here before, then registration threw ArithmeticException (toMillis overflow)
    assertThatIllegalArgumentException().isThrownBy(
            () -> b.misfireThreshold(Duration.ofSeconds(Long.MAX_VALUE, 999_999_999)))
        .withMessageContaining("misfireThreshold must be at most 1000 years");
    // the longest accepted registers and fires
    MutableClock clock = MutableClock.at(T0.plusSeconds(10));
    RecurringJobs node = node(schema, clock, b.misfireThreshold(RetryPolicy.MAX_DELAY).build());
    clock.advance(Duration.ofMinutes(150));
    assertThat(node.tick()).isEqualTo(2);
    // the driver would store "nightly?" for it, one row with the job really named so
    assertThatIllegalArgumentException().isThrownBy(
            () -> RecurringJob.builder("nightly\uD800", "0 * * * *", system("cron.absurd")))
        .withMessageContaining("unpaired surrogate");
    assertThat(RecurringJob.builder("nightly \uD83C\uDF19", "0 * * * *", system("cron.absurd")).build().name())
        .isEqualTo("nightly \uD83C\uDF19");
  }

  @Test
  void schedulerDurationsTooLongForNanosecondsAreRefusedByTheBuilder() {
    // accepted before, then start() (tickInterval) or close() (closeTimeout) threw ArithmeticException
    Duration forever = Duration.ofSeconds(Long.MAX_VALUE, 999_999_999);
    RecurringJobs.Builder b = RecurringJobs.builder(worker);
    assertThatIllegalArgumentException().isThrownBy(() -> b.tickInterval(forever))
        .withMessageStartingWith("tickInterval must be at most 100 years");
    assertThatIllegalArgumentException().isThrownBy(() -> b.closeTimeout(forever))
        .withMessageStartingWith("closeTimeout must be at most 100 years");
    assertThatIllegalArgumentException().isThrownBy(() -> b.closeTimeout(Duration.ofDays(365L * 300)))
        .withMessageStartingWith("closeTimeout must be at most 100 years");
    b.tickInterval(Duration.ofDays(36_500)).closeTimeout(Duration.ofDays(36_500));
  }

  @Test
  void settingsFailFastNamingTheBadValue() {
    RecurringJob.Builder b = RecurringJob.builder("s", "* * * * *", system("cron.s"));
    assertThatIllegalArgumentException().isThrownBy(() -> b.maxCatchUp(0))
        .withMessage("maxCatchUp must be >= 1 but was 0");
    assertThatIllegalArgumentException().isThrownBy(() -> b.misfireThreshold(Duration.ofSeconds(-1)))
        .withMessageContaining("misfireThreshold must not be negative");
    assertThatIllegalArgumentException().isThrownBy(() -> RecurringJob.builder(" s", "* * * * *", system("c")))
        .withMessageContaining("white space");
    assertThatIllegalArgumentException().isThrownBy(() -> RecurringJob.builder("", "* * * * *", system("c")))
        .withMessageContaining("1 to 200");
    assertThatIllegalArgumentException().isThrownBy(() -> RecurringJob.builder("a\nb", "* * * * *", system("c")))
        .withMessageContaining("control");
    assertThatIllegalArgumentException().isThrownBy(() -> RecurringJob.builder("x".repeat(201), "* * * * *",
        system("c")));
    RecurringJobs.Builder nodes = RecurringJobs.builder(worker);
    assertThatIllegalArgumentException().isThrownBy(() -> nodes.batchSize(0))
        .withMessage("batchSize must be >= 1 but was 0");
    assertThatIllegalArgumentException().isThrownBy(() -> nodes.tickInterval(Duration.ZERO))
        .withMessageContaining("tickInterval must be at least 10 ms");
    RecurringJob job = b.build();
    nodes.add(job);
    assertThatIllegalArgumentException().isThrownBy(() -> nodes.add(job))
        .withMessageContaining("'s' was added twice");
  }

  @Test
  void recurringJobExposesItsSettings() {
    RecurringJob job = RecurringJob.builder("expose", "  0 3 * * 1-5 ", system("cron.expose"))
        .zone(ZoneId.of("Europe/Paris")).misfirePolicy(MisfirePolicy.FIRE_ALL).maxCatchUp(7)
        .misfireThreshold(Duration.ofSeconds(30)).build();
    assertThat(job.name()).isEqualTo("expose");
    assertThat(job.cron()).isEqualTo("0 3 * * 1-5");
    assertThat(job.syntax()).isEqualTo(CronSyntax.UNIX);
    assertThat(job.zone()).isEqualTo(ZoneId.of("Europe/Paris"));
    assertThat(job.misfirePolicy()).isEqualTo(MisfirePolicy.FIRE_ALL);
    assertThat(job.maxCatchUp()).isEqualTo(7);
    assertThat(job.misfireThreshold()).isEqualTo(Duration.ofSeconds(30));
    assertThat(job.tenant()).isEqualTo(Optional.empty());
    assertThat(job.template().type()).isEqualTo("cron.expose");
    assertThat(job.toBuilder().build().toString()).isEqualTo(job.toString());
  }
}
