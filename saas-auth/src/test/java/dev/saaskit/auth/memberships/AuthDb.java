package dev.saaskit.auth.memberships;

import dev.saaskit.auth.AuthSchema;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import javax.sql.DataSource;

/** Test helpers: the auth schema migrated as the owner and granted to the app role; counts past RLS. */
final class AuthDb {
  private AuthDb() {}

  static void migrate(TestDatabase db) throws SQLException {
    AuthSchema.defaults().migrate(db.ownerDataSource());
    try (Connection c = db.ownerDataSource().getConnection()) {
      AuthSchema.defaults().grantApp(c, db.appRole());
    }
  }

  /** {@code SELECT count(*) ...} as the superuser (past RLS). */
  static long count(TestDatabase db, String sql, Object... args) throws SQLException {
    return count(db.adminDataSource(), sql, args);
  }

  static long count(DataSource ds, String sql, Object... args) throws SQLException {
    try (Connection c = ds.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
      for (int i = 0; i < args.length; i++) {
        ps.setObject(i + 1, args[i]);
      }
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getLong(1);
      }
    }
  }
}
