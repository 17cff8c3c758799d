package dev.saaskit.tenancy.audit;

import dev.saaskit.tenancy.audit.internal.ReportWriter;
import dev.saaskit.tenancy.audit.internal.Rules;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * What an {@link RlsAudit} run found: the findings a {@link Baseline} did not suppress, sorted by severity, rule id
 * and object; the suppressed ones with the entry that matched each; and the baseline entries that matched nothing.
 * Prints itself for people ({@link #toText()}), programs ({@link #toJson()}) and code-scanning tools
 * ({@link #toSarif()}). Immutable.
 */
public final class AuditReport {
  /** The order of {@link #findings()}: severity (errors first), rule id, object, message. */
  static final Comparator<Finding> ORDER = Comparator.comparing(Finding::severity)
      .thenComparing(Finding::ruleId).thenComparing(Finding::object).thenComparing(Finding::message);

  private final List<Finding> findings;
  private final List<Suppressed> suppressed;
  private final List<Baseline.Entry> unused;
  private final String appRole;
  private final String database;
  private final List<String> tenantTables;

  private AuditReport(List<Finding> findings, List<Suppressed> suppressed, List<Baseline.Entry> unused,
      String appRole, String database, List<String> tenantTables) {
    this.findings = List.copyOf(findings);
    this.suppressed = List.copyOf(suppressed);
    this.unused = List.copyOf(unused);
    this.appRole = appRole;
    this.database = database;
    this.tenantTables = List.copyOf(tenantTables);
  }

  /** Applies {@code baseline} to {@code found} and sorts what is left. */
  static AuditReport of(List<Finding> found, Baseline baseline, String appRole, String database,
      List<String> tenantTables) {
    return of(found, baseline, List.of(), appRole, database, tenantTables);
  }

  /**
   * Applies {@code baseline}, then the database's own {@code annotations}, to {@code found} and sorts what is left.
   * Annotations accept warnings and infos only: an error stays an error whatever a comment says (an accepted error
   * belongs in the baseline file, in review); unmatched annotations are not reported as unused.
   */
  static AuditReport of(List<Finding> found, Baseline baseline, List<Baseline.Entry> annotations, String appRole,
      String database, List<String> tenantTables) {
    Objects.requireNonNull(baseline, "baseline");
    List<Finding> sorted = new ArrayList<>(found);
    sorted.sort(ORDER);
    List<Finding> kept = new ArrayList<>();
    List<Suppressed> suppressed = new ArrayList<>();
    Set<Baseline.Entry> used = new LinkedHashSet<>();
    for (Finding f : sorted) {
      Optional<Baseline.Entry> match = baseline.match(f);
      if (match.isEmpty() && f.severity() != Severity.ERROR) {
        match = annotations.stream().filter(e -> e.matches(f)).findFirst();
      }
      if (match.isPresent()) {
        suppressed.add(new Suppressed(f, match.get()));
        for (Baseline.Entry e : baseline.entries()) {
          if (e.matches(f)) {
            used.add(e);
          }
        }
      } else {
        kept.add(f);
      }
    }
    List<Baseline.Entry> unused = new ArrayList<>();
    for (Baseline.Entry e : baseline.entries()) {
      if (!used.contains(e)) {
        unused.add(e);
      }
    }
    return new AuditReport(kept, suppressed, unused, appRole, database, tenantTables);
  }

  /** The findings not suppressed by the baseline, sorted: severity (errors first), rule id, object. */
  public List<Finding> findings() {
    return findings;
  }

  /** The {@link Severity#ERROR} findings, in order. */
  public List<Finding> errors() {
    return withSeverity(Severity.ERROR);
  }

  /** The {@link Severity#WARNING} findings, in order. */
  public List<Finding> warnings() {
    return withSeverity(Severity.WARNING);
  }

  /** The {@link Severity#INFO} findings, in order. */
  public List<Finding> infos() {
    return withSeverity(Severity.INFO);
  }

  /** Whether any finding (not suppressed) is an {@link Severity#ERROR}. */
  public boolean hasErrors() {
    for (Finding f : findings) {
      if (f.severity() == Severity.ERROR) {
        return true;
      }
    }
    return false;
  }

  /** The findings the baseline suppressed, each with the (first) entry that matched it, in finding order. */
  public List<Suppressed> suppressed() {
    return suppressed;
  }

  /**
   * The baseline entry that suppressed each suppressed finding, in the order of {@link #suppressed()} (so an entry
   * with {@code *} appears once per finding it matched, and the size is the number of suppressed findings).
   */
  public List<Baseline.Entry> suppressedBy() {
    List<Baseline.Entry> out = new ArrayList<>(suppressed.size());
    for (Suppressed s : suppressed) {
      out.add(s.entry());
    }
    return List.copyOf(out);
  }

  /** Baseline entries that matched no finding: stale, to be deleted. In baseline order. */
  public List<Baseline.Entry> unusedBaselineEntries() {
    return unused;
  }

  /** The role whose access was judged (the configured application role, or the connection's user). */
  public String appRole() {
    return appRole;
  }

  /** The name of the audited database. */
  public String database() {
    return database;
  }

  /** The tenant tables found ({@code schema.table}), in schema and name order. */
  public List<String> tenantTables() {
    return tenantTables;
  }

  /**
   * For people: a summary line, then the findings grouped by severity, each with its rule id, object, message
   * and fix; then the baseline entries that matched nothing.
   */
  public String toText() {
    return ReportWriter.text(this);
  }

  /**
   * For programs: {@code {"findings": [{"ruleId", "severity", "object", "message", "fix"}], "suppressed": [...],
   * "unusedBaselineEntries": [...], "summary": {...}}}; {@code fix} is null where there is none.
   */
  public String toJson() {
    return ReportWriter.json(this);
  }

  /**
   * For code scanning: SARIF 2.1.0, one run of the tool {@code saaskit rls-audit} with every rule of
   * {@link #rules()}, one result per finding (level {@code error}, {@code warning} or {@code note}, the object as
   * a logical location, the fix in the message and in {@code properties.fix}), suppressed findings with a SARIF
   * {@code suppressions} entry carrying the baseline's reason, and unused baseline entries as notes.
   */
  public String toSarif() {
    return ReportWriter.sarif(this, null);
  }

  /**
   * {@link #toSarif()} with every result also placed in the file {@code artifactUri} (a path relative to the
   * repository root, such as {@code db/migrations}), for code-scanning services that accept only results with a
   * file location. Each result carries a fingerprint of its rule and object so that they stay distinct.
   */
  public String toSarif(String artifactUri) {
    if (artifactUri.isBlank()) {
      throw new IllegalArgumentException("artifactUri must not be blank");
    }
    return ReportWriter.sarif(this, artifactUri);
  }

  /** Every rule of the audit, with its default severity, title and help, in catalog order. */
  public static List<RuleDescription> rules() {
    return Rules.all();
  }

  @Override
  public String toString() {
    return "AuditReport[" + database + ", role " + appRole + ": " + errors().size() + " errors, "
        + warnings().size() + " warnings, " + infos().size() + " infos, " + suppressed.size() + " suppressed]";
  }

  private List<Finding> withSeverity(Severity severity) {
    List<Finding> out = new ArrayList<>();
    for (Finding f : findings) {
      if (f.severity() == severity) {
        out.add(f);
      }
    }
    return List.copyOf(out);
  }

  /**
   * A finding the baseline suppressed.
   *
   * @param finding the finding
   * @param entry the first baseline entry that matched it
   */
  public record Suppressed(Finding finding, Baseline.Entry entry) {
    /** Checks that no component is null. */
    public Suppressed {
      Objects.requireNonNull(finding, "finding");
      Objects.requireNonNull(entry, "entry");
    }
  }
}
