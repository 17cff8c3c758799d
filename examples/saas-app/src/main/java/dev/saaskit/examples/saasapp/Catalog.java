package dev.saaskit.examples.saasapp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.stripe.StripeClient;
import com.stripe.exception.StripeException;
import com.stripe.net.ApiResource;
import dev.saaskit.billing.Plan;
import dev.saaskit.billing.Plans;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What the app sells: the plans, their Stripe prices (by lookup key) and what each grants. Change this file to sell
 * something else; the rest of the app reads it.
 */
final class Catalog {
  /** The free plan's project limit, and the feature every tenant has. */
  static final long FREE_PROJECTS = 3;

  /** One price on the pricing page. */
  record Offer(String lookupKey, String name, long amount, String currency, String interval, List<String> features) {}

  static final List<Offer> OFFERS = List.of(
      new Offer("pro_monthly", "Pro", 2900, "usd", "month",
          List.of("projects:100", "reports", "analytics", "api-keys")),
      new Offer("pro_yearly", "Pro (yearly)", 29000, "usd", "year",
          List.of("projects:100", "reports", "analytics", "api-keys")));

  /** The plans saas-billing maps subscriptions to; tenants without a subscription get {@code free}. */
  static Plans plans(Map<String, String> priceIds) {
    return Plans.builder()
        .plan(Plan.builder("pro")
            .lookupKeys("pro_monthly", "pro_yearly")
            .priceIds(priceIds.values().toArray(String[]::new))
            .features("reports", "analytics", "api-keys")
            .limit("projects", 100)
            .build())
        .fallback(Plan.builder("free").features("reports").limit("projects", FREE_PROJECTS).build())
        .build();
  }

  /** Creates the products and prices in a fresh emulator; returns lookup key to price id. */
  static Map<String, String> seedEmulator(StripeClient stripe, ObjectMapper json) throws StripeException {
    Map<String, String> ids = new LinkedHashMap<>();
    String product = id(json, stripe.rawRequest(ApiResource.RequestMethod.POST, "/v1/products",
        "name=" + encode("saas-app Pro")).body());
    for (Offer offer : OFFERS) {
      String body = "product=" + product + "&unit_amount=" + offer.amount() + "&currency=" + offer.currency()
          + "&recurring%5Binterval%5D=" + offer.interval() + "&lookup_key=" + encode(offer.lookupKey());
      ids.put(offer.lookupKey(), id(json, stripe.rawRequest(ApiResource.RequestMethod.POST, "/v1/prices", body)
          .body()));
    }
    return ids;
  }

  /** Finds the prices of {@link #OFFERS} by lookup key in a real Stripe account (those missing are left out). */
  static Map<String, String> lookUp(StripeClient stripe, ObjectMapper json) throws StripeException {
    Map<String, String> ids = new LinkedHashMap<>();
    for (Offer offer : OFFERS) {
      // a GET's parameters go in the URL: stripe-java refuses a body on anything but POST
      JsonNode list = readTree(json, stripe.rawRequest(ApiResource.RequestMethod.GET,
          "/v1/prices?active=true&lookup_keys%5B%5D=" + encode(offer.lookupKey()), null).body());
      JsonNode first = list.path("data").path(0);
      if (first.hasNonNull("id")) {
        ids.put(offer.lookupKey(), first.get("id").asText());
      }
    }
    return ids;
  }

  static Optional<Offer> offer(String lookupKey) {
    return OFFERS.stream().filter(o -> o.lookupKey().equals(lookupKey)).findFirst();
  }

  private static String id(ObjectMapper json, String body) {
    JsonNode id = readTree(json, body).path("id");
    if (!id.isTextual()) {
      throw new IllegalStateException("Stripe answered without an id: " + body.substring(0,
          Math.min(200, body.length())));
    }
    return id.asText();
  }

  private static JsonNode readTree(ObjectMapper json, String body) {
    try {
      return json.readTree(body);
    } catch (java.io.IOException e) {
      throw new IllegalStateException("Stripe answered something that is not JSON", e);
    }
  }

  private static String encode(String value) {
    return URLEncoder.encode(value, StandardCharsets.UTF_8);
  }

  private Catalog() {}
}
