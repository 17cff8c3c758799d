/**
 * saaskit tenancy: the tenant as a PostgreSQL setting on every statement ({@code TenantDataSource}), row-level
 * security policies, the start-up guard and the RLS audit.
 */
module dev.saaskit.tenancy {
  requires transitive dev.saaskit.core;
  requires transitive java.sql;
  // the driver is the application's (a provided dependency); its classes are used to read connection state
  requires org.postgresql.jdbc;
  requires org.slf4j;
  // annotations in our signatures: readers of the API see them when the jar is present
  requires static transitive org.jspecify;

  exports dev.saaskit.tenancy;
  exports dev.saaskit.tenancy.audit;
}
