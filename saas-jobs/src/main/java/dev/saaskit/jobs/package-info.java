/**
 * Durable background jobs on PostgreSQL: enqueue returns an id at once (optionally inside the caller's
 * transaction), workers claim fairly across tenants, run each job in its tenant's
 * {@link dev.saaskit.core.TenantContext}, retry with backoff, rescue jobs of dead workers within seconds, and
 * keep finished jobs for status polling.
 */
@NullMarked
package dev.saaskit.jobs;

import org.jspecify.annotations.NullMarked;
