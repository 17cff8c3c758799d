package dev.saaskit.jobs;

import static dev.saaskit.jobs.QueueFixtures.ACME;
import static dev.saaskit.jobs.QueueFixtures.as;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.Await;
import dev.saaskit.testing.MutableClock;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The one entry: the parts SaasJobs hands out share its data sources, schema, codec, clock and meters. */
@ExtendWith(PostgresExtension.class)
class SaasJobsTest {
  record Greeting(String name) {}

  record Reply(String text) {}

  static final JobType<Greeting> GREET = JobType.of("greet", Greeting.class);

  private static HikariDataSource workerPool;

  @BeforeAll
  static void setUp(TestDatabase db) throws SQLException {
    String worker = QueueFixtures.setUp(db);
    workerPool = db.newPool(worker, db.rolePassword(worker), 4);
  }

  @AfterAll
  static void tearDown() {
    workerPool.close();
  }

  /**
   * A codec of the application's own (here: upper-cases every string value of flat JSON objects on the way in,
   * to prove it is the one both sides use), delegating the JSON work to the default.
   */
  static final class ShoutingCodec implements JobCodec {
    int encoded;
    int decoded;

    @Override
    public String encode(@Nullable Object value) {
      encoded++;
      return JobCodec.jackson().encode(value).toUpperCase(Locale.ROOT).replace("\"NAME\"", "\"name\"")
          .replace("\"TEXT\"", "\"text\"");
    }

    @Override
    public <T> @Nullable T decode(String json, Class<T> type) {
      decoded++;
      return JobCodec.jackson().decode(json, type);
    }
  }

  @Test
  void queueWorkerAndStatusShareOneCodec(TestDatabase db) {
    ShoutingCodec codec = new ShoutingCodec();
    SaasJobs jobs = SaasJobs.builder(db.appDataSource()).workerDataSource(workerPool).codec(codec).build();
    assertThat(jobs.queue()).isSameAs(jobs.queue());
    try (JobWorker worker = jobs.worker().queue("greetings", 2)
        .handler(GREET, (greeting, ctx) -> new Reply("hello " + greeting.name()))
        .build().start()) {
      JobId id = as(ACME, () -> jobs.queue().enqueue(JobRequest.builder(GREET, new Greeting("ada"))
          .queue("greetings").build()));
      Await.until("the greeting ran", Duration.ofSeconds(20),
          () -> as(ACME, () -> jobs.queue().status(id)).map(JobStatus::isFinished).orElse(false));
      JobStatus status = as(ACME, () -> jobs.queue().status(id)).orElseThrow();
      assertThat(status.state()).isEqualTo(JobState.COMPLETED);
      // the payload went in upper-cased by the codec, the handler's result came out through it too
      assertThat(status.result(Reply.class)).isEqualTo(new Reply("HELLO ADA"));
      assertThat(jobs.admin().show(id).orElseThrow().result(Reply.class)).isEqualTo(new Reply("HELLO ADA"));
      assertThat(codec.encoded).isGreaterThanOrEqualTo(2);
      assertThat(codec.decoded).isGreaterThanOrEqualTo(3);
    }
  }

  @Test
  void aCodecFailureAtEnqueueNamesTheJobType(TestDatabase db) {
    JobCodec refusing = new JobCodec() {
      @Override
      public String encode(@Nullable Object value) {
        throw new JobCodecException("no encoding for " + value);
      }

      @Override
      public <T> @Nullable T decode(String json, Class<T> type) {
        throw new JobCodecException("no decoding");
      }
    };
    SaasJobs jobs = SaasJobs.builder(db.appDataSource()).codec(refusing).build();
    assertThatThrownBy(() -> as(ACME, () -> jobs.queue().enqueue(JobRequest.builder(GREET, new Greeting("x"))
        .build())))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("job type 'greet'").hasMessageContaining("no encoding")
        .hasCauseInstanceOf(JobCodecException.class);
  }

  @Test
  void recurringJobsUseTheSharedClockAndCountTheirOccurrences(TestDatabase db) throws SQLException {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    MutableClock clock = MutableClock.at(Instant.parse("2026-03-01T00:00:30Z"));
    SaasJobs jobs = SaasJobs.builder(db.appDataSource()).workerDataSource(workerPool).clock(clock)
        .meterRegistry(registry).build();
    RecurringJobs recurring = jobs.recurring()
        .add(RecurringJob.builder("meters.minutely", "* * * * *",
            JobRequest.builder(GREET, new Greeting("cron")).tenant(TenantId.of("acme")).build()).build())
        .add(RecurringJob.builder("meters.hourly", "0 * * * *",
            JobRequest.builder(JobType.of("hourly", Map.class), Map.of()).noTenant().build())
            .misfirePolicy(MisfirePolicy.SKIP).build())
        .build();
    try {
      assertThat(recurring.tick()).isZero(); // not registered before start(): nothing to fire
      recurring.registerForTesting();
      clock.set(Instant.parse("2026-03-01T00:01:05Z"));
      assertThat(recurring.tick()).isEqualTo(1);
      assertThat(registry.counter("saaskit.jobs.recurring.fired", "type", "greet").count()).isEqualTo(1);
      assertThat(registry.timer("saaskit.jobs.recurring.lag", "type", "greet").totalTime(
          java.util.concurrent.TimeUnit.SECONDS)).isEqualTo(5.0);
      // two hours later: the hourly one missed its 01:00 occurrence (SKIP), the minutely one fires its latest once
      clock.set(Instant.parse("2026-03-01T02:30:00Z"));
      recurring.tick();
      assertThat(registry.counter("saaskit.jobs.recurring.misfired", "type", "hourly").count()).isEqualTo(1);
      assertThat(registry.counter("saaskit.jobs.recurring.misfired", "type", "greet").count()).isEqualTo(1);
      // an unreadable definition is parked, and counted
      try (Connection c = db.adminDataSource().getConnection(); Statement st = c.createStatement()) {
        st.execute("UPDATE saaskit_jobs.recurring_jobs SET cron = 'not a cron' WHERE name = 'meters.hourly'");
      }
      clock.set(Instant.parse("2026-03-01T03:00:10Z"));
      recurring.tick();
      assertThat(registry.counter("saaskit.jobs.recurring.parked").count()).isEqualTo(1);
    } finally {
      recurring.close();
    }
    assertThat(Objects.requireNonNull(registry.find("saaskit.jobs.recurring.fired").counter()).count())
        .isPositive();
  }

  @Test
  void buildingStartsNothingAndTouchesNoDatabase() {
    javax.sql.DataSource unreachable = new HikariDataSource() {
      @Override
      public Connection getConnection() throws SQLException {
        throw new SQLException("no database here");
      }
    };
    SaasJobs jobs = SaasJobs.builder(unreachable).build();
    RecurringJobs recurring = jobs.recurring().add(RecurringJob.builder("x", "* * * * *",
        JobRequest.builder(GREET, new Greeting("x")).noTenant().build()).build()).build();
    JobWorker worker = jobs.worker().handler(GREET, (g, ctx) -> null).build();
    assertThatThrownBy(recurring::start).hasMessageContaining("no database here");
    assertThatThrownBy(recurring::start).isInstanceOf(IllegalStateException.class);
    worker.close();
  }
}
