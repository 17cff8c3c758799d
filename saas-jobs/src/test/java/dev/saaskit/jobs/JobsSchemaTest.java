package dev.saaskit.jobs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.core.TenantSetting;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import dev.saaskit.core.MigrationResult;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import javax.sql.DataSource;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(PostgresExtension.class)
class JobsSchemaTest {
  private static final JobsSchema SCHEMA = JobsSchema.defaults();
  private static String worker;

  @BeforeAll
  static void migrate(TestDatabase db) throws SQLException {
    assertThat(SCHEMA.migrate(db.ownerDataSource()).applied()).hasSize(6);
    worker = db.createRole("worker", "");
    try (Connection c = db.ownerDataSource().getConnection()) {
      SCHEMA.grantApp(c, db.appRole());
      SCHEMA.grantWorker(c, worker);
      SCHEMA.grantWorker(c, worker); // idempotent
    }
  }

  @Test
  void secondMigrationAppliesNothing(TestDatabase db) {
    MigrationResult again = SCHEMA.migrate(db.ownerDataSource());
    assertThat(again.changed()).isFalse();
    assertThat(again.version()).isEqualTo(6);
    assertThat(again.schema()).isEqualTo(SCHEMA.name()).isEqualTo("saaskit_jobs");
  }

  @Test
  void appRoleSeesOnlyItsTenantAndNothingWithoutOne(TestDatabase db) throws SQLException {
    try (Connection c = db.appDataSource().getConnection(); Statement st = c.createStatement()) {
      c.setAutoCommit(false);
      st.execute("SELECT set_config('app.tenant_id', 'acme', true)");
      st.execute("INSERT INTO saaskit_jobs.jobs (tenant_id, queue, type, payload) VALUES ('acme', 'q', 't', '{}')");
      assertThatThrownBy(() -> st.execute(
              "INSERT INTO saaskit_jobs.jobs (tenant_id, queue, type, payload) VALUES ('globex', 'q', 't', '{}')"))
          .hasMessageContaining("row-level security");
      c.rollback();
      st.execute("INSERT INTO saaskit_jobs.jobs (tenant_id, queue, type, payload) VALUES ('acme', 'q', 't', '{}')"
          .replace("INSERT", "SELECT set_config('app.tenant_id', 'acme', true); INSERT"));
      c.commit();
      assertThat(count(c, "SELECT count(*) FROM saaskit_jobs.jobs")).isZero();
      st.execute("SELECT set_config('app.tenant_id', 'globex', true)");
      assertThat(count(c, "SELECT count(*) FROM saaskit_jobs.jobs")).isZero();
      c.rollback();
    }
  }

  @Test
  void workerRoleSeesEveryTenantWithoutBypassingRls(TestDatabase db) throws SQLException {
    try (var pool = db.newPool(worker, db.rolePassword(worker), 1);
        Connection c = pool.getConnection()) {
      try (Statement st = c.createStatement()) {
        st.execute("INSERT INTO saaskit_jobs.jobs (tenant_id, queue, type, payload) VALUES ('w1', 'q', 't', '{}'),"
            + " ('w2', 'q', 't', '{}')");
      }
      assertThat(count(c, "SELECT count(DISTINCT tenant_id) FROM saaskit_jobs.jobs WHERE tenant_id LIKE 'w%'"))
          .isEqualTo(2);
      assertThat(count(c, "SELECT count(*) FROM pg_roles WHERE rolname = current_user AND NOT rolbypassrls"))
          .isEqualTo(1);
    }
  }

  @Test
  void rejectsMalformedNames() {
    assertThatIllegalArgumentException().isThrownBy(() -> JobsSchema.builder().name("jobs").tenantSetting(TenantSetting.of("no_dot")).build());
    assertThatIllegalArgumentException().isThrownBy(() -> JobsSchema.builder().name("").tenantSetting(TenantSetting.DEFAULT).build());
  }

  private static long count(Connection c, String sql) throws SQLException {
    try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
      rs.next();
      return rs.getLong(1);
    }
  }
}
