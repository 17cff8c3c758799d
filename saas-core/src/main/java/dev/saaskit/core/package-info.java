/**
 * The tenant of the current unit of work: {@link dev.saaskit.core.TenantId} names a tenant,
 * {@link dev.saaskit.core.TenantContext} says which tenant this thread works for and carries it across threads.
 * Every other saaskit module reads the tenant from here.
 */
@NullMarked
package dev.saaskit.core;

import org.jspecify.annotations.NullMarked;
