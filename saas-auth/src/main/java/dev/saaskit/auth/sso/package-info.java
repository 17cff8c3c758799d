/**
 * Single sign-on per tenant: {@link dev.saaskit.auth.sso.SsoConnection}s with verified email domains kept by
 * {@link dev.saaskit.auth.sso.SsoConnections}, and the OpenID Connect relying party {@link
 * dev.saaskit.auth.sso.OidcLogin} that turns an IdP's callback into an {@link dev.saaskit.auth.sso.SsoLogin}.
 */
@NullMarked
package dev.saaskit.auth.sso;

import org.jspecify.annotations.NullMarked;
