package dev.saaskit.fleet;

import dev.saaskit.core.TenantId;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;

/**
 * A real fleet for tests: a control database, shared shards and dedicated databases, each a fresh database on the
 * test server with the shop schema (db/app) applied, and credentials from an in-memory lookup.
 */
final class TestFleet implements AutoCloseable {
  final TestDatabase control;
  final List<TestDatabase> shards = new ArrayList<>();
  final List<TestDatabase> dedicated = new ArrayList<>();
  final Map<String, String> secrets = new HashMap<>();
  final TenantDirectory directory;

  private TestFleet(int shardCount, int dedicatedCount, boolean migrate) {
    control = TestDatabase.create();
    FleetSchema.defaults().migrate(control.ownerDataSource());
    for (int i = 0; i < shardCount; i++) {
      shards.add(database("SHARD_" + i, migrate));
    }
    for (int i = 0; i < dedicatedCount; i++) {
      dedicated.add(database("DEDICATED_" + i, migrate));
    }
    directory = TenantDirectory.builder(control.ownerDataSource())
        .credentialResolver(CredentialResolver.fromLookup(secrets::get))
        .build();
    for (int i = 0; i < shardCount; i++) {
      directory.addShard(Shard.of("shard-" + i, shards.get(i).jdbcUrl(), "SHARD_" + i));
    }
  }

  static TestFleet create(int shardCount, int dedicatedCount) {
    return new TestFleet(shardCount, dedicatedCount, true);
  }

  static TestFleet createUnmigrated(int shardCount, int dedicatedCount) {
    return new TestFleet(shardCount, dedicatedCount, false);
  }

  private TestDatabase database(String ref, boolean migrate) {
    TestDatabase db = TestDatabase.create();
    secrets.put(ref + "_USER", db.appRole());
    secrets.put(ref + "_PASSWORD", db.appPassword());
    secrets.put(ref + "_ADMIN_USER", db.ownerRole());
    secrets.put(ref + "_ADMIN_PASSWORD", db.ownerPassword());
    if (migrate) {
      Flyway.configure().dataSource(db.jdbcUrl(), db.ownerRole(), db.ownerPassword())
          .locations("classpath:db/app").load().migrate();
    }
    return db;
  }

  Placement.Dedicated dedicatedPlacement(int i) {
    return Placement.dedicated(dedicated.get(i).jdbcUrl(), "DEDICATED_" + i);
  }

  /** Every database of the fleet, shards first. */
  List<TestDatabase> databases() {
    List<TestDatabase> all = new ArrayList<>(shards);
    all.addAll(dedicated);
    return all;
  }

  TestDatabase database(Placement placement) {
    if (placement instanceof Placement.Shared s) {
      return shards.get(Integer.parseInt(s.shard().substring("shard-".length())));
    }
    String url = ((Placement.Dedicated) placement).jdbcUrl();
    return dedicated.stream().filter(d -> d.jdbcUrl().equals(url)).findFirst().orElseThrow();
  }

  /** Rows of {@code tenant} in {@code table} of {@code db}, counted past RLS by the superuser. */
  static long rows(TestDatabase db, String table, TenantId tenant) {
    return count(db.adminDataSource(), "SELECT count(*) FROM " + table + " WHERE tenant_id = '"
        + tenant.value().replace("'", "''") + "'");
  }

  static long count(DataSource ds, String sql) {
    try (Connection c = ds.getConnection(); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
      rs.next();
      return rs.getLong(1);
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Connections the app roles of the fleet's databases hold on the server now. */
  long appConnections() {
    StringBuilder roles = new StringBuilder();
    for (TestDatabase db : databases()) {
      roles.append(roles.length() == 0 ? "" : ",").append('\'').append(db.appRole().toLowerCase(Locale.ROOT))
          .append('\'');
    }
    return count(control.adminDataSource(), "SELECT count(*) FROM pg_stat_activity WHERE usename IN (" + roles
        + ")");
  }

  @Override
  public void close() {
    for (TestDatabase db : databases()) {
      db.close();
    }
    control.close();
  }
}
