package dev.saaskit.fleet.internal;

import dev.saaskit.core.TenantId;
import dev.saaskit.core.TenantSetting;
import dev.saaskit.core.internal.SqlNames;
import dev.saaskit.fleet.FleetException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The tables that hold a tenant's rows in one database: those of a schema with the tenant column, parents before
 * children (by their foreign keys), and the SQL to read, count and delete a tenant's rows. Not API.
 */
public final class TenantTables {
  /** One table: its quoted name, its columns in order, and which columns take values on insert. */
  public record Table(String schema, String name, List<String> columns, List<String> insertable,
      List<String> sequences) {
    public String qualified() {
      return SqlNames.quoteIdent(schema) + "." + SqlNames.quoteIdent(name);
    }

    public String label() {
      return schema + "." + name;
    }

    public String columnList(List<String> cols) {
      StringBuilder sb = new StringBuilder();
      for (String c : cols) {
        sb.append(sb.length() == 0 ? "" : ", ").append(SqlNames.quoteIdent(c));
      }
      return sb.toString();
    }
  }

  private final String tenantColumn;
  private final List<Table> ordered;

  private TenantTables(String tenantColumn, List<Table> ordered) {
    this.tenantColumn = tenantColumn;
    this.ordered = ordered;
  }

  /** Parents first: the order to insert in. */
  public List<Table> insertOrder() {
    return ordered;
  }

  /** Children first: the order to delete in. */
  public List<Table> deleteOrder() {
    List<Table> reversed = new ArrayList<>(ordered);
    java.util.Collections.reverse(reversed);
    return reversed;
  }

  /** Finds the tenant tables of {@code schema} in the database of {@code c}. */
  public static TenantTables discover(Connection c, String schema, String tenantColumn) throws SQLException {
    Map<String, Table> tables = new LinkedHashMap<>();
    try (PreparedStatement ps = c.prepareStatement(
        "SELECT cl.relname, array_agg(a.attname::text ORDER BY a.attnum), "
            + " array_agg(a.attname::text ORDER BY a.attnum) FILTER (WHERE a.attgenerated = ''), "
            + " array_remove(array_agg(pg_get_serial_sequence(format('%I.%I', n.nspname, cl.relname), a.attname)"
            + "   ORDER BY a.attnum), NULL) "
            + "FROM pg_class cl JOIN pg_namespace n ON n.oid = cl.relnamespace "
            + "JOIN pg_attribute a ON a.attrelid = cl.oid AND a.attnum > 0 AND NOT a.attisdropped "
            + "WHERE n.nspname = ? AND cl.relkind IN ('r', 'p') AND NOT cl.relispartition "
            + "AND EXISTS (SELECT 1 FROM pg_attribute t WHERE t.attrelid = cl.oid AND t.attname = ? "
            + "  AND NOT t.attisdropped) "
            + "GROUP BY cl.relname ORDER BY cl.relname")) {
      ps.setString(1, schema);
      ps.setString(2, tenantColumn);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          tables.put(rs.getString(1), new Table(schema, rs.getString(1), strings(rs, 2), strings(rs, 3),
              strings(rs, 4)));
        }
      }
    }
    Map<String, Set<String>> parents = new HashMap<>();
    try (PreparedStatement ps = c.prepareStatement(
        "SELECT child.relname, parent.relname FROM pg_constraint co "
            + "JOIN pg_class child ON child.oid = co.conrelid JOIN pg_class parent ON parent.oid = co.confrelid "
            + "JOIN pg_namespace n ON n.oid = child.relnamespace JOIN pg_namespace pn ON pn.oid = parent.relnamespace "
            + "WHERE co.contype = 'f' AND n.nspname = ? AND pn.nspname = ?")) {
      ps.setString(1, schema);
      ps.setString(2, schema);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          if (tables.containsKey(rs.getString(1)) && tables.containsKey(rs.getString(2))
              && !rs.getString(1).equals(rs.getString(2))) {
            parents.computeIfAbsent(rs.getString(1), k -> new LinkedHashSet<>()).add(rs.getString(2));
          }
        }
      }
    }
    List<Table> ordered = new ArrayList<>();
    Set<String> placed = new LinkedHashSet<>();
    while (placed.size() < tables.size()) {
      boolean progress = false;
      for (String name : tables.keySet()) {
        if (!placed.contains(name) && placed.containsAll(parents.getOrDefault(name, Set.of()))) {
          placed.add(name);
          ordered.add(tables.get(name));
          progress = true;
        }
      }
      if (!progress) {
        Set<String> left = new LinkedHashSet<>(tables.keySet());
        left.removeAll(placed);
        throw new FleetException("the foreign keys of tables " + left + " form a cycle: saas-fleet cannot order "
            + "them for a move or an erasure");
      }
    }
    return new TenantTables(tenantColumn, ordered);
  }

  private static List<String> strings(ResultSet rs, int column) throws SQLException {
    java.sql.Array array = rs.getArray(column);
    if (array == null) {
      return List.of();
    }
    Object[] values = (Object[]) array.getArray();
    List<String> out = new ArrayList<>();
    for (Object v : values) {
      out.add((String) v);
    }
    return List.copyOf(out);
  }

  /** {@code WHERE tenant = literal}, for COPY queries (which take no parameters). */
  public String where(TenantId tenant) {
    return " WHERE " + SqlNames.quoteIdent(tenantColumn) + " = " + SqlNames.quoteLiteral(tenant.value());
  }

  /** Sets the tenant for the rest of the transaction on {@code c} (RLS policies see it). */
  public static void bindTenant(Connection c, TenantSetting setting, TenantId tenant) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT set_config(?, ?, true)")) {
      ps.setString(1, setting.name());
      ps.setString(2, tenant.value());
      ps.execute();
    }
  }

  /** Row count and a checksum of the tenant's rows of {@code t} (order-independent). */
  public Checksum checksum(Connection c, Table t, TenantId tenant) throws SQLException {
    String row = "md5(ROW(" + t.columnList(t.columns()) + ")::text)";
    try (PreparedStatement ps = c.prepareStatement("SELECT count(*), coalesce(md5(string_agg(" + row
        + ", '' ORDER BY " + row + ")), '') FROM " + t.qualified() + where(tenant));
        ResultSet rs = ps.executeQuery()) {
      rs.next();
      return new Checksum(rs.getLong(1), rs.getString(2));
    }
  }

  /** Deletes the tenant's rows of {@code t}; returns how many. */
  public long delete(Connection c, Table t, TenantId tenant) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + t.qualified() + where(tenant))) {
      return ps.executeLargeUpdate();
    }
  }

  /**
   * The primary key columns of {@code t}, in key order; empty without a primary key. Exports sort by these: a
   * column of a type without an ordering operator ({@code json}, {@code point}, {@code xml}) cannot be sorted by.
   */
  public static List<String> primaryKey(Connection c, Table t) throws SQLException {
    List<String> columns = new ArrayList<>();
    try (PreparedStatement ps = c.prepareStatement("SELECT a.attname::text FROM pg_index i "
        + "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) "
        + "WHERE i.indrelid = ?::regclass AND i.indisprimary ORDER BY array_position(i.indkey::int2[], a.attnum)")) {
      ps.setString(1, t.qualified());
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          columns.add(rs.getString(1));
        }
      }
    }
    return List.copyOf(columns);
  }

  /** Rows of the tenant in {@code t}. */
  public long count(Connection c, Table t, TenantId tenant) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM " + t.qualified() + where(tenant));
        ResultSet rs = ps.executeQuery()) {
      rs.next();
      return rs.getLong(1);
    }
  }

  /** A row count and checksum. */
  public record Checksum(long rows, String md5) {}
}
