/** Implementation of the PostgreSQL invalidation bus; not API, may change in any release. */
@NullMarked
package dev.saaskit.cache.postgres.internal;

import org.jspecify.annotations.NullMarked;
