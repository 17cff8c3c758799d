package dev.saaskit.tenancy.internal;

import org.jspecify.annotations.Nullable;

/** A step of JDBC work, run by the tenant wrappers inside a lock or a transaction. Not API. */
@FunctionalInterface
interface SqlCall {
  /** Runs the step; null for a JDBC method that returns nothing. */
  @Nullable Object run() throws Throwable;
}
