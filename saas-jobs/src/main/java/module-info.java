/** saaskit jobs: durable background jobs on PostgreSQL. */
module dev.saaskit.jobs {
  requires transitive dev.saaskit.core;
  requires transitive java.sql;
  // inside the default JobCodec only: no Jackson type is part of the API
  requires com.fasterxml.jackson.databind;
  requires org.postgresql.jdbc;
  requires org.slf4j;
  requires static micrometer.core;
  // annotations in our signatures: readers of the API see them when the jar is present
  requires static transitive org.jspecify;

  exports dev.saaskit.jobs;
}
