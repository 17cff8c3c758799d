package dev.saaskit.fleet;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The code of docs/fleet.md and of the README's fleet section, run against a real fleet. */
class FleetDocsTest {
  static TestFleet fleet;
  static dev.saaskit.testing.TestDatabase control;

  @BeforeAll
  static void setUp() {
    fleet = TestFleet.createUnmigrated(2, 1);
    control = dev.saaskit.testing.TestDatabase.create(); // a control database of its own, as in the guide
  }

  @AfterAll
  static void tearDown() {
    control.close();
    fleet.close();
  }

  @Test
  void theWholeTour(@TempDir Path exports) throws Exception {
    DataSource controlOwner = control.ownerDataSource();
    String appRole = control.appRole();
    Map<String, String> env = fleet.secrets;
    String shard0Url = fleet.shards.get(0).jdbcUrl();
    String shard1Url = fleet.shards.get(1).jdbcUrl();
    String bankUrl = fleet.dedicated.get(0).jdbcUrl();

    // snippet: directory
    FleetSchema schema = FleetSchema.defaults();             // saaskit_fleet: shards, tenants, moves
    schema.migrate(controlOwner);
    try (Connection c = controlOwner.getConnection()) {
      schema.grantApp(c, appRole);                           // read the directory, register tenants
    }
    TenantDirectory directory = TenantDirectory.builder(controlOwner)
        .credentialResolver(CredentialResolver.fromLookup(env::get))   // default: System.getenv
        .build();
    directory.addShard(Shard.of("eu-1", shard0Url, "SHARD_0"));       // SHARD_0_USER, SHARD_0_PASSWORD, ...
    directory.addShard(Shard.of("eu-2", shard1Url, "SHARD_1"));
    directory.place(TenantId.of("acme"));                              // the shard with the fewest tenants
    directory.register(TenantId.of("bigbank"), Placement.dedicated(bankUrl, "DEDICATED_0"));
    // end snippet

    // snippet: migrate
    FleetMigrations migrations = FleetMigrations.builder(directory)
        .locations("classpath:db/app")                   // your Flyway migrations
        .parallelism(4)
        .build();
    FleetMigrations.Report report = migrations.migrate(); // every shard and dedicated database
    report.failed().forEach(r -> System.err.println(r.placement().describe() + ": " + r.error()));
    Map<String, List<Placement>> versions = migrations.versions().byVersion();   // "1" -> [eu-1, eu-2, bigbank]
    // end snippet
    assertThat(report.succeeded()).isTrue();
    assertThat(versions.get("1")).hasSize(3);

    // snippet: datasource
    FleetDataSource db = FleetDataSource.builder(directory)
        .budget(200)                             // open connections of all pools together
        .perTenantCap(10)                        // one tenant's share
        .acquireTimeout(Duration.ofSeconds(5))
        .build();
    TenantContext.run(TenantId.of("acme"), () -> {
      try (Connection c = db.getConnection(); Statement st = c.createStatement()) {   // shard eu-1 or eu-2, RLS on
        st.executeUpdate("INSERT INTO customers (name) VALUES ('Wile E.')");
      }
    });
    TenantContext.run(TenantId.of("bigbank"), () -> {
      try (Connection c = db.getConnection(); Statement st = c.createStatement()) {   // its own database
        st.executeUpdate("INSERT INTO customers (name) VALUES ('Treasury')");
      }
    });
    // end snippet

    // snippet: across
    Map<Placement, Object> sizes = db.forEachPlacement((placement, connection) -> {
      try (Statement st = connection.createStatement();   // the admin (owner) role, no tenant set
          var rs = st.executeQuery("SELECT pg_database_size(current_database())")) {
        rs.next();
        return rs.getLong(1);
      }
    });
    // end snippet
    assertThat(sizes).hasSize(3).allSatisfy((p, size) -> assertThat((Long) size).isPositive());

    // snippet: move
    TenantMove move = TenantMove.builder(directory).fleet(db).build();
    MoveReport moved = move.move(TenantId.of("acme"), Placement.dedicated(fleet.dedicated.get(0).jdbcUrl(),
        "DEDICATED_0"));
    System.out.printf("%d rows, %.0f rows/s, writes blocked %d ms%n", moved.rowsCopied(), moved.rowsPerSecond(),
        moved.writeBlocked().toMillis());
    // after a crash: move.resume(tenant) carries on from the journal, move.rollback(tenant) undoes it
    // end snippet
    assertThat(moved.tables()).allMatch(MoveReport.TableCheck::matches);

    // snippet: gdpr
    TenantData data = TenantData.builder(directory).build();
    TenantData.Report export = data.export(TenantId.of("acme"), exports, TenantData.Format.JSON_LINES);
    TenantData.Report erasure = data.erase(TenantId.of("acme"));
    assert export.complete() && erasure.complete();      // counts before and after, per table
    // end snippet
    assertThat(export.rows()).isEqualTo(1);
    assertThat(erasure.complete()).isTrue();

    // snippet: states
    directory.setState(TenantId.of("bigbank"), TenantState.READ_ONLY);   // reads work, writes: TenantReadOnlyException
    directory.setState(TenantId.of("bigbank"), TenantState.SUSPENDED);   // TenantUnavailableException
    directory.setState(TenantId.of("bigbank"), TenantState.ACTIVE);
    db.invalidate(TenantId.of("bigbank"));   // for changes made by another node or the CLI
    // end snippet
    db.close();
  }
}
