package dev.saaskit.auth.sso;

import dev.saaskit.auth.AuthSchema;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import javax.sql.DataSource;

/** Schema set-up and SQL helpers for the SSO tests. */
final class SsoFixture {
  private SsoFixture() {}

  /** Migrates the default auth schema as the owner and grants it to the app role. */
  static void migrate(TestDatabase db) throws SQLException {
    AuthSchema schema = AuthSchema.defaults();
    schema.migrate(db.ownerDataSource());
    try (Connection c = db.ownerDataSource().getConnection()) {
      schema.grantApp(c, db.appRole());
    }
  }

  /** A count, in a transaction with {@code tenant} set (null: none). */
  static long count(DataSource ds, String tenant, String sql) throws SQLException {
    try (Connection c = ds.getConnection()) {
      c.setAutoCommit(false);
      try {
        if (tenant != null) {
          try (PreparedStatement ps = c.prepareStatement("SELECT set_config('app.tenant_id', ?, true)")) {
            ps.setString(1, tenant);
            ps.execute();
          }
        }
        try (PreparedStatement ps = c.prepareStatement(sql); ResultSet rs = ps.executeQuery()) {
          rs.next();
          return rs.getLong(1);
        }
      } finally {
        c.rollback();
      }
    }
  }

  /** A DNS that answers from a map (name -> TXT records). */
  static final class FakeDns implements DnsTxtResolver {
    final Map<String, List<String>> records = new ConcurrentHashMap<>();

    @Override
    public List<String> txtRecords(String name) {
      return records.getOrDefault(name, List.of());
    }
  }
}
