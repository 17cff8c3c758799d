package dev.saaskit.billing;

import java.util.Objects;

/**
 * A Stripe Checkout session created for a tenant: redirect the browser to {@link #url()}.
 *
 * @param id Stripe's id ({@code cs_...}); the success URL carries it ({@code {CHECKOUT_SESSION_ID}})
 * @param url the hosted checkout page
 */
public record CheckoutSession(String id, String url) {
  /** Checks both are present. */
  public CheckoutSession {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(url, "url");
  }
}
