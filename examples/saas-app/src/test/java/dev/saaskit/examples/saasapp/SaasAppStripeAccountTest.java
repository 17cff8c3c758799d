package dev.saaskit.examples.saasapp;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.stripe.StripeClient;
import dev.saaskit.examples.saasapp.AppFixture.Answer;
import dev.saaskit.testing.StripeEmulator;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The app against a Stripe account of its own ({@code STRIPE_API_KEY}, {@code STRIPE_API_BASE},
 * {@code STRIPE_WEBHOOK_SECRET} set), as the README's "Real Stripe" section says: here a StripeEmulator started
 * apart, seeded with the prices of {@link Catalog} beforehand, standing in for the account. The app finds the prices
 * by lookup key at start, sells them on {@code /pricing}, and a checkout paid there reaches it through the webhook.
 */
class SaasAppStripeAccountTest {
  private static final Duration BOUND = Duration.ofSeconds(20);

  private StripeEmulator account;
  private AppFixture f;

  @BeforeEach
  void start() throws Exception {
    account = StripeEmulator.builder().start();
    StripeClient client = StripeClient.builder().setApiKey(account.apiKey()).setApiBase(account.apiBase()).build();
    Catalog.seedEmulator(client, AppFixture.JSON);   // the prices an operator creates in Stripe's dashboard
    f = AppFixture.start(b -> b.stripe(account.apiKey(), account.apiBase(), account.webhookSecret()));
    account.webhooks().deliverTo(URI.create(f.base + "/webhooks/stripe"));   // `stripe listen --forward-to`
  }

  @AfterEach
  void stop() throws Exception {
    if (f != null) {
      f.close();
    }
    if (account != null) {
      account.close();
    }
  }

  @Test
  void thePricesAreFoundByLookupKeyAndACheckoutPaidThereReachesTheApp() throws Exception {
    assertThat(f.app.stripeEmulator()).as("not the offline emulator").isNull();
    Answer pricing = f.get("/pricing", null);
    assertThat(pricing.status()).isEqualTo(200);
    List<String> prices = new ArrayList<>();
    pricing.body().get("plans").forEach(p -> prices.add(p.get("price").asText()));
    assertThat(prices).containsExactlyInAnyOrder("pro_monthly", "pro_yearly");

    String owner = f.login("account-co", "olga@account.test", "owner");
    Answer checkout = f.post("/api/billing/checkout", owner, Map.of("price", "pro_yearly"));
    assertThat(checkout.status()).as(checkout.raw()).isEqualTo(200);
    account.completeCheckout(checkout.body().get("sessionId").asText());
    JsonNode status = AppFixture.await("the subscription is active", BOUND, () -> {
      JsonNode s = f.get("/api/billing/subscription", owner).body();
      return s.get("status").asText().equals("active") ? s : null;
    });
    assertThat(status.get("plan").asText()).isEqualTo("pro");
  }
}
