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
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Inputs a fleet meets in the wild: tables with columns PostgreSQL cannot sort, tables whose names are not file
 * names, onboarding whose grants fail, a credentials resolver that answers nothing.
 */
class FleetHostileInputTest {
  static TestFleet fleet;
  static final TenantId ACME = TenantId.of("acme");

  @BeforeAll
  static void setUp() throws Exception {
    fleet = TestFleet.create(1, 0);
    try (Connection c = fleet.shards.get(0).ownerDataSource().getConnection(); Statement st = c.createStatement()) {
      // json and point have no ordering operator; the second table's name is a path that leaves the folder
      for (String table : List.of("events", "../escaped")) {
        String q = "\"" + table + "\"";
        st.execute("CREATE TABLE " + q + " (tenant_id text NOT NULL DEFAULT current_setting('app.tenant_id', true),"
            + " id bigint, payload json, spot point, PRIMARY KEY (tenant_id, id))");
        st.execute("ALTER TABLE " + q + " ENABLE ROW LEVEL SECURITY");
        st.execute("ALTER TABLE " + q + " FORCE ROW LEVEL SECURITY");
        st.execute("CREATE POLICY t ON " + q + " USING (tenant_id = current_setting('app.tenant_id', true))"
            + " WITH CHECK (tenant_id = current_setting('app.tenant_id', true))");
        st.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON " + q + " TO " + fleet.shards.get(0).appRole());
      }
    }
    fleet.directory.register(ACME, Placement.shared("shard-0"));
    Shop.seed(fleet.shards.get(0), ACME, 2);
    try (FleetDataSource ds = FleetDataSource.builder(fleet.directory).build()) {
      TenantContext.run(ACME, () -> {
        try (Connection c = ds.getConnection(); Statement st = c.createStatement()) {
          st.executeUpdate("INSERT INTO events (id, payload, spot) VALUES (2, '{\"b\": [1, null]}', '(1,2)'),"
              + " (1, '\"\\u0000-free text\"', NULL)");
          st.executeUpdate("INSERT INTO \"../escaped\" (id, payload) VALUES (1, '{}')");
        }
      });
    }
  }

  @AfterAll
  static void tearDown() {
    fleet.close();
  }

  @Test
  void aTableWithColumnsThatCannotBeSortedIsExported(@TempDir Path exports) throws Exception {
    for (TenantData.Format format : TenantData.Format.values()) {
      Path dir = exports.resolve(format.name());
      TenantData.Report report = TenantData.builder(fleet.directory).build().export(ACME, dir, format);
      assertThat(report.complete()).isTrue();
      TenantData.TableCount events = report.tables().stream().filter(t -> t.table().equals("public.events"))
          .findFirst().orElseThrow();
      assertThat(events.processed()).isEqualTo(2);
      String file = format == TenantData.Format.CSV ? "events.csv" : "events.jsonl";
      List<String> lines = Files.readAllLines(dir.resolve(file));
      assertThat(lines).hasSize(format == TenantData.Format.CSV ? 3 : 2);
      // in primary key order
      assertThat(lines.get(format == TenantData.Format.CSV ? 1 : 0)).contains("free text");
    }
  }

  @Test
  void aTableNameThatIsAPathStaysInsideTheExportFolder(@TempDir Path exports) throws Exception {
    Path dir = exports.resolve("acme");
    TenantData.Report report = TenantData.builder(fleet.directory).build().export(ACME, dir,
        TenantData.Format.JSON_LINES);
    assertThat(report.complete()).isTrue();
    try (Stream<Path> outside = Files.list(exports)) {
      assertThat(outside).as("nothing written next to the export folder").containsExactly(dir);
    }
    try (Stream<Path> inside = Files.list(dir)) {
      List<String> names = inside.map(p -> p.getFileName().toString()).toList();
      assertThat(names).contains("customers.jsonl", "events.jsonl").hasSize(report.tables().size())
          .allSatisfy(n -> assertThat(n).doesNotContain("/").doesNotStartWith("."));
    }
  }

  @Test
  void anExportIntoAFolderThatHoldsFilesIsRefusedAndOverwritesNothing(@TempDir Path exports) throws Exception {
    // what another tenant's export left there: neither overwritten nor mixed into this tenant's export
    Path other = Files.writeString(exports.resolve("customers.jsonl"), "{\"tenant_id\":\"globex\"}\n");
    TenantData data = TenantData.builder(fleet.directory).build();
    assertThatThrownBy(() -> data.export(ACME, exports, TenantData.Format.JSON_LINES))
        .isInstanceOf(FleetException.class).hasMessageContaining("not empty");
    assertThat(Files.readString(other)).contains("globex");
    try (Stream<Path> files = Files.list(exports)) {
      assertThat(files).containsExactly(other);
    }
  }

  @Test
  void aTenantHoldingAReadWriteConnectionReadsItsOwnCommittedWritesFromThePrimary() throws Exception {
    // an ordinary database stands in for a replica of shard-0 that has not replayed the write yet
    try (dev.saaskit.testing.TestDatabase replica = dev.saaskit.testing.TestDatabase.create();
        FleetDataSource ds = FleetDataSource.builder(fleet.directory)
            .replicas(Placement.shared("shard-0"), List.of(replica.appDataSource())).build()) {
      TenantContext.run(ACME, () -> {
        try (Connection c = ds.getReadOnlyConnection(); Statement st = c.createStatement();
            java.sql.ResultSet rs = st.executeQuery("SELECT current_database()")) {
          rs.next();
          assertThat(rs.getString(1)).as("no write yet: the replica serves").isEqualTo(replica.name());
        }
        try (Connection w = ds.getConnection(); Statement st = w.createStatement()) {
          st.executeUpdate("INSERT INTO customers (name) VALUES ('committed, connection still held')");
          try (Connection r = ds.getReadOnlyConnection(); Statement rst = r.createStatement();
              java.sql.ResultSet rs = rst.executeQuery("SELECT current_database()")) {
            rs.next();
            assertThat(rs.getString(1)).as("read-your-writes while the writer is held")
                .isEqualTo(fleet.shards.get(0).name());
          }
        }
      });
    }
  }

  @Test
  void offboardingATenantWhoseUrlIsAnAliasOfAShardErasesItAndNeverDropsTheShard(@TempDir Path exports) {
    // the shard's own database, spelled with another host name: string comparison takes it for another database
    String url = fleet.shards.get(0).jdbcUrl();
    String alias = url.contains("//localhost") ? url.replace("//localhost", "//127.0.0.1")
        : url.replaceFirst("//[^:/]+", "//localhost");
    assertThat(alias).isNotEqualTo(url);
    TenantId leaving = TenantId.of("alias-tenant");
    fleet.directory.register(leaving, Placement.dedicated(alias, "SHARD_0"));
    Shop.seed(fleet.shards.get(0), leaving, 3);
    TenantLifecycle lifecycle = TenantLifecycle.builder(fleet.directory, fleet.control.adminDataSource(),
        FleetMigrations.builder(fleet.directory).locations("classpath:db/app").build())
        .jdbcUrlTemplate(fleet.control.server().jdbcUrl("x_name").replace("x_name", "{database}")).build();

    TenantLifecycle.OffboardReport report = lifecycle.offboard(leaving, exports, TenantData.Format.JSON_LINES);

    assertThat(report.droppedDatabase()).as("the shard's database is not the leaving tenant's").isEmpty();
    assertThat(report.erasure()).isPresent();
    String shardDb = url.replaceAll("^.*/([^/?]+)(\\?.*)?$", "$1");
    assertThat(TestFleet.count(fleet.control.adminDataSource(),
        "SELECT count(*) FROM pg_database WHERE datname = '" + shardDb + "'")).isEqualTo(1);
    assertThat(Shop.rows(fleet.shards.get(0), leaving)).isZero();
    assertThat(TestFleet.rows(fleet.shards.get(0), "customers", ACME)).as("the shard's tenants keep their rows")
        .isPositive();
  }

  @Test
  void durationsTooLongToComputeADeadlineWithAreRefusedByTheBuilder() throws Exception {
    java.time.Duration absurd = java.time.Duration.ofDays(200_000 * 365L);
    FleetDataSource.Builder b = FleetDataSource.builder(fleet.directory);
    assertThatThrownBy(() -> b.acquireTimeout(absurd)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("acquireTimeout must be at most");
    assertThatThrownBy(() -> b.directoryCacheTtl(absurd)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("directoryCacheTtl");
    TenantMove.Builder move = TenantMove.builder(fleet.directory);
    assertThatThrownBy(() -> move.drainTimeout(absurd)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("drainTimeout");
    assertThatThrownBy(() -> move.drainTimeout(java.time.Duration.ofSeconds(-1)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("drainTimeout");
    // the longest accepted one still hands out connections
    try (FleetDataSource ds = b.acquireTimeout(java.time.Duration.ofNanos(Long.MAX_VALUE)).build()) {
      assertThat(TenantContext.call(ACME, () -> {
        try (Connection c = ds.getConnection()) {
          return c.isValid(5);
        }
      })).isTrue();
    }
  }

  @Test
  void anOnboardingWhoseAppRoleIsTheOwnerIsRefusedBeforeCreatingAnything() {
    fleet.secrets.put("SAMEROLE_USER", fleet.shards.get(0).ownerRole());
    fleet.secrets.put("SAMEROLE_PASSWORD", fleet.shards.get(0).ownerPassword());
    fleet.secrets.put("SAMEROLE_ADMIN_USER", fleet.shards.get(0).ownerRole());
    fleet.secrets.put("SAMEROLE_ADMIN_PASSWORD", fleet.shards.get(0).ownerPassword());
    TenantLifecycle lifecycle = TenantLifecycle.builder(fleet.directory, fleet.control.adminDataSource(),
        FleetMigrations.builder(fleet.directory).locations("classpath:db/app").build())
        .jdbcUrlTemplate(fleet.control.server().jdbcUrl("x_name").replace("x_name", "{database}")).build();
    String dbName = "fleet_samerole_" + Long.toHexString(System.nanoTime());
    assertThatThrownBy(() -> lifecycle.onboardDedicated(TenantId.of("samerole"), dbName, "SAMEROLE"))
        .isInstanceOf(FleetException.class).hasMessageContaining("both as the owner");
    assertThat(fleet.directory.lookup(TenantId.of("samerole"))).isEmpty();
    assertThat(TestFleet.count(fleet.control.adminDataSource(),
        "SELECT count(*) FROM pg_database WHERE datname = '" + dbName + "'")).isZero();
  }

  @Test
  void anErasureOfATenantBeingMovedIsRefusedSoTheTargetCannotBringItsRowsBack() throws Exception {
    TenantId t = TenantId.of("erase-while-moving");
    fleet.directory.register(t, Placement.shared("shard-0"));
    Shop.seed(fleet.shards.get(0), t, 2);
    TenantData data = TenantData.builder(fleet.directory).build();
    // a move that stopped after its copy: erasing the source now would leave the copy to be flipped to
    TenantEntry entry = fleet.directory.require(t);
    assertThat(fleet.directory.compareAndSet(entry, entry.placement(), TenantState.MOVING)).isTrue();
    assertThatThrownBy(() -> data.erase(t)).isInstanceOf(FleetException.class).hasMessageContaining("moved");
    assertThat(Shop.rows(fleet.shards.get(0), t)).isEqualTo(10);
    entry = fleet.directory.require(t);
    assertThat(fleet.directory.compareAndSet(entry, entry.placement(), TenantState.ACTIVE)).isTrue();

    // a move being carried on right now holds the tenant's move lock in the control database
    try (Connection lock = fleet.control.ownerDataSource().getConnection();
        java.sql.PreparedStatement ps = lock.prepareStatement("SELECT pg_advisory_lock(?, hashtext(?))")) {
      ps.setInt(1, TenantMove.LOCK_CLASS);
      ps.setString(2, t.value());
      ps.execute();
      assertThatThrownBy(() -> data.erase(t)).isInstanceOf(FleetException.class).hasMessageContaining("move");
      assertThat(Shop.rows(fleet.shards.get(0), t)).isEqualTo(10);
    }
    assertThat(data.erase(t).complete()).as("once no move runs").isTrue();
    assertThat(Shop.rows(fleet.shards.get(0), t)).isZero();
  }

  @Test
  void anEmptyUserVariableIsAFleetErrorNamingTheVariables() {
    CredentialResolver resolver = CredentialResolver.fromLookup(
        name -> name.equals("EMPTY_USER") ? "" : name.equals("EMPTY_PASSWORD") ? "pw" : null);
    assertThatThrownBy(() -> resolver.resolve("EMPTY", CredentialResolver.Access.APP))
        .isInstanceOf(FleetException.class).hasMessageContaining("EMPTY_USER").hasMessageNotContaining("pw");
  }

  @Test
  void anOnboardingWhoseGrantFailsDropsTheDatabaseAgain() {
    // the reference's app role does not exist: the database is created, then GRANT CONNECT fails
    fleet.secrets.put("NOAPP_USER", "no_such_role_" + Long.toHexString(System.nanoTime()));
    fleet.secrets.put("NOAPP_PASSWORD", "x");
    fleet.secrets.put("NOAPP_ADMIN_USER", fleet.shards.get(0).ownerRole());
    fleet.secrets.put("NOAPP_ADMIN_PASSWORD", fleet.shards.get(0).ownerPassword());
    TenantLifecycle lifecycle = TenantLifecycle.builder(fleet.directory, fleet.control.adminDataSource(),
        FleetMigrations.builder(fleet.directory).locations("classpath:db/app").build())
        .jdbcUrlTemplate(fleet.control.server().jdbcUrl("x_name").replace("x_name", "{database}")).build();
    String dbName = "fleet_nogrant_" + Long.toHexString(System.nanoTime());
    assertThatThrownBy(() -> lifecycle.onboardDedicated(TenantId.of("nogrant"), dbName, "NOAPP"))
        .isInstanceOf(FleetException.class);
    assertThat(TestFleet.count(fleet.control.adminDataSource(),
        "SELECT count(*) FROM pg_database WHERE datname = '" + dbName + "'")).as("database dropped again").isZero();
    assertThat(fleet.directory.lookup(TenantId.of("nogrant"))).isEmpty();
    // a name that exists already is not dropped by the failed attempt
    String existing = fleet.shards.get(0).jdbcUrl().replaceAll("^.*/([^/?]+)(\\?.*)?$", "$1");
    assertThatThrownBy(() -> lifecycle.onboardDedicated(TenantId.of("nogrant"), existing, "NOAPP"))
        .isInstanceOf(FleetException.class);
    assertThat(TestFleet.count(fleet.control.adminDataSource(),
        "SELECT count(*) FROM pg_database WHERE datname = '" + existing + "'")).isEqualTo(1);
  }

  @Test
  void aResolverThatAnswersNullIsAFleetErrorNamingTheReference() {
    TenantDirectory blind = TenantDirectory.builder(fleet.control.ownerDataSource())
        .credentialResolver((ref, access) -> null).build();
    assertThatThrownBy(() -> blind.credentials(Placement.shared("shard-0"), CredentialResolver.Access.APP))
        .isInstanceOf(FleetException.class).hasMessageContaining("SHARD_0");
    try (FleetDataSource ds = FleetDataSource.builder(blind).acquireTimeout(java.time.Duration.ofSeconds(2))
        .budget(1).perTenantCap(1).build()) {
      for (int i = 0; i < 3; i++) { // permits are given back: the third attempt fails the same way
        assertThatThrownBy(() -> TenantContext.call(ACME, ds::getConnection))
            .isInstanceOf(FleetException.class).hasMessageContaining("SHARD_0");
      }
    }
  }
}
