package dev.saaskit.auth.sso;

/** The protocol an {@link SsoConnection} speaks with its IdP. */
public enum SsoProtocol {
  /** OpenID Connect (authorization code flow with PKCE), see {@link OidcLogin}. */
  OIDC,
  /** SAML 2.0 (the service provider is built from {@link SamlConnectionSettings}). */
  SAML
}
