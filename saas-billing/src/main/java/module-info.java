/**
 * saaskit billing: a Stripe subscription mirror in PostgreSQL that never drifts (signed, idempotent, order-safe
 * webhooks and a reconciling sync), with checkout, plan and seat changes, entitlements, metered usage and dunning.
 */
module dev.saaskit.billing {
  requires transitive dev.saaskit.core;
  requires transitive java.sql;
  requires com.stripe;
  requires static com.google.gson;
  requires com.fasterxml.jackson.databind;
  requires org.slf4j;
  requires static micrometer.core;
  requires static org.postgresql.jdbc;
  // annotations in our signatures: readers of the API see them when the jar is present
  requires static transitive org.jspecify;

  exports dev.saaskit.billing;
}
