package dev.saaskit.core;

/**
 * Thrown when work that needs a tenant runs with none set: {@link TenantContext#require()}, or a strict
 * tenant-aware resource used outside {@link TenantContext#run(TenantId, CheckedRunnable)}.
 */
public class MissingTenantException extends SaasException {
  private static final long serialVersionUID = 1L;

  /** An exception whose message names the operation that needed a tenant. */
  public MissingTenantException(String message) {
    super(message);
  }
}
