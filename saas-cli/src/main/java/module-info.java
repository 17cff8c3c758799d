/** saaskit CLI: the {@code saaskit} command for operators (rls-audit, jobs, billing, tenants). */
module dev.saaskit.cli {
  requires dev.saaskit.core;
  requires dev.saaskit.tenancy;
  requires dev.saaskit.jobs;
  requires dev.saaskit.billing;
  requires dev.saaskit.fleet;
  // JSON output of the jobs and billing commands
  requires com.fasterxml.jackson.databind;
  requires info.picocli;
  requires java.logging;
  requires org.postgresql.jdbc;
  // annotations in our signatures: readers of the API see them when the jar is present
  requires static transitive org.jspecify;

  exports dev.saaskit.cli;
  // picocli sets the annotated option fields of the commands reflectively
  opens dev.saaskit.cli to info.picocli;
}
