package dev.saaskit.fleet;

import dev.saaskit.core.TenantId;
import java.util.Comparator;
import java.util.Map;

/** Chooses where a new tenant goes ({@link TenantDirectory#place(TenantId)}). */
@FunctionalInterface
public interface PlacementPolicy {

  /**
   * The placement of {@code tenant}.
   *
   * @param tenantsPerShard the shards that accept new tenants, each with its number of tenants (deleted ones not
   *     counted); may be empty
   */
  Placement place(TenantId tenant, Map<String, Long> tenantsPerShard);

  /** The default: the shared shard with the fewest tenants (ties: the first name in order). */
  static PlacementPolicy fewestTenants() {
    return (tenant, counts) -> counts.entrySet().stream()
        .min(Comparator.<Map.Entry<String, Long>>comparingLong(Map.Entry::getValue)
            .thenComparing(Map.Entry::getKey))
        .map(e -> (Placement) Placement.shared(e.getKey()))
        .orElseThrow(() -> new FleetException("no shard accepts new tenants: add one with TenantDirectory.addShard"
            + " or place the tenant explicitly"));
  }
}
