package dev.saaskit.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.SQLException;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Review of 2026-12-05: an {@link Error} (not an exception) thrown after the handler returned, while the worker
 * turned the handler's result or failure into an outcome. The worker caught only {@link RuntimeException} there, so
 * the outcome was never submitted and the job never left the worker: its heartbeats renewed the lease for as long as
 * the worker lived, the job stayed {@code running} for ever (no rescue, no retry) and its slot was lost. Gson, for
 * one, throws {@link StackOverflowError} for a cyclic result, and a {@code toString()} that recurses through a cycle
 * does the same in an exception's message.
 */
@ExtendWith(PostgresExtension.class)
class HandlerErrorTest {
  private static final Duration WAIT = Duration.ofSeconds(20);
  private static WorkerTestKit kit;

  @BeforeAll
  static void setUp(TestDatabase db) throws SQLException {
    kit = WorkerTestKit.setUp(db);
  }

  /** A result a codec cannot write: like a cyclic graph under Gson, it overflows the stack. */
  record Cyclic(String name) {}

  /** The default codec, except that it overflows the stack on {@link Cyclic}. */
  static final class OverflowingCodec implements JobCodec {
    @Override
    public String encode(@Nullable Object value) {
      if (value instanceof Cyclic) {
        throw new StackOverflowError("simulated: a codec recursing through a cyclic result");
      }
      return JobCodec.jackson().encode(value);
    }

    @Override
    public <T> @Nullable T decode(String json, Class<T> type) {
      return JobCodec.jackson().decode(json, type);
    }
  }

  /** An exception whose message cannot be printed, like one built from an object whose toString() recurses. */
  static final class UnprintableException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    @Override
    public String getMessage() {
      throw new StackOverflowError("simulated: a message recursing through a cycle");
    }
  }

  @Test
  void aResultTheCodecOverflowsOnCompletesTheJobWithoutIt(TestDatabase db) throws Exception {
    AtomicInteger runs = new AtomicInteger();
    try (HikariDataSource pool = kit.workerPool("handler-error-result", 4)) {
      SaasJobs jobs = SaasJobs.builder(db.appDataSource()).workerDataSource(pool).codec(new OverflowingCodec())
          .build();
      try (JobWorker worker = jobs.worker().queue("errors", 1)
          .pollInterval(Duration.ofMillis(50))
          .handler(JobType.of("cyclic-result", JsonNode.class), (payload, ctx) -> {
            runs.incrementAndGet();
            return new Cyclic("loop");
          }).build().start()) {
        long id = kit.insert("acme", "errors", "cyclic-result", "{}", 3, null, null);
        kit.awaitState(id, "completed", WAIT);
        WorkerTestKit.Row row = kit.row(id);
        assertThat(runs.get()).as("the work was done once and is not repeated").isEqualTo(1);
        assertThat(row.attempts()).isEqualTo(1);
        assertThat(row.result()).isNull();
        assertThat(row.lastError()).startsWith("result not stored: it cannot be written as JSON")
            .contains("StackOverflowError");

        // the slot came back: the next job runs on the single thread
        long next = kit.insert("acme", "errors", "cyclic-result", "{}", 3, null, null);
        kit.awaitState(next, "completed", WAIT);
      }
    }
  }

  @Test
  void aFailureWhoseMessageCannotBePrintedIsStillRecorded(TestDatabase db) throws Exception {
    AtomicInteger runs = new AtomicInteger();
    try (HikariDataSource pool = kit.workerPool("handler-error-message", 4)) {
      SaasJobs jobs = SaasJobs.builder(db.appDataSource()).workerDataSource(pool).build();
      try (JobWorker worker = jobs.worker().queue("errors", 1)
          .pollInterval(Duration.ofMillis(50))
          .handler(JobType.of("unprintable-failure", JsonNode.class), (payload, ctx) -> {
            runs.incrementAndGet();
            throw new UnprintableException();
          }).build().start()) {
        long id = kit.insert("acme", "errors", "unprintable-failure", "{}", 1, null, null);
        kit.awaitState(id, "dead", WAIT);
        WorkerTestKit.Row row = kit.row(id);
        assertThat(runs.get()).isEqualTo(1);
        assertThat(row.attempts()).isEqualTo(1);
        assertThat(row.lastError()).startsWith(UnprintableException.class.getName())
            .contains("StackOverflowError");
        assertThat(row.lastError()).doesNotContain("lease expired");
      }
    }
  }
}
