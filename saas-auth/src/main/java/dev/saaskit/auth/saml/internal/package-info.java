/** Implementation of the SAML service provider: not an API, may change in any release. */
@NullMarked
package dev.saaskit.auth.saml.internal;

import org.jspecify.annotations.NullMarked;
