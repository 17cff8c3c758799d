/**
 * Implementation of {@link dev.saaskit.testing.StripeEmulator}: the in-memory Stripe state, its HTTP front and
 * webhook delivery. Not API: anything here may change in any release.
 */
@NullMarked
package dev.saaskit.testing.internal.stripe;

import org.jspecify.annotations.NullMarked;
