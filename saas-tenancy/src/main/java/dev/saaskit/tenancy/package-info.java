/**
 * Tenant isolation in a shared PostgreSQL database with Row-Level Security:
 * {@link dev.saaskit.tenancy.TenantDataSource} makes PostgreSQL see the current tenant on every statement,
 * {@link dev.saaskit.tenancy.RlsPolicy} generates the policies in their fast, fail-closed form, and
 * {@link dev.saaskit.tenancy.StartupGuard} refuses an application role that could bypass them.
 */
@NullMarked
package dev.saaskit.tenancy;

import org.jspecify.annotations.NullMarked;
