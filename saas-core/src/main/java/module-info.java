/**
 * saaskit core: the tenant ({@code TenantId}, {@code TenantContext}, {@code TenantSetting}), the shape of module
 * schemas ({@code ModuleSchema}) and the functional interfaces every module takes. Its {@code internal} package is
 * shared with the other saaskit modules only.
 */
module dev.saaskit.core {
  requires transitive java.sql;
  // annotations in our signatures: readers of the API see them when the jar is present
  requires static transitive org.jspecify;
  // the shared LISTEN loop (internal) speaks to pgjdbc; the driver is the application's (provided), and every module
  // that starts the loop requires it
  requires static org.postgresql.jdbc;

  exports dev.saaskit.core;
  exports dev.saaskit.core.internal to
      dev.saaskit.tenancy,
      dev.saaskit.jobs,
      dev.saaskit.cache,
      dev.saaskit.auth,
      dev.saaskit.billing,
      dev.saaskit.fleet;
}
