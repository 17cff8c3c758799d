package dev.saaskit.tenancy.audit;

import java.util.Locale;

/** How bad a {@link Finding} is, most severe first (the order findings are sorted in). */
public enum Severity {
  /**
   * A tenant can see or change another tenant's rows, or could with one step; fails
   * {@link RlsAudit#assertNoErrors(javax.sql.DataSource)}.
   */
  ERROR,
  /** Isolation holds, but something is fragile, slow or denies more than intended. */
  WARNING,
  /** Worth knowing, usually intended (a cross-tenant worker policy, say); nothing to fix by default. */
  INFO;

  /** The SARIF 2.1.0 level: {@code error}, {@code warning} or {@code note}. */
  public String sarifLevel() {
    return this == INFO ? "note" : name().toLowerCase(Locale.ROOT);
  }
}
