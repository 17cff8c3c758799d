package dev.saaskit.tenancy.docs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.jooq.impl.DSL.field;
import static org.jooq.impl.DSL.name;
import static org.jooq.impl.DSL.table;

import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.tenancy.RlsPolicy;
import dev.saaskit.tenancy.TenantColumnType;
import dev.saaskit.tenancy.TenantDataSource;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.Statement;
import java.util.List;
import org.jooq.DSLContext;
import org.jooq.Field;
import org.jooq.SQLDialect;
import org.jooq.Table;
import org.jooq.exception.DataAccessException;
import org.jooq.impl.DSL;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The documented jOOQ recipe (docs/tenancy.md): a DSLContext over a TenantDataSource. */
@ExtendWith(PostgresExtension.class)
class JooqIntegrationTest {
  static final Table<?> PROJECTS = table(name("projects"));
  static final Field<String> NAME = field(name("name"), String.class);
  static final Field<String> TENANT = field(name("tenant_id"), String.class);

  static HikariDataSource pool;
  static DSLContext dsl;

  @BeforeAll
  static void setUp(TestDatabase db) throws Exception {
    try (Connection c = db.ownerDataSource().getConnection(); Statement s = c.createStatement()) {
      s.execute("CREATE TABLE projects (id bigserial PRIMARY KEY, tenant_id text NOT NULL, name text NOT NULL)");
      RlsPolicy.forTable("projects").columnType(TenantColumnType.TEXT).build().apply(c);
    }
    pool = db.newPool(db.appRole(), db.appPassword(), 2);
    dsl = DSL.using(TenantDataSource.wrap(pool), SQLDialect.POSTGRES);
  }

  @AfterAll
  static void tearDown() {
    pool.close();
  }

  @Test
  void transactionsAndQueriesRunAsTheTenant() throws Exception {
    TenantId acme = TenantId.of("acme");
    TenantId globex = TenantId.of("globex");
    TenantContext.call(acme, () -> dsl.transactionResult(tx -> {
      tx.dsl().insertInto(PROJECTS).columns(NAME).values("apollo").values("gemini").execute();
      return null;
    }));
    TenantContext.call(globex, () -> dsl.insertInto(PROJECTS).columns(NAME).values("orion").execute());

    List<String> acmeSees = TenantContext.call(acme,
        () -> dsl.select(NAME).from(PROJECTS).orderBy(NAME).fetch(NAME));
    assertThat(acmeSees).containsExactly("apollo", "gemini");
    String returned = TenantContext.call(globex, () -> dsl.insertInto(PROJECTS).columns(NAME).values("vega")
        .returning(TENANT).fetchOne(TENANT));
    assertThat(returned).isEqualTo("globex");
    assertThat(dsl.fetchCount(PROJECTS)).as("no tenant sees nothing").isZero();

    // A failing transaction rolls back everything it wrote as the tenant.
    assertThatThrownBy(() -> TenantContext.call(acme, () -> dsl.transactionResult(tx -> {
      tx.dsl().insertInto(PROJECTS).columns(NAME).values("doomed").execute();
      tx.dsl().insertInto(PROJECTS).columns(NAME).values((String) null).execute();
      return null;
    }))).isInstanceOf(DataAccessException.class);
    assertThat(TenantContext.call(acme, () -> dsl.fetchCount(PROJECTS))).isEqualTo(2);
  }

  @Test
  void theDocumentedRecipe() throws Exception {
    TenantId tenant = TenantId.of("initech");
    // snippet: jooq
    DSLContext dsl = DSL.using(TenantDataSource.wrap(pool), SQLDialect.POSTGRES);

    int projects = TenantContext.call(tenant, () -> dsl.transactionResult(tx -> {
      tx.dsl().insertInto(PROJECTS).columns(NAME).values("apollo").execute();
      return tx.dsl().fetchCount(PROJECTS);
    }));
    // end snippet
    assertThat(projects).isEqualTo(1);
    assertThat(TenantContext.call(tenant, () -> dsl.select(TENANT).from(PROJECTS).fetch(TENANT)))
        .containsExactly("initech");
  }
}
