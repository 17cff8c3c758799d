package dev.saaskit.fleet;

import dev.saaskit.core.TenantId;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicInteger;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * The process {@link TenantMoveKillTest} kills: runs one move (or one roll-back) of a tenant and halts the JVM
 * ({@code Runtime.halt}, no shutdown hook, no finally block, sockets dropped by the kernel) at the point it is told.
 *
 * <p>Arguments: {@code controlUrl controlUser tenant (move|rollback) killAt [target]}, where {@code killAt} is
 * {@code after:<MoveStep>} (the step is recorded), {@code at:<Checkpoint>[#n]} (the n-th time the move passes the
 * checkpoint inside a step, default the first) or {@code none}, and {@code target} is {@code shared:<shard>} or
 * {@code dedicated:<credentialsRef>:<jdbcUrl>}. Passwords come from the environment, not the command line: the
 * control database's in {@code CONTROL_PASSWORD}, the placements' through the default
 * {@link CredentialResolver#environment()}.
 *
 * <p>Exits with {@value #KILLED} when halted at the point, 0 when the work finished without passing it, 1 when it
 * failed.
 */
final class MoveKillChild {
  static final int KILLED = 137;

  private MoveKillChild() {}

  public static void main(String[] args) {
    try {
      run(args);
      System.exit(0);
    } catch (Throwable e) {
      e.printStackTrace();
      System.exit(1);
    }
  }

  private static void run(String[] args) {
    if (args.length < 5) {
      throw new IllegalArgumentException("usage: controlUrl controlUser tenant (move|rollback) killAt [target]");
    }
    PGSimpleDataSource control = new PGSimpleDataSource();
    control.setUrl(args[0]);
    control.setUser(args[1]);
    control.setPassword(System.getenv("CONTROL_PASSWORD"));
    TenantDirectory directory = TenantDirectory.builder(control).build(); // credentials from the environment
    TenantId tenant = TenantId.of(args[2]);
    String killAt = args[4];

    TenantMove.Builder builder = TenantMove.builder(directory);
    if (killAt.startsWith("after:")) {
      MoveStep at = MoveStep.valueOf(killAt.substring("after:".length()));
      builder.observer((t, step) -> {
        if (step == at) {
          die(killAt);
        }
      });
    } else if (killAt.startsWith("at:")) {
      String[] spec = killAt.substring("at:".length()).split("#", 2);
      TenantMove.Checkpoint at = TenantMove.Checkpoint.valueOf(spec[0]);
      int nth = spec.length == 2 ? Integer.parseInt(spec[1]) : 1;
      AtomicInteger passed = new AtomicInteger();
      builder.checkpoints((t, point) -> {
        if (point == at && passed.incrementAndGet() == nth) {
          die(killAt);
        }
      });
    } else if (!"none".equals(killAt)) {
      throw new IllegalArgumentException("killAt: after:<step>, at:<checkpoint>[#n] or none, not " + killAt);
    }
    TenantMove move = builder.build();
    switch (args[3]) {
      case "move":
        move.move(tenant, target(args[5]));
        break;
      case "rollback":
        move.rollback(tenant);
        break;
      default:
        throw new IllegalArgumentException("mode: move or rollback, not " + args[3]);
    }
  }

  private static void die(String where) {
    System.out.println("halting at " + where);
    System.out.flush();
    Runtime.getRuntime().halt(KILLED);
  }

  static Placement target(String spec) {
    String[] parts = spec.split(":", 3);
    switch (parts[0].toLowerCase(Locale.ROOT)) {
      case "shared":
        return Placement.shared(parts[1]);
      case "dedicated":
        return Placement.dedicated(parts[2], parts[1]);
      default:
        throw new IllegalArgumentException("target: shared:<shard> or dedicated:<ref>:<url>, not " + spec);
    }
  }

  /** The argument {@link #target(String)} reads back as {@code placement}. */
  static String describe(Placement placement) {
    if (placement instanceof Placement.Shared s) {
      return "shared:" + s.shard();
    }
    Placement.Dedicated d = (Placement.Dedicated) placement;
    return "dedicated:" + d.credentialsRef() + ":" + d.jdbcUrl();
  }
}
