/**
 * The reference SaaS app: a Javalin server wiring saas-tenancy, saas-auth, saas-billing, saas-jobs and saas-cache
 * together, with plain Java in {@link dev.saaskit.examples.saasapp.SaasApp#main} and a few small classes.
 */
@NullMarked
package dev.saaskit.examples.saasapp;

import org.jspecify.annotations.NullMarked;
