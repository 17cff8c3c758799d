package dev.saaskit.fleet;

/** The recorded steps of a {@link TenantMove}, in order. Each is written to the move journal when it is done. */
public enum MoveStep {
  /** The move is journaled; nothing changed yet. */
  STARTED,
  /** The tenant is {@code moving} (read-only) and its open read-write connections have ended. */
  BLOCKED,
  /** Its rows are in the target (one transaction). */
  COPIED,
  /** Row counts and checksums of every table match between source and target. */
  VERIFIED,
  /** The directory points at the target and the tenant is writable again. */
  FLIPPED,
  /** Its rows are deleted from the source. The move is done. */
  CLEANED
}
