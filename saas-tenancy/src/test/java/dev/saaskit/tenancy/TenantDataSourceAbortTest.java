package dev.saaskit.tenancy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.Await;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * {@code Connection.abort} on a TenantDataSource connection (review of 2026-12-06): JDBC counts an aborted
 * connection as closed, but over a pool the wrapper still answered {@code isClosed() == false}, and the
 * {@code close()} of try-with-resources after a watchdog's abort threw "This connection has been closed".
 */
@ExtendWith(PostgresExtension.class)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class TenantDataSourceAbortTest {
  static final TenantId ACME = TenantId.of("acme");

  static TestDatabase db;
  static HikariDataSource pool;
  static TenantDataSource tenantDs;

  @BeforeAll
  static void schema(TestDatabase database) throws SQLException {
    db = database;
    try (Connection c = db.ownerDataSource().getConnection(); Statement s = c.createStatement()) {
      s.execute("CREATE TABLE notes (id bigserial PRIMARY KEY, tenant_id text NOT NULL, body text NOT NULL)");
      RlsPolicy.forTable("notes").columnType(TenantColumnType.TEXT).build().apply(c);
    }
    try (Connection c = db.adminDataSource().getConnection(); Statement s = c.createStatement()) {
      s.execute("INSERT INTO notes (tenant_id, body) VALUES ('acme', 'a'), ('globex', 'g')");
    }
    pool = db.newPool(db.appRole(), db.appPassword(), 1);
    tenantDs = TenantDataSource.wrap(pool);
  }

  @AfterAll
  static void closePool() {
    pool.close();
  }

  @Test
  void anAbortedConnectionIsClosedAndItsCloseDoesNothing() throws Exception {
    Connection c = tenantDs.getConnection();
    c.abort(Runnable::run);
    assertThat(c.isClosed()).isTrue();
    c.close(); // try-with-resources after the abort
    c.abort(Runnable::run); // aborting a closed connection does nothing
    assertThat(acmeNotes()).as("the pool of one dropped the dead connection and opened another").isEqualTo(1);
  }

  @Test
  void aWatchdogAbortEndsAStatementInFlightAndTheOwnersCloseDoesNotFail() throws Exception {
    Connection c = tenantDs.getConnection();
    CompletableFuture<Throwable> owner = CompletableFuture.supplyAsync(() -> {
      try (Connection owned = c) {
        TenantContext.run(ACME, () -> {
          try (Statement s = owned.createStatement()) {
            s.execute("SELECT pg_sleep(60) /* hung */");
          }
        });
        return null;
      } catch (Throwable e) {
        return e;
      }
    });
    Await.until("the statement runs", () -> running("pg_sleep(60)") == 1);
    c.abort(Runnable::run);
    Throwable failure = owner.get(30, TimeUnit.SECONDS);
    assertThat(failure).as("the statement was ended").isInstanceOf(SQLException.class);
    assertThat(failure.getSuppressed()).as("the owner's close after the abort").isEmpty();
    assertThat(acmeNotes()).isEqualTo(1);
  }

  static int acmeNotes() throws Exception {
    return TenantContext.call(ACME, () -> {
      try (Connection c = tenantDs.getConnection(); Statement s = c.createStatement();
          ResultSet rs = s.executeQuery("SELECT count(*) FROM notes")) {
        rs.next();
        return rs.getInt(1);
      }
    });
  }

  static int running(String text) throws SQLException {
    try (Connection c = db.adminDataSource().getConnection(); Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%" + text
            + " /* hung */%' AND pid <> pg_backend_pid()")) {
      rs.next();
      return rs.getInt(1);
    }
  }
}
