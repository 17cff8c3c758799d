package dev.saaskit.fleet;

import dev.saaskit.core.TenantId;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Rows of the shop schema for tests: seeding, and a fingerprint of a tenant's rows in one database. */
final class Shop {
  static final List<String> TABLES = List.of("customers", "orders", "order_items", "payments", "notes");

  private Shop() {}

  /** Inserts {@code perTable} rows of {@code tenant} in each of the five tables (past RLS, as the superuser). */
  static void seed(TestDatabase db, TenantId tenant, int perTable) {
    try (Connection c = db.adminDataSource().getConnection()) {
      c.setAutoCommit(false);
      String[] inserts = {
          "INSERT INTO customers (tenant_id, id, name) SELECT ?, g, 'customer ' || g FROM generate_series(1, ?) g",
          "INSERT INTO orders (tenant_id, id, customer_id, total) SELECT ?, g, g, g * 1.25 FROM generate_series(1, ?) g",
          "INSERT INTO order_items (tenant_id, id, order_id, sku, quantity) SELECT ?, g, g, 'sku-' || (g % 97), g % 7"
              + " FROM generate_series(1, ?) g",
          "INSERT INTO payments (tenant_id, id, order_id, amount, paid_at) SELECT ?, g, g, g * 1.25, "
              + "timestamptz '2026-01-01' + g * interval '1 minute' FROM generate_series(1, ?) g",
          "INSERT INTO notes (tenant_id, id, customer_id, body) SELECT ?, g, CASE WHEN g % 3 = 0 THEN NULL ELSE g END,"
              + " 'note ''' || g || E'''\\t\\\\ ,\"x\"' FROM generate_series(1, ?) g"};
      for (String sql : inserts) {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
          ps.setString(1, tenant.value());
          ps.setInt(2, perTable);
          ps.executeUpdate();
        }
      }
      try (Statement st = c.createStatement()) {
        for (String t : TABLES) {
          // ids of other inserts start above the seeded ones
          st.execute("SELECT setval(pg_get_serial_sequence('" + t + "', 'id'), greatest(1000000, "
              + "(SELECT last_value FROM " + t + "_id_seq)))");
        }
      }
      c.commit();
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Per table: row count and a checksum of the tenant's rows in {@code db}. */
  static Map<String, String> fingerprint(TestDatabase db, TenantId tenant) {
    Map<String, String> out = new LinkedHashMap<>();
    try (Connection c = db.adminDataSource().getConnection()) {
      for (String t : TABLES) {
        try (PreparedStatement ps = c.prepareStatement("SELECT count(*) || ':' || coalesce(md5(string_agg(md5(x::text),"
            + " '' ORDER BY md5(x::text))), '') FROM " + t + " x WHERE tenant_id = ?")) {
          ps.setString(1, tenant.value());
          try (ResultSet rs = ps.executeQuery()) {
            rs.next();
            out.put(t, rs.getString(1));
          }
        }
      }
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
    return out;
  }

  /** Rows of the tenant in all five tables of {@code db}. */
  static long rows(TestDatabase db, TenantId tenant) {
    long n = 0;
    for (String t : TABLES) {
      n += TestFleet.rows(db, t, tenant);
    }
    return n;
  }
}
