package dev.saaskit.tenancy.audit;

import static dev.saaskit.tenancy.audit.MiniJson.array;
import static dev.saaskit.tenancy.audit.MiniJson.object;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Text, JSON and SARIF output, parsed back; and the rule catalog. */
class AuditReportFormatTest {
  static final String TRICKY = "quote \" backslash \\ newline \n tab \t bell \u0007 unicode \u00e9\u4e2d \u2028 end";

  static AuditReport sample() {
    List<Finding> found = List.of(
        new Finding("rls-disabled", Severity.ERROR, "public.orders", "Table public.orders has RLS disabled.",
            Optional.of("ALTER TABLE \"public\".\"orders\" ENABLE ROW LEVEL SECURITY;\nALTER TABLE"
                + " \"public\".\"orders\" FORCE ROW LEVEL SECURITY;")),
        new Finding("no-tenant-index", Severity.WARNING, "public.\"odd\" name", TRICKY,
            Optional.of("CREATE INDEX ON x (\"tenant_id\");")),
        new Finding("multiple-permissive-policies", Severity.WARNING, "public.notes", "Two policies.",
            Optional.empty()),
        new Finding("policy-always-true", Severity.INFO, "policy worker on public.jobs", "Worker policy.",
            Optional.empty()),
        new Finding("security-definer-function", Severity.ERROR, "function public.f(integer)", "Reads orders.",
            Optional.of("ALTER FUNCTION \"public\".\"f\"(integer) SECURITY INVOKER;")),
        new Finding("rls-disabled", Severity.ERROR, "public.countries", "Reference data.", Optional.empty()));
    Baseline baseline = Baseline.parse("rls-disabled public.countries -- reference \"data\"\n"
        + "tenant-column-nullable public.gone -- table was dropped\n");
    return AuditReport.of(found, baseline, "app", "saas", List.of("public.orders", "public.notes"));
  }

  @Test
  void textGroupsBySeverityWithFixes() {
    String text = sample().toText();
    assertThat(text).startsWith("RLS audit of database saas for role app: 2 tenant tables\n"
        + "2 errors, 2 warnings, 1 info; 1 suppressed by baseline; 1 unused baseline entry\n");
    assertThat(text).contains("\nERROR (2)\n  [rls-disabled] public.orders\n    Table public.orders has RLS"
        + " disabled.\n    fix:\n      ALTER TABLE \"public\".\"orders\" ENABLE ROW LEVEL SECURITY;\n      ALTER TABLE"
        + " \"public\".\"orders\" FORCE ROW LEVEL SECURITY;\n");
    assertThat(text).contains("\nWARNING (2)\n").contains("\nINFO (1)\n");
    assertThat(text.indexOf("ERROR (2)")).isLessThan(text.indexOf("WARNING (2)"));
    assertThat(text.indexOf("WARNING (2)")).isLessThan(text.indexOf("INFO (1)"));
    assertThat(text).contains("baseline entries that matched nothing")
        .contains("line 2: tenant-column-nullable public.gone -- table was dropped");
    assertThat(text).doesNotContain("public.countries");

    String empty = AuditReport.of(List.of(), Baseline.empty(), "app", "saas", List.of("public.a")).toText();
    assertThat(empty).isEqualTo("RLS audit of database saas for role app: 1 tenant table\n"
        + "0 errors, 0 warnings, 0 infos\n\nNo findings.\n");
  }

  @Test
  void jsonParsesBackWithEveryField() {
    AuditReport report = sample();
    Map<String, Object> root = object(MiniJson.parse(report.toJson()));
    List<Object> findings = array(root.get("findings"));
    assertThat(findings).hasSize(report.findings().size());
    for (int i = 0; i < findings.size(); i++) {
      Map<String, Object> f = object(findings.get(i));
      Finding expected = report.findings().get(i);
      assertThat(f.keySet()).containsExactly("ruleId", "severity", "object", "message", "fix");
      assertThat(f.get("ruleId")).isEqualTo(expected.ruleId());
      assertThat(f.get("severity")).isEqualTo(expected.severity().name());
      assertThat(f.get("object")).isEqualTo(expected.object());
      assertThat(f.get("message")).isEqualTo(expected.message());
      assertThat(f.get("fix")).isEqualTo(expected.fix().orElse(null));
    }
    assertThat(findings).anySatisfy(f -> assertThat(object(f).get("message")).isEqualTo(TRICKY));

    Map<String, Object> summary = object(root.get("summary"));
    assertThat(summary).containsEntry("errors", new java.math.BigDecimal(2))
        .containsEntry("warnings", new java.math.BigDecimal(2))
        .containsEntry("infos", new java.math.BigDecimal(1))
        .containsEntry("suppressed", new java.math.BigDecimal(1))
        .containsEntry("unusedBaselineEntries", new java.math.BigDecimal(1))
        .containsEntry("tenantTables", new java.math.BigDecimal(2))
        .containsEntry("hasErrors", true);
    Map<String, Object> suppressed = object(array(root.get("suppressed")).get(0));
    assertThat(suppressed.get("object")).isEqualTo("public.countries");
    assertThat(object(suppressed.get("baseline")).get("reason")).isEqualTo("reference \"data\"");
    assertThat(object(array(root.get("unusedBaselineEntries")).get(0)).get("line"))
        .isEqualTo(new java.math.BigDecimal(2));
    assertThat(root).containsEntry("appRole", "app").containsEntry("database", "saas");
  }

  @Test
  void sarifHasTheRequiredFields() {
    AuditReport report = sample();
    Map<String, Object> root = object(MiniJson.parse(report.toSarif()));
    assertThat(root.get("version")).isEqualTo("2.1.0");
    assertThat((String) root.get("$schema")).startsWith("https://").contains("sarif-2.1.0");
    List<Object> runs = array(root.get("runs"));
    assertThat(runs).hasSize(1);
    Map<String, Object> run = object(runs.get(0));
    Map<String, Object> driver = object(object(run.get("tool")).get("driver"));
    assertThat(driver.get("name")).isEqualTo("saaskit rls-audit");
    assertThat((String) driver.get("informationUri")).startsWith("https://");

    List<Object> rules = array(driver.get("rules"));
    Set<String> ruleIds = new HashSet<>();
    for (int i = 0; i < rules.size(); i++) {
      Map<String, Object> rule = object(rules.get(i));
      String id = (String) rule.get("id");
      ruleIds.add(id);
      assertThat(object(rule.get("shortDescription")).get("text")).asString().isNotBlank();
      assertThat(object(rule.get("help")).get("text")).asString().isNotBlank();
      assertThat(object(rule.get("defaultConfiguration")).get("level")).isIn("error", "warning", "note");
      assertThat(AuditReport.rules().get(i).id()).isEqualTo(id);
    }
    assertThat(ruleIds).hasSize(AuditReport.rules().size());

    List<Object> results = array(run.get("results"));
    // 5 findings, 1 suppressed (with a suppression), 1 unused baseline entry (a note)
    assertThat(results).hasSize(7);
    int suppressions = 0;
    for (Object o : results) {
      Map<String, Object> result = object(o);
      assertThat(ruleIds).contains((String) result.get("ruleId"));
      assertThat(AuditReport.rules().get(((java.math.BigDecimal) result.get("ruleIndex")).intValue()).id())
          .isEqualTo(result.get("ruleId"));
      assertThat(result.get("level")).isIn("error", "warning", "note");
      assertThat(object(result.get("message")).get("text")).asString().isNotBlank();
      Map<String, Object> location = object(array(object(array(result.get("locations")).get(0))
          .get("logicalLocations")).get(0));
      assertThat(location.get("fullyQualifiedName")).asString().isNotBlank();
      assertThat(location.get("kind")).isIn("resource", "member", "function");
      if (result.containsKey("suppressions")) {
        suppressions++;
        Map<String, Object> s = object(array(result.get("suppressions")).get(0));
        assertThat(s.get("kind")).isEqualTo("external");
        assertThat((String) s.get("justification")).contains("reference \"data\"");
      }
    }
    assertThat(suppressions).isEqualTo(1);
    Map<String, Object> first = object(results.get(0));
    assertThat(first.get("ruleId")).isEqualTo("rls-disabled");
    assertThat(first.get("level")).isEqualTo("error");
    assertThat((String) object(first.get("message")).get("text")).contains("ENABLE ROW LEVEL SECURITY");
    assertThat(results).anySatisfy(r -> {
      assertThat(object(r).get("ruleId")).isEqualTo("unused-baseline-entry");
      assertThat(object(r).get("level")).isEqualTo("note");
    });
    assertThat(results).extracting(AuditReportFormatTest::locationKind).contains("function", "member", "resource");
  }

  static Object locationKind(Object result) {
    Map<String, Object> location = object(array(object(result).get("locations")).get(0));
    return object(array(location.get("logicalLocations")).get(0)).get("kind");
  }

  @Test
  void ruleCatalogIsWellFormedAndDocumented() throws IOException {
    List<RuleDescription> rules = AuditReport.rules();
    Set<String> ids = new HashSet<>();
    for (RuleDescription r : rules) {
      assertThat(r.id()).matches("[a-z]+(-[a-z]+)*");
      assertThat(ids.add(r.id())).as("unique id %s", r.id()).isTrue();
      assertThat(r.title()).isNotBlank();
      assertThat(r.help()).isNotBlank();
    }
    Path doc = Path.of("..", "docs", "rls-audit.md");
    String text = Files.readString(doc, StandardCharsets.UTF_8);
    for (RuleDescription r : rules) {
      assertThat(text).as("docs/rls-audit.md documents %s", r.id()).contains("`" + r.id() + "`");
    }
  }
}
