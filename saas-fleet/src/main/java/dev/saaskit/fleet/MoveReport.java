package dev.saaskit.fleet;

import dev.saaskit.core.TenantId;
import java.time.Duration;
import java.util.List;

/**
 * What a {@link TenantMove} did.
 *
 * @param tenant the tenant
 * @param source where it was
 * @param target where it is now (after a roll-back: where it was going)
 * @param outcome {@code done} or {@code rolled_back}
 * @param tables per table, parents first: rows and checksums in source and target as verified
 * @param rowsCopied rows copied into the target
 * @param writeBlocked how long writes were refused (from {@code moving} to the flip)
 * @param copyTime how long the copy took
 */
public record MoveReport(TenantId tenant, Placement source, Placement target, String outcome,
    List<TableCheck> tables, long rowsCopied, Duration writeBlocked, Duration copyTime) {

  /** Rows copied per second of copy time. */
  public double rowsPerSecond() {
    long ms = Math.max(1, copyTime.toMillis());
    return rowsCopied * 1000.0 / ms;
  }

  /**
   * One table's verification.
   *
   * @param table schema-qualified name
   * @param sourceRows the tenant's rows in the source
   * @param targetRows the tenant's rows in the target
   * @param sourceChecksum checksum of the source rows
   * @param targetChecksum checksum of the target rows
   */
  public record TableCheck(String table, long sourceRows, long targetRows, String sourceChecksum,
      String targetChecksum) {
    /** Whether counts and checksums are equal. */
    public boolean matches() {
      return sourceRows == targetRows && sourceChecksum.equals(targetChecksum);
    }
  }
}
