package dev.saaskit.tenancy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

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
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Assume;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

/**
 * For all names (spaces, quotes, mixed case, non-ASCII letters, SQL fragments; up to 63 bytes) and all column types:
 * the generated DDL isolates tenants on a real database, and no name can change the shape of the SQL.
 */
class RlsPolicyPropertyTest {
  /** Pieces names are made of, including ones that would break out of a badly quoted identifier. */
  private static final List<String> FRAGMENTS = List.of(
      "a", "b", "z", "Q", "X", "_", "0", "7", " ", "\"", "'", ";", "-", "--", "/*", "*/", "\\", "$", ".", "(", ")",
      "é", "ß", "Ж", "日本", "😀", "\"; drop table canary; --", "') or true --", "public");

  private static TestDatabase db;

  @BeforeContainer
  static void start() {
    db = TestDatabase.create();
    try (Connection c = db.ownerDataSource().getConnection(); Statement s = c.createStatement()) {
      s.execute("CREATE TABLE canary (id int)");
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  @AfterContainer
  static void stop() {
    if (db != null) {
      db.close();
    }
  }

  @Provide
  Arbitrary<String> names() {
    return Arbitraries.of(FRAGMENTS).list().ofMinSize(1).ofMaxSize(24)
        .map(parts -> truncateUtf8(String.join("", parts), 63));
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

  @Property(tries = 50)
  void generatedPolicyIsolatesTwoTenants(
      @ForAll("names") String table, @ForAll("names") String column, @ForAll TenantColumnType type)
      throws SQLException {
    Assume.that(!column.equals("note"));
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

  @Example
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

  @Property(tries = 300)
  void identifiersCannotChangeTheShapeOfTheSql(
      @ForAll("names") String schema, @ForAll("names") String table, @ForAll("names") String column,
      @ForAll("names") String policyName, @ForAll("names") String role, @ForAll("names") String extra,
      @ForAll TenantColumnType type) {
    Assume.that(!role.toLowerCase(Locale.ROOT).equals("public"));
    Assume.that(!extra.equals(column));
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

  @Example
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
