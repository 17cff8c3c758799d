/** The implementation of saas-billing. Not API: anything here may change in any release. */
@NullMarked
package dev.saaskit.billing.internal;

import org.jspecify.annotations.NullMarked;
