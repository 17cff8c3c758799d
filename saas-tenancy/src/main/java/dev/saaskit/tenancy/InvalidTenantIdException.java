package dev.saaskit.tenancy;

import dev.saaskit.core.SaasException;

/**
 * Thrown, before anything is sent, when a statement runs on a {@link TenantDataSource} whose tenant column type is
 * known ({@link TenantDataSource.Builder#tenantIdType(TenantColumnType)}) and the current tenant id is not that
 * type's canonical spelling: PostgreSQL would read it as the same tenant as another id that Java code (caches, job
 * tables, per-tenant limits) keeps apart. The message names the canonical spelling.
 */
public class InvalidTenantIdException extends SaasException {
  private static final long serialVersionUID = 1L;

  /** An exception with a message that names the id, the column type and the fix. */
  public InvalidTenantIdException(String message) {
    super(message);
  }
}
