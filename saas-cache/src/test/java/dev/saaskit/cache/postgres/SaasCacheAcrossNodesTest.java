package dev.saaskit.cache.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.cache.Invalidation;
import dev.saaskit.cache.SaasCache;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.Await;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The whole path with real parts: three nodes, each a {@link SaasCache} on its own {@link PostgresInvalidationBus}
 * (own pool, own listener connection), reading a PostgreSQL table through the cache; writes change the table and
 * publish the invalidation in the same transaction. No stale read once the invalidation has been delivered, also
 * across a killed listener connection.
 */
@ExtendWith(PostgresExtension.class)
class SaasCacheAcrossNodesTest {
  private static final TenantId ACME = TenantId.of("acme");
  private static final String CACHE = "plans";
  private static final int KEYS = 20;

  private BusFixture fixture;
  private final List<SaasCache<String, String>> caches = new ArrayList<>();
  private final List<PostgresInvalidationBus> buses = new ArrayList<>();

  @BeforeAll
  static void schema(TestDatabase db) throws SQLException {
    BusFixture.migrate(db);
    try (Connection c = db.ownerDataSource().getConnection(); Statement st = c.createStatement()) {
      st.execute("CREATE TABLE plans (tenant_id text NOT NULL, name text NOT NULL, value text NOT NULL,"
          + " PRIMARY KEY (tenant_id, name))");
    }
  }

  @BeforeEach
  void nodes(TestDatabase db) throws SQLException {
    fixture = new BusFixture(db);
    BusFixture.execute(db.ownerDataSource(), "DELETE FROM plans");
    for (int k = 0; k < KEYS; k++) {
      BusFixture.execute(db.ownerDataSource(),
          "INSERT INTO plans VALUES ('acme', 'k" + k + "', 'v0')");
    }
    for (String node : List.of("a", "b", "c")) {
      PostgresInvalidationBus bus = fixture.node(node);
      buses.add(bus);
      SaasCache<String, String> cache = SaasCache.<String, String>named(CACHE).ttl(Duration.ofHours(1))
          .invalidationBus(bus).build();
      fixture.register(cache);
      caches.add(cache);
    }
  }

  @AfterEach
  void close() {
    fixture.close();
  }

  @Test
  void aWriteOnOneNodeInvalidatesTheOthers(TestDatabase db) throws Exception {
    for (SaasCache<String, String> cache : caches) {
      assertThat(read(db, cache, "k1")).isEqualTo("v0");
    }
    write(db, buses.get(0), "k1", "v1");
    for (SaasCache<String, String> cache : caches) {
      Await.until("the new value on every node", () -> "v1".equals(readUnchecked(db, cache, "k1")));
    }
    // the other keys stayed cached: no flush, only the key
    assertThat(caches.get(2).stats().lostInvalidations()).isZero();
  }

  @Test
  void afterTheListenerIsKilledEveryInvalidationIsAppliedAndNoReadIsStale(TestDatabase db) throws Exception {
    PostgresInvalidationBus victim = buses.get(1);
    SaasCache<String, String> victimCache = caches.get(1);
    for (int k = 0; k < KEYS; k++) {
      read(db, victimCache, "k" + k);
    }
    for (int round = 1; round <= 3; round++) {
      for (int k = 0; k < KEYS; k++) {
        if (k == KEYS / 2) {
          // each kill hits a listener that is back up: the previous outage has ended in a replay
          long outagesSoFar = round - 1L;
          Await.until("the victim back after " + outagesSoFar + " outage(s)",
              () -> victim.stats().reconnects() >= outagesSoFar && victim.stats().listening());
          assertThat(fixture.killListener(victim)).isEqualTo(1); // mid-stream: writes go on while it is down
        }
        write(db, buses.get(0), "k" + k, "v" + round + "-" + k);
      }
    }
    Await.until("the victim back after 3 outages",
        () -> victim.stats().reconnects() >= 3 && victim.stats().listening());
    Await.until("every key fresh on the victim", () -> {
      for (int k = 0; k < KEYS; k++) {
        if (!("v3-" + k).equals(readUnchecked(db, victimCache, "k" + k))) {
          return false;
        }
      }
      return true;
    });
    for (int k = 0; k < KEYS; k++) {
      assertThat(read(db, victimCache, "k" + k)).isEqualTo("v3-" + k);
    }
  }

  private static String readUnchecked(TestDatabase db, SaasCache<String, String> cache, String key) {
    try {
      return read(db, cache, key);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  private static String read(TestDatabase db, SaasCache<String, String> cache, String key) throws Exception {
    return TenantContext.call(ACME, () -> cache.get(key, k -> load(db.ownerDataSource(), k)));
  }

  private static String load(DataSource ds, String key) {
    try (Connection c = ds.getConnection();
        PreparedStatement ps = c.prepareStatement("SELECT value FROM plans WHERE tenant_id = ? AND name = ?")) {
      ps.setString(1, ACME.value());
      ps.setString(2, key);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? rs.getString(1) : null;
      }
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The business write and its invalidation, in one transaction of the writing node's connection. */
  private static void write(TestDatabase db, PostgresInvalidationBus bus, String key, String value)
      throws SQLException {
    try (Connection c = db.ownerDataSource().getConnection()) {
      c.setAutoCommit(false);
      try (PreparedStatement ps = c.prepareStatement("UPDATE plans SET value = ? WHERE tenant_id = ? AND name = ?")) {
        ps.setString(1, value);
        ps.setString(2, ACME.value());
        ps.setString(3, key);
        ps.executeUpdate();
      }
      bus.publish(c, Invalidation.key(CACHE, ACME, key));
      c.commit();
    }
  }
}
