package dev.saaskit.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import java.util.List;
import org.junit.jupiter.api.Test;

/** AuthContext sets the principal and its tenant for a scope and restores both after. */
class AuthContextScopeTest {
  @Test
  void scopesNestAndRestoreAlsoOnExceptions() {
    Principal a = Principal.builder("https://idp.test", "a").tenant(TenantId.of("acme")).roles(List.of("owner")).build();
    Principal b = Principal.builder("https://idp.test", "b").tenant(TenantId.of("globex")).build();
    AuthContext.run(a, () -> {
      assertThat(AuthContext.require()).isSameAs(a);
      assertThat(TenantContext.require()).isEqualTo(TenantId.of("acme"));
      assertThatThrownBy(() -> AuthContext.run(b, () -> {
        assertThat(AuthContext.require()).isSameAs(b);
        assertThat(TenantContext.require()).isEqualTo(TenantId.of("globex"));
        throw new IllegalStateException("boom");
      })).hasMessage("boom");
      assertThat(AuthContext.require()).isSameAs(a);
      assertThat(TenantContext.require()).isEqualTo(TenantId.of("acme"));
    });
    assertThat(AuthContext.current()).isEmpty();
    assertThat(TenantContext.current()).isEmpty();
    assertThat(AuthContext.call(a, () -> AuthContext.require().subject())).isEqualTo("a");
  }

  @Test
  void aPrincipalWithoutTenantCannotOpenAScope() {
    Principal none = Principal.builder("https://idp.test", "x").build();
    assertThatThrownBy(() -> AuthContext.run(none, () -> { }))
        .isInstanceOfSatisfying(AccessDeniedException.class,
            e -> assertThat(e.reason()).isEqualTo(AccessDeniedException.Reason.NO_TENANT));
    assertThatThrownBy(AuthContext::require).isInstanceOf(IllegalStateException.class);
  }
}
