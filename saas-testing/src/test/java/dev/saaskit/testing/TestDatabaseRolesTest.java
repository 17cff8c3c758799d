package dev.saaskit.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariDataSource;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import javax.sql.DataSource;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The owner and app roles have exactly the attributes and privileges TestDatabase promises. */
@ExtendWith(PostgresExtension.class)
class TestDatabaseRolesTest {
  TestDatabase db;

  @BeforeAll
  static void migrate(TestDatabase db) throws SQLException {
    Db.exec(db.ownerDataSource(),
        "create table items(id bigserial primary key, v text)",
        "create sequence counter",
        "create view item_view as select id, v from items");
  }

  private List<Object> roleAttributes(String role) throws SQLException {
    return Db.row(db.adminDataSource(), "select rolsuper, rolbypassrls, rolcanlogin, rolcreaterole, rolcreatedb,"
        + " rolreplication from pg_roles where rolname = ?", role);
  }

  @Test
  void ownerAndAppRolesHaveThePromisedAttributes() throws SQLException {
    // rolsuper, rolbypassrls, rolcanlogin, rolcreaterole, rolcreatedb, rolreplication
    assertThat(roleAttributes(db.ownerRole())).containsExactly(false, false, true, false, false, false);
    assertThat(roleAttributes(db.appRole())).containsExactly(false, false, true, false, false, false);
    assertThat(db.ownerRole()).isEqualTo(db.name() + "_owner");
    assertThat(db.appRole()).isEqualTo(db.name() + "_app");
    assertThat(db.name()).matches("saas_t_[0-9a-f]{12}");
  }

  @Test
  void ownerOwnsTheDatabaseAndSchemaPublic() throws SQLException {
    assertThat(Db.row(db.adminDataSource(),
        "select pg_get_userbyid(datdba) from pg_database where datname = current_database()"))
        .containsExactly(db.ownerRole());
    assertThat(Db.row(db.adminDataSource(),
        "select pg_get_userbyid(nspowner) from pg_namespace where nspname = 'public'"))
        .containsExactly(db.ownerRole());
  }

  @Test
  void appOwnsNothing() throws SQLException {
    DataSource admin = db.adminDataSource();
    String app = db.appRole();
    assertThat(Db.count(admin, "select count(*) from pg_class where relowner = ?::regrole", app)).isZero();
    assertThat(Db.count(admin, "select count(*) from pg_namespace where nspowner = ?::regrole", app)).isZero();
    assertThat(Db.count(admin, "select count(*) from pg_proc where proowner = ?::regrole", app)).isZero();
    assertThat(Db.count(admin, "select count(*) from pg_type where typowner = ?::regrole", app)).isZero();
    assertThat(Db.count(admin, "select count(*) from pg_database where datdba = ?::regrole", app)).isZero();
    // ...while the owner does own the tables, so the query above would see an owner.
    assertThat(Db.count(admin, "select count(*) from pg_class where relowner = ?::regrole",
        db.ownerRole())).isGreaterThan(0);
  }

  @Test
  void appCanReadAndWriteTheOwnersTablesThroughDefaultPrivileges() throws SQLException {
    DataSource app = db.appDataSource();
    Db.exec(app, "insert into items(v) values ('a'), ('b')");
    Db.exec(app, "update items set v = 'c' where v = 'b'");
    Db.exec(app, "delete from items where v = 'a'");
    assertThat(Db.row(app, "select count(*), min(v) from items where v = 'c'")).containsExactly(1L, "c");
    assertThat(Db.count(app, "select nextval('counter')")).isEqualTo(1);
    assertThat(Db.count(app, "select count(*) from item_view")).isGreaterThanOrEqualTo(1);
  }

  @Test
  void appCannotDropAlterOrCreate() {
    DataSource app = db.appDataSource();
    assertDenied(app, "drop table items");
    assertDenied(app, "alter table items add column extra int");
    assertDenied(app, "alter table items disable row level security");
    assertDenied(app, "alter table items owner to " + db.appRole());
    assertDenied(app, "truncate items");
    assertDenied(app, "create table mine(id int)");
    assertDenied(app, "create schema mine");
    assertDenied(app, "drop sequence counter");
  }

  @Test
  void ownerCanMigrate() throws SQLException {
    Db.exec(db.ownerDataSource(), "create table owner_only(id int)", "alter table owner_only add column x int",
        "drop table owner_only");
  }

  @Test
  void appCannotConnectToAnotherTestDatabase() throws SQLException {
    try (TestDatabase other = TestDatabase.create()) {
      Properties props = new Properties();
      props.setProperty("user", db.appRole());
      props.setProperty("password", db.appPassword());
      assertThatThrownBy(() -> DriverManager.getConnection(other.jdbcUrl(), props).close())
          .isInstanceOf(SQLException.class)
          .hasMessageContaining("permission denied for database");
    }
  }

  @Test
  void jdbcUrlNamesTheDatabaseAndNoUser() {
    assertThat(db.jdbcUrl()).startsWith("jdbc:postgresql://").contains("/" + db.name())
        .doesNotContain("user=").doesNotContain("password=");
    assertThat(db.jdbcUrl()).isEqualTo(db.server().jdbcUrl(db.name()));
    assertThat(db.jdbcUrl()).contains(db.server().host() + ":" + db.server().port());
  }

  @Test
  void poolsLogInAsTheirRolesWithThePromisedSizes() throws SQLException {
    assertThat(Db.row(db.ownerDataSource(), "select current_user, current_database()"))
        .containsExactly(db.ownerRole(), db.name());
    assertThat(Db.row(db.appDataSource(), "select current_user, current_database()"))
        .containsExactly(db.appRole(), db.name());
    assertThat(Db.row(db.adminDataSource(),
        "select rolsuper, current_database() from pg_roles where rolname = current_user"))
        .containsExactly(true, db.name());
    assertThat(((HikariDataSource) db.ownerDataSource()).getMaximumPoolSize()).isEqualTo(4);
    assertThat(((HikariDataSource) db.appDataSource()).getMaximumPoolSize()).isEqualTo(10);
    assertThat(((HikariDataSource) db.adminDataSource()).getMaximumPoolSize()).isEqualTo(2);
    assertThat(db.appDataSource()).isSameAs(db.appDataSource());
  }

  @Test
  void passwordsAreRandomAndDistinct() {
    assertThat(db.ownerPassword()).hasSize(32).isNotEqualTo(db.appPassword());
    assertThat(db.rolePassword(db.ownerRole())).isEqualTo(db.ownerPassword());
    assertThat(db.rolePassword(db.appRole())).isEqualTo(db.appPassword());
    assertThatThrownBy(() -> db.rolePassword("postgres")).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void serverDescribesItself() throws SQLException {
    PostgresServer server = db.server();
    assertThat(server).isSameAs(PostgresServer.shared());
    long versionNum = Db.count(db.adminDataSource(), "select current_setting('server_version_num')::int");
    assertThat(server.majorVersion()).isEqualTo((int) (versionNum / 10000));
    assertThat(server.description()).contains(Integer.toString(server.majorVersion()));
    assertThat(server.superuser()).isNotBlank();
  }

  @Test
  void createRoleMakesALoginRoleWithTheGivenAttributes() throws SQLException {
    String su = db.createRole("su", "SUPERUSER");
    assertThat(su).isEqualTo(db.name() + "_su");
    assertThat(roleAttributes(su)).containsExactly(true, false, true, false, false, false);
    try (HikariDataSource pool = db.newPool(su, db.rolePassword(su), 1)) {
      assertThat(Db.row(pool, "select current_user")).containsExactly(su);
    }

    String reader = db.createRole("reader", "");
    assertThat(roleAttributes(reader)).containsExactly(false, false, true, false, false, false);
    try (HikariDataSource pool = db.newPool(reader, db.rolePassword(reader), 1)) {
      assertThat(Db.row(pool, "select current_user")).containsExactly(reader);
      // CONNECT and USAGE only: table privileges are the caller's business.
      assertDenied(pool, "select count(*) from items");
    }

    String bypass = db.createRole("rls_bypass", "BYPASSRLS NOINHERIT");
    assertThat(roleAttributes(bypass)).containsExactly(false, true, true, false, false, false);
  }

  @Test
  void createRoleRejectsBadSuffixes() {
    assertThatThrownBy(() -> db.createRole("Bad-Name", "")).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("a-z, 0-9 and _");
    assertThatThrownBy(() -> db.createRole("", "")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> db.createRole("owner", "")).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("already exists");
    assertThatThrownBy(() -> db.createRole("x", "SUPERUSER; drop database postgres"))
        .isInstanceOf(IllegalArgumentException.class);
    db.createRole("twice", "");
    assertThatThrownBy(() -> db.createRole("twice", "")).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void newPoolPassesJdbcProperties() throws SQLException {
    try (HikariDataSource pool = db.newPool(db.appRole(), db.appPassword(), 3,
        Map.of("ApplicationName", "roles-test", "options", "-c statement_timeout=1234"))) {
      assertThat(pool.getMaximumPoolSize()).isEqualTo(3);
      assertThat(Db.row(pool, "select current_setting('application_name'), current_setting('statement_timeout')"))
          .containsExactly("roles-test", "1234ms");
    }
    assertThatThrownBy(() -> db.newPool(db.appRole(), db.appPassword(), 0))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("maxPoolSize must be >= 1 but was 0");
  }

  private static void assertDenied(DataSource ds, String sql) {
    assertThatThrownBy(() -> {
      try (Connection c = ds.getConnection()) {
        c.createStatement().execute(sql);
      }
    }).as(sql).isInstanceOfSatisfying(SQLException.class,
        e -> assertThat(e.getSQLState()).as("SQLState of: " + sql + " (" + e.getMessage() + ")").isEqualTo("42501"));
  }
}
