package dev.saaskit.fleet.internal;

import dev.saaskit.fleet.FleetException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;

/** Small JDBC helpers. Not API. */
public final class Jdbc {
  private Jdbc() {}

  /** Maps one row. */
  @FunctionalInterface
  public interface RowMapper<T> {
    T map(ResultSet rs) throws SQLException;
  }

  public static <T> List<T> query(DataSource ds, String sql, RowMapper<T> mapper, @Nullable Object... args) {
    try (Connection c = ds.getConnection()) {
      return query(c, sql, mapper, args);
    } catch (SQLException e) {
      throw new FleetException("query failed: " + e.getMessage(), e);
    }
  }

  public static <T> List<T> query(Connection c, String sql, RowMapper<T> mapper, @Nullable Object... args)
      throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      bind(ps, args);
      try (ResultSet rs = ps.executeQuery()) {
        List<T> out = new ArrayList<>();
        while (rs.next()) {
          out.add(mapper.map(rs));
        }
        return out;
      }
    }
  }

  public static int update(DataSource ds, String sql, @Nullable Object... args) {
    try (Connection c = ds.getConnection()) {
      return update(c, sql, args);
    } catch (SQLException e) {
      throw new FleetException("update failed: " + e.getMessage(), e);
    }
  }

  public static int update(Connection c, String sql, @Nullable Object... args) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      bind(ps, args);
      return ps.executeUpdate();
    }
  }

  private static void bind(PreparedStatement ps, @Nullable Object[] args) throws SQLException {
    for (int i = 0; i < args.length; i++) {
      ps.setObject(i + 1, args[i]);
    }
  }
}
