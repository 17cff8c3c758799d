package dev.saaskit.tenancy.audit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.core.SaasException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Baseline parsing, and how a baseline suppresses findings in a report. */
class BaselineTest {
  static Finding finding(String rule, Severity severity, String object) {
    return new Finding(rule, severity, object, "message about " + object, Optional.of("SELECT 1;"));
  }

  @Test
  void parsesEntriesSkippingCommentsAndBlankLines() {
    Baseline b = Baseline.parse("# accepted findings\n\n"
        + "rls-disabled public.countries -- shared reference data\r\n"
        + "  policy-always-true   policy worker_claims on public.jobs  --  the worker claims across tenants  \n"
        + "no-tenant-index * -- small tables -- reviewed\n");
    assertThat(b.entries()).containsExactly(
        new Baseline.Entry("rls-disabled", "public.countries", "shared reference data", 3),
        new Baseline.Entry("policy-always-true", "policy worker_claims on public.jobs",
            "the worker claims across tenants", 4),
        new Baseline.Entry("no-tenant-index", "*", "small tables -- reviewed", 5));
    assertThat(b.entries().get(0)).hasToString("rls-disabled public.countries -- shared reference data");
    assertThat(Baseline.parse("").entries()).isEmpty();
    assertThat(Baseline.empty().entries()).isEmpty();
  }

  @Test
  void rejectsAnEntryWithoutAReasonNamingTheLine() {
    assertThatThrownBy(() -> Baseline.parse("# header\nrls-disabled public.a -- ok\nrls-disabled public.b\n"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("line 3")
        .hasMessageContaining("every ignored finding needs a reason");
    assertThatThrownBy(() -> Baseline.parse("rls-disabled public.b --   "))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("line 1")
        .hasMessageContaining("every ignored finding needs a reason");
    // "--" inside a name is not the separator
    assertThatThrownBy(() -> Baseline.parse("rls-disabled public.a--b"))
        .hasMessageContaining("every ignored finding needs a reason");
  }

  @Test
  void rejectsAMissingObjectAndUnknownRules() {
    assertThatThrownBy(() -> Baseline.parse("rls-disabled -- no object"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("line 1")
        .hasMessageContaining("use * as the object");
    assertThatThrownBy(() -> Baseline.parse("\nrls-disabeld public.a -- typo"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("line 2")
        .hasMessageContaining("unknown rule id 'rls-disabeld'")
        .hasMessageContaining("rls-disabled");
  }

  @Test
  void loadsAFileAndNamesItInErrors(@TempDir Path dir) throws IOException {
    Path good = dir.resolve("baseline.txt");
    Files.writeString(good, "rls-disabled public.countries -- reference data\n", StandardCharsets.UTF_8);
    assertThat(Baseline.load(good).entries()).hasSize(1);

    Path bad = dir.resolve("bad.txt");
    Files.writeString(bad, "rls-disabled public.countries\n", StandardCharsets.UTF_8);
    assertThatThrownBy(() -> Baseline.load(bad))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(bad.toString())
        .hasMessageContaining("line 1");
    assertThatThrownBy(() -> Baseline.load(dir.resolve("missing.txt"))).isInstanceOf(SaasException.class)
        .hasMessageContaining("missing.txt");
  }

  @Test
  void suppressesMatchingFindingsAndReportsUnusedEntries() {
    Baseline b = Baseline.parse("rls-disabled public.countries -- reference data\n"
        + "no-tenant-index * -- small tables\n"
        + "no-tenant-index public.notes -- also matched by the line above\n"
        + "rls-disabled public.gone -- dropped long ago\n");
    List<Finding> found = List.of(
        finding("rls-disabled", Severity.ERROR, "public.countries"),
        finding("rls-disabled", Severity.ERROR, "public.orders"),
        finding("no-tenant-index", Severity.WARNING, "public.notes"),
        finding("no-tenant-index", Severity.WARNING, "public.tags"),
        finding("policy-always-true", Severity.INFO, "policy w on public.jobs"));
    AuditReport report = AuditReport.of(found, b, "app", "db", List.of("public.orders"));

    assertThat(report.findings()).extracting(Finding::object)
        .containsExactly("public.orders", "policy w on public.jobs");
    assertThat(report.hasErrors()).isTrue();
    assertThat(report.suppressed()).extracting(s -> s.finding().object())
        .containsExactly("public.countries", "public.notes", "public.tags");
    assertThat(report.suppressedBy()).extracting(Baseline.Entry::line).containsExactly(1, 2, 2);
    assertThat(report.unusedBaselineEntries()).extracting(Baseline.Entry::line).containsExactly(4);

    AuditReport clean = AuditReport.of(found.subList(0, 1), b, "app", "db", List.of());
    assertThat(clean.findings()).isEmpty();
    assertThat(clean.hasErrors()).isFalse();
    assertThat(clean.unusedBaselineEntries()).extracting(Baseline.Entry::line).containsExactly(2, 3, 4);
  }

  @Test
  void findingsAreSortedBySeverityRuleAndObject() {
    AuditReport report = AuditReport.of(List.of(
        finding("no-tenant-index", Severity.WARNING, "public.b"),
        finding("policy-always-true", Severity.INFO, "policy x on public.a"),
        finding("rls-disabled", Severity.ERROR, "public.b"),
        finding("no-tenant-index", Severity.WARNING, "public.a"),
        finding("app-role-superuser", Severity.ERROR, "role app")), Baseline.empty(), "app", "db", List.of());
    assertThat(report.findings()).extracting(f -> f.ruleId() + " " + f.object()).containsExactly(
        "app-role-superuser role app", "rls-disabled public.b", "no-tenant-index public.a",
        "no-tenant-index public.b", "policy-always-true policy x on public.a");
    assertThat(report.errors()).hasSize(2);
    assertThat(report.warnings()).hasSize(2);
    assertThat(report.infos()).hasSize(1);
  }
}
