/**
 * saaskit auth: turn any IdP's tokens (and API keys, and SSO logins) into a tenant-scoped {@link
 * dev.saaskit.auth.Principal} with {@link dev.saaskit.auth.TokenVerifier}, and decide "may this principal do this,
 * in this tenant?" in memory with {@link dev.saaskit.auth.Authorizer}.
 */
@NullMarked
package dev.saaskit.auth;

import org.jspecify.annotations.NullMarked;
