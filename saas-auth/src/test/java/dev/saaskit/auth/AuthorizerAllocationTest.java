package dev.saaskit.auth;

import static org.assertj.core.api.Assertions.assertThat;

import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The hot path allocates nothing: 100,000 decisions after warm-up, measured with the JVM's per-thread allocation
 * counter. The bound is a small constant (the counter itself and JIT compilation on this thread may account a few
 * hundred bytes), far below the 1.6 MB that a single 16-byte object per call would cost.
 */
class AuthorizerAllocationTest {
  static final int CALLS = 100_000;
  static final long SLACK_BYTES = 16 * 1024;
  static final TenantId ACME = TenantId.of("acme");

  static final com.sun.management.ThreadMXBean THREADS =
      (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

  /** A model of {@code roles} roles in a chain, each with two permissions of its own. */
  static RoleModel model(int roles) {
    RoleModel.Builder b = RoleModel.builder();
    for (int i = 0; i < roles; i++) {
      b.role("role" + i, "perm:" + i + ":read", "perm:" + i + ":write");
      if (i > 0) {
        b.inherits("role" + i, "role" + (i - 1));
      }
    }
    return b.build();
  }

  interface Work {
    int run(int calls);
  }

  /** Bytes allocated by this thread over the best of a few rounds of {@code work} (after warming it up). */
  static long allocated(Work work) {
    int sink = 0;
    for (int i = 0; i < 20; i++) {
      sink += work.run(CALLS); // warm-up: let the JIT compile the loop and everything it calls
    }
    long best = Long.MAX_VALUE;
    for (int round = 0; round < 5; round++) {
      long tid = Thread.currentThread().getId();
      long before = THREADS.getThreadAllocatedBytes(tid);
      sink += work.run(CALLS);
      long after = THREADS.getThreadAllocatedBytes(tid);
      best = Math.min(best, after - before);
    }
    assertThat(sink).as("the decisions were made").isPositive();
    return best;
  }

  @Test
  void theAllocationCounterSeesAnAllocationPerCall() {
    // the measurement itself is sound: one small object per call shows as at least 1.6 MB
    long bytes = allocated(calls -> {
      List<Object> keep = new ArrayList<>(1);
      int n = 0;
      for (int i = 0; i < calls; i++) {
        keep.clear();
        keep.add(new Object());
        n += keep.size();
      }
      return n;
    });
    assertThat(bytes).isGreaterThanOrEqualTo(16L * CALLS);
  }

  @Test
  void tenantWideChecksAllocateNothingWithTenAndAThousandRoles() {
    for (int roles : new int[] {10, 1000}) {
      RoleModel model = model(roles);
      PermissionVersions versions = PermissionVersions.loadingFrom((t, u) -> 7L);
      ResourceGrants grants = new ResourceGrants();
      Authorizer authz = Authorizer.builder(model).permissionVersions(versions).resourceGrants(grants).build();
      Principal top = Principal.builder("https://idp.example", "u").tenant(ACME)
          .roles(List.of("role" + (roles - 1), "unknown")).permissions(List.of("direct:scope"))
          .permissionVersion(7L).build();
      Principal bottom = Principal.builder("https://idp.example", "b").tenant(ACME).roles(List.of("role0"))
          .permissionVersion(7L).build();
      String allowed = "perm:0:read";
      String notHeld = "perm:" + (roles - 1) + ":write";
      String direct = "direct:scope";
      String typo = "perm:0:raed";
      long bytes = allocated(calls -> {
        int n = 0;
        for (int i = 0; i < calls; i++) {
          n += authz.check(top, allowed) ? 1 : 0;
          n += authz.check(bottom, notHeld) ? 0 : 1;
          n += authz.check(top, direct) ? 1 : 0;
          n += authz.check(top, typo) ? 0 : 1;
        }
        return n;
      });
      assertThat(bytes).as("bytes for %d x 4 checks with %d roles", CALLS, roles).isLessThan(SLACK_BYTES);

      // inside a request's TenantContext, and the resource-level check through a grant
      for (int g = 0; g < roles; g++) {
        grants.grantRole(ACME, bottom.userKey(), "doc-" + g, "role" + g);
      }
      String resource = "doc-" + (roles - 1);
      long scoped = TenantContext.call(ACME, () -> allocated(calls -> {
        int n = 0;
        for (int i = 0; i < calls; i++) {
          n += authz.check(bottom, notHeld, resource) ? 1 : 0;
          n += authz.check(bottom, notHeld) ? 0 : 1;
        }
        return n;
      }));
      assertThat(scoped).as("bytes for %d x 2 scoped checks with %d roles and grants", CALLS, roles)
          .isLessThan(SLACK_BYTES);
    }
  }
}
