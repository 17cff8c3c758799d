/**
 * saaskit billing: Stripe is the source of truth and PostgreSQL keeps a mirror, so every request can ask "what may
 * this tenant use now?" ({@link dev.saaskit.billing.Entitlements}) without calling Stripe. {@link
 * dev.saaskit.billing.BillingWebhooks} keeps the mirror current; {@link dev.saaskit.billing.Billing} is the entry
 * point. Stripe's own types never appear in this API.
 */
@NullMarked
package dev.saaskit.billing;

import org.jspecify.annotations.NullMarked;
