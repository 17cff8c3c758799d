/** Implementation of saas-tenancy; not API, may change in any release. */
@NullMarked
package dev.saaskit.tenancy.internal;

import org.jspecify.annotations.NullMarked;
