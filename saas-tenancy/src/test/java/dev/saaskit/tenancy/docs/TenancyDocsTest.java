package dev.saaskit.tenancy.docs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.core.MissingTenantException;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.core.TenantSetting;
import dev.saaskit.tenancy.InvalidTenantIdException;
import dev.saaskit.tenancy.RlsPolicy;
import dev.saaskit.tenancy.StartupGuard;
import dev.saaskit.tenancy.TenantColumnType;
import dev.saaskit.tenancy.TenantDataSource;
import dev.saaskit.tenancy.UnsafeDatabaseSetupException;
import dev.saaskit.tenancy.audit.Baseline;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The code of README.md and docs/tenancy.md, run as written (between the snippet markers). */
@ExtendWith(PostgresExtension.class)
class TenancyDocsTest {

  static TestDatabase db;
  static HikariDataSource appPool;

  @BeforeAll
  static void setUp(TestDatabase database) throws SQLException {
    db = database;
    try (Connection c = db.ownerDataSource().getConnection(); Statement st = c.createStatement()) {
      st.execute("CREATE TABLE notes (id bigserial PRIMARY KEY, tenant_id text NOT NULL, body text NOT NULL)");
      st.execute("CREATE TABLE invoices (id bigserial PRIMARY KEY, tenant_id uuid NOT NULL, total bigint)");
      RlsPolicy.forTable("notes").columnType(TenantColumnType.TEXT).build().apply(c);
      RlsPolicy.forTable("invoices").columnType(TenantColumnType.UUID).build().apply(c);
    }
    appPool = db.newPool(db.appRole(), db.appPassword(), 4);
  }

  @AfterAll
  static void tearDown() {
    appPool.close();
  }

  /** The README's first example: a tiny repository whose methods throw SQLException, as JDBC code does. */
  static final class Notes {
    void insert(DataSource db, String body) throws SQLException {
      try (Connection c = db.getConnection();
           PreparedStatement ps = c.prepareStatement("INSERT INTO notes (body) VALUES (?)")) {
        ps.setString(1, body);
        ps.executeUpdate();
      }
    }

    List<String> list(DataSource db) throws SQLException {
      List<String> bodies = new ArrayList<>();
      try (Connection c = db.getConnection();
           Statement st = c.createStatement();
           ResultSet rs = st.executeQuery("SELECT body FROM notes ORDER BY id")) {
        while (rs.next()) {
          bodies.add(rs.getString(1));
        }
      }
      return bodies;
    }
  }

  @Test
  void readmeQuickstart() throws SQLException {
    Notes notes = new Notes();
    DataSource appPool = TenancyDocsTest.appPool;
    List<String> seenByGlobex = new ArrayList<>();
    List<String> seenWithoutTenant;
    try (Connection ownerConnection = db.ownerDataSource().getConnection()) {
      // snippet: readme
      // once, as the table owner (a migration): RLS enabled and forced, policy with USING + WITH CHECK,
      // the tenant column defaulting to the current tenant, an index leading with tenant_id
      RlsPolicy.forTable("notes").columnType(TenantColumnType.TEXT).build().apply(ownerConnection);

      // at start-up: your pool logs in as the application role (not owner, not superuser, no BYPASSRLS)
      StartupGuard.defaults().verify(appPool);             // fails fast, saying how to fix, if the role can bypass RLS
      DataSource db = TenantDataSource.wrap(appPool);      // every statement now runs as TenantContext's tenant

      // at the edge of each request; the body may throw SQLException, run(..) rethrows it as it is
      TenantContext.run(TenantId.of("acme"), () -> notes.insert(db, "hello"));   // tenant_id filled in by PostgreSQL
      TenantContext.run(TenantId.of("globex"), () -> notes.list(db));            // sees none of acme's rows
      notes.list(db);                                      // no tenant: no rows, and writes fail
      // end snippet
      TenantContext.run(TenantId.of("globex"), () -> seenByGlobex.addAll(notes.list(db)));
      seenWithoutTenant = notes.list(db);
      assertThat(TenantContext.call(TenantId.of("acme"), () -> notes.list(db))).containsExactly("hello");
      assertThatThrownBy(() -> notes.insert(db, "orphan")).isInstanceOf(SQLException.class);
    }
    assertThat(seenByGlobex).isEmpty();
    assertThat(seenWithoutTenant).isEmpty();
  }

  @Test
  void tenantContext() throws Exception {
    DataSource db = TenantDataSource.wrap(appPool);
    Notes notes = new Notes();
    TenantId tenant = TenantId.of("initech");
    List<String> seen = new ArrayList<>();
    // snippet: context
    TenantContext.run(TenantId.of("acme"), () -> notes.insert(db, "hi"));     // a CheckedRunnable
    List<String> found = TenantContext.call(tenant, () -> notes.list(db));     // rethrows the body's exception as is
    TenantContext.run(tenant, () -> {
      TenantId current = TenantContext.require();       // throws MissingTenantException outside a tenant scope
      Optional<TenantId> maybe = TenantContext.current(); // empty outside a tenant scope
      seen.add(current.value() + "/" + maybe.orElseThrow().value());
    });
    // end snippet
    assertThat(found).isEmpty();
    assertThat(seen).containsExactly("initech/initech");
    assertThat(TenantContext.call(TenantId.of("acme"), () -> notes.list(db))).contains("hi");
    assertThatThrownBy(TenantContext::require).isInstanceOf(MissingTenantException.class);
  }

  record Report(String text) {
    Report withLogo(String logo) {
      return new Report(text + "|" + logo + "@" + TenantContext.require().value());
    }
  }

  static String loadRows() {
    return "rows@" + TenantContext.require().value();
  }

  static Report render(String rows) {
    return new Report(rows + "|rendered@" + TenantContext.require().value());
  }

  @Test
  void futureChainsKeepTheTenantOfTheStageThatMadeThem() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      TenantId tenant = TenantId.of("acme");
      CompletableFuture<String> logo = CompletableFuture.supplyAsync(() -> "logo", pool);
      // snippet: future-chain
      CompletableFuture<Report> report = TenantContext.call(tenant, () -> CompletableFuture
          .supplyAsync(TenantContext.wrapSupplier(() -> loadRows()), pool)                  // or wrap(pool)
          .thenApplyAsync(TenantContext.wrapFunction(rows -> render(rows)), pool)           // not: thenApplyAsync(fn, wrap(pool))
          .thenCombineAsync(logo, TenantContext.wrapBiFunction((r, l) -> r.withLogo(l)), pool));
      // end snippet
      assertThat(report.get(30, TimeUnit.SECONDS).text()).isEqualTo("rows@acme|rendered@acme|logo@acme");
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void dataSourceOptions() throws SQLException {
    HikariDataSource hikari = appPool;
    // snippet: wrap
    DataSource db = TenantDataSource.wrap(hikari);                 // defaults
    DataSource strict = TenantDataSource.builder(hikari)
        .tenantSetting(TenantSetting.DEFAULT)                      // app.tenant_id; TenantSetting.of("prefix.name") for another
        .strict(true)                                              // default false
        .build();
    // end snippet
    assertThat(new Notes().list(db)).isEmpty();
    assertThatThrownBy(() -> new Notes().list(strict)).isInstanceOf(MissingTenantException.class);
  }

  @Test
  void canonicalTenantIds() throws Exception {
    Map<String, String> claims = Map.of("org_id", "{A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11}");
    String pathParam = "+01";
    String raw = "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11";
    HikariDataSource pool = appPool;
    // snippet: canonical-ids
    TenantId tenant = TenantId.ofUuid(claims.get("org_id"));        // canonical: a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11
    TenantId numeric = TenantId.ofNumber(pathParam);               // canonical: "1" for "+01", "0x1", "1_0"... refused if not an int8
    TenantId same = TenantColumnType.UUID.tenantId(raw);          // the same, chosen by the column type

    DataSource db = TenantDataSource.builder(pool)
        .tenantIdType(TenantColumnType.UUID)    // any other spelling: InvalidTenantIdException, nothing sent
        .build();
    // end snippet
    assertThat(tenant.value()).isEqualTo("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    assertThat(numeric.value()).isEqualTo("1");
    assertThat(same).isEqualTo(tenant);
    assertThatThrownBy(() -> TenantContext.run(TenantId.of(raw), () -> new Notes().list(db)))
        .isInstanceOf(InvalidTenantIdException.class);
  }

  @Test
  void policyDdl() throws SQLException {
    try (Connection connection = db.ownerDataSource().getConnection()) {
      // snippet: policy
      RlsPolicy policy = RlsPolicy.forTable("public", "invoices")   // or forTable("invoices")
          .tenantColumn("tenant_id")                               // default
          .columnType(TenantColumnType.UUID)                       // UUID, BIGINT or TEXT; required
          .build();
      policy.apply(connection);        // executes the statements in the caller's transaction
      String sql = policy.toSql();     // or print them into a migration file
      // end snippet
      assertThat(sql).contains("FORCE ROW LEVEL SECURITY");
    }
    DataSource tenants = TenantDataSource.wrap(appPool);
    TenantId a = TenantId.ofUuid(UUID.randomUUID().toString());
    TenantContext.run(a, () -> {
      try (Connection c = tenants.getConnection(); Statement st = c.createStatement()) {
        st.executeUpdate("INSERT INTO invoices (total) VALUES (42)");
      }
    });
    assertThat(TenantContext.call(TenantId.ofUuid(UUID.randomUUID().toString()), () -> count(tenants))).isZero();
    assertThat(TenantContext.call(a, () -> count(tenants))).isEqualTo(1);
  }

  @Test
  void startupGuard() {
    DataSource appDataSource = appPool;
    // snippet: guard
    StartupGuard.defaults().verify(appDataSource);   // throws UnsafeDatabaseSetupException listing every problem and its fix
    // end snippet
    DataSource ownerDataSource = db.ownerDataSource();
    assertThatThrownBy(() -> StartupGuard.defaults().verify(ownerDataSource))
        .isInstanceOf(UnsafeDatabaseSetupException.class)
        .hasMessageContaining("app-role-owns-tenant-table");
    verifyWithBaseline(ownerDataSource); // a single-role prototype: the owner is the app role, accepted by the baseline
  }

  private static void verifyWithBaseline(DataSource appDataSource) {
    // snippet: guard-baseline
    StartupGuard.builder()
        .baseline(Baseline.parse("app-role-owns-tenant-table * -- single-role prototype; RLS forced; see ticket 42"))
        .build()
        .verify(appDataSource);
    // end snippet
  }

  private static long count(DataSource ds) throws SQLException {
    try (Connection c = ds.getConnection(); Statement st = c.createStatement();
         ResultSet rs = st.executeQuery("SELECT count(*) FROM invoices")) {
      rs.next();
      return rs.getLong(1);
    }
  }
}
