package dev.saaskit.cache.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.cache.Invalidation;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.Await;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
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
    BusFixture.execute(ownerDataSource, "CREATE TABLE plans (tenant_id text PRIMARY KEY, name text NOT NULL)",
        "INSERT INTO plans VALUES ('acme', 'free')");
    RecordingListener cache = new RecordingListener();
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
    PostgresInvalidationBus bus = PostgresInvalidationBus.builder(appDataSource).build();
    bus.subscribe(cache);                                         // a cache subscribes itself

    // a business transaction that changes data and invalidates it, atomically
    try (Connection c = appDataSource.getConnection()) {
      c.setAutoCommit(false);
      try (PreparedStatement ps = c.prepareStatement("UPDATE plans SET name = 'pro' WHERE tenant_id = ?")) {
        ps.setString(1, tenant.value());
        ps.executeUpdate();
      }
      bus.publish(c, Invalidation.key("plan-by-tenant", tenant, tenant.value()));
      c.commit();                                                 // every node drops the key after this commit
    }
    // end snippet
    try {
      Await.until("the key and the trigger's tag", () -> cache.has(Invalidation.key("plan-by-tenant", tenant, "acme"))
          && cache.has(Invalidation.tag("plans:acme")));
      assertThat(cache.flushes).hasValue(0);
    } finally {
      bus.close();                                                // at shutdown
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
        .build();

    // or: publish through PgBouncer, keep one direct connection for LISTEN
    PostgresInvalidationBus listening = PostgresInvalidationBus.builder(pooledThroughPgBouncer)
        .listenerDataSource(directToPostgres)
        .build();
    // end snippet
    try (polling; listening) {
      RecordingListener onPolling = new RecordingListener();
      polling.subscribe(onPolling);
      listening.publish(Invalidation.everything());
      Await.until("delivery to the polling node", () -> onPolling.has(Invalidation.everything()));
      assertThat(polling.stats().listening()).isFalse();
    }
  }
}
