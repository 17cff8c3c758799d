package dev.saaskit.fleet;

import dev.saaskit.core.TenantId;

/**
 * Hears each step of a {@link TenantMove} after it is recorded (progress, metrics). An exception thrown here stops
 * the move right there, as a crash would: the journal then says where to {@linkplain TenantMove#resume resume} or
 * {@linkplain TenantMove#rollback roll back} from (the tests use this to crash a move at every step).
 */
@FunctionalInterface
public interface MoveObserver {
  /** Called after {@code step} of the move of {@code tenant} was recorded. */
  void stepDone(TenantId tenant, MoveStep step);
}
