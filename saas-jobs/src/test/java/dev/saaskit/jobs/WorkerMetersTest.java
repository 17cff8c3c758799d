package dev.saaskit.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.testing.Await;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(PostgresExtension.class)
class WorkerMetersTest {
  private static WorkerTestKit kit;

  @BeforeAll
  static void setUp(TestDatabase db) throws SQLException {
    kit = WorkerTestKit.setUp(db);
  }

  @Test
  void metersCountWorkAndGaugeTheBacklogWithoutTenantTags() {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    // jobs of a type nobody handles stay pending: they are the backlog the gauges report
    for (int i = 0; i < 5; i++) {
      kit.insert("acme", "metered", "orphan", "{}", 20, null, Instant.now().minusSeconds(60));
    }
    try (HikariDataSource pool = kit.workerPool("meters-test", 6);
        JobWorker worker = JobWorker.builder(pool).queue("metered", 2).meterRegistry(registry)
            .metricsInterval(Duration.ofMillis(100)).pollInterval(Duration.ofMillis(100))
            .handler(JobType.of("ok", JsonNode.class), (payload, ctx) -> null).build().start()) {
      for (int i = 0; i < 3; i++) {
        kit.insert("globex", "metered", "ok", "{}");
      }
      Await.until("3 completions counted", Duration.ofSeconds(20),
          () -> registry.counter("saaskit.jobs.completed", "queue", "metered", "type", "ok").count() == 3);
      Await.until("the depth gauge shows the backlog", Duration.ofSeconds(20),
          () -> gauge(registry, "saaskit.jobs.queue.depth") == 5);
      assertThat(gauge(registry, "saaskit.jobs.queue.age")).isGreaterThanOrEqualTo(59);
      assertThat(registry.timer("saaskit.jobs.execution", "queue", "metered", "type", "ok").count()).isEqualTo(3);
      assertThat(registry.find("saaskit.jobs.claim").tag("queue", "metered").timer().count()).isPositive();
      assertThat(registry.counter("saaskit.jobs.claimed", "queue", "metered").count()).isEqualTo(3);
      Set<String> tagKeys = registry.getMeters().stream().map(Meter::getId)
          .flatMap(id -> id.getTags().stream()).map(Tag::getKey).collect(Collectors.toSet());
      assertThat(tagKeys).containsOnly("queue", "type");
    }
    // the gauges go with the worker
    assertThat(registry.find("saaskit.jobs.queue.depth").gauge()).isNull();
  }

  private static double gauge(SimpleMeterRegistry registry, String name) {
    Gauge gauge = registry.find(name).tag("queue", "metered").gauge();
    return gauge == null ? -1 : gauge.value();
  }
}
