package dev.saaskit.cache.postgres;

import static dev.saaskit.cache.postgres.BusFixture.count;
import static dev.saaskit.cache.postgres.BusFixture.execute;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.cache.Invalidation;
import dev.saaskit.core.MigrationResult;
import dev.saaskit.core.ModuleSchema;
import dev.saaskit.core.SaasException;
import dev.saaskit.testing.Await;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The migration helper, its history, and what the grant gives the application role (and what it does not). */
@ExtendWith(PostgresExtension.class)
class CacheSchemaTest {
  static TestDatabase db;
  static DataSource owner;
  static DataSource admin;

  @BeforeAll
  static void setUp(TestDatabase database) {
    db = database;
    owner = db.ownerDataSource();
    admin = db.adminDataSource();
  }

  @Test
  void nodesMigratingTogetherApplyEachVersionOnceAndLaterCallsDoNothing() throws Exception {
    CacheSchema schema = CacheSchema.builder().name("together").build();
    ExecutorService threads = Executors.newFixedThreadPool(3);
    List<Future<MigrationResult>> results = new ArrayList<>();
    try {
      for (int i = 0; i < 3; i++) {
        results.add(threads.submit(() -> schema.migrate(owner)));
      }
      int applied = 0;
      for (Future<MigrationResult> f : results) {
        MigrationResult result = f.get(1, TimeUnit.MINUTES);
        assertThat(result.schema()).isEqualTo("together");
        assertThat(result.version()).isEqualTo(schema.latestVersion());
        applied += result.applied().size();
      }
      assertThat(applied).isEqualTo(schema.latestVersion());
    } finally {
      threads.shutdownNow();
    }
    MigrationResult again = schema.migrate(owner);
    assertThat(again.changed()).isFalse();
    assertThat(again).isEqualTo(MigrationResult.of("together", List.of(), schema.latestVersion()));
    assertThat(count(admin, "SELECT count(*) FROM together.saaskit_schema_history WHERE version = 1"
        + " AND script = 'V1__invalidation_log.sql' AND installed_by = '" + db.ownerRole() + "'")).isEqualTo(1);
    assertThat(count(admin, "SELECT count(*) FROM pg_tables WHERE schemaname = 'together'"
        + " AND tableowner = '" + db.ownerRole() + "'")).isEqualTo(4);
  }

  @Test
  void aScriptChangedSinceItWasAppliedIsReported() throws SQLException {
    CacheSchema schema = CacheSchema.builder().name("tampered").build();
    schema.migrate(owner);
    execute(owner, "UPDATE tampered.saaskit_schema_history SET checksum = 'edited' WHERE version = 1");
    assertThatThrownBy(() -> schema.migrate(owner)).isInstanceOf(SaasException.class)
        .hasMessageContaining("was changed after it was applied");
  }

  @Test
  void theAppRoleGetsWhatTheBusNeedsAndNothingMore() throws SQLException {
    CacheSchema schema = CacheSchema.builder().name("granted").build();
    schema.migrate(owner);
    try (Connection c = owner.getConnection()) {
      schema.grantApp(c, db.appRole());
    }
    DataSource app = db.appDataSource();
    execute(app, "INSERT INTO granted.invalidation_log (scope, value) VALUES ('TAG', 't')",
        "SELECT * FROM granted.prune_state FOR UPDATE",
        "INSERT INTO granted.prune_horizon VALUES (now(), '1')",
        "DELETE FROM granted.invalidation_log WHERE value = 't'");
    // it cannot forge the transaction id or the sequence the readers rely on
    assertThatThrownBy(() -> execute(app, "INSERT INTO granted.invalidation_log (scope, value, tx) VALUES ('TAG',"
        + " 't', '1')")).hasMessageContaining("permission denied");
    assertThatThrownBy(() -> execute(app, "UPDATE granted.invalidation_log SET value = 'x'"))
        .hasMessageContaining("permission denied");
    assertThatThrownBy(() -> execute(app, "TRUNCATE granted.invalidation_log"))
        .hasMessageContaining("permission denied");
    assertThatThrownBy(() -> execute(app, "DROP TABLE granted.invalidation_log"))
        .hasMessageContaining("must be owner");
    assertThat(count(admin, "SELECT count(*) FROM pg_tables WHERE schemaname = 'granted'"
        + " AND tableowner = '" + db.appRole() + "'")).isZero();
  }

  @Test
  void theLogIsNotATenantTableForTheRlsAudit() throws SQLException {
    CacheSchema.defaults().migrate(owner);
    // cross-tenant infrastructure without RLS: no column may carry the audit's tenant column name
    assertThat(count(admin, "SELECT count(*) FROM information_schema.columns"
        + " WHERE table_schema = 'saaskit_cache' AND column_name = 'tenant_id'")).isZero();
    assertThat(count(admin, "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        + " WHERE n.nspname = 'saaskit_cache' AND c.relrowsecurity")).isZero();
    // the SECURITY DEFINER trigger function has a fixed search_path and is not executable by PUBLIC
    assertThat(count(admin, "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
        + " WHERE n.nspname = 'saaskit_cache' AND p.prosecdef"
        + " AND array_to_string(p.proconfig, ',') LIKE 'search_path=%'"
        + " AND NOT has_function_privilege('" + db.appRole() + "', p.oid, 'EXECUTE')")).isEqualTo(1);
  }

  @Test
  void theLogHasNoCheckConstraintSoAnInsertDoesNotRePlanOne() throws SQLException {
    // PostgreSQL parses and plans a table's CHECK expressions again at every INSERT statement: version 1's five
    // constraints cost about as much server CPU as the rest of a publish (docs/cache-invalidation.md, Throughput).
    // Version 2 dropped them; the readers check every row instead (aRowThatDoesNotFitItsScopeMakesReadersFlush).
    CacheSchema schema = CacheSchema.builder().name("unchecked").build();
    schema.migrate(owner);
    assertThat(count(admin, "SELECT count(*) FROM pg_constraint WHERE conrelid = 'unchecked.invalidation_log'::regclass"
        + " AND contype = 'c'")).isZero();
    assertThat(count(admin, "SELECT count(*) FROM unchecked.saaskit_schema_history WHERE version = 2"
        + " AND script = 'V2__log_without_check_constraints.sql'")).isEqualTo(1);
  }

  @Test
  void aRowThatDoesNotFitItsScopeMakesReadersFlush() throws SQLException {
    CacheSchema schema = CacheSchema.builder().name("malformed").build();
    schema.migrate(owner);
    try (Connection c = owner.getConnection()) {
      schema.grantApp(c, db.appRole());
    }
    try (HikariDataSource pool = db.newPool(db.appRole(), db.appPassword(), 3);
        PostgresInvalidationBus bus = PostgresInvalidationBus.builder(pool).schema(schema).nodeName("reader")
            .pruneInterval(Duration.ZERO).build().start()) {
      RecordingListener listener = new RecordingListener();
      bus.subscribe(listener);
      // rows this library would never write: a KEY without its key, an unknown scope, a tag with a tenant
      execute(pool, "INSERT INTO malformed.invalidation_log (scope, cache_name) VALUES ('KEY', 'plans')",
          "INSERT INTO malformed.invalidation_log (scope, value) VALUES ('EVERYTHING', 'x')",
          "INSERT INTO malformed.invalidation_log (scope, tenant, value) VALUES ('TAG', 't1', 'plans:t1')");
      Await.until("the reader flushes", () -> listener.flushes.get() >= 1);
      // a well-formed row written afterwards is delivered as usual
      bus.publish(Invalidation.tag("plans:t2"));
      Await.until("the next row is delivered", () -> listener.has(Invalidation.tag("plans:t2")));
      assertThat(listener.received).containsExactly(Invalidation.tag("plans:t2"));
    }
  }

  @Test
  void aBusOnAMissingSchemaSaysToMigrate() {
    assertThatThrownBy(() -> PostgresInvalidationBus.builder(owner)
        .schema(CacheSchema.builder().name("never_migrated").build()).build().start())
        .isInstanceOf(SaasException.class)
        .hasMessageContaining("CacheSchema.migrate");
  }

  @Test
  void schemaNamesAreChecked() {
    assertThat(CacheSchema.defaults().name()).isEqualTo("saaskit_cache");
    assertThat(CacheSchema.builder().build()).isSameAs(CacheSchema.defaults());
    assertThat(CacheSchema.builder().name("x_1").build().toBuilder().build().name()).isEqualTo("x_1");
    ModuleSchema asModule = CacheSchema.defaults();
    assertThat(asModule.latestVersion()).isGreaterThanOrEqualTo(1);
    assertThat(CacheSchema.builder().name("x_1").build()).isEqualTo(CacheSchema.builder().name("x_1").build());
    assertThatThrownBy(() -> CacheSchema.builder().name("Upper").build()).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("schema must be 1 to 63 characters of a-z, 0-9 and _, not starting with a digit, but was 'Upper'");
    assertThatThrownBy(() -> CacheSchema.builder().name("1x").build()).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> CacheSchema.builder().name("a;drop").build()).isInstanceOf(IllegalArgumentException.class);
  }
}
