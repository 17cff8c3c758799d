/** saaskit cache on Redis: a shared tier behind saas-cache's local cache, and tenant rate limits (Lettuce). */
module dev.saaskit.cache.redis {
  requires transitive dev.saaskit.core;
  requires transitive dev.saaskit.cache;
  requires lettuce.core;
  requires com.fasterxml.jackson.databind;
  requires org.slf4j;
  requires static micrometer.core;
  // annotations in our signatures: readers of the API see them when the jar is present
  requires static transitive org.jspecify;

  exports dev.saaskit.cache.redis;
}
