package dev.saaskit.billing.docs;

import static org.assertj.core.api.Assertions.assertThat;

import com.stripe.StripeClient;
import com.stripe.net.ApiResource;
import dev.saaskit.billing.Billing;
import dev.saaskit.billing.BillingConfig;
import dev.saaskit.billing.BillingEvent;
import dev.saaskit.billing.BillingSchema;
import dev.saaskit.billing.CheckoutRequest;
import dev.saaskit.billing.CheckoutSession;
import dev.saaskit.billing.Entitlements;
import dev.saaskit.billing.Plan;
import dev.saaskit.billing.Plans;
import dev.saaskit.billing.TenantBilling;
import dev.saaskit.billing.UsageReport;
import dev.saaskit.billing.WebhookResult;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.MutableClock;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.StripeEmulator;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The code of docs/billing.md, run against real PostgreSQL and the Stripe emulator. */
@ExtendWith(PostgresExtension.class)
class BillingDocsTest {
  static TestDatabase db;
  static StripeEmulator stripe;
  static MutableClock clock;

  @BeforeAll
  static void setUp(TestDatabase database) throws Exception {
    db = database;
    clock = MutableClock.atSystemTime();
    stripe = StripeEmulator.builder().clock(clock).seed(11).start();
    DataSource ownerDataSource = db.ownerDataSource();
    String appRole = db.appRole();
    // snippet: schema
    BillingSchema schema = BillingSchema.defaults();   // saaskit_billing, tenant setting app.tenant_id
    schema.migrate(ownerDataSource);                   // as the owner (never the application role)
    try (Connection c = ownerDataSource.getConnection()) {
      schema.grantApp(c, appRole);                     // what the application role needs, and nothing more
    }
    // end snippet
  }

  @AfterAll
  static void tearDown() {
    stripe.close();
  }

  private static String price(String lookupKey) throws Exception {
    StripeClient client = StripeClient.builder().setApiKey(stripe.apiKey()).setApiBase(stripe.apiBase()).build();
    String product = client.rawRequest(ApiResource.RequestMethod.POST, "/v1/products", "name=Pro").body()
        .replaceAll("(?s).*?\"id\"\\s*:\\s*\"(prod_[^\"]+)\".*", "$1");
    return client.rawRequest(ApiResource.RequestMethod.POST, "/v1/prices", "product=" + product
        + "&unit_amount=2900&currency=usd&recurring%5Binterval%5D=month&lookup_key=" + lookupKey).body()
        .replaceAll("(?s).*?\"id\"\\s*:\\s*\"(price_[^\"]+)\".*", "$1");
  }

  @Test
  void theWholeFlow() throws Exception {
    String proMonthly = price("pro_monthly");
    DataSource appDataSource = db.appDataSource();
    List<String> welcomed = new CopyOnWriteArrayList<>();
    String stripeSecretKey = stripe.apiKey();
    String webhookSecret = stripe.webhookSecret();
    String stripeApiBase = stripe.apiBase();
    // snippet: setup
    Plans plans = Plans.builder()
        .plan(Plan.builder("pro").lookupKeys("pro_monthly", "pro_yearly")
            .features("sso", "audit-log").limit("projects", 100).build())
        .fallback(Plan.builder("free").limit("projects", 3).build())
        .build();
    BillingConfig config = BillingConfig.builder()
        .stripeApiKey(stripeSecretKey)                    // from your secrets, never from code
        .webhookSecrets(webhookSecret)                    // several while rotating
        .stripeApiBase(stripeApiBase)                     // https://api.stripe.com unless set: a StripeEmulator in tests
        .plans(plans)
        .listener("welcome-email", (BillingEvent e) -> welcomed.add(e.tenant().value()),
            "customer.subscription.created")
        .build();
    Billing billing = Billing.create(config, appDataSource);   // one per application
    // end snippet
    stripe.webhooks().deliverTo((body, signature) -> billing.webhooks().handle(body, signature).status());

    TenantId tenant = TenantId.of("acme");
    // snippet: checkout
    CheckoutSession session = billing.operations().createCheckoutSession(
        CheckoutRequest.builder(tenant, proMonthly)
            .quantity(5)
            .trialDays(14)
            .successUrl("https://app.example.com/billing/done")   // gets ?session_id=cs_...
            .cancelUrl("https://app.example.com/pricing")
            .build());
    String redirectTo = session.url();
    // end snippet
    assertThat(redirectTo).startsWith(stripe.apiBase() + "/checkout/"); // the emulator's hosted page
    stripe.webhooks().automatic(false);
    stripe.completeCheckout(session.id());
    String sessionId = session.id();
    // snippet: success-page
    // the success page, before any webhook has arrived: the session names its tenant, never the browser
    TenantBilling status = billing.operations().syncCheckoutSession(tenant, sessionId);
    boolean trialing = status.hasAccess();
    // end snippet
    assertThat(trialing).isTrue();
    stripe.webhooks().deliverPending();
    assertThat(welcomed).containsExactly("acme");

    String rawBody = "{}";
    String signatureHeader = null;
    // snippet: webhook-route
    // POST /stripe/webhooks, in any framework: the raw body as received, and the Stripe-Signature header
    WebhookResult result = billing.webhooks().handle(rawBody, signatureHeader);
    int httpStatus = result.status();              // 2xx only once the event is durably recorded
    String answer = result.message();              // short and safe: no stack trace, no secret
    // end snippet
    assertThat(httpStatus).isEqualTo(400);
    assertThat(answer).isNotBlank();

    // snippet: entitlements
    Entitlements e = billing.entitlements(tenant);   // cached per tenant: a map lookup and a clock read
    boolean sso = e.has("sso");
    long maxProjects = e.limitOr("projects", 0);
    boolean canUse = billing.hasAccess(tenant);
    // end snippet
    assertThat(sso).isTrue();
    assertThat(maxProjects).isEqualTo(100);
    assertThat(canUse).isTrue();

    String requestId = "req-1";
    TenantContext.run(tenant, () -> {
      // snippet: usage
      billing.usage().record("api_calls", 1, requestId);   // the current tenant; same key again: counted once
      // end snippet
    });
    // snippet: usage-send
    UsageReport report = billing.usage().sendPending();   // from a recurring job (saas-jobs), every minute
    // end snippet
    assertThat(report.sent()).isEqualTo(1);
    assertThat(stripe.meterEventTotal(billing.operations().ensureCustomer(tenant, null, null), "api_calls"))
        .isEqualTo(1);
  }
}
