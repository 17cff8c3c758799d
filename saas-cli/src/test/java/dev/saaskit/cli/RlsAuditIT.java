package dev.saaskit.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.saaskit.cli.CliProcess.Result;
import dev.saaskit.tenancy.RlsPolicy;
import dev.saaskit.tenancy.TenantColumnType;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code saaskit rls-audit} as a process against a real database: schema {@code clean} holds a table isolated by
 * {@link RlsPolicy}, schema {@code dirty} a table with a tenant column and no RLS.
 */
@ExtendWith(PostgresExtension.class)
class RlsAuditIT {
  private static final String PASSWORD_VAR = "SAASKIT_IT_PASSWORD";
  private static final String STACK_FRAME = "\tat ";
  private static final ObjectMapper JSON = new ObjectMapper();

  static TestDatabase db;

  @TempDir Path dir;

  @BeforeAll
  static void createTables() throws SQLException {
    try (Connection c = db.ownerDataSource().getConnection(); Statement st = c.createStatement()) {
      st.execute("CREATE SCHEMA clean");
      st.execute("CREATE TABLE clean.notes (id bigint PRIMARY KEY, tenant_id text NOT NULL, body text)");
      RlsPolicy.forTable("clean", "notes").columnType(TenantColumnType.TEXT).build().apply(c);
      st.execute("CREATE SCHEMA dirty");
      st.execute("CREATE TABLE dirty.orders (id bigint PRIMARY KEY, tenant_id text NOT NULL, total int)");
      // no tenant column and no foreign key to a tenant table: outside the audit unless named
      st.execute("CREATE SCHEMA loose");
      st.execute("CREATE TABLE loose.uploads (id bigint PRIMARY KEY, owner_email text, body text)");
      st.execute("GRANT USAGE ON SCHEMA loose TO " + db.appRole());
      st.execute("GRANT SELECT, INSERT ON loose.uploads TO " + db.appRole());
      // issue 19's case: tenant data in a child table without a tenant column (and without RLS)
      for (String schema : List.of("shop", "shopfixed")) {
        st.execute("CREATE SCHEMA " + schema);
        st.execute("GRANT USAGE ON SCHEMA " + schema + " TO " + db.appRole());
        st.execute("CREATE TABLE " + schema + ".orders (id bigint PRIMARY KEY, tenant_id text NOT NULL)");
        RlsPolicy.forTable(schema, "orders").columnType(TenantColumnType.TEXT).build().apply(c);
        st.execute("CREATE TABLE " + schema + ".order_items (id bigint PRIMARY KEY, order_id bigint NOT NULL"
            + " REFERENCES " + schema + ".orders (id), qty int)");
        st.execute("CREATE INDEX ON " + schema + ".order_items (order_id)");
        st.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON " + schema + ".orders, " + schema + ".order_items TO "
            + db.appRole());
      }
      // the fix the finding offers without a schema change: RLS with a policy through the parent
      st.execute("ALTER TABLE shopfixed.order_items ENABLE ROW LEVEL SECURITY");
      st.execute("ALTER TABLE shopfixed.order_items FORCE ROW LEVEL SECURITY");
      st.execute("CREATE POLICY through_parent ON shopfixed.order_items"
          + " USING (EXISTS (SELECT 1 FROM shopfixed.orders o WHERE o.id = order_items.order_id))"
          + " WITH CHECK (EXISTS (SELECT 1 FROM shopfixed.orders o WHERE o.id = order_items.order_id))");
    }
  }

  /** Runs rls-audit against the test database as the owner role, its password passed through the environment. */
  private static Result audit(String... args) {
    List<String> all = new ArrayList<>(List.of("rls-audit", "--url", db.jdbcUrl(), "--user", db.ownerRole(),
        "--password-env", PASSWORD_VAR, "--app-role", db.appRole()));
    all.addAll(List.of(args));
    return CliProcess.run(Map.of(PASSWORD_VAR, db.ownerPassword()), all.toArray(String[]::new));
  }

  @Test
  void aCleanSchemaPassesInEveryFormat() throws IOException {
    Result text = audit("--schema", "clean");
    assertThat(text.exitCode()).as(text.toString()).isZero();
    assertThat(text.out()).doesNotContain("rls-disabled");
    assertThat(text.err()).isEmpty();

    Result json = audit("--schema", "clean", "--format", "json");
    assertThat(json.exitCode()).as(json.toString()).isZero();
    assertThat(findings(JSON.readTree(json.out()))).noneMatch(f -> f.severity.equals("error"));

    Result sarif = audit("--schema", "clean", "--format", "sarif");
    assertThat(sarif.exitCode()).as(sarif.toString()).isZero();
    JsonNode log = JSON.readTree(sarif.out());
    assertValidSarif(log);
    assertThat(log.at("/runs/0/results")).noneMatch(r -> r.path("level").asText().equals("error"));
  }

  @Test
  void aTenantTableWithoutRlsFailsTheTextReport() {
    Result r = audit("--schema", "dirty");
    assertThat(r.exitCode()).as(r.toString()).isEqualTo(1);
    assertThat(r.out()).contains("rls-disabled", "orders");
    assertThat(r.err()).isEmpty();
  }

  @Test
  void anIncludedTableWithoutATenantColumnIsJudged() {
    Result outside = audit("--schema", "loose");
    assertThat(outside.exitCode()).as(outside.toString()).isZero();
    assertThat(outside.out()).doesNotContain("tenant-data-without-tenant-column");

    Result included = audit("--schema", "loose", "--include-table", "loose.uploads");
    assertThat(included.exitCode()).as(included.toString()).isEqualTo(1);
    assertThat(included.out()).contains("tenant-data-without-tenant-column", "uploads");

    Result malformed = audit("--schema", "loose", "--include-table", "uploads");
    assertThat(malformed.exitCode()).as(malformed.toString()).isEqualTo(2);
    assertThat(malformed.err()).contains("--include-table");
  }

  @Test
  void aChildTableWithoutATenantColumnFailsTheRunInEveryFormat() throws IOException {
    Result text = audit("--schema", "shop");
    assertThat(text.exitCode()).as(text.toString()).isEqualTo(1);
    assertThat(text.out()).contains("[tenant-data-without-tenant-column] shop.order_items");

    Result json = audit("--schema", "shop", "--format", "json");
    assertThat(json.exitCode()).as(json.toString()).isEqualTo(1);
    assertThat(findings(JSON.readTree(json.out()))).anySatisfy(f -> {
      assertThat(f.ruleId).isEqualTo("tenant-data-without-tenant-column");
      assertThat(f.severity).isEqualTo("error");
      assertThat(f.object).isEqualTo("shop.order_items");
    });

    Result sarif = audit("--schema", "shop", "--format", "sarif");
    assertThat(sarif.exitCode()).as(sarif.toString()).isEqualTo(1);
    JsonNode log = JSON.readTree(sarif.out());
    assertValidSarif(log);
    assertThat(log.at("/runs/0/results")).anySatisfy(result -> {
      assertThat(result.path("ruleId").asText()).isEqualTo("tenant-data-without-tenant-column");
      assertThat(result.path("level").asText()).isEqualTo("error");
    });

    // tied to its parent by a policy: no finding on it, and the run passes
    Result fixed = audit("--schema", "shopfixed");
    assertThat(fixed.exitCode()).as(fixed.toString()).isZero();
    assertThat(fixed.out()).doesNotContain("tenant-data-without-tenant-column");
  }

  @Test
  void theJsonReportListsTheFinding() throws IOException {
    Result r = audit("--schema", "dirty", "--format", "json");
    assertThat(r.exitCode()).as(r.toString()).isEqualTo(1);
    assertThat(findings(JSON.readTree(r.out())))
        .anySatisfy(f -> {
          assertThat(f.ruleId).isEqualTo("rls-disabled");
          assertThat(f.severity).isEqualTo("error");
          assertThat(f.object).contains("orders");
        });
  }

  @Test
  void theSarifReportHasTheRequiredFieldsAndTheFinding() throws IOException {
    Result r = audit("--schema", "dirty", "--format", "sarif");
    assertThat(r.exitCode()).as(r.toString()).isEqualTo(1);
    JsonNode log = JSON.readTree(r.out());
    assertValidSarif(log);
    assertThat(log.at("/runs/0/results")).anySatisfy(result -> {
      assertThat(result.path("ruleId").asText()).isEqualTo("rls-disabled");
      assertThat(result.path("level").asText()).isEqualTo("error");
      assertThat(result.toString()).contains("orders");
    });
  }

  @Test
  void sarifFilePlacesEveryResultInTheNamedFileWithDistinctFingerprints() throws IOException {
    Result r = audit("--schema", "dirty", "--format", "sarif", "--sarif-file", "db/migrations/V1__schema.sql");
    assertThat(r.exitCode()).as(r.toString()).isEqualTo(1);
    JsonNode log = JSON.readTree(r.out());
    assertValidSarif(log);
    JsonNode results = log.at("/runs/0/results");
    assertThat(results.size()).isGreaterThan(1);
    java.util.Set<String> fingerprints = new java.util.HashSet<>();
    for (JsonNode result : results) {
      assertThat(result.at("/locations/0/physicalLocation/artifactLocation/uri").asText())
          .isEqualTo("db/migrations/V1__schema.sql");
      assertThat(result.at("/locations/0/physicalLocation/region/startLine").asInt()).isEqualTo(1);
      assertThat(result.at("/locations/0/logicalLocations/0/fullyQualifiedName").asText()).isNotBlank();
      fingerprints.add(result.at("/partialFingerprints/saaskitFinding~1v1").asText());
    }
    assertThat(fingerprints).hasSize(results.size()).doesNotContain("");
  }

  @Test
  void outputWritesTheReportToAFile() throws IOException {
    Path file = dir.resolve("rls.sarif");
    Result r = audit("--schema", "dirty", "--format", "sarif", "--output", file.toString());
    assertThat(r.exitCode()).as(r.toString()).isEqualTo(1);
    assertThat(r.out()).isEmpty();
    assertThat(r.err()).startsWith("rls-audit: ").contains("error(s)", file.toString());
    assertValidSarif(JSON.readTree(file.toFile()));
  }

  @Test
  void aBaselineThatAcceptsEveryErrorMakesTheRunPass() throws IOException {
    Result before = audit("--schema", "dirty", "--format", "json");
    assertThat(before.exitCode()).as(before.toString()).isEqualTo(1);
    StringBuilder baseline = new StringBuilder("# accepted until the orders table is migrated\n");
    for (Finding f : findings(JSON.readTree(before.out()))) {
      if (f.severity.equals("error")) {
        baseline.append(f.ruleId).append(' ').append(f.object).append(" -- legacy table, see OPS-12\n");
      }
    }
    Path file = Files.writeString(dir.resolve("rls-baseline.txt"), baseline, StandardCharsets.UTF_8);

    Result after = audit("--schema", "dirty", "--baseline", file.toString());
    assertThat(after.exitCode()).as(after.toString()).isZero();
    assertThat(after.err()).isEmpty();
  }

  @Test
  void aBaselineLineWithoutAReasonIsAnError() throws IOException {
    Path file = Files.writeString(dir.resolve("bad-baseline.txt"),
        "# accepted\nrls-disabled dirty.orders\n", StandardCharsets.UTF_8);
    Result r = audit("--schema", "dirty", "--baseline", file.toString());
    assertThat(r.exitCode()).as(r.toString()).isEqualTo(2);
    assertThat(r.out()).isEmpty();
    assertThat(r.err()).startsWith("error: " + file + ": baseline line 2: ").contains("reason")
        .doesNotContain(STACK_FRAME);
  }

  @Test
  void aRoleThatMayNotLogInIsAConnectionError() throws SQLException {
    String role = db.createRole("nologin", "");
    try (Connection c = db.adminDataSource().getConnection(); Statement st = c.createStatement()) {
      st.execute("ALTER ROLE \"" + role + "\" NOLOGIN");
    }
    Result r = CliProcess.run(Map.of(PASSWORD_VAR, db.rolePassword(role)),
        "rls-audit", "--url", db.jdbcUrl(), "--user", role, "--password-env", PASSWORD_VAR);
    assertThat(r.exitCode()).as(r.toString()).isEqualTo(2);
    assertThat(r.err().strip())
        .isEqualTo("error: cannot connect to " + db.jdbcUrl() + ": role \"" + role + "\" is not permitted to log in");
  }

  @Test
  void aWrongPasswordIsAConnectionError() {
    String wrong = "wrong-" + db.appPassword();
    Properties props = new Properties();
    props.setProperty("user", db.appRole());
    props.setProperty("password", wrong);
    boolean letIn;
    try (Connection c = DriverManager.getConnection(db.jdbcUrl(), props)) {
      letIn = c.isValid(5);
    } catch (SQLException expected) {
      letIn = false; // the server checks passwords: the CLI must say so
    }
    Assumptions.assumeFalse(letIn, () -> db.server().description() + " lets " + db.appRole() + " in with a wrong "
        + "password (trust authentication); CliProcessIT covers the message with a server that asks for one");
    Result r = CliProcess.run(Map.of(PASSWORD_VAR, wrong),
        "rls-audit", "--url", db.jdbcUrl(), "--user", db.appRole(), "--password-env", PASSWORD_VAR);
    assertThat(r.exitCode()).as(r.toString()).isEqualTo(2);
    assertThat(r.err().strip()).startsWith("error: cannot connect to " + db.jdbcUrl() + ": ")
        .contains("password authentication failed").doesNotContain(wrong, STACK_FRAME);
  }

  /** A finding as the JSON report lists it. */
  record Finding(String ruleId, String severity, String object) {}

  /** Every object in the JSON report that has a rule id, wherever the report nests them. */
  static List<Finding> findings(JsonNode report) {
    List<Finding> found = new ArrayList<>();
    collect(report, found);
    return found;
  }

  private static void collect(JsonNode node, List<Finding> found) {
    if (node.isObject() && node.hasNonNull("ruleId")) {
      found.add(new Finding(node.path("ruleId").asText(), node.path("severity").asText().toLowerCase(Locale.ROOT),
          node.path("object").asText()));
    }
    for (JsonNode child : node) {
      collect(child, found);
    }
  }

  /**
   * The properties the SARIF 2.1.0 schema requires ({@code version}, {@code runs}, {@code tool.driver.name},
   * {@code result.message.text}, {@code reportingDescriptor.id}), plus what code scanning needs: {@code $schema},
   * a rule id and level on every result, and every result's rule among the driver's rules.
   */
  static void assertValidSarif(JsonNode log) {
    assertThat(log.path("version").asText()).isEqualTo("2.1.0");
    assertThat(log.path("$schema").asText()).contains("sarif").contains("2.1.0");
    JsonNode runs = log.path("runs");
    assertThat(runs.isArray() && !runs.isEmpty()).as("runs is a non-empty array: %s", log).isTrue();
    for (JsonNode run : runs) {
      JsonNode driver = run.path("tool").path("driver");
      assertThat(driver.path("name").asText()).as("tool.driver.name").isNotBlank();
      Set<String> ruleIds = new HashSet<>();
      List<String> ruleIdsInOrder = new ArrayList<>();
      for (JsonNode rule : driver.path("rules")) {
        assertThat(rule.path("id").asText()).as("rule id").isNotBlank();
        ruleIds.add(rule.path("id").asText());
        ruleIdsInOrder.add(rule.path("id").asText());
      }
      assertThat(run.path("results").isArray()).as("results is an array").isTrue();
      for (JsonNode result : run.path("results")) {
        assertThat(result.path("message").path("text").asText()).as("message.text of %s", result).isNotBlank();
        String ruleId = result.path("ruleId").asText();
        assertThat(ruleIds).as("rules of the driver").contains(ruleId);
        assertThat(result.path("level").asText()).isIn("none", "note", "warning", "error");
        if (result.has("ruleIndex")) {
          assertThat(ruleIdsInOrder.get(result.path("ruleIndex").asInt())).isEqualTo(ruleId);
        }
      }
    }
  }
}
