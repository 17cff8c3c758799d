package dev.saaskit.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Declaring roles: inheritance, cycles, names, rows. */
class RoleModelBuilderTest {
  @Test
  void inheritanceIsFlattenedAndHierarchyFollowsIt() {
    RoleModel model = RoleModel.defaults();
    assertThat(model.permissionsOf("owner")).contains("billing:manage", "members:invite", "invoice:read");
    assertThat(model.permissionsOf("member")).doesNotContain("members:invite");
    assertThat(model.includes("owner", "member")).isTrue();
    assertThat(model.includes("owner", "owner")).isTrue();
    assertThat(model.includes("member", "admin")).isFalse();
    assertThat(model.includes("ghost", "member")).isFalse();
    assertThat(model.permissionsOf("ghost")).isEmpty();
  }

  @Test
  void cyclesAndUndeclaredParentsAreRefusedAtBuild() {
    assertThatThrownBy(() -> RoleModel.builder().role("a", "x:y").inherits("a", "b").inherits("b", "c")
        .inherits("c", "a").build()).isInstanceOf(IllegalStateException.class).hasMessageContaining("cycle");
    assertThatThrownBy(() -> RoleModel.builder().role("a").inherits("a", "missing").build())
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("missing");
  }

  @Test
  void badNamesAreRefusedAtOnceNamingTheValue() {
    assertThatThrownBy(() -> RoleModel.builder().role("admin", "Invoice:Read"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'Invoice:Read'");
    assertThatThrownBy(() -> RoleModel.builder().role("admin", "invoice:*"))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> RoleModel.builder().role("has space"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'has space'");
    assertThatThrownBy(() -> RoleModel.builder().role("a", "x".repeat(129)))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void aModelBuiltFromRowsMatchesOneDeclaredInCode() {
    List<String[]> rows = Arrays.asList(
        new String[] {"viewer", null, "doc:read"},
        new String[] {"editor", "viewer", null},
        new String[] {"editor", null, "doc:write"});
    RoleModel fromRows = RoleModel.builder().rows(rows).build();
    assertThat(fromRows.permissionsOf("editor")).containsExactlyInAnyOrder("doc:read", "doc:write");
    assertThat(fromRows.includes("editor", "viewer")).isTrue();
    RoleModel extended = fromRows.toBuilder().role("admin", "doc:delete").inherits("admin", "editor").build();
    assertThat(extended.permissionsOf("admin")).containsExactlyInAnyOrder("doc:read", "doc:write", "doc:delete");
  }

  @Test
  void aDeepWideModelBuildsQuickly() {
    RoleModel.Builder b = RoleModel.builder();
    for (int r = 0; r < 2000; r++) {
      b.role("r" + r, "p" + r + ":x");
      if (r > 1) {
        b.inherits("r" + r, "r" + (r - 1), "r" + (r - 2)); // a diamond per step: exponential without memo
      }
    }
    RoleModel model = b.build();
    assertThat(model.permissionsOf("r1999")).hasSize(2000);
  }
}
