package dev.saaskit.fleet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Onboarding, offboarding, export and erasure on real databases. */
class TenantLifecycleTest {
  static TestFleet fleet;
  static FleetMigrations migrations;
  static TenantLifecycle lifecycle;

  @BeforeAll
  static void setUp() {
    fleet = TestFleet.create(1, 1);
    migrations = FleetMigrations.builder(fleet.directory).locations("classpath:db/app").build();
    String template = fleet.control.server().jdbcUrl("fleet_template_name").replace("fleet_template_name",
        "{database}");
    lifecycle = TenantLifecycle.builder(fleet.directory, fleet.control.adminDataSource(), migrations)
        .jdbcUrlTemplate(template).build();
  }

  @AfterAll
  static void tearDown() {
    fleet.close();
  }

  private static boolean databaseExists(String name) {
    return TestFleet.count(fleet.control.adminDataSource(), "SELECT count(*) FROM pg_database WHERE datname = '"
        + name + "'") == 1;
  }

  @Test
  void aDedicatedTenantIsOnboardedServedExportedAndOffboarded(@TempDir Path exports) throws Exception {
    TenantId t = TenantId.of("onboarded");
    String dbName = "fleet_onb_" + Long.toHexString(System.nanoTime());
    TenantEntry entry = lifecycle.onboardDedicated(t, dbName, "DEDICATED_0");
    assertThat(entry.state()).isEqualTo(TenantState.ACTIVE);
    assertThat(entry.placement()).isInstanceOf(Placement.Dedicated.class);
    assertThat(databaseExists(dbName)).isTrue();

    try (FleetDataSource ds = FleetDataSource.builder(fleet.directory).build()) {
      TenantContext.run(t, () -> {
        try (Connection c = ds.getConnection(); Statement st = c.createStatement()) {
          st.executeUpdate("INSERT INTO customers (name) VALUES ('one'), ('two'), ('with \"quotes\", commas')");
          st.executeUpdate("INSERT INTO notes (customer_id, body) SELECT id, 'note of ' || name FROM customers");
        }
      });
    }

    TenantLifecycle.OffboardReport report = lifecycle.offboard(t, exports, TenantData.Format.JSON_LINES);
    assertThat(report.export().complete()).isTrue();
    assertThat(report.export().rows()).isEqualTo(6);
    assertThat(report.droppedDatabase()).contains(dbName);
    assertThat(report.erasure()).isEmpty();
    List<String> customers = Files.readAllLines(exports.resolve("customers.jsonl"));
    assertThat(customers).hasSize(3).allSatisfy(l -> assertThat(l).startsWith("{\"tenant_id\":\"onboarded\""));
    assertThat(customers.get(2)).contains("with \\\"quotes\\\", commas");
    assertThat(Files.readAllLines(exports.resolve("notes.jsonl"))).hasSize(3);
    assertThat(Files.readAllLines(exports.resolve("orders.jsonl"))).isEmpty();
    assertThat(databaseExists(dbName)).isFalse();
    assertThat(fleet.directory.require(t).state()).isEqualTo(TenantState.DELETED);
  }

  @Test
  void aFailedOnboardingLeavesNoDatabaseAndNoEntry() {
    TenantLifecycle broken = TenantLifecycle.builder(fleet.directory, fleet.control.adminDataSource(),
        FleetMigrations.builder(fleet.directory).locations("classpath:db/broken").build())
        .jdbcUrlTemplate(fleet.control.server().jdbcUrl("x_name").replace("x_name", "{database}")).build();
    String dbName = "fleet_broken_" + Long.toHexString(System.nanoTime());
    assertThatThrownBy(() -> broken.onboardDedicated(TenantId.of("broken"), dbName, "DEDICATED_0"))
        .isInstanceOf(FleetException.class).hasMessageContaining("was dropped again");
    assertThat(databaseExists(dbName)).isFalse();
    assertThat(fleet.directory.lookup(TenantId.of("broken"))).isEmpty();
    assertThatThrownBy(() -> lifecycle.onboardDedicated(TenantId.of("bad"), "Bad-Name", "DEDICATED_0"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("databaseName must be");
  }

  @Test
  void aSharedTenantIsExportedAsCsvAndErasedAcrossTablesWhileItsNeighbourKeepsItsRows(@TempDir Path exports) {
    TenantId gone = TenantId.of("gdpr");
    TenantId stays = TenantId.of("neighbour");
    fleet.directory.register(gone, Placement.shared("shard-0"));
    fleet.directory.register(stays, Placement.shared("shard-0"));
    Shop.seed(fleet.shards.get(0), gone, 50);
    Shop.seed(fleet.shards.get(0), stays, 10);
    TenantData data = TenantData.builder(fleet.directory).build();

    TenantData.Report export = data.export(gone, exports, TenantData.Format.CSV);
    assertThat(export.complete()).isTrue();
    assertThat(export.rows()).isEqualTo(250);
    // parents before children
    List<String> order = export.tables().stream().map(TenantData.TableCount::table).toList();
    assertThat(order).containsExactlyInAnyOrder("public.customers", "public.notes", "public.orders",
        "public.order_items", "public.payments");
    assertThat(order.indexOf("public.customers")).isLessThan(order.indexOf("public.orders"))
        .isLessThan(order.indexOf("public.notes"));
    assertThat(order.indexOf("public.orders")).isLessThan(order.indexOf("public.order_items"))
        .isLessThan(order.indexOf("public.payments"));
    try {
      List<String> csv = Files.readAllLines(exports.resolve("orders.csv"));
      assertThat(csv.get(0)).isEqualTo("tenant_id,id,customer_id,total");
      assertThat(csv).hasSize(51);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }

    TenantLifecycle.OffboardReport offboard = lifecycle.offboard(gone, exports.resolve("again"),
        TenantData.Format.CSV);
    TenantData.Report erasure = offboard.erasure().orElseThrow();
    assertThat(erasure.complete()).isTrue();
    assertThat(erasure.rows()).isEqualTo(250);
    assertThat(erasure.tables()).allSatisfy(t -> {
      assertThat(t.before()).isEqualTo(50);
      assertThat(t.after()).isZero();
    });
    assertThat(Shop.rows(fleet.shards.get(0), gone)).isZero();
    assertThat(Shop.rows(fleet.shards.get(0), stays)).isEqualTo(50);
    assertThat(fleet.directory.require(gone).state()).isEqualTo(TenantState.DELETED);
    assertThatThrownBy(() -> lifecycle.offboard(gone, exports, TenantData.Format.CSV))
        .hasMessageContaining("is deleted");
  }

  @Test
  void anOffboardingWhoseExportFailsGivesTheTenantBackItsStateAndDeletesNothing(@TempDir Path exports)
      throws Exception {
    TenantId t = TenantId.of("stays-put");
    fleet.directory.register(t, Placement.shared("shard-0"));
    Shop.seed(fleet.shards.get(0), t, 5);
    Path notADirectory = Files.writeString(exports.resolve("a-file"), "x");
    long version = fleet.directory.require(t).version();

    assertThatThrownBy(() -> lifecycle.offboard(t, notADirectory, TenantData.Format.CSV))
        .isInstanceOf(FleetException.class);

    // suspended for the export, then active again: the export failed, nothing was deleted
    TenantEntry after = fleet.directory.require(t);
    assertThat(after.state()).isEqualTo(TenantState.ACTIVE);
    assertThat(after.version()).as("suspended, then given its state back").isEqualTo(version + 2);
    assertThat(Shop.rows(fleet.shards.get(0), t)).isEqualTo(25);
  }
}
