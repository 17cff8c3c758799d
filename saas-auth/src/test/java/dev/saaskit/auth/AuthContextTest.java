package dev.saaskit.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import java.io.IOException;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** AuthContext sets principal and tenant for a scope, nests, and restores both, also on exceptions. */
class AuthContextTest {
  static final TenantId ACME = TenantId.of("acme");
  static final TenantId GLOBEX = TenantId.of("globex");

  static Principal user(String subject, TenantId tenant) {
    return Principal.builder("https://idp.example", subject).tenant(tenant).roles(List.of("member")).build();
  }

  @Test
  void runMakesThePrincipalAndItsTenantCurrentAndRestoresNothingAfter() {
    Principal alice = user("alice", ACME);
    assertThat(AuthContext.current()).isEmpty();
    AuthContext.run(alice, () -> {
      assertThat(AuthContext.current()).containsSame(alice);
      assertThat(AuthContext.require()).isSameAs(alice);
      assertThat(TenantContext.current()).contains(ACME);
    });
    assertThat(AuthContext.current()).isEmpty();
    assertThat(TenantContext.current()).isEmpty();
    assertThatThrownBy(AuthContext::require).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void callReturnsTheBodysValueAndRethrowsItsCheckedException() {
    Principal alice = user("alice", ACME);
    String tenant = AuthContext.call(alice, () -> TenantContext.require().value() + "/"
        + AuthContext.require().subject());
    assertThat(tenant).isEqualTo("acme/alice");
    assertThatThrownBy(() -> AuthContext.call(alice, () -> {
      throw new IOException("disk");
    })).isInstanceOf(IOException.class).hasMessage("disk");
    assertThat(AuthContext.current()).isEmpty();
    assertThat(TenantContext.current()).isEmpty();
  }

  @Test
  void scopesNestAndTheOuterValuesComeBackAlsoAfterAnException() {
    Principal alice = user("alice", ACME);
    Principal bob = user("bob", GLOBEX);
    TenantContext.run(TenantId.of("outer"), () -> {
      AuthContext.run(alice, () -> {
        assertThatThrownBy(() -> AuthContext.run(bob, () -> {
          assertThat(AuthContext.require()).isSameAs(bob);
          assertThat(TenantContext.require()).isEqualTo(GLOBEX);
          throw new IllegalStateException("inner failed");
        })).hasMessage("inner failed");
        assertThat(AuthContext.require()).isSameAs(alice);
        assertThat(TenantContext.require()).isEqualTo(ACME);
        int inner = AuthContext.call(bob, () -> AuthContext.call(alice, () -> 1) + 1);
        assertThat(inner).isEqualTo(2);
        assertThat(AuthContext.require()).isSameAs(alice);
      });
      assertThat(AuthContext.current()).isEmpty();
      assertThat(TenantContext.require().value()).isEqualTo("outer");
    });
  }

  @Test
  void aPrincipalWithoutTenantIsRefusedBeforeTheBodyRuns() {
    Principal nobody = Principal.builder("https://idp.example", "n").build();
    boolean[] ran = {false};
    assertThatThrownBy(() -> AuthContext.run(nobody, () -> ran[0] = true))
        .isInstanceOfSatisfying(AccessDeniedException.class,
            e -> assertThat(e.reason()).isEqualTo(AccessDeniedException.Reason.NO_TENANT));
    assertThatThrownBy(() -> AuthContext.call(nobody, () -> ran[0] = true))
        .isInstanceOf(AccessDeniedException.class);
    assertThat(ran[0]).isFalse();
    AuthContext.run(user("a", ACME), () ->
        assertThatThrownBy(() -> AuthContext.run(nobody, () -> ran[0] = true)).isInstanceOf(AccessDeniedException.class));
    assertThat(ran[0]).isFalse();
  }

  @Test
  void otherThreadsDoNotInheritThePrincipal() throws Exception {
    ExecutorService pool = Executors.newSingleThreadExecutor();
    try {
      pool.submit(() -> { }).get(1, TimeUnit.MINUTES); // the thread exists before the scope
      AuthContext.run(user("alice", ACME), () -> {
        assertThat(pool.submit(() -> AuthContext.current().isPresent()).get(1, TimeUnit.MINUTES)).isFalse();
        assertThat(pool.submit(() -> TenantContext.current().isPresent()).get(1, TimeUnit.MINUTES)).isFalse();
      });
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void anAuthorizerInsideTheScopeSeesTheRequestsTenant() {
    Authorizer authz = Authorizer.builder(RoleModel.defaults()).build();
    Principal alice = user("alice", ACME);
    Principal bob = user("bob", GLOBEX);
    AuthContext.run(alice, () -> {
      assertThat(authz.check(alice, "invoice:read")).isTrue();
      // a principal of another tenant handed into this request is refused
      assertThat(authz.check(bob, "invoice:read")).isFalse();
    });
  }
}
