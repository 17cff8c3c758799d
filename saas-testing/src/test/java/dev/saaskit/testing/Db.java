package dev.saaskit.testing;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import javax.sql.DataSource;

/** Small JDBC helpers for the tests. */
final class Db {
  private Db() {}

  static void exec(DataSource ds, String... statements) throws SQLException {
    try (Connection c = ds.getConnection(); Statement st = c.createStatement()) {
      for (String sql : statements) {
        st.execute(sql);
      }
    }
  }

  static long count(DataSource ds, String sql, Object... params) throws SQLException {
    try (Connection c = ds.getConnection()) {
      return count(c, sql, params);
    }
  }

  static long count(Connection c, String sql, Object... params) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      for (int i = 0; i < params.length; i++) {
        ps.setObject(i + 1, params[i]);
      }
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getLong(1);
      }
    }
  }

  static List<Object> row(DataSource ds, String sql, Object... params) throws SQLException {
    try (Connection c = ds.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
      for (int i = 0; i < params.length; i++) {
        ps.setObject(i + 1, params[i]);
      }
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) {
          throw new AssertionError("no row for " + sql);
        }
        List<Object> row = new ArrayList<>();
        for (int i = 1; i <= rs.getMetaData().getColumnCount(); i++) {
          row.add(rs.getObject(i));
        }
        return row;
      }
    }
  }

  /** A superuser connection to the server's {@code postgres} database, for checks from outside a test database. */
  static Connection superuser(PostgresServer server) throws SQLException {
    java.util.Properties props = new java.util.Properties();
    props.setProperty("user", server.superuser());
    if (!server.superuserPassword().isEmpty()) {
      props.setProperty("password", server.superuserPassword());
    }
    return DriverManager.getConnection(server.jdbcUrl("postgres"), props);
  }

  static boolean databaseExists(PostgresServer server, String name) throws SQLException {
    try (Connection c = superuser(server)) {
      return count(c, "select count(*) from pg_database where datname = ?", name) > 0;
    }
  }

  static long rolesNamedLike(PostgresServer server, String prefix) throws SQLException {
    try (Connection c = superuser(server)) {
      return count(c, "select count(*) from pg_roles where starts_with(rolname, ?)", prefix);
    }
  }
}
