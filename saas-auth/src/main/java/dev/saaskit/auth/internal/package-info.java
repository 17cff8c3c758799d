/** Implementation of saas-auth; not an API, may change in any release. */
@NullMarked
package dev.saaskit.auth.internal;

import org.jspecify.annotations.NullMarked;
