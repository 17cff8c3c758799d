package dev.saaskit.auth;

/**
 * Told every decision an {@link Authorizer} makes (who, what, which tenant, allowed or why denied), for audit logs
 * and metrics. Called on the deciding thread: keep it quick and never throw (a throwing listener is logged and
 * ignored). With no listener configured, decisions allocate nothing.
 */
@FunctionalInterface
public interface DecisionListener {
  /** One decision. */
  void onDecision(Decision decision);
}
