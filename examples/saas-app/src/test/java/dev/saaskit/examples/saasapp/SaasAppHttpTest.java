package dev.saaskit.examples.saasapp;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.saaskit.examples.saasapp.AppFixture.Answer;
import dev.saaskit.tenancy.audit.RlsAudit;
import dev.saaskit.testing.StripeEmulator;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The app end to end over HTTP: started in-process on a free port with the test PostgreSQL, offline Stripe
 * (StripeEmulator) and the demo issuer, exactly as {@code main} wires it. Each test uses tenants of its own.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SaasAppHttpTest {
  private static final Duration BOUND = Duration.ofSeconds(20);   // generous: shared, loaded build machines

  private AppFixture f;

  @BeforeAll
  void start() throws Exception {
    f = AppFixture.start(b -> {});
  }

  @AfterAll
  void stop() throws Exception {
    if (f != null) {
      f.close();
    }
  }

  @Test
  void everyApiCallNeedsACredential() throws Exception {
    for (String path : List.of("/api/me", "/api/projects", "/api/billing/subscription", "/api/jobs/1",
        "/api/analytics/summary")) {
      Answer a = f.get(path, null);
      assertThat(a.status()).as(path).isEqualTo(401);
      assertThat(a.body().at("/error/code").asText()).isEqualTo("unauthenticated");
    }
    Answer forged = f.get("/api/me", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.");
    assertThat(forged.status()).isEqualTo(401);
    assertThat(forged.body().at("/error/code").asText()).isEqualTo("invalid_token");
    assertThat(f.get("/api/me", "sk_live_bogus_key").status()).isEqualTo(401);
  }

  @Test
  void meShowsTenantRoleAndPermissions() throws Exception {
    String token = f.login("me-co", "ada@me-co.test", "admin");
    JsonNode me = f.get("/api/me", token).body();
    assertThat(me.get("tenant").asText()).isEqualTo("me-co");
    assertThat(me.get("userId").asText()).isEqualTo("ada@me-co.test");
    assertThat(me.get("email").asText()).isEqualTo("ada@me-co.test");
    assertThat(me.get("role").asText()).isEqualTo("admin");
    assertThat(texts(me.get("permissions"))).contains("project:delete", "members:invite")
        .doesNotContain("roles:assign");
  }

  @Test
  void tenantsAreIsolatedOnEveryEndpoint() throws Exception {
    String acme = f.login("iso-acme", "wile@acme.test", "owner");
    String globex = f.login("iso-globex", "hank@globex.test", "owner");
    Answer created = f.post("/api/projects", acme, Map.of("name", "Rocket skates"));
    assertThat(created.status()).isEqualTo(201);
    String acmeProject = created.body().get("id").asText();
    assertThat(f.post("/api/projects", globex, Map.of("name", "Hammock")).status()).isEqualTo(201);

    // list
    assertThat(names(f.get("/api/projects", acme).body())).containsExactly("Rocket skates");
    assertThat(names(f.get("/api/projects", globex).body())).containsExactly("Hammock");
    // get: another tenant's id is not found, never forbidden
    assertThat(f.get("/api/projects/" + acmeProject, acme).status()).isEqualTo(200);
    Answer foreign = f.get("/api/projects/" + acmeProject, globex);
    assertThat(foreign.status()).isEqualTo(404);
    assertThat(foreign.body().at("/error/code").asText()).isEqualTo("not_found");
    // delete: not found, and the row is still there
    assertThat(f.delete("/api/projects/" + acmeProject, globex).status()).isEqualTo(404);
    assertThat(f.get("/api/projects/" + acmeProject, acme).status()).isEqualTo(200);
    // jobs
    String job = f.post("/api/reports", acme, Map.of()).body().get("jobId").asText();
    assertThat(f.get("/api/jobs/" + job, globex).status()).isEqualTo(404);
    assertThat(f.get("/api/jobs/" + job, acme).status()).isEqualTo(200);
    // analytics: each tenant sees its own row of the materialized view once it is refreshed
    JsonNode acmeSummary = awaitSummary(acme, 1);
    assertThat(acmeSummary.get("refreshedAt").isTextual()).isTrue();
    JsonNode globexSummary = awaitSummary(globex, 1);
    assertThat(globexSummary.get("projects").asLong()).isEqualTo(1);
    assertThat(f.get("/api/analytics/summary", f.login("iso-empty", "x@empty.test", "owner")).body()
        .get("projects").asLong()).isZero();
  }

  @Test
  void rolesAreChecked() throws Exception {
    String owner = f.login("roles-co", "olga@roles.test", "owner");
    String member = f.login("roles-co", "max@roles.test", "member");
    String project = f.post("/api/projects", member, Map.of("name", "Members may create")).body().get("id")
        .asText();
    Answer denied = f.delete("/api/projects/" + project, member);
    assertThat(denied.status()).isEqualTo(403);
    assertThat(denied.body().at("/error/code").asText()).isEqualTo("forbidden");
    assertThat(f.post("/api/billing/checkout", member, Map.of("price", "pro_monthly")).status()).isEqualTo(403);
    assertThat(f.post("/api/api-keys", member, Map.of("name", "ci")).status()).isEqualTo(403);
    assertThat(f.patch("/api/members/olga@roles.test", member, Map.of("role", "member")).status())
        .isEqualTo(403);
    assertThat(f.delete("/api/projects/" + project, owner).status()).isEqualTo(204);
    assertThat(f.get("/api/projects/" + project, owner).status()).isEqualTo(404);
  }

  @Test
  void aRoleChangeRevokesTheOldToken() throws Exception {
    String owner = f.login("revoke-co", "olga@revoke.test", "owner");
    String oldToken = f.login("revoke-co", "max@revoke.test", "member");
    assertThat(f.get("/api/me", oldToken).status()).isEqualTo(200);

    Answer changed = f.patch("/api/members/max@revoke.test", owner, Map.of("role", "admin"));
    assertThat(changed.status()).isEqualTo(200);
    assertThat(changed.body().get("role").asText()).isEqualTo("admin");

    Answer refused = f.get("/api/me", oldToken);
    assertThat(refused.status()).isEqualTo(401);
    assertThat(refused.body().at("/error/code").asText()).isEqualTo("token_revoked");
    assertThat(f.get("/api/projects", oldToken).status()).isEqualTo(401);
    String fresh = f.login("revoke-co", "max@revoke.test", "admin");
    assertThat(f.get("/api/me", fresh).body().get("role").asText()).isEqualTo("admin");
    // the last owner cannot be demoted
    assertThat(f.patch("/api/members/olga@revoke.test", owner, Map.of("role", "member")).status())
        .isEqualTo(409);
  }

  @Test
  void invitationsAndApiKeys() throws Exception {
    String admin = f.login("inv-co", "ada@inv.test", "admin");
    f.login("inv-co", "olga@inv.test", "owner");
    Answer invitation = f.post("/api/invitations", admin, Map.of("email", "new@inv.test", "role", "member"));
    assertThat(invitation.status()).isEqualTo(201);
    String invitee = f.login("inv-home", "new@inv.test", "owner");
    Answer accepted = f.post("/api/invitations/accept", invitee,
        Map.of("token", invitation.body().get("token").asText()));
    assertThat(accepted.status()).isEqualTo(200);
    assertThat(accepted.body().get("tenant").asText()).isEqualTo("inv-co");
    assertThat(accepted.body().get("role").asText()).isEqualTo("member");
    String joined = accepted.body().get("token").asText();
    assertThat(f.get("/api/me", joined).body().get("tenant").asText()).isEqualTo("inv-co");
    assertThat(f.post("/api/invitations/accept", invitee, Map.of("token", invitation.body().get("token").asText()))
        .status()).isEqualTo(400);

    Answer key = f.post("/api/api-keys", admin, Map.of("name", "ci", "scopes", List.of("project:read")));
    assertThat(key.status()).isEqualTo(201);
    String secret = key.body().get("key").asText();
    assertThat(f.get("/api/projects", secret).status()).isEqualTo(200);
    assertThat(f.get("/api/me", secret).body().get("tenant").asText()).isEqualTo("inv-co");
    assertThat(f.post("/api/projects", secret, Map.of("name", "not in scope")).status()).isEqualTo(403);
  }

  @Test
  void theFreePlanAllowsThreeProjects() throws Exception {
    String owner = f.login("limit-co", "olga@limit.test", "owner");
    for (int i = 1; i <= 3; i++) {
      assertThat(f.post("/api/projects", owner, Map.of("name", "p" + i)).status()).isEqualTo(201);
    }
    Answer fourth = f.post("/api/projects", owner, Map.of("name", "p4"));
    assertThat(fourth.status()).isEqualTo(402);
    assertThat(fourth.body().at("/error/code").asText()).isEqualTo("plan_limit");
    assertThat(names(f.get("/api/projects", owner).body())).hasSize(3);
  }

  @Test
  void aSignedWebhookChangesTheSubscriptionAndTheCachedStatusFollows() throws Exception {
    String owner = f.login("paying-co", "olga@paying.test", "owner");
    JsonNode before = f.get("/api/billing/subscription", owner).body();
    assertThat(before.get("status").asText()).isEqualTo("none");
    assertThat(before.get("plan").asText()).isEqualTo("free");
    assertThat(before.get("hasAccess").asBoolean()).isFalse();
    assertThat(f.get("/api/billing/subscription", owner).body()).isEqualTo(before);   // served from the cache

    Answer checkout = f.post("/api/billing/checkout", owner, Map.of("price", "pro_monthly"));
    assertThat(checkout.status()).isEqualTo(200);
    assertThat(checkout.body().get("url").asText()).isNotBlank();
    emulator().completeCheckout(checkout.body().get("sessionId").asText());   // webhooks go to /webhooks/stripe

    // the bound is far below the cache's TTL (5 minutes): only the webhook's invalidation can make it change
    JsonNode after = AppFixture.await("the cached status is active", BOUND, () -> {
      JsonNode s = f.get("/api/billing/subscription", owner).body();
      return s.get("status").asText().equals("active") ? s : null;
    });
    assertThat(after.get("plan").asText()).isEqualTo("pro");
    assertThat(after.get("hasAccess").asBoolean()).isTrue();
    assertThat(after.get("currentPeriodEnd").isTextual()).isTrue();
    assertThat(texts(after.get("entitlements"))).contains("analytics", "reports");
    for (int i = 1; i <= 4; i++) {
      assertThat(f.post("/api/projects", owner, Map.of("name", "paid " + i)).status()).isEqualTo(201);
    }
    // a second checkout (another tab, a double click after paying) would bill the tenant twice
    Answer again = f.post("/api/billing/checkout", owner, Map.of("price", "pro_yearly"));
    assertThat(again.status()).as(again.raw()).isEqualTo(409);
    assertThat(again.body().get("error").get("code").asText()).isEqualTo("already_subscribed");
  }

  @Test
  void aDuplicatedWebhookIsAppliedOnceAndABadSignatureIsRefused() throws Exception {
    String owner = f.login("dup-co", "olga@dup.test", "owner");
    StripeEmulator stripe = emulator();
    String session = f.post("/api/billing/checkout", owner, Map.of("price", "pro_yearly")).body()
        .get("sessionId").asText();
    List<String> pending;
    stripe.webhooks().automatic(false);   // hold the events: this test delivers them itself, twice each
    try {
      stripe.completeCheckout(session);
      pending = stripe.webhooks().pending();
      stripe.webhooks().dropPending();
    } finally {
      stripe.webhooks().automatic(true);
    }
    assertThat(pending).isNotEmpty();
    long inboxBefore = f.countAll("saaskit_billing.events");
    for (String id : pending) {
      String body = stripe.events().stream().filter(e -> e.id().equals(id)).findFirst().orElseThrow().json();
      Answer first = postWebhook(body, sign(body, stripe.webhookSecret()));
      Answer second = postWebhook(body, sign(body, stripe.webhookSecret()));
      assertThat(first.status()).as(first.raw()).isEqualTo(200);
      assertThat(second.status()).isEqualTo(200);
      assertThat(first.body().get("outcome").asText()).isIn("applied", "ignored");
      assertThat(second.body().get("outcome").asText()).isEqualTo("duplicate");
    }
    assertThat(f.countAll("saaskit_billing.events")).isEqualTo(inboxBefore + pending.size());
    JsonNode status = AppFixture.await("the status is active", BOUND, () -> {
      JsonNode s = f.get("/api/billing/subscription", owner).body();
      return s.get("status").asText().equals("active") ? s : null;
    });
    assertThat(status.get("plan").asText()).isEqualTo("pro");

    // a bad signature: 400, nothing stored
    String someBody = stripe.events().get(0).json().replace("\"livemode\"", "\"livemode_x\"");
    long inbox = f.countAll("saaskit_billing.events");
    Answer refused = postWebhook(someBody, sign(someBody, "whsec_not_the_secret"));
    assertThat(refused.status()).isEqualTo(400);
    assertThat(refused.body().at("/error/code").asText()).isEqualTo("webhook_rejected");
    assertThat(postWebhook(someBody, null).status()).isEqualTo(400);
    assertThat(f.countAll("saaskit_billing.events")).isEqualTo(inbox);
  }

  @Test
  void aReportJobRunsTo100Percent() throws Exception {
    String owner = f.login("report-co", "olga@report.test", "owner");
    f.post("/api/projects", owner, Map.of("name", "Alpha"));
    f.post("/api/projects", owner, Map.of("name", "Beta"));
    Answer started = f.post("/api/reports", owner, Map.of());
    assertThat(started.status()).isEqualTo(202);
    String id = started.body().get("jobId").asText();
    List<Integer> seen = new ArrayList<>();
    JsonNode done = AppFixture.await("the job completed", BOUND, () -> {
      JsonNode job = f.get("/api/jobs/" + id, owner).body();
      seen.add(job.get("progress").asInt());
      return job.get("state").asText().equals("completed") ? job : null;
    });
    assertThat(done.get("progress").asInt()).isEqualTo(100);
    assertThat(done.at("/result/projects").asInt()).isEqualTo(2);
    assertThat(texts(done.at("/result/projectNames"))).containsExactly("Alpha", "Beta");
    assertThat(seen).isSorted().allSatisfy(p -> assertThat(p).isBetween(0, 100));
    assertThat(f.get("/api/jobs/not-a-number", owner).status()).isEqualTo(404);
    assertThat(f.get("/api/jobs/999999999", owner).status()).isEqualTo(404);
  }

  @Test
  void malformedAndOversizedBodiesAreRefusedWithNothingWritten() throws Exception {
    String owner = f.login("bodies-co", "olga@bodies.test", "owner");
    long before = f.countAll("projects");
    Answer malformed = f.post("/api/projects", owner, "{\"name\": ");
    assertThat(malformed.status()).isEqualTo(400);
    assertThat(malformed.body().at("/error/code").asText()).isEqualTo("malformed_json");
    assertThat(f.post("/api/projects", owner, "[1, 2]").status()).isEqualTo(400);
    assertThat(f.post("/api/projects", owner, Map.of("name", 42)).status()).isEqualTo(400);
    assertThat(f.post("/api/projects", owner, Map.of("name", "   ")).status()).isEqualTo(400);
    Answer tooLong = f.post("/api/projects", owner, Map.of("name", "x".repeat(101)));
    assertThat(tooLong.status()).isEqualTo(400);
    Answer oversized = f.post("/api/projects", owner, Map.of("name", "x".repeat(40_000)));
    assertThat(oversized.status()).isEqualTo(413);
    assertThat(oversized.body().at("/error/code").asText()).isEqualTo("body_too_large");
    Answer hugeLogin = f.post("/dev/login", null, "{\"tenant\":\"" + "a".repeat(3_000_000) + "\"}");
    assertThat(hugeLogin.status()).isEqualTo(413);
    assertThat(f.post("/dev/login", null, "not json").status()).isEqualTo(400);
    assertThat(f.post("/dev/login", null, Map.of("tenant", "t", "email", "x@y.z", "role", "god")).status())
        .isEqualTo(400);
    assertThat(f.countAll("projects")).isEqualTo(before);
    assertThat(malformed.raw()).doesNotContain("Exception").doesNotContain("at dev.");
  }

  /**
   * A body declared larger than the limit gets its 413 every time, not a reset connection: the server reads and
   * drops what it refuses (up to a bound) before answering, instead of closing with the body unread (the client then
   * saw "header parser received no bytes" once in CI).
   */
  @Test
  void anOversizedBodyGetsItsAnswerEveryTime() throws Exception {
    String body = "{\"tenant\":\"" + "a".repeat(3_000_000) + "\"}";
    for (int i = 0; i < 25; i++) {
      Answer answer = f.post("/dev/login", null, body);
      assertThat(answer.status()).as("attempt %d", i).isEqualTo(413);
      assertThat(answer.body().at("/error/code").asText()).isEqualTo("body_too_large");
      assertThat(answer.headers().firstValue("Connection")).as("attempt %d: the connection stays usable", i)
          .isEmpty();
    }
  }

  @Test
  void pricingIsPublicAndCacheable() throws Exception {
    Answer pricing = f.get("/pricing", null);
    assertThat(pricing.status()).isEqualTo(200);
    assertThat(pricing.headers().firstValue("Cache-Control")).get().asString().contains("max-age");
    String etag = pricing.headers().firstValue("ETag").orElseThrow();
    JsonNode plans = pricing.body().get("plans");
    assertThat(plans.size()).isEqualTo(2);
    assertThat(plans.get(0).get("price").asText()).isEqualTo("pro_monthly");
    assertThat(plans.get(0).get("amount").asLong()).isEqualTo(2900);
    Answer again = f.send(f.request("/pricing", null).header("If-None-Match", etag).GET().build());
    assertThat(again.status()).isEqualTo(304);
    assertThat(again.raw()).isEmpty();
    assertThat(again.headers().firstValue("ETag")).hasValue(etag);
    assertThat(again.headers().firstValue("Cache-Control")).isEqualTo(pricing.headers().firstValue("Cache-Control"));
    // a cache refreshing its stored copy with a 304 takes the 304's headers: no Content-Type but the JSON's own
    assertThat(again.headers().firstValue("Content-Type").orElse("application/json")).startsWith("application/json");
    Answer stale = f.send(f.request("/pricing", null).header("If-None-Match", "\"other\"").GET().build());
    assertThat(stale.status()).isEqualTo(200);
  }

  @Test
  void opsEndpoints() throws Exception {
    assertThat(f.get("/health", null).body().get("status").asText()).isEqualTo("up");
    Answer ready = f.get("/ready", null);
    assertThat(ready.status()).isEqualTo(200);
    assertThat(ready.body().at("/checks/database").asBoolean()).isTrue();
    assertThat(ready.body().at("/checks/migrations").asBoolean()).isTrue();
    assertThat(ready.body().at("/checks/workers").asBoolean()).isTrue();
    f.login("metrics-co", "olga@metrics.test", "owner");
    Answer jwks = f.get("/.well-known/jwks.json", null);
    assertThat(jwks.body().get("keys").get(0).has("d")).isFalse();   // public keys only
    String metrics = f.get("/metrics", null).raw();
    assertThat(metrics).contains("http_server_requests_seconds", "hikaricp_connections", "saasapp_signups_total",
        "saaskit_billing_trials", "saaskit_billing_cancellations");
    Answer unknown = f.get("/api/nope", f.login("metrics-co", "olga@metrics.test", "owner"));
    assertThat(unknown.status()).isEqualTo(404);
    assertThat(unknown.body().at("/error/code").asText()).isEqualTo("not_found");
  }

  /**
   * The business meters the README names move when their events happen: a sign-up, a trial started, a trial
   * converted to paid, a cancellation (churn). The app sells no trial itself, so the trial is started the way a
   * sales-led one would be: a checkout session with a trial created in Stripe (the emulator) for the tenant's
   * customer; its webhooks reach {@code /webhooks/stripe} like every other.
   */
  @Test
  void businessMetersMoveWithSignUpsTrialsConversionsAndChurn() throws Exception {
    String trials = "saaskit_billing_trials_started{window=\"pt720h\"}";
    String conversions = "saaskit_billing_trials_converted{window=\"pt720h\"}";
    String churn = "saaskit_billing_cancellations{window=\"pt720h\"}";
    String signups = "saasapp_signups_total";
    Map<String, Double> before = new java.util.HashMap<>();
    for (String series : List.of(trials, conversions, churn, signups)) {
      before.put(series, meter(series));
    }

    String owner = f.login("metered-co", "olga@metered.test", "owner");
    assertThat(meter(signups)).isEqualTo(before.get(signups) + 1);
    f.login("metered-co", "olga@metered.test", "owner");           // signing in again is no sign-up
    assertThat(meter(signups)).isEqualTo(before.get(signups) + 1);

    // the app's checkout links the tenant to a Stripe customer; the trial is a session of that customer
    String appSession = f.post("/api/billing/checkout", owner, Map.of("price", "pro_monthly")).body()
        .get("sessionId").asText();
    StripeEmulator stripe = emulator();
    com.stripe.StripeClient client = com.stripe.StripeClient.builder().setApiKey(stripe.apiKey())
        .setApiBase(stripe.apiBase()).build();
    JsonNode session = AppFixture.JSON.readTree(stripe.object(appSession).orElseThrow());
    String customer = session.get("customer").asText();
    String price = stripeCall(client, "GET", "/v1/prices", "lookup_keys%5B%5D=pro_monthly").at("/data/0/id").asText();
    String trialSession = stripeCall(client, "POST", "/v1/checkout/sessions", "mode=subscription&customer="
        + customer + "&client_reference_id=metered-co&line_items%5B0%5D%5Bprice%5D=" + price
        + "&line_items%5B0%5D%5Bquantity%5D=1&success_url=" + f.base + "/&subscription_data%5Btrial_period_days%5D=7")
        .get("id").asText();
    stripe.completeCheckout(trialSession);
    String subscription = AppFixture.JSON.readTree(stripe.object(trialSession).orElseThrow()).get("subscription")
        .asText();
    awaitStatus(owner, "trialing");
    awaitMeter(trials, before.get(trials) + 1);

    // the trial ends now and the first invoice is paid: trialing -> active
    stripeCall(client, "POST", "/v1/subscriptions/" + subscription, "trial_end=now");
    stripe.advanceClock(Duration.ZERO);   // runs what is due now: the renewal that ends the trial
    awaitStatus(owner, "active");
    awaitMeter(conversions, before.get(conversions) + 1);

    stripeCall(client, "DELETE", "/v1/subscriptions/" + subscription, "");
    awaitStatus(owner, "canceled");
    awaitMeter(churn, before.get(churn) + 1);
    assertThat(meter(trials)).isEqualTo(before.get(trials) + 1);
    assertThat(meter(conversions)).isEqualTo(before.get(conversions) + 1);

    // every metric family the README's Metrics section names is exported under that very name
    String readme = java.nio.file.Files.readString(java.nio.file.Path.of("README.md"));
    String section = readme.substring(readme.indexOf("## Metrics"), readme.indexOf("## Run"));
    List<String> named = new ArrayList<>();
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("`((?:http|hikaricp|saaskit|saasapp)_[a-z_]+)`")
        .matcher(section);
    while (m.find()) {
      named.add(m.group(1));
    }
    assertThat(named).contains(signups, "saaskit_billing_trials_started", "saaskit_billing_trials_converted",
        "saaskit_billing_cancellations", "saaskit_billing_webhook_lag_seconds", "saaskit_jobs_completed_total");
    AppFixture.await("every family the README names is exported", BOUND, () -> {
      String metrics = f.get("/metrics", null).raw();
      return named.stream().allMatch(n -> metrics.contains("# TYPE " + n + " ")) ? metrics : null;
    });
  }

  private void awaitStatus(String token, String status) throws Exception {
    AppFixture.await("the subscription is " + status, BOUND, () -> {
      JsonNode s = f.get("/api/billing/subscription", token).body();
      return s.get("status").asText().equals(status) ? s : null;
    });
  }

  /** The billing gauges are read at most every 5 seconds: waits until {@code series} shows {@code value}. */
  private void awaitMeter(String series, double value) throws Exception {
    AppFixture.await(series + " is " + value, BOUND, () -> meter(series) == value ? value : null);
  }

  /** The value of one series of {@code GET /metrics} (0 when absent). */
  private double meter(String series) throws Exception {
    for (String line : f.get("/metrics", null).raw().lines().toList()) {
      if (line.startsWith(series + " ")) {
        return Double.parseDouble(line.substring(series.length() + 1).trim());
      }
    }
    return 0;
  }

  private static JsonNode stripeCall(com.stripe.StripeClient client, String method, String path, String form)
      throws Exception {
    boolean post = method.equals("POST");   // stripe-java takes a body on POST only: the others carry a query
    return AppFixture.JSON.readTree(client.rawRequest(com.stripe.net.ApiResource.RequestMethod.valueOf(method),
        post || form.isEmpty() ? path : path + "?" + form, post ? form : null).body());
  }

  @Test
  void theDatabaseHasNoRlsHole() {
    // every table, view and function of the app and of the modules, seen by the role requests run as
    RlsAudit.defaults().assertNoErrors(f.app.appDataSource());
  }

  private StripeEmulator emulator() {
    return Objects.requireNonNull(f.app.stripeEmulator());
  }

  private Answer postWebhook(String body, String signature) throws Exception {
    HttpRequest.Builder r = f.request("/webhooks/stripe", null).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body));
    if (signature != null) {
      r.header("Stripe-Signature", signature);
    }
    return f.send(r.build());
  }

  private static String sign(String body, String secret) throws Exception {
    long t = System.currentTimeMillis() / 1000;
    Mac mac = Mac.getInstance("HmacSHA256");
    mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
    String v1 = HexFormat.of().formatHex(mac.doFinal((t + "." + body).getBytes(StandardCharsets.UTF_8)));
    return "t=" + t + ",v1=" + v1;
  }

  private JsonNode awaitSummary(String token, long projects) throws Exception {
    return AppFixture.await("the summary counts " + projects, BOUND, () -> {
      JsonNode s = f.get("/api/analytics/summary", token).body();
      return s.get("projects").asLong() == projects ? s : null;
    });
  }

  private static List<String> names(JsonNode list) {
    List<String> names = new ArrayList<>();
    list.get("projects").forEach(p -> names.add(p.get("name").asText()));
    return names;
  }

  private static List<String> texts(JsonNode array) {
    List<String> texts = new ArrayList<>();
    array.forEach(n -> texts.add(n.asText()));
    return texts;
  }

  // ----- the list routes: limit, an opaque nextCursor, and 400s for bad ones

  @Test
  void membersArePagedWithAnOpaqueCursor() throws Exception {
    String owner = f.login("page-co", "olga@page.test", "owner");
    for (String name : List.of("dan", "bea", "eve", "cid")) {
      f.login("page-co", name + "@page.test", "member");
    }
    f.login("other-page-co", "zed@other.test", "owner");   // another tenant's member is never listed

    Answer all = f.get("/api/members", owner);
    assertThat(all.status()).isEqualTo(200);
    assertThat(all.body().get("members")).hasSize(5);
    assertThat(all.body().get("nextCursor").isNull()).as("one page: no next cursor").isTrue();

    List<String> seen = new ArrayList<>();
    String cursor = null;
    int pages = 0;
    do {
      Answer a = f.get("/api/members?limit=2" + (cursor == null ? "" : "&cursor=" + cursor), owner);
      assertThat(a.status()).as(a.raw()).isEqualTo(200);
      assertThat(a.body().get("members").size()).isBetween(1, 2);
      a.body().get("members").forEach(m -> seen.add(m.get("userId").asText()));
      JsonNode next = a.body().get("nextCursor");
      cursor = next.isNull() ? null : next.asText();
      if (cursor != null) {
        assertThat(cursor).matches("[A-Za-z0-9_-]+");
      }
      if (pages == 0) {
        // a member added after the first page does not shift the others: it shows where it sorts
        f.login("page-co", "aaa@page.test", "member");
      }
      pages++;
    } while (cursor != null && pages < 10);
    assertThat(pages).isEqualTo(3);
    assertThat(seen).containsExactly("bea@page.test", "cid@page.test", "dan@page.test", "eve@page.test",
        "olga@page.test");
  }

  @Test
  void projectsArePagedTheSameWay() throws Exception {
    String owner = f.login("page-projects-co", "olga@pp.test", "owner");
    for (String name : List.of("one", "two", "three")) {   // the free plan's 3 projects
      assertThat(f.post("/api/projects", owner, java.util.Map.of("name", name)).status()).isEqualTo(201);
    }
    Answer first = f.get("/api/projects?limit=2", owner);
    assertThat(first.status()).isEqualTo(200);
    assertThat(first.body().get("projects")).extracting(p -> p.get("name").asText()).containsExactly("one", "two");
    String cursor = first.body().get("nextCursor").asText();
    Answer second = f.get("/api/projects?limit=2&cursor=" + cursor, owner);
    assertThat(second.body().get("projects")).extracting(p -> p.get("name").asText()).containsExactly("three");
    assertThat(second.body().get("nextCursor").isNull()).isTrue();
    Answer exact = f.get("/api/projects?limit=3", owner);
    assertThat(exact.body().get("projects")).hasSize(3);
    assertThat(exact.body().get("nextCursor").isNull()).as("no empty last page").isTrue();
    // another tenant following this cursor sees only its own projects
    String other = f.login("page-projects-other", "olga@ppo.test", "owner");
    assertThat(f.get("/api/projects?cursor=" + cursor, other).body().get("projects")).isEmpty();
  }

  @Test
  void badLimitsAndCursorsAre400() throws Exception {
    String owner = f.login("page-bad-co", "olga@bad.test", "owner");
    assertThat(f.post("/api/projects", owner, java.util.Map.of("name", "p")).status()).isEqualTo(201);
    String projectCursor = f.get("/api/projects?limit=1", owner).body().get("nextCursor").asText("");
    for (String path : List.of("/api/projects", "/api/members")) {
      for (String limit : List.of("0", "201", "-1", "abc", "", "1.5", "99999999999", "%201")) {
        Answer a = f.get(path + "?limit=" + limit, owner);
        assertThat(a.status()).as(path + " limit=" + limit + " " + a.raw()).isEqualTo(400);
        assertThat(a.body().at("/error/code").asText()).isEqualTo("invalid_limit");
      }
      assertThat(f.get(path + "?limit=200", owner).status()).isEqualTo(200);
      assertThat(f.get(path + "?limit=1", owner).status()).isEqualTo(200);
      List<String> cursors = new ArrayList<>(List.of("", "not*base64", "%00", b64("garbage"), b64("members|"),
          b64("projects|"), b64("members|no-nul-here"), b64("members|https://iss\u0000sub\u0000more"),
          b64("members|" + "x".repeat(600) + "\u0000sub"), b64("projects|2026-01-01T00:00:00Z"),
          b64("projects|not-a-time|" + java.util.UUID.randomUUID()),
          b64("projects|+1000000000-01-01T00:00:00Z|" + java.util.UUID.randomUUID()),
          b64("projects|2026-01-01T00:00:00Z|not-a-uuid"), "A".repeat(5000)));
      cursors.add(path.endsWith("members") ? projectCursor : b64("members|https://iss\u0000sub"));
      for (String cursor : cursors) {
        Answer a = f.get(path + "?cursor=" + cursor, owner);
        assertThat(a.status()).as(path + " cursor=" + cursor + " " + a.raw()).isEqualTo(400);
        assertThat(a.body().at("/error/code").asText()).isEqualTo("invalid_cursor");
      }
    }
  }

  private static String b64(String text) {
    return Base64.getUrlEncoder().withoutPadding().encodeToString(text.getBytes(StandardCharsets.UTF_8));
  }
}
