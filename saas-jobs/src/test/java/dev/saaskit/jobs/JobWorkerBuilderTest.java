package dev.saaskit.jobs;

import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatIllegalStateException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.saaskit.core.SaasException;
import dev.saaskit.core.TenantSetting;
import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.logging.Logger;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/** Fail-fast configuration; none of these reach a database. */
class JobWorkerBuilderTest {
  /** A data source whose database is down. */
  private static final DataSource DOWN = new DataSource() {
    @Override
    public Connection getConnection() throws SQLException {
      throw new SQLException("connection refused");
    }

    @Override
    public Connection getConnection(String user, String password) throws SQLException {
      return getConnection();
    }

    @Override
    public PrintWriter getLogWriter() {
      return null;
    }

    @Override
    public void setLogWriter(PrintWriter out) {}

    @Override
    public void setLoginTimeout(int seconds) {}

    @Override
    public int getLoginTimeout() {
      return 0;
    }

    @Override
    public Logger getParentLogger() {
      return Logger.getGlobal();
    }

    @Override
    public <T> T unwrap(Class<T> iface) throws SQLException {
      throw new SQLException("not a wrapper");
    }

    @Override
    public boolean isWrapperFor(Class<?> iface) {
      return false;
    }
  };

  private static final JobHandler<JsonNode> NOOP = (payload, ctx) -> null;

  @Test
  void aWorkerNeedsAHandler() {
    assertThatIllegalStateException().isThrownBy(() -> JobWorker.builder(DOWN).build())
        .withMessageContaining("at least one handler");
  }

  @Test
  void badSettingsAreNamedWithTheirValue() {
    JobWorker.Builder b = JobWorker.builder(DOWN).handler(JobType.of("t", JsonNode.class), NOOP);
    assertThatIllegalArgumentException().isThrownBy(() -> b.handler(JobType.of("t", JsonNode.class), NOOP))
        .withMessageContaining("'t' is already registered");
    assertThatIllegalArgumentException().isThrownBy(() -> JobType.of(" ", JsonNode.class))
        .withMessageContaining("type must be 1 to 100 characters");
    assertThatIllegalArgumentException().isThrownBy(() -> b.queue("q", 0))
        .withMessage("concurrency must be >= 1 but was 0");
    assertThatIllegalArgumentException().isThrownBy(() -> b.queue("q", 2, -1))
        .withMessageContaining("tenantConcurrencyCap must be >= 0 (0 = no cap) but was -1");
    b.queue("q", 2);
    assertThatIllegalArgumentException().isThrownBy(() -> b.queue("q", 2))
        .withMessageContaining("queue 'q' is already added");
    assertThatIllegalArgumentException().isThrownBy(() -> b.batchSize(0))
        .withMessage("batchSize must be within [1, 1000] but was 0");
    assertThatIllegalArgumentException().isThrownBy(() -> b.maxBatchSize(1001))
        .withMessage("maxBatchSize must be within [1, 1000] but was 1001");
    assertThatIllegalStateException().isThrownBy(() -> JobWorker.builder(DOWN).handler(JobType.of("t", JsonNode.class), NOOP)
            .batchSize(50).maxBatchSize(20).build())
        .withMessage("maxBatchSize (20) must not be below batchSize (50)");
    assertThatIllegalArgumentException().isThrownBy(() -> b.leaseDuration(Duration.ofMillis(100)))
        .withMessage("leaseDuration must be >= 500 ms but was 100 ms");
    assertThatIllegalArgumentException().isThrownBy(() -> b.pollInterval(Duration.ofMillis(1)))
        .withMessageContaining("pollInterval must be >= 10 ms but was PT0.001S");
    assertThatIllegalArgumentException().isThrownBy(() -> b.closeTimeout(Duration.ofSeconds(-1)))
        .withMessageContaining("closeTimeout must not be negative");
    assertThatIllegalArgumentException().isThrownBy(() -> b.workerId(""))
        .withMessageContaining("workerId must be 1 to 200 printable characters");
    assertThatIllegalArgumentException().isThrownBy(() -> b.maxResultBytes(1))
        .withMessage("maxResultBytes must be >= 16 but was 1");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> JobWorker.HandlerOptions.defaults().withLeaseDuration(Duration.ofMillis(10)))
        .withMessage("leaseDuration must be >= 500 ms but was 10 ms");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> JobWorker.HandlerOptions.defaults().withTimeout(Duration.ZERO))
        .withMessage("timeout must be >= 1 ms but was PT0S");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> JobWorker.builder(DOWN).schema(JobsSchema.builder().name("s".repeat(57)).tenantSetting(TenantSetting.DEFAULT).build())
            .handler(JobType.of("t", JsonNode.class), NOOP).build())
        .withMessageContaining("wake-up channel");
  }

  @Test
  void durationsTooLongToAddToNanoTimeAreRefusedByTheBuilder() {
    // Accepted before, then: close() threw ArithmeticException (closeTimeout.toNanos()) and left every thread of
    // the worker running; a lease past 292 years overflowed the lease deadline, so each job saw its lease as lost;
    // a poll interval past 292 years ended the claiming thread; HandlerOptions threw ArithmeticException itself.
    Duration forever = Duration.ofSeconds(Long.MAX_VALUE, 999_999_999);
    JobWorker.Builder b = JobWorker.builder(DOWN).handler(JobType.of("t", JsonNode.class), NOOP);
    assertThatIllegalArgumentException().isThrownBy(() -> b.closeTimeout(forever))
        .withMessageStartingWith("closeTimeout must be at most 100 years");
    assertThatIllegalArgumentException().isThrownBy(() -> b.closeTimeout(Duration.ofDays(365L * 300)))
        .withMessageStartingWith("closeTimeout must be at most 100 years");
    assertThatIllegalArgumentException().isThrownBy(() -> b.leaseDuration(Duration.ofDays(365L * 300)))
        .withMessageStartingWith("leaseDuration must be at most 100 years");
    assertThatIllegalArgumentException().isThrownBy(() -> b.pollInterval(forever))
        .withMessageStartingWith("pollInterval must be at most 100 years");
    assertThatIllegalArgumentException().isThrownBy(() -> b.progressInterval(forever))
        .withMessageStartingWith("progressInterval must be at most 100 years");
    assertThatIllegalArgumentException().isThrownBy(() -> b.metricsInterval(forever))
        .withMessageStartingWith("metricsInterval must be at most 100 years");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> JobWorker.HandlerOptions.defaults().withLeaseDuration(forever))
        .withMessageStartingWith("leaseDuration must be at most 100 years");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> JobWorker.HandlerOptions.defaults().withTimeout(forever))
        .withMessageStartingWith("timeout must be at most 1000 years");
    // the longest accepted values build a worker
    Duration century = Duration.ofDays(36_500);
    JobWorker worker = b.closeTimeout(century).leaseDuration(century).pollInterval(century).build();
    worker.close();
  }

  @Test
  void startFailsWithAMessageThatSaysWhatToDo() {
    JobWorker worker = JobWorker.builder(DOWN).handler(JobType.of("t", JsonNode.class), NOOP).build();
    assertThatThrownBy(worker::start).isInstanceOf(SaasException.class)
        .hasMessageContaining("cannot read saaskit_jobs.jobs").hasMessageContaining("grantWorker");
    worker.close();
  }

  @Test
  void aClosedWorkerCannotStart() {
    JobWorker worker = JobWorker.builder(DOWN).handler(JobType.of("t", JsonNode.class), NOOP).build();
    worker.close();
    worker.close();
    assertThatIllegalStateException().isThrownBy(worker::start).withMessageContaining("is closed");
  }
}
