package dev.saaskit.cache.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.cache.postgres.internal.PgStatements;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The read of new log rows goes through the {@code tx} index even when the log has no statistics yet (a new log,
 * or one written faster than autovacuum analyzes it): a sequential scan there costs every node tens of
 * milliseconds per read under load.
 */
@org.junit.jupiter.api.extension.ExtendWith(PostgresExtension.class)
class PollPlanTest {
  static final String SCHEMA = "poll_plan_check";
  static final int ROWS = 30_000;

  @BeforeAll
  static void fillALogThatWasNeverAnalyzed(TestDatabase db) throws SQLException {
    CacheSchema.builder().name(SCHEMA).build().migrate(db.ownerDataSource());
    try (Connection c = db.ownerDataSource().getConnection(); Statement st = c.createStatement()) {
      st.execute("ALTER TABLE " + SCHEMA + ".invalidation_log SET (autovacuum_enabled = false)");
      st.execute("INSERT INTO " + SCHEMA + ".invalidation_log (scope, cache_name, value)"
          + " SELECT 'KEY', 'items', g::text FROM generate_series(1, " + ROWS + ") g");
      // what autovacuum does first to an insert-only table: a VACUUM, which counts the rows, with no ANALYZE
      st.execute("VACUUM " + SCHEMA + ".invalidation_log");
      try (ResultSet rs = st.executeQuery("SELECT count(*) FROM pg_stats WHERE schemaname = '" + SCHEMA + "'"
          + " AND tablename = 'invalidation_log'")) {
        rs.next();
        assertThat(rs.getLong(1)).as("no column statistics").isZero();
      }
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"auto", "force_custom_plan", "force_generic_plan"})
  void theReadOfNewRowsUsesTheIndex(String planCacheMode, TestDatabase db) throws SQLException {
    String plan = explainPoll(db, planCacheMode);
    assertThat(plan).contains("invalidation_log_tx_idx").doesNotContain("Seq Scan on invalidation_log");
    // the estimate is the cause: "tx >= ?" alone is a third of the table, which tips the plan to a sequential scan
    // as soon as the table's pages are dense enough
    List<String> lines = plan.lines().toList();
    long estimated = 0;
    for (int i = 0; i < lines.size(); i++) {
      if (lines.get(i).contains("(tx >= ")) {
        Matcher rows = Pattern.compile("rows=(\\d+)").matcher(lines.get(i - 1));
        assertThat(rows.find()).as(lines.get(i - 1)).isTrue();
        estimated = Math.max(estimated, Long.parseLong(rows.group(1)));
      }
    }
    assertThat(estimated).as(plan).isPositive().isLessThan(ROWS / 100);
  }

  private static String explainPoll(TestDatabase db, String planCacheMode) throws SQLException {
    String head;
    try (Connection c = db.ownerDataSource().getConnection(); Statement st = c.createStatement()) {
      try (ResultSet rs = st.executeQuery("SELECT pg_current_snapshot()::text")) {
        rs.next();
        head = rs.getString(1);
      }
      st.execute("SET plan_cache_mode = " + planCacheMode);
      // a named prepared statement, as the driver makes of a statement it runs again and again; its plan (custom
      // or generic) is what EXPLAIN EXECUTE shows
      String query = new PgStatements(SCHEMA).pollNoListenCheck;
      for (int n = 1; query.contains("?"); n++) {
        query = query.replaceFirst("\\?", "\\$" + n);
      }
      st.execute("DEALLOCATE ALL"); // a pooled session: the previous run's statement may still be there
      st.execute("PREPARE poll_plan(text, text) AS " + query);
      String xmax = head.substring(head.indexOf(':') + 1, head.lastIndexOf(':'));
      StringBuilder plan = new StringBuilder();
      for (int run = 0; run < 7; run++) { // past the five custom plans after which "auto" may go generic
        plan.setLength(0);
        try (ResultSet rs = st.executeQuery("EXPLAIN EXECUTE poll_plan('" + xmax + "', '{}')")) {
          while (rs.next()) {
            plan.append(rs.getString(1)).append('\n');
          }
        }
      }
      st.execute("RESET plan_cache_mode");
      return plan.toString();
    }
  }
}
