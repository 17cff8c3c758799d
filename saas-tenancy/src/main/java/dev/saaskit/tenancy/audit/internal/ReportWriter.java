package dev.saaskit.tenancy.audit.internal;

import dev.saaskit.tenancy.audit.AuditReport;
import dev.saaskit.tenancy.audit.Baseline;
import dev.saaskit.tenancy.audit.Finding;
import dev.saaskit.tenancy.audit.RuleDescription;
import dev.saaskit.tenancy.audit.Severity;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/** Renders an {@link AuditReport} as text, JSON and SARIF 2.1.0. Not API. */
public final class ReportWriter {
  /** The tool name in SARIF output. */
  public static final String TOOL_NAME = "saaskit rls-audit";
  /** Where the rules are documented. */
  public static final String INFORMATION_URI = "https://saaskit.dev/docs/rls-audit";
  private static final String SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json";

  private ReportWriter() {}

  /** The text form (see {@link AuditReport#toText()}). */
  public static String text(AuditReport report) {
    StringBuilder sb = new StringBuilder();
    sb.append("RLS audit of database ").append(report.database()).append(" for role ").append(report.appRole())
        .append(": ").append(count(report.tenantTables().size(), "tenant table")).append('\n');
    sb.append(count(report.errors().size(), "error")).append(", ").append(count(report.warnings().size(), "warning"))
        .append(", ").append(count(report.infos().size(), "info"));
    if (!report.suppressed().isEmpty()) {
      sb.append("; ").append(report.suppressed().size()).append(" suppressed by baseline");
    }
    if (!report.unusedBaselineEntries().isEmpty()) {
      sb.append("; ").append(count(report.unusedBaselineEntries().size(), "unused baseline entry", "unused baseline"
          + " entries"));
    }
    sb.append('\n');
    if (report.findings().isEmpty()) {
      sb.append("\nNo findings.\n");
    }
    for (Severity severity : Severity.values()) {
      List<Finding> group = severity == Severity.ERROR ? report.errors()
          : severity == Severity.WARNING ? report.warnings() : report.infos();
      if (group.isEmpty()) {
        continue;
      }
      sb.append('\n').append(severity.name()).append(" (").append(group.size()).append(")\n");
      for (Finding f : group) {
        sb.append("  [").append(f.ruleId()).append("] ").append(f.object()).append('\n');
        sb.append("    ").append(f.message()).append('\n');
        f.fix().ifPresent(fix -> {
          sb.append("    fix:\n");
          for (String line : fix.split("\n", -1)) {
            sb.append("      ").append(line).append('\n');
          }
        });
      }
    }
    if (!report.unusedBaselineEntries().isEmpty()) {
      sb.append("\nINFO: baseline entries that matched nothing (delete them) [").append(Rules.UNUSED_BASELINE_ENTRY)
          .append("]\n");
      for (Baseline.Entry e : report.unusedBaselineEntries()) {
        sb.append("  line ").append(e.line()).append(": ").append(e).append('\n');
      }
    }
    return sb.toString();
  }

  /** The JSON form (see {@link AuditReport#toJson()}). */
  public static String json(AuditReport report) {
    Map<String, Object> root = new LinkedHashMap<>();
    root.put("database", report.database());
    root.put("appRole", report.appRole());
    List<Object> findings = new ArrayList<>();
    for (Finding f : report.findings()) {
      findings.add(finding(f));
    }
    root.put("findings", findings);
    List<Object> suppressed = new ArrayList<>();
    for (AuditReport.Suppressed s : report.suppressed()) {
      Map<String, Object> m = finding(s.finding());
      m.put("baseline", entry(s.entry()));
      suppressed.add(m);
    }
    root.put("suppressed", suppressed);
    List<Object> unused = new ArrayList<>();
    for (Baseline.Entry e : report.unusedBaselineEntries()) {
      unused.add(entry(e));
    }
    root.put("unusedBaselineEntries", unused);
    Map<String, Object> summary = new LinkedHashMap<>();
    summary.put("errors", report.errors().size());
    summary.put("warnings", report.warnings().size());
    summary.put("infos", report.infos().size());
    summary.put("suppressed", report.suppressed().size());
    summary.put("unusedBaselineEntries", report.unusedBaselineEntries().size());
    summary.put("tenantTables", report.tenantTables().size());
    summary.put("hasErrors", report.hasErrors());
    root.put("summary", summary);
    return Json.write(root);
  }

  /** The SARIF 2.1.0 form (see {@link AuditReport#toSarif()}). */
  public static String sarif(AuditReport report, @Nullable String artifactUri) {
    List<RuleDescription> catalog = Rules.all();
    List<Object> rules = new ArrayList<>();
    for (RuleDescription r : catalog) {
      Map<String, Object> rule = new LinkedHashMap<>();
      rule.put("id", r.id());
      rule.put("name", r.id());
      rule.put("shortDescription", Map.of("text", r.title()));
      rule.put("fullDescription", Map.of("text", r.help()));
      rule.put("help", Map.of("text", r.help()));
      rule.put("helpUri", INFORMATION_URI + "#" + r.id());
      rule.put("defaultConfiguration", Map.of("level", r.severity().sarifLevel()));
      rules.add(rule);
    }
    Map<String, Object> driver = new LinkedHashMap<>();
    driver.put("name", TOOL_NAME);
    driver.put("informationUri", INFORMATION_URI);
    driver.put("rules", rules);

    List<Object> results = new ArrayList<>();
    for (Finding f : report.findings()) {
      results.add(result(f, catalog, null, artifactUri));
    }
    for (AuditReport.Suppressed s : report.suppressed()) {
      results.add(result(s.finding(), catalog, s.entry(), artifactUri));
    }
    for (Baseline.Entry e : report.unusedBaselineEntries()) {
      Finding note = new Finding(Rules.UNUSED_BASELINE_ENTRY, Severity.INFO, "baseline line " + e.line(),
          "Baseline entry at line " + e.line() + " (" + e + ") matched no finding: delete it.",
          java.util.Optional.empty());
      results.add(result(note, catalog, null, artifactUri));
    }

    Map<String, Object> run = new LinkedHashMap<>();
    run.put("tool", Map.of("driver", driver));
    run.put("results", results);
    Map<String, Object> properties = new LinkedHashMap<>();
    properties.put("database", report.database());
    properties.put("appRole", report.appRole());
    properties.put("tenantTables", report.tenantTables().size());
    run.put("properties", properties);

    Map<String, Object> root = new LinkedHashMap<>();
    root.put("$schema", SARIF_SCHEMA);
    root.put("version", "2.1.0");
    root.put("runs", List.of(run));
    return Json.write(root);
  }

  private static Map<String, Object> result(Finding f, List<RuleDescription> catalog,
      Baseline.@Nullable Entry suppressedBy, @Nullable String artifactUri) {
    Map<String, Object> r = new LinkedHashMap<>();
    r.put("ruleId", f.ruleId());
    for (int i = 0; i < catalog.size(); i++) {
      if (catalog.get(i).id().equals(f.ruleId())) {
        r.put("ruleIndex", i);
      }
    }
    r.put("level", f.severity().sarifLevel());
    r.put("message", Map.of("text", f.message() + f.fix().map(fix -> "\nFix:\n" + fix).orElse("")));
    Map<String, Object> location = new LinkedHashMap<>();
    location.put("fullyQualifiedName", f.object());
    location.put("kind", kind(f.object()));
    Map<String, Object> where = new LinkedHashMap<>();
    if (artifactUri != null) {
      // Code-scanning services want a file: point at the one the caller names (say, the migrations folder's
      // main file); the fingerprint keeps findings at the same place apart.
      where.put("physicalLocation", Map.of("artifactLocation", Map.of("uri", artifactUri),
          "region", Map.of("startLine", 1)));
    }
    where.put("logicalLocations", List.of(location));
    r.put("locations", List.of(where));
    r.put("partialFingerprints", Map.of("saaskitFinding/v1", fingerprint(f.ruleId() + "\u0000" + f.object())));
    if (suppressedBy != null) {
      Map<String, Object> suppression = new LinkedHashMap<>();
      suppression.put("kind", "external");
      suppression.put("justification", suppressedBy.reason() + " (baseline line " + suppressedBy.line() + ")");
      r.put("suppressions", List.of(suppression));
    }
    Map<String, Object> properties = new LinkedHashMap<>();
    properties.put("object", f.object());
    properties.put("fix", f.fix().orElse(null));
    r.put("properties", properties);
    return r;
  }

  private static String fingerprint(String text) {
    try {
      byte[] digest = java.security.MessageDigest.getInstance("SHA-256")
          .digest(text.getBytes(java.nio.charset.StandardCharsets.UTF_8));
      return java.util.HexFormat.of().formatHex(digest, 0, 16);
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is required by every Java platform", e);
    }
  }

  /** A SARIF logical location kind for an object name. */
  private static String kind(String object) {
    if (object.startsWith("function ") || object.startsWith("procedure ")) {
      return "function";
    }
    if (object.startsWith("policy ") || object.startsWith("constraint ")) {
      return "member";
    }
    return "resource";
  }

  private static Map<String, Object> finding(Finding f) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("ruleId", f.ruleId());
    m.put("severity", f.severity().name());
    m.put("object", f.object());
    m.put("message", f.message());
    m.put("fix", f.fix().orElse(null));
    return m;
  }

  private static Map<String, Object> entry(Baseline.Entry e) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("ruleId", e.ruleId());
    m.put("object", e.object());
    m.put("reason", e.reason());
    m.put("line", e.line());
    return m;
  }

  private static String count(int n, String singular) {
    return count(n, singular, singular + "s");
  }

  private static String count(int n, String singular, String plural) {
    return n + " " + (n == 1 ? singular : plural);
  }
}
