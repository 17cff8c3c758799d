package dev.saaskit.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.auth.saml.SamlSettings;
import dev.saaskit.auth.saml.internal.ResponseValidator;
import org.junit.jupiter.api.Test;

/** Identities that the SSO layers accept fit the user store: no login fails later, in provisioning. */
class IdentityLimitsTest {
  @Test
  void aSamlNameIdIsNoLongerThanAMembershipSubject() {
    assertThat(ResponseValidator.MAX_NAME_ID).isEqualTo(MembershipsText.MAX_SUBJECT);
  }

  @Test
  void aSamlIdpEntityIdIsNoLongerThanAMembershipIssuer() {
    assertThat(SamlSettings.MAX_IDP_ENTITY_ID).isEqualTo(MembershipsText.MAX_ISSUER);
    SamlSettings.Builder b = SamlSettings.builder();
    assertThat(b.idpEntityId("i".repeat(512))).isSameAs(b);
    assertThatThrownBy(() -> b.idpEntityId("i".repeat(513))).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("512");
    assertThatThrownBy(() -> b.idpEntityId("https://idp.example/\u0007")).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("control");
  }
}
