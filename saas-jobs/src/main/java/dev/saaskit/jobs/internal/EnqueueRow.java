package dev.saaskit.jobs.internal;

import dev.saaskit.core.TenantId;
import java.time.Instant;
import org.jspecify.annotations.Nullable;

/**
 * One job ready to insert: the request resolved against the tenant context, the queue's mapper and clock. Not
 * API.
 *
 * @param tenant the tenant, or {@code null} for a job of no tenant
 * @param runAt the run time, or {@code null} for the database's {@code now()}
 * @param timeoutMs the per-attempt timeout, or {@code null} for the worker's setting
 * @param uniqueKey the unique key, or {@code null}
 */
public record EnqueueRow(
    @Nullable TenantId tenant,
    String queue,
    String type,
    String payloadJson,
    int priority,
    @Nullable Instant runAt,
    int maxAttempts,
    @Nullable Long timeoutMs,
    @Nullable String uniqueKey) {}
