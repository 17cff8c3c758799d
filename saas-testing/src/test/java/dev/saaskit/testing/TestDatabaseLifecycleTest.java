package dev.saaskit.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariDataSource;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.Properties;
import org.junit.jupiter.api.Test;

/** TestDatabase.create() and close() outside the extension. */
class TestDatabaseLifecycleTest {

  @Test
  void createMakesADatabaseAndCloseDropsItWithAllItsRoles() throws Exception {
    PostgresServer server = PostgresServer.shared();
    TestDatabase db = TestDatabase.create();
    String name = db.name();
    String custom = db.createRole("custom", "");
    assertThat(Db.databaseExists(server, name)).isTrue();
    assertThat(Db.rolesNamedLike(server, name)).isEqualTo(3);

    // A custom role that owns a table and holds grants must not stop the drop.
    Db.exec(db.adminDataSource(), "grant create on schema public to " + custom);
    try (HikariDataSource pool = db.newPool(custom, db.rolePassword(custom), 1)) {
      Db.exec(pool, "create table custom_owned(id int)");
    }
    Db.exec(db.ownerDataSource(), "create table t(id int)");
    Db.exec(db.appDataSource(), "insert into t values (1)");

    db.close();
    assertThat(Db.databaseExists(server, name)).isFalse();
    assertThat(Db.rolesNamedLike(server, name)).isZero();
  }

  @Test
  void closeIsIdempotentAndClosesEveryPool() throws Exception {
    TestDatabase db = TestDatabase.create();
    HikariDataSource owner = (HikariDataSource) db.ownerDataSource();
    HikariDataSource app = (HikariDataSource) db.appDataSource();
    HikariDataSource admin = (HikariDataSource) db.adminDataSource();
    HikariDataSource extra = db.newPool(db.appRole(), db.appPassword(), 2);
    Db.count(extra, "select 1");

    db.close();
    db.close();
    assertThat(owner.isClosed()).isTrue();
    assertThat(app.isClosed()).isTrue();
    assertThat(admin.isClosed()).isTrue();
    assertThat(extra.isClosed()).isTrue();
    assertThatThrownBy(db::appDataSource).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
    assertThatThrownBy(() -> db.createRole("late", "")).isInstanceOf(IllegalStateException.class);
    assertThat(Db.databaseExists(db.server(), db.name())).isFalse();
  }

  @Test
  void closeEndsSessionsThatAreStillOpen() throws Exception {
    TestDatabase db = TestDatabase.create();
    Properties props = new Properties();
    props.setProperty("user", db.appRole());
    props.setProperty("password", db.appPassword());
    try (Connection stray = DriverManager.getConnection(db.jdbcUrl(), props)) {
      stray.setAutoCommit(false);
      stray.createStatement().execute("select 1");
      db.close();
      assertThat(Db.databaseExists(db.server(), db.name())).isFalse();
      assertThat(Db.rolesNamedLike(db.server(), db.name())).isZero();
      assertThatThrownBy(() -> stray.createStatement().execute("select 1")).isInstanceOf(SQLException.class);
    }
  }

  @Test
  void tryWithResourcesClosesIt() throws Exception {
    String name;
    try (TestDatabase db = TestDatabase.create()) {
      name = db.name();
      assertThat(Db.count(db.appDataSource(), "select 1")).isEqualTo(1);
    }
    assertThat(Db.databaseExists(PostgresServer.shared(), name)).isFalse();
  }

  @Test
  void everyDatabaseIsNew() throws Exception {
    try (TestDatabase a = TestDatabase.create(); TestDatabase b = TestDatabase.create()) {
      assertThat(a.name()).isNotEqualTo(b.name());
      assertThat(a.appPassword()).isNotEqualTo(b.appPassword());
      Db.exec(a.ownerDataSource(), "create table only_in_a(id int)");
      assertThat(Db.count(b.adminDataSource(),
          "select count(*) from pg_tables where tablename = 'only_in_a'")).isZero();
      assertThat(Db.count(b.adminDataSource(), "select count(*) from pg_tables where schemaname = 'public'")).isZero();
    }
  }
}
