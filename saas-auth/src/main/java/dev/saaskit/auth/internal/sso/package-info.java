/** Implementation of saas-auth's SSO: not API, may change in any release. */
@NullMarked
package dev.saaskit.auth.internal.sso;

import org.jspecify.annotations.NullMarked;
