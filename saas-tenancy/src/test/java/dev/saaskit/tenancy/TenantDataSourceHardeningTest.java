package dev.saaskit.tenancy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.PropertySamples;
import dev.saaskit.testing.TestDatabase;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.sql.CallableStatement;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.random.RandomGenerator;
import java.util.concurrent.Callable;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.postgresql.PGConnection;
import org.postgresql.PGStatement;
import org.postgresql.core.BaseConnection;
import org.postgresql.core.TransactionState;

/**
 * The attacks of the adversarial review (issue 10): a transaction opened in SQL surviving close, one connection
 * shared by threads of two tenants, SQL-text overloads of prepared statements, driver statements reached around the
 * wrapper, and tenant ids PostgreSQL reads as equal. Each test failed on the code before the fix.
 */
@ExtendWith(PostgresExtension.class)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class TenantDataSourceHardeningTest {
  static final TenantId ACME = TenantId.of("acme");
  static final TenantId GLOBEX = TenantId.of("globex");

  static TestDatabase db;
  /** One physical connection: whatever the previous borrower left is what the next one gets. */
  static HikariDataSource pool;
  static TenantDataSource tenantDs;

  @BeforeAll
  static void schema(TestDatabase database) throws SQLException {
    db = database;
    try (Connection c = db.ownerDataSource().getConnection(); Statement s = c.createStatement()) {
      s.execute("CREATE TABLE notes (id bigserial PRIMARY KEY, tenant_id text NOT NULL, body text NOT NULL)");
      RlsPolicy.forTable("notes").columnType(TenantColumnType.TEXT).build().apply(c);
      s.execute("CREATE FUNCTION note_bodies() RETURNS text LANGUAGE sql STABLE "
          + "AS $$ SELECT coalesce(string_agg(body, ',' ORDER BY id), '') FROM notes $$");
      s.execute("GRANT EXECUTE ON FUNCTION note_bodies() TO " + db.appRole());
      s.execute("CREATE TABLE accounts (id bigserial PRIMARY KEY, tenant_id uuid NOT NULL, name text NOT NULL)");
      RlsPolicy.forTable("accounts").columnType(TenantColumnType.UUID).build().apply(c);
      s.execute("GRANT SELECT, INSERT ON accounts TO " + db.appRole());
      s.execute("GRANT USAGE ON SEQUENCE accounts_id_seq TO " + db.appRole());
    }
    pool = db.newPool(db.appRole(), db.appPassword(), 1);
    tenantDs = TenantDataSource.wrap(pool);
  }

  @AfterAll
  static void closePool() {
    pool.close();
  }

  @BeforeEach
  void clean() throws SQLException {
    try (Connection c = db.adminDataSource().getConnection(); Statement s = c.createStatement()) {
      // A transaction a broken wrapper left open holds its locks forever: end it, so that each test fails
      // for its own reason (the fixed wrapper leaves none).
      s.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
          + "AND state LIKE 'idle in transaction%'");
    }
    try (Connection c = db.ownerDataSource().getConnection(); Statement s = c.createStatement()) {
      s.execute("SET lock_timeout = '20s'");
      s.execute("TRUNCATE notes, accounts");
    }
  }

  static <T> T as(TenantId tenant, Callable<T> body) throws Exception {
    return TenantContext.call(tenant, body::call);
  }

  static void insert(Connection c, String body) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("INSERT INTO notes(body) VALUES (?)")) {
      ps.setString(1, body);
      assertThat(ps.executeUpdate()).isEqualTo(1);
    }
  }

  static List<String> bodies(Connection c) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT body FROM notes ORDER BY id");
        ResultSet rs = ps.executeQuery()) {
      return strings(rs);
    }
  }

  static List<String> strings(ResultSet rs) throws SQLException {
    List<String> out = new ArrayList<>();
    while (rs.next()) {
      out.add(rs.getString(1));
    }
    return out;
  }

  /** Every note, tenant and body, as a superuser (no RLS) sees it. */
  static List<String> allNotes() throws SQLException {
    try (Connection c = db.adminDataSource().getConnection(); Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT tenant_id || ':' || body FROM notes ORDER BY id")) {
      return strings(rs);
    }
  }

  static TransactionState serverState(Connection raw) throws SQLException {
    return raw.unwrap(BaseConnection.class).getTransactionState();
  }

  // ---- 1. a transaction opened by SQL must not survive close() ----

  @Test
  void aTransactionBegunInSqlIsRolledBackWhenTheConnectionIsClosed() throws Exception {
    for (String begin : List.of("BEGIN", "START TRANSACTION", "begin isolation level repeatable read")) {
      assertThatThrownBy(() -> as(ACME, () -> {
        try (Connection c = tenantDs.getConnection(); Statement s = c.createStatement()) {
          assertThat(c.getAutoCommit()).isTrue();
          s.execute(begin);
          insert(c, "uncommitted");
          throw new IllegalStateException("app failure before COMMIT");
        }
      })).isInstanceOf(IllegalStateException.class);

      // The next borrower, unwrapped: no transaction, no tenant, no rows of acme's open transaction.
      try (Connection raw = pool.getConnection(); Statement s = raw.createStatement()) {
        assertThat(serverState(raw)).as(begin).isEqualTo(TransactionState.IDLE);
        try (ResultSet rs = s.executeQuery("SELECT coalesce(current_setting('app.tenant_id', true), ''), "
            + "(SELECT count(*) FROM notes)")) {
          rs.next();
          assertThat(rs.getString(1)).as(begin).isEmpty();
          assertThat(rs.getLong(2)).as(begin).isZero();
        }
      }
      assertThat(allNotes()).as(begin).isEmpty();
    }
  }

  @Test
  void theNextBorrowerWithNoTenantCannotCopyThePreviousTenantsRows() throws Exception {
    as(ACME, () -> {
      try (Connection c = tenantDs.getConnection()) {
        insert(c, "committed-a");
      }
      return null;
    });
    as(ACME, () -> {
      try (Connection c = tenantDs.getConnection(); Statement s = c.createStatement()) {
        s.execute("BEGIN");
        s.executeQuery("SELECT 1").close();
      }
      return null;
    });
    try (Connection c = tenantDs.getConnection()) {
      StringWriter out = new StringWriter();
      c.unwrap(PGConnection.class).getCopyAPI().copyOut("COPY (SELECT body FROM notes) TO STDOUT", out);
      assertThat(out.toString()).isEmpty();
    }
  }

  @Test
  void aTransactionLeftOpenCannotSwallowTheNextTenantsAutocommittedWrite() throws Exception {
    as(ACME, () -> {
      try (Connection c = tenantDs.getConnection(); Statement s = c.createStatement()) {
        s.execute("BEGIN");
      }
      return null;
    });
    as(GLOBEX, () -> {
      try (Connection c = tenantDs.getConnection()) {
        insert(c, "g1");
      }
      return null;
    });
    // Whoever ends the leftover transaction later must not take globex's write with it.
    try (Connection raw = pool.getConnection(); Statement s = raw.createStatement()) {
      s.execute("ROLLBACK");
    }
    assertThat(allNotes()).containsExactly("globex:g1");
  }

  @Test
  void anAbortedTransactionBegunInSqlIsRolledBackAndTheConnectionStaysUsable() throws Exception {
    as(ACME, () -> {
      try (Connection c = tenantDs.getConnection(); Statement s = c.createStatement()) {
        s.execute("BEGIN");
        insert(c, "doomed");
        assertThatThrownBy(() -> s.execute("SELECT 1/0")).isInstanceOf(SQLException.class);
        assertThat(serverState(c.unwrap(Connection.class))).isEqualTo(TransactionState.FAILED);
      }
      return null;
    });
    assertThat(as(GLOBEX, () -> {
      try (Connection c = tenantDs.getConnection()) {
        insert(c, "g1");
        return bodies(c);
      }
    })).containsExactly("g1");
  }

  @Test
  void closingInsideATransactionBegunInSqlSaysSoInTheLog() throws Exception {
    PrintStream original = System.err;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
    try {
      as(ACME, () -> {
        try (Connection c = tenantDs.getConnection(); Statement s = c.createStatement()) {
          s.execute("BEGIN");
        }
        return null;
      });
    } finally {
      System.setErr(original);
    }
    assertThat(captured.toString(StandardCharsets.UTF_8))
        .contains("WARN")
        .contains("transaction that application SQL opened")
        .contains("rolled back");
  }

  @Test
  void aBatchInsideATransactionBegunInSqlStaysInThatTransaction() throws Exception {
    as(ACME, () -> {
      try (Connection c = tenantDs.getConnection(); Statement s = c.createStatement()) {
        s.execute("BEGIN");
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO notes(body) VALUES (?)")) {
          ps.setString(1, "b1");
          ps.addBatch();
          ps.setString(1, "b2");
          ps.addBatch();
          assertThat(ps.executeBatch()).containsExactly(1, 1);
        }
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO notes(body) VALUES ('k1')",
            Statement.RETURN_GENERATED_KEYS)) {
          ps.executeUpdate();
        }
        assertThat(bodies(c)).containsExactly("b1", "b2", "k1");
        s.execute("ROLLBACK");
        assertThat(bodies(c)).isEmpty();
      }
      return null;
    });
    assertThat(allNotes()).isEmpty();
  }

  @Test
  void aTransactionStartWithModesRunsAndLaterStatementsStillCarryTheTenant() throws Exception {
    as(GLOBEX, () -> {
      try (Connection c = tenantDs.getConnection()) {
        insert(c, "g1");
      }
      return null;
    });
    as(ACME, () -> {
      try (Connection c = tenantDs.getConnection(); Statement s = c.createStatement()) {
        s.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ WRITE");
        insert(c, "a1");
        try (ResultSet rs = s.executeQuery("SELECT current_setting('transaction_isolation')")) {
          rs.next();
          assertThat(rs.getString(1)).isEqualTo("repeatable read");
        }
        assertThat(bodies(c)).containsExactly("a1");
        s.execute("COMMIT");
        try (PreparedStatement begin = c.prepareStatement("start transaction isolation level serializable;")) {
          begin.execute();
        }
        try (ResultSet rs = s.executeQuery("SELECT current_setting('transaction_isolation')")) {
          rs.next();
          assertThat(rs.getString(1)).isEqualTo("serializable");
        }
        s.execute("ROLLBACK");
        // A transaction start that carries another statement is not one: it gets the tenant like any other.
        s.execute("BEGIN; SELECT 1");
        assertThat(bodies(c)).containsExactly("a1");
        s.execute("ROLLBACK");
      }
      return null;
    });
    assertThat(allNotes()).containsExactly("globex:g1", "acme:a1");
  }

  // ---- 2. one connection, two threads, two tenants ----

  @Test
  void threadsOfTwoTenantsSharingOneConnectionNeverActAsEachOther() throws Exception {
    int rounds = 150;
    ExecutorService threads = Executors.newFixedThreadPool(2);
    try (Connection shared = tenantDs.getConnection()) {
      CyclicBarrier start = new CyclicBarrier(2);
      List<Future<List<String>>> seen = new ArrayList<>();
      for (TenantId tenant : List.of(ACME, GLOBEX)) {
        seen.add(threads.submit(() -> TenantContext.call(tenant, () -> {
          start.await();
          List<String> foreign = new ArrayList<>();
          String own = tenant.value() + "-";
          for (int i = 0; i < rounds; i++) {
            try (PreparedStatement ps = shared.prepareStatement("INSERT INTO notes(body) VALUES (?)",
                Statement.RETURN_GENERATED_KEYS)) {
              ps.setString(1, own + "key-" + i);
              ps.executeUpdate();
            }
            try (PreparedStatement ps = shared.prepareStatement("INSERT INTO notes(body) VALUES (?)")) {
              ps.setString(1, own + "batch-" + i);
              ps.addBatch();
              ps.executeBatch();
            }
            try (CallableStatement cs = shared.prepareCall("{? = call note_bodies()}")) {
              cs.registerOutParameter(1, Types.VARCHAR);
              cs.execute();
              for (String body : cs.getString(1).split(",", -1)) {
                if (!body.isEmpty() && !body.startsWith(own)) {
                  foreign.add("call:" + body);
                }
              }
            }
            for (String body : bodies(shared)) {
              if (!body.startsWith(own)) {
                foreign.add("select:" + body);
              }
            }
          }
          return foreign;
        })));
      }
      for (Future<List<String>> f : seen) {
        assertThat(f.get(100, TimeUnit.SECONDS)).as("rows of the other tenant seen").isEmpty();
      }
    } finally {
      threads.shutdownNow();
    }
    List<String> all = allNotes();
    assertThat(all).hasSize(4 * rounds);
    assertThat(all).allMatch(note -> note.startsWith("acme:acme-") || note.startsWith("globex:globex-"),
        "every row written under its writer's tenant");
  }

  // ---- 3. SQL-text overloads on prepared and callable statements ----

  @Test
  void preparedAndCallableStatementsRefuseEverySqlTextOverload() throws Exception {
    as(ACME, () -> {
      try (Connection c = tenantDs.getConnection()) {
        insert(c, "a1");
      }
      return null;
    });
    String update = "UPDATE notes SET body = 'hacked'";
    try (Connection c = tenantDs.getConnection()) {
      c.setAutoCommit(false);
      List<Statement> statements = as(ACME, () -> {
        bodies(c); // the transaction now carries acme's setting
        return List.of(c.prepareStatement("SELECT 1"),
            c.prepareStatement("SELECT 1", Statement.RETURN_GENERATED_KEYS),
            c.prepareStatement("SELECT 1", new String[] {"id"}),
            c.prepareCall("{call note_bodies()}"));
      });
      for (Statement st : statements) {
        TenantContext.run(GLOBEX, () -> {
          List<ThrowingCall> calls = List.of(
              () -> st.execute(update), () -> st.executeQuery(update), () -> st.executeUpdate(update),
              () -> st.executeLargeUpdate(update),
              () -> st.execute(update, Statement.RETURN_GENERATED_KEYS), () -> st.execute(update, new int[] {1}),
              () -> st.execute(update, new String[] {"id"}),
              () -> st.executeUpdate(update, Statement.RETURN_GENERATED_KEYS),
              () -> st.executeUpdate(update, new int[] {1}), () -> st.executeUpdate(update, new String[] {"id"}),
              () -> st.executeLargeUpdate(update, Statement.RETURN_GENERATED_KEYS),
              () -> st.executeLargeUpdate(update, new int[] {1}),
              () -> st.executeLargeUpdate(update, new String[] {"id"}),
              () -> st.addBatch(update));
          for (ThrowingCall call : calls) {
            assertThatThrownBy(call::run).as(st.toString()).isInstanceOf(SQLException.class)
                .hasMessageContaining("Create a Statement");
          }
        });
        st.close();
      }
      c.commit();
    }
    assertThat(allNotes()).containsExactly("acme:a1");
  }

  @FunctionalInterface
  interface ThrowingCall {
    void run() throws Exception;
  }

  // ---- 4. the driver's statement reached around the wrapper ----

  @Test
  void theDriversStatementReachedThroughAResultSetRunsWithNoTenant() throws Exception {
    Connection c = tenantDs.getConnection();
    try {
      as(ACME, () -> {
        insert(c, "a1");
        return null;
      });
      PreparedStatement ps = c.prepareStatement("SELECT body FROM notes");
      Statement driverStatement = as(ACME, () -> {
        try (ResultSet rs = ps.executeQuery()) {
          assertThat(strings(rs)).containsExactly("a1");
          return rs.getStatement();
        }
      });
      PGStatement unwrapped = ps.unwrap(PGStatement.class);
      assertThat(as(GLOBEX, () -> rowsOf((PreparedStatement) driverStatement))).isEmpty();
      assertThat(rowsOf((PreparedStatement) driverStatement)).isEmpty();
      assertThat(as(GLOBEX, () -> rowsOf((PreparedStatement) unwrapped))).isEmpty();
      // inside a transaction that acme's statements set up, too
      c.setAutoCommit(false);
      as(ACME, () -> bodies(c));
      assertThat(as(GLOBEX, () -> rowsOf((PreparedStatement) driverStatement))).isEmpty();
      c.rollback();
      ps.close();
    } finally {
      c.close();
    }
  }

  /** Executes a driver statement as it is and collects the rows of every result it returns. */
  static List<String> rowsOf(PreparedStatement statement) throws SQLException {
    List<String> rows = new ArrayList<>();
    boolean isResultSet = statement.execute();
    while (true) {
      if (isResultSet) {
        try (ResultSet rs = statement.getResultSet()) {
          while (rs.next()) {
            String value = rs.getString(1);
            if (value != null && !value.isEmpty()) {
              rows.add(value);
            }
          }
        }
      } else if (statement.getUpdateCount() == -1) {
        return rows;
      }
      isResultSet = statement.getMoreResults();
    }
  }

  @Test
  void metadataHandsBackTheWrapperNotTheRawConnection() throws Exception {
    try (Connection c = tenantDs.getConnection()) {
      assertThat(c.getMetaData().getConnection()).isSameAs(c);
      assertThat(c.getMetaData().getDatabaseProductName()).isEqualTo("PostgreSQL");
    }
  }

  // ---- 7. what the docs say the design cannot police ----

  @Test
  void sqlThatSetsTheTenantItselfWinsAndACommitInTheTextEndsTheTenant() throws Exception {
    as(GLOBEX, () -> {
      try (Connection c = tenantDs.getConnection()) {
        insert(c, "g1");
      }
      return null;
    });
    as(ACME, () -> {
      try (Connection c = tenantDs.getConnection(); Statement s = c.createStatement()) {
        insert(c, "a1");
        // documented limit: the wrapper does not parse SQL, and the setting is readable and writable by SQL
        s.execute("SELECT set_config('app.tenant_id', 'globex', true); SELECT body FROM notes");
        s.getMoreResults();
        assertThat(strings(s.getResultSet())).containsExactly("g1");
        // documented: after a COMMIT in the text, the rest runs with no tenant
        s.execute("COMMIT; SELECT count(*) FROM notes");
        s.getMoreResults();
        try (ResultSet rs = s.getResultSet()) {
          rs.next();
          assertThat(rs.getLong(1)).isZero();
        }
        assertThat(bodies(c)).containsExactly("a1");
      }
      return null;
    });
  }

  // ---- 6. tenant ids PostgreSQL reads as equal ----

  @Test
  void aDataSourceThatKnowsTheColumnTypeRefusesNonCanonicalTenantIds() throws Exception {
    TenantDataSource uuidDs = TenantDataSource.builder(pool).tenantIdType(TenantColumnType.UUID).build();
    assertThat(uuidDs.tenantIdType()).contains(TenantColumnType.UUID);
    TenantId canonical = TenantId.ofUuid("{A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11}");
    assertThat(canonical.value()).isEqualTo("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    as(canonical, () -> {
      try (Connection c = uuidDs.getConnection();
          PreparedStatement ps = c.prepareStatement("INSERT INTO accounts(name) VALUES ('main')")) {
        ps.executeUpdate();
      }
      return null;
    });
    for (String alias : List.of("{A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11}", "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
        "a0eebc999c0b4ef8bb6d6bb9bd380a11")) {
      assertThatThrownBy(() -> as(TenantId.of(alias), () -> {
        try (Connection c = uuidDs.getConnection(); Statement s = c.createStatement()) {
          return s.executeQuery("SELECT name FROM accounts").next();
        }
      })).isInstanceOf(InvalidTenantIdException.class)
          .hasMessageContaining("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")
          .hasMessageContaining("TenantColumnType.UUID.tenantId");
    }
    assertThatThrownBy(() -> as(TenantId.of("acme"), () -> {
      try (Connection c = uuidDs.getConnection(); Statement s = c.createStatement()) {
        return s.execute("SELECT 1");
      }
    })).isInstanceOf(InvalidTenantIdException.class).hasMessageContaining("is not a uuid");

    TenantDataSource bigintDs = TenantDataSource.builder(pool).tenantIdType(TenantColumnType.BIGINT).build();
    assertThatThrownBy(() -> as(TenantId.of("+01"), () -> {
      try (Connection c = bigintDs.getConnection(); Statement s = c.createStatement()) {
        return s.execute("SELECT 1");
      }
    })).isInstanceOf(InvalidTenantIdException.class).hasMessageContaining("('1')");
    assertThat(as(TenantColumnType.BIGINT.tenantId("+01"), () -> {
      try (Connection c = bigintDs.getConnection(); Statement s = c.createStatement();
          ResultSet rs = s.executeQuery("SELECT current_setting('app.tenant_id')")) {
        rs.next();
        return rs.getString(1);
      }
    })).isEqualTo("1");
  }

  @TestFactory
  Stream<DynamicTest> canonicalUuidsAgreeWithPostgres() {
    return PropertySamples.check(200, TenantDataSourceHardeningTest::uuidSpelling,
        spelling -> assertThat(TenantColumnType.UUID.tenantId(spelling).value())
            .isEqualTo(serverCast(spelling, "uuid")));
  }

  @TestFactory
  Stream<DynamicTest> canonicalBigintsAgreeWithPostgres() throws SQLException {
    boolean modernSyntax;
    try (Connection c = db.ownerDataSource().getConnection()) {
      modernSyntax = c.getMetaData().getDatabaseMajorVersion() >= 16; // 0x.., 1_000
    }
    return PropertySamples.check(200, random -> bigintSpelling(random, modernSyntax),
        spelling -> assertThat(TenantColumnType.BIGINT.tenantId(spelling).value())
            .isEqualTo(serverCast(spelling, "bigint")));
  }

  /** How PostgreSQL prints {@code spelling} read as {@code type}. */
  static String serverCast(String spelling, String type) throws SQLException {
    try (Connection c = db.ownerDataSource().getConnection();
        PreparedStatement ps = c.prepareStatement("SELECT ?::" + type + "::text")) {
      ps.setString(1, spelling);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getString(1);
      }
    }
  }

  static String uuidSpelling(RandomGenerator random) {
    StringBuilder hex = new StringBuilder();
    for (int i = 0; i < 32; i++) {
      char digit = Character.forDigit(random.nextInt(16), 16);
      hex.append(random.nextBoolean() ? Character.toUpperCase(digit) : digit);
    }
    StringBuilder out = new StringBuilder();
    boolean braces = random.nextInt(4) == 0;
    if (braces) {
      out.append('{');
    }
    for (int group = 0; group < 8; group++) {
      out.append(hex, group * 4, group * 4 + 4);
      if (group < 7 && random.nextBoolean()) {
        out.append('-');
      }
    }
    if (braces) {
      out.append('}');
    }
    return out.toString();
  }

  static String bigintSpelling(RandomGenerator random, boolean modernSyntax) {
    long value = switch (random.nextInt(4)) {
      case 0 -> Math.max(random.nextLong(), Long.MIN_VALUE + 1);
      case 1 -> random.nextInt(1000) - 500;
      case 2 -> random.nextBoolean() ? Long.MAX_VALUE : Long.MIN_VALUE + 1;
      default -> 0;
    };
    String sign = value < 0 ? "-" : random.nextBoolean() ? "+" : "";
    String magnitude = Long.toString(Math.abs(value));
    if (modernSyntax && random.nextInt(3) == 0) {
      magnitude = "0x" + Long.toHexString(Math.abs(value)).toUpperCase(Locale.ROOT);
    } else if (modernSyntax && random.nextInt(3) == 0 && magnitude.length() > 1) {
      magnitude = magnitude.charAt(0) + "_" + magnitude.substring(1);
    }
    return sign + "0".repeat(random.nextInt(3) == 0 && !magnitude.startsWith("0x") ? 2 : 0) + magnitude;
  }
}
