/** Implementation of saas-auth; not API, may change in any release. */
@NullMarked
package dev.saaskit.auth.internal;

import org.jspecify.annotations.NullMarked;
