package dev.saaskit.tenancy.audit;

import java.util.Objects;

/**
 * A rule of the {@link RlsAudit}, as listed by {@link AuditReport#rules()} and in SARIF output.
 *
 * @param id the stable kebab-case id, e.g. {@code rls-disabled}
 * @param severity the usual severity of its findings (a finding may carry another, see the rule's help)
 * @param title a short title
 * @param help what the rule checks, why it matters and how to fix it
 */
public record RuleDescription(String id, Severity severity, String title, String help) {
  /** Checks that no component is null. */
  public RuleDescription {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(severity, "severity");
    Objects.requireNonNull(title, "title");
    Objects.requireNonNull(help, "help");
  }
}
