/**
 * saaskit fleet: database-per-tenant and sharded fleets. A tenant directory, routing to the right database under a
 * connection budget, fleet migrations, tenant moves, export and erasure.
 */
module dev.saaskit.fleet {
  requires transitive dev.saaskit.core;
  requires transitive dev.saaskit.tenancy;
  requires transitive java.sql;
  // HikariConfig appears in the builder's hikari(..) option
  requires transitive com.zaxxer.hikari;
  // Flyway has no module name: the automatic one from its jar file
  requires flyway.core;
  requires org.postgresql.jdbc;
  requires org.slf4j;
  // annotations in our signatures: readers of the API see them when the jar is present
  requires static transitive org.jspecify;

  exports dev.saaskit.fleet;
}
