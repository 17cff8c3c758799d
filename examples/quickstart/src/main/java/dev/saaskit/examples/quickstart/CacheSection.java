package dev.saaskit.examples.quickstart;

import dev.saaskit.cache.SaasCache;
import dev.saaskit.cache.postgres.CacheSchema;
import dev.saaskit.cache.postgres.PostgresInvalidationBus;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import javax.sql.DataSource;

/**
 * The cache part of the quickstart: two "nodes" (two caches, each with its own PostgreSQL invalidation bus) cache
 * a tenant's note count; one node adds a note and writes the invalidation in the same transaction; the other
 * drops its stale entry without any message between them but the database.
 */
final class CacheSection {
  private static final String CACHE = "note-count";
  private static final String KEY = "count";

  private CacheSection() {}

  /** As the owner role (a migration): the invalidation log and the app role's rights on it. */
  static void migrate(DataSource owner, String appRole) throws SQLException {
    CacheSchema schema = CacheSchema.defaults();
    schema.migrate(owner);
    try (Connection c = owner.getConnection()) {
      schema.grantApp(c, appRole);
    }
  }

  /** Runs the demo on the application's pool {@code appPool} and its tenant-aware DataSource {@code db}. */
  static void run(DataSource appPool, DataSource db, TenantId tenant) throws Exception {
    try (PostgresInvalidationBus busA = PostgresInvalidationBus.builder(appPool).nodeName("node-a").build().start();
        PostgresInvalidationBus busB = PostgresInvalidationBus.builder(appPool).nodeName("node-b").build().start();
        SaasCache<String, Long> nodeA = noteCount(busA);
        SaasCache<String, Long> nodeB = noteCount(busB)) {
      long before = TenantContext.call(tenant, () -> loadedCount(nodeB, db));
      System.out.println("  node B caches " + tenant.value() + "'s note count: " + before);

      // node A: the business write and its invalidation commit together, or not at all
      Instant committed = TenantContext.call(tenant, () -> {
        try (Connection c = db.getConnection()) {
          c.setAutoCommit(false);
          try (PreparedStatement ps = c.prepareStatement("INSERT INTO notes (body) VALUES (?)")) {
            ps.setString(1, "Anvils arrived");
            ps.executeUpdate();
          }
          busA.publish(c, nodeA.keyInvalidation(KEY));  // the key as node A's cache encodes it
          c.commit();
        }
        return Instant.now();
      });
      System.out.println("  node A adds a note and writes the invalidation in the same transaction");

      Instant deadline = committed.plusSeconds(10);
      while (TenantContext.call(tenant, () -> nodeB.getIfPresent(KEY) != null)) {
        if (Instant.now().isAfter(deadline)) {
          throw new IllegalStateException("node B still serves the old count 10 s after the commit");
        }
        Thread.sleep(1);
      }
      long millis = Duration.between(committed, Instant.now()).toMillis();
      long after = TenantContext.call(tenant, () -> loadedCount(nodeB, db));
      System.out.println("  node B dropped its entry " + millis + " ms after the commit and now reads " + after);
    }
  }

  private static SaasCache<String, Long> noteCount(PostgresInvalidationBus bus) {
    return SaasCache.<String, Long>named(CACHE)
        .ttl(Duration.ofMinutes(5))  // required: there is no build() before ttl(...)
        .invalidationBus(bus)
        .build();
  }

  /** A plain JDBC loader: the cache takes it as it is, SQLException included. */
  private static Long countNotes(DataSource db) throws SQLException {
    try (Connection c = db.getConnection();
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT count(*) FROM notes")) {
      rs.next();
      return rs.getLong(1);
    }
  }

  /** The current tenant's note count through the cache; the loader always returns a count, so it is never absent. */
  private static long loadedCount(SaasCache<String, Long> cache, DataSource db) {
    return Objects.requireNonNull(cache.get(KEY, k -> countNotes(db)), "a count is never absent");
  }
}
