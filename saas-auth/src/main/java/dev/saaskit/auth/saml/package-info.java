/**
 * SAML 2.0 single sign-on, service-provider side: {@link dev.saaskit.auth.saml.SamlServiceProvider} sends
 * AuthnRequests (HTTP-Redirect binding) and turns a signed Response posted to the assertion consumer service into a
 * {@link dev.saaskit.auth.saml.SamlLogin}, after checking its signature against the configured IdP certificate,
 * its audience, recipient, validity window, InResponseTo and that its assertion was never accepted before.
 *
 * <p>Needs {@code com.onelogin:java-saml-core} and {@code org.apache.santuario:xmlsec} on the class path (optional
 * dependencies of saas-auth; see docs/auth-saml.md).
 */
@NullMarked
package dev.saaskit.auth.saml;

import org.jspecify.annotations.NullMarked;
