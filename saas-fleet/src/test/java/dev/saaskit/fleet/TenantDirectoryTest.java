package dev.saaskit.fleet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.core.TenantId;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The directory table and its API, against a real control database. */
@ExtendWith(PostgresExtension.class)
class TenantDirectoryTest {
  static TestDatabase db;
  static TenantDirectory directory;

  @BeforeAll
  static void setUp(TestDatabase database) throws Exception {
    db = database;
    FleetSchema schema = FleetSchema.defaults();
    schema.migrate(db.ownerDataSource());
    try (Connection c = db.ownerDataSource().getConnection()) {
      schema.grantApp(c, db.appRole());
    }
    directory = TenantDirectory.builder(db.ownerDataSource())
        .credentialResolver(CredentialResolver.fromLookup(Map.of("EU_USER", "app", "EU_PASSWORD", "s3cret")::get))
        .build();
    directory.addShard(Shard.of("eu-1", "jdbc:postgresql://db1/app", "EU"));
    directory.addShard(Shard.of("eu-2", "jdbc:postgresql://db2/app", "EU"));
    directory.addShard(new Shard("eu-old", "jdbc:postgresql://db0/app", "EU", false));
  }

  @Test
  void theControlSchemaIsMadeByABuilderLikeEveryModulesSchema() throws Exception {
    assertThat(FleetSchema.builder().build().name()).isEqualTo(FleetSchema.DEFAULT_SCHEMA);
    FleetSchema custom = FleetSchema.builder().name("fleet_ctl").build();
    assertThat(custom.name()).isEqualTo("fleet_ctl");
    assertThat(custom.toBuilder().build().name()).isEqualTo("fleet_ctl");
    assertThat(FleetSchema.defaults().toBuilder().name("other").build().name()).isEqualTo("other");
    assertThat(FleetSchema.named("fleet_ctl").name()).isEqualTo(custom.name());
    assertThatThrownBy(() -> FleetSchema.builder().name("")).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("schema must not be empty");

    dev.saaskit.core.MigrationResult result = custom.migrate(db.ownerDataSource());
    assertThat(result.schema()).isEqualTo("fleet_ctl");
    assertThat(custom.migrate(db.ownerDataSource()).applied()).as("a second run applies nothing").isEmpty();
    try (Connection c = db.ownerDataSource().getConnection()) {
      custom.grantApp(c, db.appRole());
    }
    TenantDirectory inCustom = TenantDirectory.builder(db.ownerDataSource()).schema(custom)
        .credentialResolver(CredentialResolver.fromLookup(Map.of("EU_USER", "app", "EU_PASSWORD", "s3cret")::get))
        .build();
    inCustom.addShard(Shard.of("ctl-1", "jdbc:postgresql://db1/app", "EU"));
    inCustom.place(TenantId.of("in-custom-schema"));
    try (Connection c = db.ownerDataSource().getConnection(); Statement st = c.createStatement();
        ResultSet rs = st.executeQuery("SELECT shard FROM fleet_ctl.tenants WHERE tenant_id = 'in-custom-schema'")) {
      assertThat(rs.next()).isTrue();
      assertThat(rs.getString(1)).isEqualTo("ctl-1");
    }
    assertThat(directory.lookup(TenantId.of("in-custom-schema"))).as("not in the default schema").isEmpty();
  }

  @Test
  void newTenantsGoToTheSharedShardWithTheFewestTenants() {
    for (int i = 0; i < 6; i++) {
      long before1 = onShard("eu-1");
      long before2 = onShard("eu-2");
      String chosen = ((Placement.Shared) directory.place(TenantId.of("p" + i)).placement()).shard();
      // never the shard that does not accept new tenants; always one with the fewest
      assertThat(chosen).isEqualTo(before1 <= before2 ? "eu-1" : "eu-2");
    }
    assertThat(directory.require(TenantId.of("p0")).state()).isEqualTo(TenantState.ACTIVE);
  }

  private static long onShard(String shard) {
    return directory.list().stream().filter(e -> e.placement().equals(Placement.shared(shard))).count();
  }

  @Test
  void aPluggablePolicyPlacesEnterpriseTenantsInTheirOwnDatabase() {
    TenantDirectory custom = TenantDirectory.builder(db.ownerDataSource())
        .placementPolicy((tenant, counts) -> tenant.value().startsWith("ent-")
            ? Placement.dedicated("jdbc:postgresql://dbx/" + tenant.value().replace('-', '_'), "ENT")
            : PlacementPolicy.fewestTenants().place(tenant, counts))
        .build();
    assertThat(custom.place(TenantId.of("ent-bank")).placement())
        .isEqualTo(Placement.dedicated("jdbc:postgresql://dbx/ent_bank", "ENT"));
  }

  @Test
  void credentialsAreNeverStoredOnlyReferencesAndTheResolverNamesWhatIsMissing() throws Exception {
    assertThatThrownBy(() -> Placement.dedicated("jdbc:postgresql://db/x?user=a&password=b", "X"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("must not carry credentials")
        .hasMessageNotContaining("password=b");
    assertThatThrownBy(() -> Placement.dedicated("jdbc:mysql://db/x", "X"))
        .hasMessageContaining("jdbc:postgresql:");
    assertThat(directory.credentials(Placement.shared("eu-1"), CredentialResolver.Access.APP))
        .isEqualTo(new Credentials("app", "s3cret"))
        .hasToString("Credentials[user=app, password=***]");
    assertThatThrownBy(() -> directory.credentials(Placement.shared("eu-1"), CredentialResolver.Access.ADMIN))
        .isInstanceOf(FleetException.class).hasMessageContaining("set EU_ADMIN_USER and EU_ADMIN_PASSWORD");
    try (Connection c = db.adminDataSource().getConnection(); Statement st = c.createStatement();
        ResultSet rs = st.executeQuery("SELECT string_agg(column_name, ',') FROM information_schema.columns "
            + "WHERE table_schema = 'saaskit_fleet' AND table_name IN ('tenants', 'shards')")) {
      rs.next();
      assertThat(rs.getString(1)).doesNotContain("password").contains("credentials_ref");
    }
  }

  @Test
  void badInputIsRefusedWithPreciseMessagesAndNoHalfWrittenRow() {
    assertThatThrownBy(() -> directory.register(TenantId.of("x1"), Placement.shared("nowhere")))
        .isInstanceOf(FleetException.class).hasMessageContaining("shard 'nowhere' does not exist");
    assertThat(directory.lookup(TenantId.of("x1"))).isEmpty();
    directory.register(TenantId.of("x2"), Placement.shared("eu-1"));
    assertThatThrownBy(() -> directory.register(TenantId.of("x2"), Placement.shared("eu-2")))
        .hasMessageContaining("registered already");
    assertThat(directory.require(TenantId.of("x2")).placement()).isEqualTo(Placement.shared("eu-1"));
    assertThatThrownBy(() -> Placement.shared("EU 1")).hasMessageContaining("shard name must be");
    assertThatThrownBy(() -> directory.setState(TenantId.of("x2"), TenantState.MOVING))
        .hasMessageContaining("only a TenantMove");
    assertThatThrownBy(() -> TenantState.fromSqlName("gone")).hasMessageContaining("one of active");
  }

  @Test
  void compareAndSetIsAnOptimisticLockAndListenersHearEveryChange() throws Exception {
    List<TenantId> heard = new ArrayList<>();
    TenantId t = TenantId.of("cas");
    try (AutoCloseable registration = directory.addListener(heard::add)) {
      TenantEntry first = directory.register(t, Placement.shared("eu-1"));
      assertThat(directory.compareAndSet(first, Placement.shared("eu-2"), TenantState.READ_ONLY)).isTrue();
      assertThat(directory.compareAndSet(first, Placement.shared("eu-1"), TenantState.ACTIVE)).isFalse();
      TenantEntry now = directory.require(t);
      assertThat(now.placement()).isEqualTo(Placement.shared("eu-2"));
      assertThat(now.state()).isEqualTo(TenantState.READ_ONLY);
      assertThat(now.version()).isEqualTo(first.version() + 1);
    }
    assertThat(heard).containsExactly(t, t);
  }

  @Test
  void theAppRoleReadsTheDirectoryButCannotTouchShards() throws Exception {
    TenantDirectory asApp = TenantDirectory.builder(db.appDataSource()).build();
    assertThat(asApp.shards()).extracting(Shard::name).contains("eu-1", "eu-2");
    asApp.register(TenantId.of("by-app"), Placement.shared("eu-2"));
    assertThatThrownBy(() -> asApp.addShard(Shard.of("rogue", "jdbc:postgresql://evil/x", "R")))
        .isInstanceOf(FleetException.class).hasMessageContaining("permission denied");
  }

  @Test
  void placementsListEveryDatabaseOnce() {
    directory.register(TenantId.of("d1"), Placement.dedicated("jdbc:postgresql://db9/d1", "D1"));
    assertThat(directory.placements()).contains(Placement.shared("eu-1"), Placement.shared("eu-2"),
        Placement.shared("eu-old"), Placement.dedicated("jdbc:postgresql://db9/d1", "D1")).doesNotHaveDuplicates();
  }
}
