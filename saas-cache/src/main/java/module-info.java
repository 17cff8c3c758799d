/** saaskit cache: TTL-enforced, tenant-scoped caches and their invalidation across nodes through PostgreSQL. */
module dev.saaskit.cache {
  requires transitive dev.saaskit.core;
  requires transitive java.sql;
  requires com.github.benmanes.caffeine;
  requires org.postgresql.jdbc;
  requires org.slf4j;
  requires static micrometer.core;
  // annotations in our signatures: readers of the API see them when the jar is present
  requires static transitive org.jspecify;

  exports dev.saaskit.cache;
  exports dev.saaskit.cache.postgres;
}
