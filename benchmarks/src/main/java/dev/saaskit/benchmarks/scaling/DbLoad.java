package dev.saaskit.benchmarks.scaling;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/** Bulk loading helpers for the database series: load with the indexes dropped, rebuild them as they were. */
final class DbLoad {
  private DbLoad() {}

  /**
   * Runs {@code load} on {@code table} with its secondary indexes dropped, then recreates them from their own
   * definitions (pg_get_indexdef: the schema's exact indexes, partial predicates included) and runs VACUUM ANALYZE,
   * as autovacuum would have by the time a queue this large is claimed from. The primary key stays.
   */
  static void withIndexesRebuilt(Connection admin, String table, String load) throws SQLException {
    List<String> definitions = new ArrayList<>();
    List<String> names = new ArrayList<>();
    try (Statement st = admin.createStatement()) {
      try (ResultSet rs = st.executeQuery("SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)"
          + " FROM pg_index i WHERE i.indrelid = '" + table + "'::regclass AND NOT i.indisprimary"
          + " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)")) {
        while (rs.next()) {
          names.add(rs.getString(1));
          definitions.add(rs.getString(2));
        }
      }
      st.execute("SET maintenance_work_mem = '512MB'");
      for (String name : names) {
        st.execute("DROP INDEX " + name);
      }
      st.execute(load);
      for (String definition : definitions) {
        st.execute(definition);
      }
      st.execute("VACUUM ANALYZE " + table);
    }
  }

  static long scalar(Connection c, String sql) throws SQLException {
    try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
      rs.next();
      return rs.getLong(1);
    }
  }

  static String text(Connection c, String sql) throws SQLException {
    StringBuilder out = new StringBuilder();
    try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
      while (rs.next()) {
        out.append(rs.getString(1)).append('\n');
      }
    }
    return out.toString();
  }
}
