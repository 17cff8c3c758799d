package dev.saaskit.core.internal;

import dev.saaskit.core.TenantSetting;
import java.util.Objects;

/**
 * The SQL that binds the tenant to a statement: {@code set_config(<setting>, <tenant>, true)}, transaction-local,
 * sent in the same round trip as the statement it guards. The one place saaskit spells it; saas-tenancy's
 * statement handler and saas-jobs' queue both build their statements from here. The setting name is a validated
 * {@link TenantSetting}, quoted as a literal; the tenant is always a bind parameter (or, for the literal form, a
 * quoted literal appended by the caller). Not API.
 */
public final class TenantSettingSql {
  private final String settingLiteral;
  private final String preparedPrefix;
  private final String capturingPrefix;
  private final String separate;

  private TenantSettingSql(TenantSetting setting) {
    this.settingLiteral = SqlNames.quoteLiteral(setting.name());
    // the newline ends the prefix even if the statement after it starts with something a line comment would eat
    this.preparedPrefix = "SELECT set_config(" + settingLiteral + ", ?, true);\n";
    this.capturingPrefix = "SELECT current_setting(" + settingLiteral + ", true);\n" + preparedPrefix;
    this.separate = "SELECT set_config(" + settingLiteral + ", ?, true)";
  }

  /** The SQL of {@code setting}. */
  public static TenantSettingSql of(TenantSetting setting) {
    return new TenantSettingSql(Objects.requireNonNull(setting, "setting"));
  }

  /**
   * {@code SELECT set_config('<setting>', ?, true);\n}: put it before a statement prepared as one multi-statement
   * string; its one parameter (index 1) is the tenant, the statement's own parameters follow from index 2.
   */
  public String preparedPrefix() {
    return preparedPrefix;
  }

  /**
   * Like {@link #preparedPrefix()}, first reading the setting's current value (its own result set, no
   * parameter): for statements run inside a caller's transaction, whose setting must be put back afterwards.
   */
  public String capturingPrefix() {
    return capturingPrefix;
  }

  /** {@code SELECT set_config('<setting>', } : the start of a literal prefix; the caller appends the value. */
  public String literalPrefixStart() {
    return "SELECT set_config(" + settingLiteral + ", ";
  }

  /**
   * {@code set_config('<setting>', } : the start of the call as an expression, to bind the tenant inside another
   * statement (its value is the tenant, so the statement can also store it); the caller appends the value and
   * {@code , true)}.
   */
  public String expressionStart() {
    return "set_config(" + settingLiteral + ", ";
  }

  /** {@code SELECT set_config('<setting>', ?, true)} on its own, one parameter: the value. */
  public String separate() {
    return separate;
  }
}
