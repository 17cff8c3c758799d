package dev.saaskit.cache.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.cache.Invalidation;
import dev.saaskit.cache.SaasCache;
// imported although in this package, so that the docs' snippets can show them
import dev.saaskit.cache.postgres.CacheSchema;
import dev.saaskit.cache.postgres.PostgresInvalidationBus;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.Await;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The code of docs/cache-invalidation.md, run as written (between the snippet markers). */
@ExtendWith(PostgresExtension.class)
class DocsExampleTest {

  @Test
  void quickstart(TestDatabase db) throws Exception {
    DataSource ownerDataSource = db.ownerDataSource();
    DataSource appDataSource = db.appDataSource();
    String appRole = db.appRole();
    BusFixture.execute(ownerDataSource,
        "CREATE TABLE IF NOT EXISTS plans (tenant_id text PRIMARY KEY, name text NOT NULL)",
        "INSERT INTO plans VALUES ('acme', 'free') ON CONFLICT (tenant_id) DO UPDATE SET name = 'free'");
    BusFixture.execute(ownerDataSource, "GRANT SELECT, UPDATE ON plans TO " + appRole);
    TenantId tenant = TenantId.of("acme");

    // snippet: quickstart
    // once per deployment, as the role that runs migrations
    CacheSchema schema = CacheSchema.defaults();             // schema saaskit_cache
    schema.migrate(ownerDataSource);
    try (Connection c = ownerDataSource.getConnection()) {
      schema.grantApp(c, appRole);                                   // what the bus needs, nothing more
      schema.attachTrigger(c, "plans", "plans:{tenant_id}");      // optional: SQL changes invalidate too
    }

    // on every node: one bus, shared by all caches of the node
    PostgresInvalidationBus bus = PostgresInvalidationBus.builder(appDataSource).build().start();
    SaasCache<String, String> planNames = SaasCache.<String, String>named("plan-names")
        .ttl(Duration.ofMinutes(5))
        .invalidationBus(bus)                                     // the cache subscribes itself
        .build();
    String before = TenantContext.call(tenant, () -> planNames.get("current", key -> planName(appDataSource, tenant)));

    // a business transaction that changes data and invalidates it, atomically
    try (Connection c = appDataSource.getConnection()) {
      c.setAutoCommit(false);
      try (PreparedStatement ps = c.prepareStatement("UPDATE plans SET name = 'pro' WHERE tenant_id = ?")) {
        ps.setString(1, tenant.value());
        ps.executeUpdate();
      }
      // the key, as the cache encodes it; the row and the COMMIT in one round trip
      bus.publishAndCommit(c, planNames.keyInvalidation(tenant, "current"));
    }                                                             // every node drops the key after that commit
    // end snippet
    try (planNames) {
      assertThat(before).isEqualTo("free");
      Await.until("the key dropped on this node",
          () -> TenantContext.call(tenant, () -> planNames.getIfPresent("current")) == null);
      assertThat(TenantContext.call(tenant, () -> planNames.get("current", key -> planName(appDataSource, tenant))))
          .isEqualTo("pro");
      assertThat(planNames.stats().lostInvalidations()).isZero();
    } finally {
      bus.close();                                                // at shutdown
    }
  }

  private static String planName(DataSource ds, TenantId tenant) throws SQLException {
    try (Connection c = ds.getConnection();
        PreparedStatement ps = c.prepareStatement("SELECT name FROM plans WHERE tenant_id = ?")) {
      ps.setString(1, tenant.value());
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getString(1);
      }
    }
  }

  @Test
  void pgBouncerSetups(TestDatabase db) throws Exception {
    CacheSchema.defaults().migrate(db.ownerDataSource());
    try (Connection c = db.ownerDataSource().getConnection()) {
      CacheSchema.defaults().grantApp(c, db.appRole());
    }
    DataSource pooledThroughPgBouncer = db.appDataSource();
    DataSource directToPostgres = db.appDataSource();

    // snippet: pgbouncer
    // everything through PgBouncer in transaction mode: read the log every poll interval
    PostgresInvalidationBus polling = PostgresInvalidationBus.builder(pooledThroughPgBouncer)
        .pollingOnly(true)
        .pollInterval(Duration.ofMillis(500))
        .build()
        .start();

    // or: publish through PgBouncer, keep one direct connection for LISTEN
    PostgresInvalidationBus listening = PostgresInvalidationBus.builder(pooledThroughPgBouncer)
        .listenerDataSource(directToPostgres)
        .build()
        .start();
    // end snippet
    try (polling; listening) {
      RecordingListener onPolling = new RecordingListener();
      polling.subscribe(onPolling);
      listening.publish(Invalidation.everything());
      Await.until("delivery to the polling node", () -> onPolling.has(Invalidation.everything()));
      assertThat(polling.stats().listening()).isFalse();
    }
  }

  @Test
  void triggerHelper(TestDatabase db) throws Exception {
    CacheSchema schema = CacheSchema.defaults();
    schema.migrate(db.ownerDataSource());
    BusFixture.execute(db.ownerDataSource(), "CREATE SCHEMA billing",
        "CREATE TABLE billing.plans (tenant_id text PRIMARY KEY, name text NOT NULL)",
        "CREATE TABLE IF NOT EXISTS plans (tenant_id text PRIMARY KEY, name text NOT NULL)");
    try (Connection connection = db.ownerDataSource().getConnection()) {
      connection.setSchema("public");
      // snippet: trigger
      schema.attachTrigger(connection, "plans", "plans:{tenant_id}");                 // table via search_path
      schema.attachTrigger(connection, "billing", "plans", "plans:{tenant_id}", "plans"); // schema, table, cache name
      // end snippet
    }
    assertThat(BusFixture.count(db.ownerDataSource(), "SELECT count(*) FROM pg_trigger t"
        + " JOIN pg_class c ON c.oid = t.tgrelid WHERE c.relname = 'plans' AND t.tgname LIKE 'saaskit_cache_%'"))
        .isEqualTo(8);
  }

  record Plan(String name) {}

  /** Stands for the app's repository; declares the JDBC exception as a real one does. */
  static final class PlanRepository {
    final java.util.concurrent.atomic.AtomicInteger loads = new java.util.concurrent.atomic.AtomicInteger();

    Plan load() throws SQLException {
      loads.incrementAndGet();
      return new Plan("pro");
    }
  }

  @Test
  void readme(TestDatabase db) throws Exception {
    BusFixture.migrate(db);
    DataSource appPool = db.appDataSource();
    PlanRepository planRepository = new PlanRepository();
    TenantContext.run(TenantId.of("acme"), () -> readmeCache(appPool, planRepository));
    assertThat(planRepository.loads).hasValue(1);
  }

  private static void readmeCache(DataSource appPool, PlanRepository planRepository) throws SQLException {
    // snippet: readme
    // a cache without a TTL does not compile; invalidate() reaches every node through PostgreSQL
    PostgresInvalidationBus bus = PostgresInvalidationBus.builder(appPool).build().start();   // one per node
    SaasCache<String, Plan> plans = SaasCache.<String, Plan>named("plans").ttl(Duration.ofMinutes(5))
        .invalidationBus(bus).build();
    Plan plan = plans.get("current", key -> planRepository.load());   // the current tenant's entry; one load per miss
    plans.invalidate("current");
    // end snippet
    try (bus; plans) {
      assertThat(plan).isEqualTo(new Plan("pro"));
      assertThat(plans.getIfPresent("current")).isNull();
    }
  }
}
