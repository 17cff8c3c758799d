package dev.saaskit.benchmarks;

import dev.saaskit.auth.Authorizer;
import dev.saaskit.auth.PermissionVersions;
import dev.saaskit.auth.Principal;
import dev.saaskit.auth.ResourceGrants;
import dev.saaskit.auth.RoleModel;
import dev.saaskit.core.TenantId;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * {@code Authorizer.check} alone, ns per call, with a model of {@code size} roles (each with 5 permissions, each
 * inheriting the one before) and {@code size} resource grants for the user, with and without the permission
 * version check (revocation).
 *
 * <p>Run: {@code java -jar benchmarks/target/benchmarks.jar AuthorizerBenchmark}. Figures: docs/benchmarks.md.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Threads(1)
public class AuthorizerBenchmark {
  static final TenantId TENANT = TenantId.of("acme");

  @Param({"10", "1000"})
  int size;

  Authorizer plain;
  Authorizer withVersions;
  Principal principal;
  String permission;
  String resourcePermission;
  String resource;

  @Setup(Level.Trial)
  public void setUp() {
    RoleModel.Builder model = RoleModel.builder();
    for (int r = 0; r < size; r++) {
      model.role("role" + r, "p" + r + ":a", "p" + r + ":b", "p" + r + ":c", "p" + r + ":d", "p" + r + ":e");
      if (r > 0 && r % 10 != 0) {
        model.inherits("role" + r, "role" + (r - 1));
      }
    }
    RoleModel roles = model.build();
    ResourceGrants grants = new ResourceGrants();
    principal = Principal.builder("https://idp.example.test", "user-1").tenant(TENANT)
        .roles(List.of("role" + (size - 1))).permissionVersion(3L).build();
    for (int g = 0; g < size; g++) {
      grants.grantRole(TENANT, principal.userKey(), "doc-" + g, "role" + (g % size));
    }
    plain = Authorizer.builder(roles).resourceGrants(grants).build();
    withVersions = Authorizer.builder(roles).resourceGrants(grants)
        .permissionVersions(PermissionVersions.loadingFrom((tenant, user) -> 3L)).build();
    permission = "p" + (size - 2) + ":c";
    resourcePermission = "p0:a";
    resource = "doc-" + (size / 2 * 10 % size);
    if (!plain.check(principal, permission) || !withVersions.check(principal, permission)
        || !plain.check(principal, resourcePermission, resource)) {
      throw new IllegalStateException("the benchmark's checks must be allowed");
    }
  }

  @Benchmark
  public boolean check() {
    return plain.check(principal, permission);
  }

  @Benchmark
  public boolean check_withPermissionVersion() {
    return withVersions.check(principal, permission);
  }

  @Benchmark
  public boolean check_resourceGrant() {
    return plain.check(principal, resourcePermission, resource);
  }
}
