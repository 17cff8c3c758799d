package dev.saaskit.tenancy.internal;

/** A step of JDBC work, run by the tenant wrappers inside a lock or a transaction. Not API. */
@FunctionalInterface
interface SqlCall {
  Object run() throws Throwable;
}
