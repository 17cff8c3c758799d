package dev.saaskit.tenancy;

import dev.saaskit.core.SaasException;
import java.util.List;

/**
 * Thrown by {@link StartupGuard#verify(javax.sql.DataSource)} when the database would not isolate tenants for the
 * application's role: the role is a superuser or bypasses RLS, or a tenant table lacks (forced) Row-Level
 * Security. The message lists every problem found, each with the SQL that fixes it; {@link #problems()} gives the
 * same entries one by one.
 */
public class UnsafeDatabaseSetupException extends SaasException {
  private static final long serialVersionUID = 1L;

  private final List<String> problems;

  /**
   * An exception with the full {@code message} and the individual {@code problems} (each a description followed
   * by its fix).
   */
  public UnsafeDatabaseSetupException(String message, List<String> problems) {
    super(message);
    this.problems = List.copyOf(problems);
  }

  /** Every problem found, each a description followed by the steps that fix it; never empty when thrown by saaskit. */
  public List<String> problems() {
    return problems;
  }
}
