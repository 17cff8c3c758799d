package dev.saaskit.billing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.saaskit.billing.internal.StripeJson;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.MutableClock;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.TestDatabase;
import dev.saaskit.tenancy.audit.AuditReport;
import dev.saaskit.tenancy.audit.Finding;
import dev.saaskit.tenancy.audit.RlsAudit;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Business metrics across tenants under forced RLS, through subscription_facts, read with a SimpleMeterRegistry. */
@ExtendWith(PostgresExtension.class)
class MetricsTest {
  static TestDatabase db;
  static MutableClock clock = MutableClock.at(Instant.parse("2026-05-10T12:00:00Z"));
  static Billing billing;

  @BeforeAll
  static void setUp(TestDatabase database) throws Exception {
    db = database;
    BillingTestSupport.migrate(db);
    billing = Billing.create(BillingConfig.builder().stripeApiKey("sk_test_metrics").clock(clock).build(),
        db.appDataSource());
  }

  static ObjectNode price(String id, String currency, long amount, String interval, int count, String usage) {
    ObjectNode p = StripeJson.MAPPER.createObjectNode().put("id", id).put("object", "price").put("currency", currency)
        .put("unit_amount", amount);
    p.putObject("recurring").put("interval", interval).put("interval_count", count).put("usage_type", usage);
    return p;
  }

  static void subscription(TenantId tenant, String id, String status, ObjectNode... itemsAndQuantities) {
    ObjectNode sub = StripeJson.MAPPER.createObjectNode().put("id", id).put("object", "subscription")
        .put("customer", "cus_" + tenant.value().replace('-', '_')).put("status", status)
        .put("currency", itemsAndQuantities[0].get("price").get("currency").asText());
    ArrayNode data = sub.putObject("items").putArray("data");
    for (ObjectNode item : itemsAndQuantities) {
      data.add(item);
    }
    billing.db().inTransaction(tenant, "test", c -> billing.mirror().upsertSubscription(c, tenant, sub,
        clock.instant()));
  }

  static int items;

  static ObjectNode item(ObjectNode price, long quantity) {
    return StripeJson.MAPPER.createObjectNode().put("id", "si_m" + (++items)).put("object", "subscription_item")
        .put("quantity", quantity).set("price", price);
  }

  static void event(String id, String type, Instant created, String status, @Nullable String objectStatus,
      @Nullable String previousStatus, @Nullable Instant appliedAt) throws Exception {
    ObjectNode payload = StripeJson.MAPPER.createObjectNode().put("id", id).put("type", type);
    ObjectNode data = payload.putObject("data");
    ObjectNode object = data.putObject("object").put("id", "sub_" + id);
    if (objectStatus != null) {
      object.put("status", objectStatus);
    }
    if (previousStatus != null) {
      data.putObject("previous_attributes").put("status", previousStatus);
    }
    try (Connection c = db.appDataSource().getConnection(); PreparedStatement ps = c.prepareStatement(
        "INSERT INTO saaskit_billing.events (id, type, created, payload, status, applied_at)"
            + " VALUES (?, ?, ?, ?::jsonb, ?, ?)")) {
      ps.setString(1, id);
      ps.setString(2, type);
      ps.setTimestamp(3, Timestamp.from(created));
      ps.setString(4, StripeJson.write(payload));
      ps.setString(5, status);
      ps.setTimestamp(6, appliedAt == null ? null : Timestamp.from(appliedAt));
      ps.execute();
    }
  }

  @Test
  void gaugesAggregateEveryTenantWhileTheAppRoleCannotReadTheFacts() throws Exception {
    ObjectNode monthlyUsd = price("price_m_usd", "usd", 2000, "month", 1, "licensed");
    ObjectNode yearlyUsd = price("price_y_usd", "usd", 24000, "year", 1, "licensed");
    ObjectNode quarterlyEur = price("price_q_eur", "eur", 9000, "month", 3, "licensed");
    ObjectNode meteredUsd = price("price_metered", "usd", 5, "month", 1, "metered");
    subscription(TenantId.of("m-acme"), "sub_m1", "active", item(monthlyUsd, 3), item(meteredUsd, 0)); // 6000
    subscription(TenantId.of("m-globex"), "sub_m2", "active", item(yearlyUsd, 1));                    // 2000
    subscription(TenantId.of("m-initech"), "sub_m3", "past_due", item(quarterlyEur, 2));              // eur 6000
    subscription(TenantId.of("m-hooli"), "sub_m4", "trialing", item(monthlyUsd, 10));                 // not MRR
    subscription(TenantId.of("m-umbrella"), "sub_m5", "canceled", item(monthlyUsd, 1));               // not MRR

    Instant now = clock.instant();
    event("evt_m1", "customer.subscription.created", now.minus(Duration.ofDays(2)), "applied", "trialing", null, null);
    event("evt_m2", "customer.subscription.created", now.minus(Duration.ofDays(3)), "applied", "active", null, null);
    event("evt_m3", "customer.subscription.created", now.minus(Duration.ofDays(45)), "applied", "trialing", null,
        null); // outside the window
    event("evt_m4", "customer.subscription.updated", now.minus(Duration.ofDays(1)), "applied", "active", "trialing",
        null);
    event("evt_m5", "customer.subscription.updated", now.minus(Duration.ofDays(1)), "applied", "past_due", "active",
        null);
    event("evt_m6", "customer.subscription.deleted", now.minus(Duration.ofHours(5)), "failed", "canceled", null,
        null);
    event("evt_m7", "invoice.paid", now.minus(Duration.ofSeconds(90)), "applied", null, null, now);
    event("evt_m8", "invoice.created", now.minus(Duration.ofSeconds(10)), "received", null, null, null);

    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    BillingMetrics metrics = BillingMetrics.bind(billing, registry);
    assertThat(registry.get("saaskit.billing.subscriptions").tag("status", "active").gauge().value()).isEqualTo(2);
    assertThat(registry.get("saaskit.billing.subscriptions").tag("status", "past_due").gauge().value()).isEqualTo(1);
    assertThat(registry.get("saaskit.billing.subscriptions").tag("status", "trialing").gauge().value()).isEqualTo(1);
    assertThat(registry.get("saaskit.billing.subscriptions").tag("status", "canceled").gauge().value()).isEqualTo(1);
    assertThat(registry.get("saaskit.billing.subscriptions").tag("status", "unpaid").gauge().value()).isZero();
    assertThat(registry.get("saaskit.billing.mrr").tag("currency", "usd").gauge().value()).isEqualTo(8000);
    assertThat(registry.get("saaskit.billing.mrr").tag("currency", "eur").gauge().value()).isEqualTo(6000);
    assertThat(registry.get("saaskit.billing.trials.started").gauge().value()).isEqualTo(1);
    assertThat(registry.get("saaskit.billing.trials.converted").gauge().value()).isEqualTo(1);
    assertThat(registry.get("saaskit.billing.cancellations").gauge().value()).isEqualTo(1);
    assertThat(registry.get("saaskit.billing.webhook.lag").gauge().value()).isEqualTo(90);
    assertThat(registry.get("saaskit.billing.events.failed").gauge().value()).isEqualTo(1);
    assertThat(registry.get("saaskit.billing.events.pending").gauge().value()).isEqualTo(1);

    // the app role reads aggregates only: the facts table itself is closed to it
    assertThatThrownBy(() -> BillingTestSupport.count(db.appDataSource(),
        "SELECT count(*) FROM saaskit_billing.subscription_facts")).hasMessageContaining("permission denied");
    assertThat(BillingTestSupport.count(db.appDataSource(), "SELECT count(*) FROM saaskit_billing.subscriptions"))
        .isZero();

    // a change in the mirror shows after the cache expires (or at once with refresh())
    subscription(TenantId.of("m-hooli"), "sub_m4", "active", item(monthlyUsd, 10));
    assertThat(registry.get("saaskit.billing.mrr").tag("currency", "usd").gauge().value()).isEqualTo(8000);
    clock.advance(Duration.ofSeconds(BillingMetrics.CACHE_SECONDS + 1));
    assertThat(registry.get("saaskit.billing.mrr").tag("currency", "usd").gauge().value()).isEqualTo(28000);
    assertThat(registry.get("saaskit.billing.subscriptions").tag("status", "trialing").gauge().value()).isZero();
    billing.db().inTransaction(TenantId.of("m-acme"), "test", c -> {
      try (PreparedStatement ps = c.prepareStatement("DELETE FROM saaskit_billing.subscriptions WHERE stripe_id = ?")) {
        ps.setString(1, "sub_m1");
        return ps.executeUpdate();
      }
    });
    ObjectNode gbp = price("price_w_gbp", "gbp", 1200, "week", 2, "licensed");
    subscription(TenantId.of("m-wayne"), "sub_m6", "active", item(gbp, 1)); // 1200 * 52/12 / 2 = 2600
    assertThat(registry.get("saaskit.billing.mrr").tag("currency", "usd").gauge().value()).isEqualTo(28000);
    metrics.refresh();
    assertThat(registry.get("saaskit.billing.mrr").tag("currency", "usd").gauge().value()).isEqualTo(22000);
    assertThat(registry.find("saaskit.billing.mrr").tag("currency", "gbp").gauge()).isNotNull();
    assertThat(registry.get("saaskit.billing.mrr").tag("currency", "gbp").gauge().value()).isEqualTo(2600);
  }

  @Test
  void theRlsAuditFindsNothingWrongWithTheMetricsSchema() {
    AuditReport report = RlsAudit.builder().schemas(BillingSchema.DEFAULT_SCHEMA).build().run(db.appDataSource());
    List<Finding> bad = new ArrayList<>(report.errors());
    bad.addAll(report.warnings());
    assertThat(bad).as(report.toText()).isEmpty();
    assertThat(report.tenantTables()).contains("saaskit_billing.subscriptions", "saaskit_billing.usage_outbox");
  }

  @Test
  void aMeterRegistryOnTheBuilderBindsTheGaugesAndNoneMeansNoMeters() {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    BillingConfig config = BillingConfig.builder().stripeApiKey("sk_test_metrics").clock(clock)
        .meterRegistry(registry).build();
    Billing withMeters = Billing.create(config, db.appDataSource());
    BillingMetrics metrics = withMeters.metrics();
    assertThat(metrics).isNotNull();
    for (String name : List.of("saaskit.billing.subscriptions", "saaskit.billing.trials.started",
        "saaskit.billing.trials.converted", "saaskit.billing.cancellations", "saaskit.billing.webhook.lag",
        "saaskit.billing.events.failed", "saaskit.billing.events.pending", "saaskit.billing.events.parked")) {
      assertThat(registry.find(name).gauges()).as(name).isNotEmpty();
    }
    double pausedBefore = registry.get("saaskit.billing.subscriptions").tag("status", "paused").gauge().value();
    subscription(TenantId.of("m-registry"), "sub_m_registry", "paused",
        item(price("price_m_registry", "usd", 700, "month", 1, "licensed"), 1));
    metrics.refresh();
    assertThat(registry.get("saaskit.billing.subscriptions").tag("status", "paused").gauge().value())
        .isEqualTo(pausedBefore + 1);

    // a variant keeps the registry; a config without one binds nothing
    assertThat(Billing.create(config.toBuilder().build(), db.appDataSource()).metrics()).isNotNull();
    Billing without = Billing.create(BillingConfig.builder().stripeApiKey("sk_test_metrics").clock(clock).build(),
        db.appDataSource());
    assertThat(without.metrics()).isNull();
  }

  /** Runs {@code sql} as the schema owner. */
  static void asOwner(String sql) throws Exception {
    try (Connection c = db.ownerDataSource().getConnection(); var st = c.createStatement()) {
      st.execute(sql);
    }
  }

  @Test
  void aFailedReadShowsNaNAndIsCountedInsteadOfTheLastFigures() throws Exception {
    subscription(TenantId.of("m-stale"), "sub_m_stale", "active",
        item(price("price_m_stale", "chf", 1000, "month", 1, "licensed"), 4));
    try {
      failedReads();
    } finally { // the other tests count active subscriptions
      billing.db().inTransaction(TenantId.of("m-stale"), "test", c -> {
        try (PreparedStatement ps = c.prepareStatement(
            "DELETE FROM saaskit_billing.subscriptions WHERE stripe_id = 'sub_m_stale'")) {
          return ps.executeUpdate();
        }
      });
    }
  }

  private void failedReads() throws Exception {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    BillingMetrics.bind(billing, registry);
    Instant firstRead = clock.instant();
    assertThat(registry.get("saaskit.billing.mrr").tag("currency", "chf").gauge().value()).isEqualTo(4000);
    double active = registry.get("saaskit.billing.subscriptions").tag("status", "active").gauge().value();
    assertThat(active).isPositive();

    // the application role loses the aggregate function: every read fails for real
    String role = db.appRole();
    asOwner("REVOKE EXECUTE ON FUNCTION saaskit_billing.subscription_metrics() FROM " + role);
    try {
      clock.advance(Duration.ofSeconds(BillingMetrics.CACHE_SECONDS + 1));
      // one scrape: every figure is NaN, none of them the last reading; the scrape itself does not fail
      registry.getMeters().forEach(m -> m.measure().forEach(x -> { }));
      for (String name : List.of("saaskit.billing.subscriptions", "saaskit.billing.mrr",
          "saaskit.billing.trials.started", "saaskit.billing.trials.converted", "saaskit.billing.cancellations",
          "saaskit.billing.webhook.lag", "saaskit.billing.events.failed", "saaskit.billing.events.pending",
          "saaskit.billing.events.parked")) {
        assertThat(registry.get(name).gauges()).as(name).isNotEmpty()
            .allSatisfy(g -> assertThat(g.value()).as(name + g.getId().getTags()).isNaN());
      }
      // counted once for the scrape (the failure is cached like a reading), and the last success stays put at the
      // first reading (at bind)
      assertThat(registry.get("saaskit.billing.metrics.read.failures").functionCounter().count()).isEqualTo(1);
      assertThat(registry.get("saaskit.billing.metrics.read.last.success").gauge().value())
          .isEqualTo((double) firstRead.getEpochSecond());
      clock.advance(Duration.ofSeconds(BillingMetrics.CACHE_SECONDS + 1));
      assertThat(registry.get("saaskit.billing.mrr").tag("currency", "chf").gauge().value()).isNaN();
      assertThat(registry.get("saaskit.billing.metrics.read.failures").functionCounter().count()).isEqualTo(2);
    } finally {
      asOwner("GRANT EXECUTE ON FUNCTION saaskit_billing.subscription_metrics() TO " + role);
    }

    // readable again: the figures come back at the next reading
    clock.advance(Duration.ofSeconds(BillingMetrics.CACHE_SECONDS + 1));
    assertThat(registry.get("saaskit.billing.mrr").tag("currency", "chf").gauge().value()).isEqualTo(4000);
    assertThat(registry.get("saaskit.billing.subscriptions").tag("status", "active").gauge().value())
        .isEqualTo(active);
    assertThat(registry.get("saaskit.billing.metrics.read.last.success").gauge().value())
        .isEqualTo((double) clock.instant().getEpochSecond());
    assertThat(registry.get("saaskit.billing.metrics.read.failures").functionCounter().count()).isEqualTo(2);
  }

  @Test
  void theWindowIsChecked() {
    assertThatThrownBy(() -> BillingMetrics.bind(billing, new SimpleMeterRegistry(), Duration.ofMinutes(5)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("window must be between");
  }
}
