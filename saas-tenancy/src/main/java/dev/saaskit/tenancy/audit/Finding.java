package dev.saaskit.tenancy.audit;

import java.util.Objects;
import java.util.Optional;

/**
 * One problem the {@link RlsAudit} found.
 *
 * @param ruleId the stable rule id, e.g. {@code rls-disabled} (see {@link AuditReport#rules()})
 * @param severity how bad it is here (some rules raise or lower their default severity by context)
 * @param object what it is about, e.g. {@code public.orders}, {@code policy tenant_isolation on public.orders},
 *     {@code function public.f(integer)}, {@code role app}; baseline entries name the object this way
 * @param message one line saying what is wrong and why it matters
 * @param fix SQL that fixes it, where one exists (it may hold several statements and {@code --} comments)
 */
public record Finding(String ruleId, Severity severity, String object, String message, Optional<String> fix) {
  /** Checks that no component is null. */
  public Finding {
    Objects.requireNonNull(ruleId, "ruleId");
    Objects.requireNonNull(severity, "severity");
    Objects.requireNonNull(object, "object");
    Objects.requireNonNull(message, "message");
    Objects.requireNonNull(fix, "fix");
  }
}
