package dev.saaskit.auth.sso;

import java.util.Objects;

/**
 * The SAML 2.0 settings of a connection, stored with it: the IdP's entity id, its single sign-on URL and its signing
 * certificate (PEM), and this application's (the service provider's) entity id and assertion consumer service URL.
 * The SAML service provider is built from them separately. None of these is a secret. Immutable and thread-safe.
 *
 * @param idpEntityId the IdP's entity id (the {@code Issuer} of its responses), non-blank
 * @param ssoUrl the IdP's single sign-on service URL (HTTP-Redirect binding), non-blank
 * @param idpSigningCertificatePem the IdP's signing certificate in PEM, non-blank
 * @param spEntityId this application's entity id (the audience of assertions), non-blank
 * @param acsUrl this application's assertion consumer service URL, non-blank
 */
public record SamlConnectionSettings(String idpEntityId, String ssoUrl, String idpSigningCertificatePem, String spEntityId,
    String acsUrl) {
  /**
   * Checks every value.
   *
   * @throws IllegalArgumentException naming the blank value
   */
  public SamlConnectionSettings {
    require("idpEntityId", idpEntityId);
    require("ssoUrl", ssoUrl);
    require("idpSigningCertificatePem", idpSigningCertificatePem);
    require("spEntityId", spEntityId);
    require("acsUrl", acsUrl);
  }

  private static void require(String name, String value) {
    if (Objects.requireNonNull(value, name).isBlank()) {
      throw new IllegalArgumentException(name + " must be non-blank");
    }
  }
}
