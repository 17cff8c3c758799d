package dev.saaskit.testing;

import static dev.saaskit.testing.IsolationAssertions.assertCannotInsertAs;
import static dev.saaskit.testing.IsolationAssertions.assertNoRowsWithoutTenant;
import static dev.saaskit.testing.IsolationAssertions.assertTenantIsolated;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.core.MissingTenantException;
import dev.saaskit.core.SaasException;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.util.List;
import java.util.logging.Logger;
import javax.sql.DataSource;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(PostgresExtension.class)
class IsolationAssertionsTest {
  private static final TenantId A = TenantId.of("tenant-a");
  private static final TenantId B = TenantId.of("tenant-b");
  private static final TenantId AU = TenantId.of("7d3f0a4e-6a55-4f3c-9a3c-2a1b7a9a0001");
  private static final TenantId BU = TenantId.of("7d3f0a4e-6a55-4f3c-9a3c-2a1b7a9a0002");

  private DataSource app;
  private DataSource owner;
  private TestDatabase db;

  @BeforeAll
  static void schema(TestDatabase db) throws Exception {
    Db.exec(db.ownerDataSource(),
        // Isolated: RLS enabled and forced, default and policy from the session's tenant setting.
        "create table isolated(tenant_id text not null default current_setting('app.tenant_id', true), v int)",
        "alter table isolated enable row level security",
        "alter table isolated force row level security",
        "create policy tenant_isolation on isolated using (tenant_id = current_setting('app.tenant_id', true))"
            + " with check (tenant_id = current_setting('app.tenant_id', true))",
        // Leaky: the same table without RLS.
        "create table leaky(tenant_id text not null, v int)",
        // Owner-bypass: RLS enabled but not forced, so the table owner sees everything.
        "create table not_forced(tenant_id text not null, v int)",
        "alter table not_forced enable row level security",
        "create policy tenant_isolation on not_forced using (tenant_id = current_setting('app.tenant_id', true))",
        // uuid tenant column with a policy that fails closed on an empty setting.
        "create table by_uuid(tenant_id uuid not null, v int)",
        "alter table by_uuid enable row level security",
        "alter table by_uuid force row level security",
        "create policy tenant_isolation on by_uuid"
            + " using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)");
    // Seed both tenants. The isolated table only accepts rows for the current tenant.
    DataSource app = new TenantSettingDataSource(db.appDataSource());
    for (TenantId t : List.of(A, B)) {
      TenantContext.call(t, () -> {
        Db.exec(app, "insert into isolated(v) values (1), (2)");
        return null;
      });
    }
    Db.exec(db.adminDataSource(),
        "insert into leaky values ('tenant-a', 1), ('tenant-b', 2)",
        "insert into not_forced values ('tenant-a', 1), ('tenant-b', 2)",
        "insert into by_uuid values ('" + AU + "', 1), ('" + BU + "', 2)");
  }

  @BeforeEach
  void dataSources() {
    app = new TenantSettingDataSource(db.appDataSource());
    owner = new TenantSettingDataSource(db.ownerDataSource());
  }

  @Test
  void theFixtureReallyIsIsolated() throws Exception {
    assertThat(TenantContext.call(A, () -> Db.count(app, "select count(*) from isolated"))).isEqualTo(2);
    assertThat(Db.count(db.adminDataSource(), "select count(*) from isolated")).isEqualTo(4);
  }

  @Test
  void isolatedTablePasses() {
    assertThatCode(() -> {
      assertTenantIsolated(app, "isolated", "tenant_id", A, B);
      assertTenantIsolated(app, "isolated", "tenant_id", B, A);
      assertTenantIsolated(app, "public.isolated", "tenant_id", A, B);
    }).doesNotThrowAnyException();
  }

  @Test
  void tableWithoutRlsFailsAndNothingIsChanged() throws Exception {
    String before = Db.row(db.adminDataSource(), "select string_agg(tenant_id || ':' || v, ',' order by v) from leaky")
        .get(0).toString();
    assertThatThrownBy(() -> assertTenantIsolated(app, "leaky", "tenant_id", A, B))
        .isInstanceOf(AssertionError.class)
        .hasMessageContaining("Tenant isolation broken on leaky")
        .hasMessageContaining("'tenant-a'")
        .hasMessageContaining("'tenant-b'")
        .hasMessageContaining("1 row(s) visible to SELECT")
        .hasMessageContaining("1 row(s) changed by UPDATE")
        .hasMessageContaining("1 row(s) removed by DELETE");
    String after = Db.row(db.adminDataSource(), "select string_agg(tenant_id || ':' || v, ',' order by v) from leaky")
        .get(0).toString();
    assertThat(after).isEqualTo(before).isEqualTo("tenant-a:1,tenant-b:2");
  }

  @Test
  void rlsThatIsNotForcedFailsForTheTableOwner() {
    assertThatThrownBy(() -> assertTenantIsolated(owner, "not_forced", "tenant_id", A, B))
        .isInstanceOf(AssertionError.class)
        .hasMessageContaining("visible to SELECT");
    // ...while the app role, which does not own the table, is isolated by the same policy.
    assertThatCode(() -> assertTenantIsolated(app, "not_forced", "tenant_id", A, B)).doesNotThrowAnyException();
  }

  @Test
  void uuidTenantColumnsWork() {
    assertThatCode(() -> assertTenantIsolated(app, "by_uuid", "tenant_id", AU, BU)).doesNotThrowAnyException();
    assertThatThrownBy(() -> assertTenantIsolated(db.adminDataSource(), "by_uuid", "tenant_id", AU, BU))
        .isInstanceOf(AssertionError.class);
  }

  @Test
  void anAssertionThatWouldProveNothingFails() {
    TenantId nobody = TenantId.of("nobody");
    assertThatThrownBy(() -> assertTenantIsolated(app, "isolated", "tenant_id", A, nobody))
        .isInstanceOf(AssertionError.class)
        .hasMessageContaining("would prove nothing");
  }

  @Test
  void sameTenantTwiceIsRejected() {
    assertThatThrownBy(() -> assertTenantIsolated(app, "isolated", "tenant_id", A, A))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void aMissingTableIsAnErrorNotAPass() {
    assertThatThrownBy(() -> assertTenantIsolated(app, "no_such_table", "tenant_id", A, B))
        .isInstanceOf(SaasException.class)
        .hasMessageContaining("no_such_table");
  }

  @Test
  void cannotInsertAsPassesWhenRlsRefusesTheRow() throws Exception {
    assertThatCode(() -> assertCannotInsertAs(app, A, "insert into isolated(tenant_id, v) values (?, 9)", B))
        .doesNotThrowAnyException();
    assertThat(Db.count(db.adminDataSource(), "select count(*) from isolated where v = 9")).isZero();
  }

  @Test
  void cannotInsertAsFailsWithoutRlsAndRollsBack() throws Exception {
    assertThatThrownBy(() -> assertCannotInsertAs(app, A, "insert into leaky(tenant_id, v) values (?, 9)", B))
        .isInstanceOf(AssertionError.class)
        .hasMessageContaining("an INSERT naming tenant 'tenant-b' wrote 1 row(s)");
    assertThat(Db.count(db.adminDataSource(), "select count(*) from leaky where v = 9")).isZero();
  }

  @Test
  void cannotInsertAsWithBrokenSqlIsAnError() {
    assertThatThrownBy(() -> assertCannotInsertAs(app, A, "insert into isolated(tenant_id, nope) values (?, 9)", B))
        .isInstanceOf(SaasException.class)
        .hasMessageContaining("proves nothing");
  }

  @Test
  void noRowsWithoutTenantPassesOnIsolatedTables() {
    assertThatCode(() -> {
      assertNoRowsWithoutTenant(app, "isolated");
      assertNoRowsWithoutTenant(app, "by_uuid");
    }).doesNotThrowAnyException();
  }

  @Test
  void noRowsWithoutTenantFailsOnALeakyTable() {
    assertThatThrownBy(() -> assertNoRowsWithoutTenant(app, "leaky"))
        .isInstanceOf(AssertionError.class)
        .hasMessageContaining("with no tenant set, 2 row(s) are visible");
  }

  @Test
  void noRowsWithoutTenantIgnoresTheCallersTenant() {
    // Even when called inside a tenant scope, the check runs with no tenant.
    TenantContext.run(A, () -> assertThatCode(() -> assertNoRowsWithoutTenant(app, "isolated"))
        .doesNotThrowAnyException());
  }

  @Test
  void noRowsWithoutTenantAcceptsAStrictDataSourceThatRefuses() {
    DataSource strict = new RefusingDataSource();
    assertThatCode(() -> assertNoRowsWithoutTenant(strict, "leaky")).doesNotThrowAnyException();
  }

  /** A strict tenant-aware DataSource: refuses to hand out connections without a tenant. */
  private static final class RefusingDataSource implements DataSource {
    @Override
    public Connection getConnection() {
      throw new MissingTenantException("no tenant");
    }

    @Override
    public Connection getConnection(String username, String password) {
      throw new MissingTenantException("no tenant");
    }

    @Override
    public PrintWriter getLogWriter() {
      return new PrintWriter(new OutputStreamWriter(System.err, StandardCharsets.UTF_8));
    }

    @Override
    public void setLogWriter(PrintWriter out) {}

    @Override
    public void setLoginTimeout(int seconds) {}

    @Override
    public int getLoginTimeout() {
      return 0;
    }

    @Override
    public Logger getParentLogger() throws SQLFeatureNotSupportedException {
      throw new SQLFeatureNotSupportedException();
    }

    @Override
    public <T> T unwrap(Class<T> iface) throws SQLException {
      throw new SQLException("not a wrapper");
    }

    @Override
    public boolean isWrapperFor(Class<?> iface) {
      return false;
    }
  }
}
