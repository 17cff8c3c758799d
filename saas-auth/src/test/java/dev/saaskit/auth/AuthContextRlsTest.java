package dev.saaskit.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.core.TenantId;
import dev.saaskit.tenancy.RlsPolicy;
import dev.saaskit.tenancy.TenantColumnType;
import dev.saaskit.tenancy.TenantDataSource;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import javax.sql.DataSource;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Row-level security follows the token: inside {@code AuthContext.run(principal, ...)} SQL through saas-tenancy's
 * TenantDataSource, logged in as the app role (no BYPASSRLS), sees only the principal's tenant's rows.
 */
@ExtendWith(PostgresExtension.class)
class AuthContextRlsTest {
  static final TenantId ACME = TenantId.of("acme");
  static final TenantId GLOBEX = TenantId.of("globex");
  static DataSource app;

  @BeforeAll
  static void schema(TestDatabase db) throws SQLException {
    try (Connection c = db.ownerDataSource().getConnection(); Statement s = c.createStatement()) {
      s.execute("CREATE TABLE invoices (id bigserial PRIMARY KEY, tenant_id text NOT NULL, title text NOT NULL)");
      RlsPolicy.forTable("invoices").columnType(TenantColumnType.TEXT).build().apply(c);
    }
    // the rows of two tenants, written past RLS by the superuser
    try (Connection c = db.adminDataSource().getConnection(); Statement s = c.createStatement()) {
      s.execute("INSERT INTO invoices (tenant_id, title) VALUES ('acme', 'a1'), ('acme', 'a2'), ('globex', 'g1')");
    }
    app = TenantDataSource.wrap(db.appDataSource());
  }

  static List<String> titles() throws SQLException {
    List<String> out = new ArrayList<>();
    try (Connection c = app.getConnection();
        PreparedStatement ps = c.prepareStatement("SELECT title FROM invoices ORDER BY title");
        ResultSet rs = ps.executeQuery()) {
      while (rs.next()) {
        out.add(rs.getString(1));
      }
    }
    return out;
  }

  static void insert(String title) throws SQLException {
    try (Connection c = app.getConnection();
        PreparedStatement ps = c.prepareStatement("INSERT INTO invoices (tenant_id, title) VALUES (?, ?)")) {
      ps.setString(1, "globex");
      ps.setString(2, title);
      ps.executeUpdate();
    }
  }

  static Principal user(String subject, TenantId tenant) {
    return Principal.builder("https://idp.example", subject).tenant(tenant).roles(List.of("member")).build();
  }

  @Test
  void insideAuthContextTheRlsTableShowsOnlyThePrincipalsTenant() throws SQLException {
    assertThat(titles()).as("no principal, no tenant: nothing").isEmpty();
    assertThat(AuthContext.call(user("alice", ACME), AuthContextRlsTest::titles)).containsExactly("a1", "a2");
    assertThat(AuthContext.call(user("gus", GLOBEX), AuthContextRlsTest::titles)).containsExactly("g1");
    // nested: the inner principal's tenant, then the outer one's again
    List<List<String>> seen = new ArrayList<>();
    AuthContext.run(user("alice", ACME), () -> {
      seen.add(titles());
      AuthContext.run(user("gus", GLOBEX), () -> seen.add(titles()));
      seen.add(titles());
    });
    assertThat(seen).containsExactly(List.of("a1", "a2"), List.of("g1"), List.of("a1", "a2"));
    assertThat(titles()).isEmpty();
  }

  @Test
  void aPrincipalCannotWriteIntoAnotherTenant() throws SQLException {
    assertThatThrownBy(() -> AuthContext.run(user("alice", ACME), () -> insert("forged")))
        .isInstanceOf(SQLException.class).hasMessageContaining("row-level security");
    assertThat(AuthContext.call(user("gus", GLOBEX), AuthContextRlsTest::titles)).doesNotContain("forged");
  }
}
