package dev.saaskit.fleet;

import dev.saaskit.core.TenantId;
import java.time.Instant;

/**
 * A tenant's row in the {@link TenantDirectory}.
 *
 * @param tenant the tenant
 * @param placement where its rows live
 * @param state its state
 * @param version incremented by every change of the entry (placement or state)
 * @param updatedAt when the entry last changed
 */
public record TenantEntry(TenantId tenant, Placement placement, TenantState state, long version, Instant updatedAt) {}
