package dev.saaskit.cache;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The code of the quickstart in docs/cache.md, kept compiling and passing here. */
class QuickstartTest {
  record Plan(String id, int seats) {}

  /** Stands in for the app's repository. */
  static final class PlanRepository {
    final Map<String, Plan> rows = new ConcurrentHashMap<>();
    final AtomicInteger reads = new AtomicInteger();

    /** Declares the JDBC exception, as a real repository does: the cache takes such loaders as they are. */
    Plan find(String id) throws SQLException {
      reads.incrementAndGet();
      return rows.get(TenantContext.require() + "/" + id);
    }
  }

  @Test
  void quickstart() throws Exception {
    PlanRepository planRepository = new PlanRepository();
    planRepository.rows.put("acme/pro", new Plan("pro", 10));
    TenantId acme = TenantId.of("acme");

    // snippet: quickstart
    InvalidationBus bus = InvalidationBus.inProcess(); // or the PostgreSQL bus, across nodes
    SaasCache<String, Plan> plans = SaasCache.<String, Plan>named("plans")
        .ttl(Duration.ofMinutes(5))                 // required: there is no build() before ttl(...)
        .maximumSize(10_000)
        .maximumSizePerTenant(1_000)
        .invalidationBus(bus)
        .build();

    // inside a request, once the tenant is known:
    Plan plan = TenantContext.call(acme, () ->
        plans.getWith("pro", id -> CacheValue.ofNullable(planRepository.find(id))
            .tags("subscription:" + TenantContext.require())));

    // after a write, on any node:
    plans.invalidateTag("subscription:acme");
    // end snippet

    assertThat(plan).isEqualTo(new Plan("pro", 10));
    assertThat(planRepository.reads).hasValue(1);
    assertThat(TenantContext.call(acme, () -> plans.getIfPresent("pro"))).isNull();
    plans.close();
    bus.close();
  }
}
