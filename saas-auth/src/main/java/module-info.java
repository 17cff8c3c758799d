/**
 * saaskit auth: any IdP's JWTs verified into a tenant-scoped principal, tenant RBAC decided in memory, revocation
 * that works with long-lived tokens, memberships and invitations, API keys, OIDC and SAML SSO per tenant.
 */
module dev.saaskit.auth {
  requires transitive dev.saaskit.core;
  requires transitive java.sql;
  requires com.nimbusds.jose.jwt;
  // no module descriptor nor Automatic-Module-Name: the name derives from the jar (oauth2-oidc-sdk-11.30.jar)
  requires oauth2.oidc.sdk;
  requires java.naming;
  requires com.github.benmanes.caffeine;
  requires org.slf4j;
  requires static org.postgresql.jdbc;
  requires java.xml;
  // SAML only (dev.saaskit.auth.saml): optional dependencies, see docs/auth-saml.md. java-saml-core has no module
  // descriptor: its automatic name comes from the jar name
  requires static java.saml.core;
  // annotations in our signatures: readers of the API see them when the jar is present
  requires static transitive org.jspecify;

  exports dev.saaskit.auth;
  exports dev.saaskit.auth.sso;
  exports dev.saaskit.auth.saml;
}
