package dev.saaskit.jobs.internal;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.core.TenantId;
import dev.saaskit.core.TenantSetting;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The queue's statements carry the tenant as a prefix in the same round trip; pgjdbc splits such a statement with a
 * Sync of its own once it has described it (a parameter of unspecified type, from the 5th execution on one
 * connection) if it returns columns of unbounded size. In autocommit mode the statement then ran without the
 * tenant. The queue's own statements return bounded columns today, so this runs one that does not, through the
 * session, twelve times on one connection; it saw no rows from the sixth execution before the guard.
 */
@ExtendWith(PostgresExtension.class)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class QueueSessionSplitTest {

  @Test
  void aStatementTheDriverSplitsStillRunsWithItsTenant(TestDatabase db) throws SQLException {
    try (Connection c = db.ownerDataSource().getConnection(); Statement s = c.createStatement()) {
      s.execute("CREATE TABLE notes (tenant_id text NOT NULL, title text NOT NULL, at timestamptz NOT NULL)");
      s.execute("ALTER TABLE notes ENABLE ROW LEVEL SECURITY");
      s.execute("ALTER TABLE notes FORCE ROW LEVEL SECURITY");
      s.execute("CREATE POLICY notes_tenant ON notes"
          + " USING (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')))");
      s.execute("GRANT SELECT ON notes TO " + db.appRole());
    }
    try (Connection c = db.adminDataSource().getConnection(); Statement s = c.createStatement()) {
      s.execute("INSERT INTO notes VALUES ('acme', 'a-1', '2020-01-01'), ('acme', 'a-2', '2020-01-02'),"
          + " ('globex', 'g-1', '2020-01-01')");
    }
    List<String> seen = new ArrayList<>();
    List<String> expected = new ArrayList<>();
    try (HikariDataSource pool = db.newPool(db.appRole(), db.appPassword(), 1);
        Connection c = pool.getConnection()) {
      QueueSession session = new QueueSession(c, TenantSetting.DEFAULT, false);
      for (int i = 0; i < 12; i++) {
        boolean acme = i % 2 == 0;
        session.tenant(TenantId.of(acme ? "acme" : "globex"));
        expected.add(acme ? "a-1,a-2" : "g-1");
        try (QueueSession.Statement st = session.prepare("SELECT title FROM notes WHERE at >= ? ORDER BY title")) {
          st.jdbc().setTimestamp(st.firstParameter(), Timestamp.valueOf("2019-01-01 00:00:00"));
          ResultSet rs = st.execute();
          assertThat(rs).isNotNull();
          List<String> titles = new ArrayList<>();
          while (rs.next()) {
            titles.add(rs.getString(1));
          }
          seen.add(String.join(",", titles));
        }
        assertThat(c.getAutoCommit()).isTrue();
      }
    }
    assertThat(seen).containsExactlyElementsOf(expected);
  }
}
