package dev.saaskit.fleet;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.core.TenantId;
import java.sql.Connection;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The application's migrations across a real fleet of 2 shards and 3 dedicated databases. */
class FleetMigrationsTest {
  static TestFleet fleet;

  @BeforeAll
  static void setUp() {
    fleet = TestFleet.createUnmigrated(2, 3);
    for (int i = 0; i < 3; i++) {
      fleet.directory.register(TenantId.of("dedicated-" + i), fleet.dedicatedPlacement(i));
    }
  }

  @AfterAll
  static void tearDown() {
    fleet.close();
  }

  @Test
  void oneDatabaseFailsTheOthersFinishAndARerunCompletesTheFailedOne() throws Exception {
    FleetMigrations.Report v1 = FleetMigrations.builder(fleet.directory).locations("classpath:db/app").build()
        .migrate();
    assertThat(v1.succeeded()).isTrue();
    assertThat(v1.byVersion()).containsOnlyKeys("1");
    // a table of the same name planted in one dedicated database makes V2 fail there
    try (Connection c = fleet.dedicated.get(1).ownerDataSource().getConnection(); Statement st = c.createStatement()) {
      st.execute("CREATE TABLE audit_log (x int)");
    }
    FleetMigrations migrations = FleetMigrations.builder(fleet.directory)
        .locations("classpath:db/app", "classpath:db/app-v2").parallelism(2).build();
    assertThat(migrations.versions().byVersion()).containsOnlyKeys("1");

    FleetMigrations.Report first = migrations.migrate();
    assertThat(first.results()).hasSize(5);
    assertThat(first.succeeded()).isFalse();
    assertThat(first.failed()).singleElement().satisfies(r -> {
      assertThat(r.placement()).isEqualTo(fleet.dedicatedPlacement(1));
      assertThat(r.error()).contains("audit_log");
      assertThat(r.versionAfter()).isEqualTo("1");
    });
    assertThat(first.results().stream().filter(r -> r.status() == FleetMigrations.Status.MIGRATED))
        .hasSize(4).allSatisfy(r -> {
          assertThat(r.versionBefore()).isEqualTo("1");
          assertThat(r.versionAfter()).isEqualTo("2");
          assertThat(r.applied()).isEqualTo(1);
        });
    Map<String, List<Placement>> byVersion = first.byVersion();
    assertThat(byVersion.get("2")).hasSize(4);
    assertThat(byVersion.get("1")).containsExactly(fleet.dedicatedPlacement(1));

    try (Connection c = fleet.dedicated.get(1).ownerDataSource().getConnection(); Statement st = c.createStatement()) {
      st.execute("DROP TABLE audit_log");
    }
    FleetMigrations.Report rerun = migrations.migrate();
    assertThat(rerun.succeeded()).isTrue();
    assertThat(rerun.results()).filteredOn(r -> r.status() == FleetMigrations.Status.MIGRATED).singleElement()
        .satisfies(r -> {
          assertThat(r.placement()).isEqualTo(fleet.dedicatedPlacement(1));
          assertThat(r.applied()).isEqualTo(1);
        });
    assertThat(rerun.results()).filteredOn(r -> r.status() == FleetMigrations.Status.UP_TO_DATE).hasSize(4);
    assertThat(migrations.versions().byVersion()).containsOnlyKeys("2");
    // the app role can use what the migrations created (default privileges), through RLS
    assertThat(TestFleet.count(fleet.dedicated.get(1).appDataSource(), "SELECT count(*) FROM audit_log")).isZero();
  }
}
