package dev.saaskit.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Role inheritance, the defaults, name validation, cycles, and the model built from database rows. */
class RoleModelTest {

  @Test
  void defaultsAreOwnerOverAdminOverMemberWithInheritedPermissions() {
    RoleModel model = RoleModel.defaults();
    assertThat(model.roles()).containsExactly("member", "admin", "owner");
    assertThat(model.permissionsOf("member")).containsExactlyInAnyOrder("project:read", "invoice:read",
        "members:read");
    assertThat(model.permissionsOf("admin")).contains("project:read", "members:invite", "roles:assign")
        .doesNotContain("billing:manage", "tenant:delete");
    assertThat(model.permissionsOf("owner")).containsAll(model.permissionsOf("admin"))
        .contains("billing:manage", "tenant:delete");
    assertThat(model.includes("owner", "member")).isTrue();
    assertThat(model.includes("owner", "owner")).isTrue();
    assertThat(model.includes("admin", "owner")).isFalse();
    assertThat(model.includes("member", "admin")).isFalse();
    assertThat(model.includes("ghost", "member")).isFalse();
    assertThat(model.includes("owner", "ghost")).isFalse();
    assertThat(model.permissionsOf("ghost")).isEmpty();
    assertThat(model.hasRole("admin")).isTrue();
    assertThat(model.hasRole("Admin")).isFalse();
  }

  @Test
  void customRolesInheritTransitivelyAndFromSeveralParents() {
    RoleModel model = RoleModel.builder()
        .role("viewer", "doc:read")
        .role("commenter", "doc:comment").inherits("commenter", "viewer")
        .role("billing", "invoice:read", "invoice:pay")
        .role("editor", "doc:write").inherits("editor", "commenter", "billing")
        .permissions("doc:share")
        .build();
    assertThat(model.permissionsOf("editor")).containsExactlyInAnyOrder("doc:read", "doc:comment", "doc:write",
        "invoice:read", "invoice:pay");
    assertThat(model.permissions()).contains("doc:share");
    assertThat(model.permissionsOf("viewer")).containsExactly("doc:read");
    assertThat(model.includes("editor", "viewer")).isTrue();
    assertThat(model.includes("billing", "viewer")).isFalse();
  }

  @Test
  void manyRolesAndPermissionsBeyondOneWordOfBits() {
    RoleModel.Builder b = RoleModel.builder();
    for (int i = 0; i < 1000; i++) {
      b.role("r" + i, "p:" + i);
      if (i > 0) {
        b.inherits("r" + i, "r" + (i - 1));
      }
    }
    RoleModel model = b.build();
    assertThat(model.permissionsOf("r999")).hasSize(1000).contains("p:0", "p:500", "p:999");
    assertThat(model.permissionsOf("r64")).hasSize(65).contains("p:64").doesNotContain("p:65");
    assertThat(model.includes("r999", "r0")).isTrue();
  }

  @Test
  void badNamesFailFastNamingTheValue() {
    assertThatThrownBy(() -> RoleModel.builder().role("member", "Invoice:Read"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'Invoice:Read'");
    for (String bad : List.of("", "invoice:", ":read", "invoice::read", "invoice read", "invoice:*", "a".repeat(129),
        "invoice:read\n")) {
      assertThatThrownBy(() -> RoleModel.builder().permissions(bad)).as(bad)
          .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("permission");
    }
    for (String bad : List.of("", "own er", "owner!", "r".repeat(65), "ädmin")) {
      assertThatThrownBy(() -> RoleModel.builder().role(bad)).as(bad)
          .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'" + bad + "'");
    }
    assertThat(RoleModel.builder().role("a".repeat(64), "x".repeat(128)).build().permissions())
        .containsExactly("x".repeat(128));
    assertThatThrownBy(() -> RoleModel.builder().role("admin").inherits("admin", "member").build())
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("undeclared role member");
  }

  @Test
  void inheritanceCyclesAreRejectedNamingThePath() {
    assertThatThrownBy(() -> RoleModel.builder().role("a", "x:y").inherits("a", "a").build())
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("cycle").hasMessageContaining("a > a");
    assertThatThrownBy(() -> RoleModel.builder()
        .role("a").role("b").role("c").role("d")
        .inherits("a", "b").inherits("b", "c").inherits("c", "a").inherits("d", "a")
        .build())
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("cycle")
        .hasMessageContaining("a > b > c > a");
    // a diamond is not a cycle
    RoleModel diamond = RoleModel.builder().role("top", "t:t").role("l").role("r").role("bottom", "b:b")
        .inherits("top", "l", "r").inherits("l", "bottom").inherits("r", "bottom").build();
    assertThat(diamond.permissionsOf("top")).containsExactlyInAnyOrder("t:t", "b:b");
  }

  @Test
  void fromRowsBuildsTheSameModelAsCode() {
    List<String[]> rows = new ArrayList<>();
    rows.add(new String[] {"member", null, "invoice:read"});
    rows.add(new String[] {"member", null, "project:read"});
    rows.add(new String[] {"admin", "member", null});
    rows.add(new String[] {"admin", null, "members:invite"});
    rows.add(new String[] {"owner", "admin", "billing:manage"});
    rows.add(new String[] {"auditor", null, null});
    RoleModel model = RoleModel.fromRows(rows);
    assertThat(model.roles()).containsExactly("member", "admin", "owner", "auditor");
    assertThat(model.permissionsOf("owner")).containsExactlyInAnyOrder("invoice:read", "project:read",
        "members:invite", "billing:manage");
    assertThat(model.permissionsOf("auditor")).isEmpty();
    assertThat(model.includes("owner", "member")).isTrue();

    List<String[]> bad = new ArrayList<>(rows);
    bad.add(new String[] {"admin", null});
    assertThatThrownBy(() -> RoleModel.fromRows(bad)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("row 6");
    List<String[]> cyclic = new ArrayList<>(rows);
    cyclic.add(new String[] {"member", "owner", null});
    assertThatThrownBy(() -> RoleModel.fromRows(cyclic)).isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("cycle");
    List<String[]> badPermission = java.util.Collections.singletonList(new String[] {"member", null, "DROP TABLE"});
    assertThatThrownBy(() -> RoleModel.fromRows(badPermission)).hasMessageContaining("'DROP TABLE'");
  }

  @Test
  void toBuilderExtendsWithoutChangingTheOriginal() {
    RoleModel base = RoleModel.defaults();
    RoleModel extended = base.toBuilder().role("support", "tickets:read").inherits("support", "member").build();
    assertThat(extended.permissionsOf("support")).contains("tickets:read", "invoice:read");
    assertThat(extended.permissionsOf("owner")).isEqualTo(base.permissionsOf("owner"));
    assertThat(base.hasRole("support")).isFalse();
    assertThat(extended.permissions()).containsAll(base.permissions());
    assertThat(Arrays.asList(base.toString(), extended.toString())).allMatch(s -> s.startsWith("RoleModel"));
  }
}
