package dev.saaskit.tenancy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.PropertySamples;
import dev.saaskit.testing.TestDatabase;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.random.RandomGenerator;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * For all names (spaces, quotes, mixed case, non-ASCII letters, SQL fragments; up to 63 bytes) and all column types:
 * the generated DDL isolates tenants on a real database, and no name can change the shape of the SQL. Seeded
 * samples ({@link PropertySamples}).
 */
@ExtendWith(PostgresExtension.class)
class RlsPolicyPropertyTest {
  /** Pieces names are made of, including ones that would break out of a badly quoted identifier. */
  private static final List<String> FRAGMENTS = List.of(
      "a", "b", "z", "Q", "X", "_", "0", "7", " ", "\"", "'", ";", "-", "--", "/*", "*/", "\\", "$", ".", "(", ")",
      "é", "ß", "Ж", "日本", "😀", "\"; drop table canary; --", "') or true --", "public");

  private static TestDatabase db;

  @BeforeAll
  static void canary() throws SQLException {
    try (Connection c = db.ownerDataSource().getConnection(); Statement s = c.createStatement()) {
      s.execute("CREATE TABLE canary (id int)");
    }
  }

  /** 1 to 24 fragments, cut to PostgreSQL's 63-byte identifier limit. */
  static String name(RandomGenerator r) {
    StringBuilder name = new StringBuilder();
    int parts = r.nextInt(1, 25);
    for (int i = 0; i < parts; i++) {
      name.append(FRAGMENTS.get(r.nextInt(FRAGMENTS.size())));
    }
    return truncateUtf8(name.toString(), 63);
  }

  static TenantColumnType type(RandomGenerator r) {
    List<TenantColumnType> types = List.of(TenantColumnType.values());
    return types.get(r.nextInt(types.size()));
  }

  static String truncateUtf8(String s, int maxBytes) {
    StringBuilder out = new StringBuilder();
    int bytes = 0;
    for (int i = 0; i < s.length(); ) {
      int cp = s.codePointAt(i);
      int len = new String(Character.toChars(cp)).getBytes(StandardCharsets.UTF_8).length;
      if (bytes + len > maxBytes) {
        break;
      }
      out.appendCodePoint(cp);
      bytes += len;
      i += Character.charCount(cp);
    }
    return out.toString();
  }

  static String tenant(TenantColumnType type, int n) {
    switch (type) {
      case UUID: return "00000000-0000-4000-8000-00000000000" + n;
      case BIGINT: return String.valueOf(1_000_000_000_000L + n);
      default: return "tenant \"" + n + "'; --";
    }
  }

  record Table(String table, String column, TenantColumnType type) {}

  @TestFactory
  Stream<DynamicTest> generatedPolicyIsolatesTwoTenants() {
    return PropertySamples.check(50, r -> {
      String table = name(r);
      String column = name(r);
      while (column.equals("note")) { // the table's other column
        column = name(r);
      }
      return new Table(table, column, type(r));
    }, t -> isolatesTwoTenants(t.table(), t.column(), t.type()));
  }

  static void isolatesTwoTenants(String table, String column, TenantColumnType type) throws SQLException {
    RlsPolicy policy = RlsPolicy.forTable("public", table).tenantColumn(column).columnType(type)
        .indexColumns("note").build();
    String qt = "\"public\"." + quote(table);
    String qc = quote(column);
    try (Connection c = db.ownerDataSource().getConnection(); Statement s = c.createStatement()) {
      c.setAutoCommit(false);
      s.execute("CREATE TABLE " + qt + " (" + qc + " " + type.sqlType() + " NOT NULL, note text NOT NULL)");
      policy.apply(c);
      c.commit();
    }
    try {
      String a = tenant(type, 1);
      String b = tenant(type, 2);
      execAs(a, "INSERT INTO " + qt + "(note) VALUES ('a')");
      execAs(b, "INSERT INTO " + qt + "(note) VALUES ('b')");
      assertThat(queryAs(a, "SELECT note || '|' || " + qc + "::text FROM " + qt))
          .containsExactly("a|" + a);
      assertThat(queryAs(b, "SELECT note || '|' || " + qc + "::text FROM " + qt))
          .containsExactly("b|" + b);
      assertThat(queryAs("", "SELECT note FROM " + qt)).isEmpty();
      assertThatThrownBy(
          () -> execAs(a, "INSERT INTO " + qt + "(" + qc + ", note) VALUES (" + literal(b) + ", 'x')"))
          .isInstanceOfSatisfying(SQLException.class, e -> assertThat(e.getSQLState()).isEqualTo("42501"));
      try (Connection c = db.ownerDataSource().getConnection()) {
        assertThat(strings(c, "SELECT relrowsecurity AND relforcerowsecurity FROM pg_class WHERE oid = "
            + literal(qt) + "::regclass")).containsExactly("t");
        assertThat(strings(c, "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public' AND indexname = "
            + literal(policy.indexName().orElseThrow()))).containsExactly("1");
      }
    } finally {
      try (Connection c = db.ownerDataSource().getConnection(); Statement s = c.createStatement()) {
        s.execute("DROP TABLE " + qt);
        assertThat(strings(c, "SELECT to_regclass('public.canary') IS NOT NULL")).containsExactly("t");
      }
    }
  }

  @Test
  void injectionAttemptInEveryNameIsHarmless() throws SQLException {
    String evil = "x\"; drop table canary; --";
    try (Connection c = db.ownerDataSource().getConnection(); Statement s = c.createStatement()) {
      s.execute("CREATE TABLE " + quote(evil) + " (" + quote(evil) + " text NOT NULL, note text)");
      RlsPolicy.forTable(evil).tenantColumn(evil).columnType(TenantColumnType.TEXT).policyName(evil)
          .indexColumns("note").build().apply(c);
      assertThat(strings(c, "SELECT to_regclass('public.canary') IS NOT NULL")).containsExactly("t");
      assertThat(strings(c, "SELECT polname FROM pg_policy WHERE polrelid = " + literal(quote(evil))
          + "::regclass")).containsExactly(evil);
      s.execute("DROP TABLE " + quote(evil));
    }
  }

  record Names(String schema, String table, String column, String policyName, String role, String extra,
      TenantColumnType type) {}

  @TestFactory
  Stream<DynamicTest> identifiersCannotChangeTheShapeOfTheSql() {
    return PropertySamples.check(300, r -> {
      String column = name(r);
      String role = name(r);
      while (role.toLowerCase(Locale.ROOT).equals("public")) { // roles("public") means PUBLIC, not a role name
        role = name(r);
      }
      String extra = name(r);
      while (extra.equals(column)) { // the index's second column must differ from the tenant column
        extra = name(r);
      }
      return new Names(name(r), name(r), column, name(r), role, extra, type(r));
    }, n -> shapeIsKept(n.schema(), n.table(), n.column(), n.policyName(), n.role(), n.extra(), n.type()));
  }

  static void shapeIsKept(String schema, String table, String column, String policyName, String role,
      String extra, TenantColumnType type) {
    RlsPolicy weird = RlsPolicy.forTable(schema, table).tenantColumn(column).columnType(type)
        .policyName(policyName).roles(role).indexColumns(extra).build();
    RlsPolicy plain = RlsPolicy.forTable("S", "T").tenantColumn("C").columnType(type)
        .policyName("P").roles("R").indexColumns("E").build();
    Map<String, String> counterpart = Map.of("S", schema, "T", table, "C", column, "P", policyName, "R", role,
        "E", extra, plain.indexName().orElseThrow(), weird.indexName().orElseThrow());

    assertThat(weird.statements()).hasSameSizeAs(plain.statements());
    for (int i = 0; i < plain.statements().size(); i++) {
      List<String> plainIds = new ArrayList<>();
      List<String> weirdIds = new ArrayList<>();
      String plainShape = shape(plain.statements().get(i), plainIds);
      String weirdShape = shape(weird.statements().get(i), weirdIds);
      // the same tokens outside identifiers, and each identifier decodes to exactly the name given
      assertThat(weirdShape).isEqualTo(plainShape);
      assertThat(weirdIds).isEqualTo(plainIds.stream().map(counterpart::get).toList());
    }
    assertThat(weird.indexName().orElseThrow().getBytes(StandardCharsets.UTF_8).length).isLessThanOrEqualTo(63);
  }

  @Test
  void shapeDetectsAnIdentifierThatBreaksOut() {
    List<String> ids = new ArrayList<>();
    String safe = shape("DROP POLICY IF EXISTS \"p\" ON \"t\"", new ArrayList<>());
    // what an unescaped quote in a name would produce
    String broken = shape("DROP POLICY IF EXISTS \"x\"; drop table canary; --\" ON \"t\"", ids);
    assertThat(broken).isNotEqualTo(safe);
    assertThat(shape("DROP POLICY IF EXISTS \"x\"\"; drop table canary; --\" ON \"t\"", ids)).isEqualTo(safe);
    assertThat(ids).endsWith("x\"; drop table canary; --", "t");
  }

  /**
   * The statement with every double-quoted identifier replaced by {@code ?}, scanning as PostgreSQL's lexer does
   * for quoted identifiers and string literals; the decoded identifiers are added to {@code ids}. A statement that
   * ends inside a quoted token yields a shape with a marker, so it cannot equal a well-formed one.
   */
  static String shape(String sql, List<String> ids) {
    StringBuilder out = new StringBuilder();
    int i = 0;
    while (i < sql.length()) {
      char ch = sql.charAt(i);
      if (ch == '"' || ch == '\'') {
        StringBuilder token = new StringBuilder();
        int j = i + 1;
        boolean closed = false;
        while (j < sql.length()) {
          char d = sql.charAt(j);
          if (d == ch) {
            if (j + 1 < sql.length() && sql.charAt(j + 1) == ch) {
              token.append(ch);
              j += 2;
              continue;
            }
            closed = true;
            break;
          }
          token.append(d);
          j++;
        }
        if (!closed) {
          return out + "<UNTERMINATED>";
        }
        if (ch == '"') {
          ids.add(token.toString());
          out.append('?');
        } else {
          out.append('\'').append(token.toString().replace("'", "''")).append('\'');
        }
        i = j + 1;
      } else {
        out.append(ch);
        i++;
      }
    }
    return out.toString();
  }

  interface SqlWork<T> {
    T run(Connection c) throws SQLException;
  }

  static <T> T asTenant(String tenant, SqlWork<T> work) throws SQLException {
    try (Connection c = db.appDataSource().getConnection()) {
      c.setAutoCommit(false);
      try {
        try (PreparedStatement ps = c.prepareStatement("SELECT set_config('app.tenant_id', ?, true)")) {
          ps.setString(1, tenant);
          ps.execute();
        }
        T result = work.run(c);
        c.commit();
        return result;
      } finally {
        c.rollback();
        c.setAutoCommit(true);
      }
    }
  }

  static List<String> queryAs(String tenant, String sql) throws SQLException {
    return asTenant(tenant, c -> strings(c, sql));
  }

  static void execAs(String tenant, String sql) throws SQLException {
    asTenant(tenant, c -> exec(c, sql));
  }

  static Void exec(Connection c, String sql) throws SQLException {
    try (Statement s = c.createStatement()) {
      s.execute(sql);
    }
    return null;
  }

  static List<String> strings(Connection c, String sql) throws SQLException {
    List<String> out = new ArrayList<>();
    try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
      while (rs.next()) {
        out.add(rs.getString(1));
      }
    }
    return out;
  }

  static String quote(String identifier) {
    return '"' + identifier.replace("\"", "\"\"") + '"';
  }

  static String literal(String value) {
    return "'" + value.replace("'", "''") + "'";
  }
}
