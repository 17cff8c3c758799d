package dev.saaskit.cache.postgres;

import static dev.saaskit.cache.postgres.BusFixture.count;
import static dev.saaskit.cache.postgres.BusFixture.execute;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.cache.Invalidation;
import dev.saaskit.core.SaasException;
import dev.saaskit.testing.Await;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The database-side helper: changes made by plain SQL, by any role, write the tag invalidation in their own
 * transaction, and the nodes receive it.
 */
@ExtendWith(PostgresExtension.class)
class TriggerTest {
  static BusFixture fx;
  static DataSource owner;
  static DataSource app;
  PostgresInvalidationBus a;
  PostgresInvalidationBus b;
  RecordingListener onB;

  @BeforeAll
  static void setUp(TestDatabase db) throws SQLException {
    BusFixture.migrate(db);
    fx = new BusFixture(db);
    owner = db.ownerDataSource();
    app = db.appDataSource();
    execute(owner, "CREATE TABLE plans (id int PRIMARY KEY, tenant_id text, name text NOT NULL)");
    try (Connection c = owner.getConnection()) {
      List<String> names = CacheSchema.defaults().attachTrigger(c, "plans", "plans:{tenant_id}");
      assertThat(names).hasSize(4).allMatch(n -> n.startsWith("saaskit_cache_"));
      // attaching again replaces the same four triggers instead of adding four more
      assertThat(CacheSchema.defaults().attachTrigger(c, "plans", "plans:{tenant_id}")).isEqualTo(names);
    }
  }

  @BeforeEach
  void startNodes() throws SQLException {
    fx.close();
    execute(owner, "DELETE FROM plans",
        "INSERT INTO plans VALUES (1, 't1', 'free'), (2, 't2', 'free'), (3, 't2', 'team')");
    a = fx.node("a");
    // a trigger does not NOTIFY (that would lock at every business commit): its rows arrive with the next poll
    b = fx.node("b", x -> x.pollInterval(Duration.ofMillis(100)));
    onB = new RecordingListener();
    b.subscribe(onB);
  }

  @AfterAll
  static void tearDown() {
    fx.close();
  }

  @Test
  void everyKindOfChangeByPlainSqlInvalidatesItsTags() throws SQLException {
    // as the app role, autocommit, one statement: what psql would do
    step(app, "UPDATE plans SET name = 'pro' WHERE id = 1", Invalidation.tag("plans:t1"));
    // two rows of one tenant: one invalidation per distinct tag and statement
    step(owner, "UPDATE plans SET name = 'pro' WHERE tenant_id = 't2'", Invalidation.tag("plans:t2"));
    // a change of the tag's column invalidates the old and the new tag
    step(app, "UPDATE plans SET tenant_id = 't3' WHERE id = 1", Invalidation.tag("plans:t1"),
        Invalidation.tag("plans:t3"));
    step(app, "INSERT INTO plans VALUES (4, 't4', 'free')", Invalidation.tag("plans:t4"));
    step(app, "DELETE FROM plans WHERE id = 4", Invalidation.tag("plans:t4"));
    // a NULL column renders as the empty string
    step(app, "INSERT INTO plans VALUES (5, NULL, 'free')", Invalidation.tag("plans:"));
    // a statement that changes no row writes nothing: the next step's count proves it
    execute(app, "UPDATE plans SET name = 'x' WHERE id = 999");
    step(owner, "TRUNCATE plans", Invalidation.everything());
    assertThat(onB.flushes).hasValue(0);
  }

  @Test
  void aRolledBackChangeInvalidatesNothing() throws SQLException {
    try (Connection c = app.getConnection(); Statement st = c.createStatement()) {
      c.setAutoCommit(false);
      st.executeUpdate("UPDATE plans SET name = 'rolled back' WHERE id = 2");
      c.rollback();
    }
    step(app, "UPDATE plans SET name = 'kept' WHERE id = 1", Invalidation.tag("plans:t1"));
    assertThat(onB.received).containsExactly(Invalidation.tag("plans:t1"));
  }

  @Test
  void aRoleWithoutAnyCachePrivilegeStillInvalidates(TestDatabase db) throws SQLException {
    // another service's role: may update the table, knows nothing of the cache schema
    String service = db.createRole("other_service", "");
    execute(owner, "GRANT SELECT, UPDATE ON plans TO \"" + service + "\"");
    try (HikariDataSource pool = db.newPool(service, db.rolePassword(service), 1)) {
      assertThatThrownBy(() -> execute(pool, "SELECT count(*) FROM saaskit_cache.invalidation_log"))
          .hasMessageContaining("permission denied");
      step(pool, "UPDATE plans SET name = 'by another service' WHERE id = 3", Invalidation.tag("plans:t2"));
    }
  }

  @Test
  void identifiersAreQuotedAndTheCacheNameIsOptional() throws SQLException {
    execute(owner, "CREATE SCHEMA IF NOT EXISTS \"Odd \"\"Schema\"\"\"",
        "CREATE TABLE IF NOT EXISTS \"Odd \"\"Schema\"\"\".\"Plan Items\" (\"Tenant Id\" text, \"Item\" int)");
    try (Connection c = owner.getConnection()) {
      CacheSchema.defaults().attachTrigger(c, "Odd \"Schema\"", "Plan Items", "items:{Tenant Id}:{Item}",
          "items");
    }
    step(owner, "INSERT INTO \"Odd \"\"Schema\"\"\".\"Plan Items\" VALUES ('acme', 7)",
        Invalidation.tag("items", "items:acme:7"));
  }

  @Test
  void badTemplatesAndMissingTablesAreRefusedWithTheReason() throws SQLException {
    CacheSchema schema = CacheSchema.defaults();
    execute(owner, "CREATE OR REPLACE VIEW plan_names AS SELECT id, name FROM plans");
    try (Connection c = owner.getConnection()) {
      assertThatThrownBy(() -> schema.attachTrigger(c, "plans", "plans:{tenant}"))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("names column 'tenant'")
          .hasMessageContaining("tenant_id");
      assertThatThrownBy(() -> schema.attachTrigger(c, "plans", "plans"))
          .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no {column} placeholder");
      assertThatThrownBy(() -> schema.attachTrigger(c, "plans", "plans:{}"))
          .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("empty placeholder");
      assertThatThrownBy(() -> schema.attachTrigger(c, "no_such_table", "x:{id}"))
          .isInstanceOf(SaasException.class).hasMessageContaining("does not exist");
      assertThatThrownBy(() -> schema.attachTrigger(c, "plan_names", "x:{id}"))
          .isInstanceOf(SaasException.class).hasMessageContaining("is not a table");
    }
    // the app role may not attach: it owns no table, and EXECUTE on the trigger function is not granted to it
    try (Connection c = app.getConnection()) {
      assertThatThrownBy(() -> schema.attachTrigger(c, "plans", "plans:{id}")).isInstanceOf(SaasException.class);
    }
  }

  @Test
  void aChangeWhoseTagCannotBeWrittenFailsInItsOwnTransaction() throws SQLException {
    // The log has no CHECK constraint since version 2 (they cost every insert a re-plan): expand_tag refuses an
    // empty or too long tag itself, so the change still fails instead of writing a row every reader would flush on.
    execute(owner, "CREATE TABLE labels (id int PRIMARY KEY, label text)");
    try (Connection c = owner.getConnection()) {
      CacheSchema.defaults().attachTrigger(c, "labels", "{label}");
    }
    long rows = count(owner, "SELECT count(*) FROM saaskit_cache.invalidation_log");
    assertThatThrownBy(() -> execute(owner, "INSERT INTO labels VALUES (1, NULL)"))
        .isInstanceOf(SQLException.class).hasMessageContaining("expands to a tag of 0 characters")
        .extracting(e -> ((SQLException) e).getSQLState()).isEqualTo("23514");
    assertThatThrownBy(() -> execute(owner, "INSERT INTO labels VALUES (2, repeat('x', 1025))"))
        .isInstanceOf(SQLException.class).hasMessageContaining("expands to a tag of 1025 characters");
    assertThat(count(owner, "SELECT count(*) FROM labels")).isZero();
    assertThat(count(owner, "SELECT count(*) FROM saaskit_cache.invalidation_log")).isEqualTo(rows);
    step(owner, "INSERT INTO labels VALUES (3, repeat('x', 1024))", Invalidation.tag("x".repeat(1024)));
    assertThat(onB.flushes).hasValue(0);
  }

  /** Runs {@code sql} autocommit and waits until b received exactly {@code expected} more, in any order. */
  private void step(DataSource ds, String sql, Invalidation... expected) throws SQLException {
    int before = onB.received.size();
    execute(ds, sql);
    Await.until(sql, () -> onB.received.size() >= before + expected.length);
    // the next statement is read after this one, so anything extra from this one would show up there
    List<Invalidation> all = List.copyOf(onB.received);
    List<Invalidation> got = all.subList(before, all.size());
    assertThat(got).as(sql).containsExactlyInAnyOrder(expected);
  }
}
