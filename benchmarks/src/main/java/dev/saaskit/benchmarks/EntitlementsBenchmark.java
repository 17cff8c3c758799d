package dev.saaskit.benchmarks;

import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.billing.Billing;
import dev.saaskit.billing.BillingConfig;
import dev.saaskit.billing.BillingSchema;
import dev.saaskit.billing.Plan;
import dev.saaskit.billing.Plans;
import dev.saaskit.billing.WebhookResult;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The warm path of "may this tenant use this now?": {@code Billing.hasAccess(tenant)} and {@code
 * entitlements(tenant).has(feature)} / {@code limit(name)} once the tenant's snapshot is cached, ns per call.
 *
 * <p>Run: {@code java -jar benchmarks/target/benchmarks.jar EntitlementsBenchmark}. Figures: docs/benchmarks.md.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Threads(1)
public class EntitlementsBenchmark {
  static final TenantId TENANT = TenantId.of("tenant-0");

  private TestDatabase database;
  private HikariDataSource pool;
  private Billing billing;

  @Setup(Level.Trial)
  public void setUp() throws Exception {
    database = TestDatabase.create();
    BillingSchema schema = BillingSchema.defaults();
    schema.migrate(database.ownerDataSource());
    try (Connection c = database.ownerDataSource().getConnection()) {
      schema.grantApp(c, database.appRole());
    }
    try (Connection c = database.adminDataSource().getConnection(); PreparedStatement ps = c.prepareStatement(
        "INSERT INTO saaskit_billing.customers (tenant_id, stripe_id, raw, state_as_of) VALUES (?, ?, '{}', 'epoch')")) {
      ps.setString(1, TENANT.value());
      ps.setString(2, "cus_bench0");
      ps.execute();
    }
    pool = database.newPool(database.appRole(), database.appPassword(), 2);
    Plans plans = Plans.of(Plan.builder("pro").lookupKeys("pro_monthly").features("sso", "audit-log")
        .limit("projects", 100).build());
    billing = Billing.create(BillingConfig.builder().stripeApiKey("sk_test_benchmark")
        .stripeApiBase("http://127.0.0.1:9").webhookSecrets(BillingWebhookBenchmark.SECRET).refetch(false)
        .plans(plans).build(), pool);
    long now = System.currentTimeMillis() / 1000;
    String body = BillingWebhookBenchmark.subscriptionEvent("evt_ent1", "sub_bench0", "cus_bench0", "active", now,
        now - 60, com.stripe.Stripe.API_VERSION, 3);
    WebhookResult result = billing.webhooks().handle(body, BillingWebhookBenchmark.sign(body));
    if (!result.acknowledged() || !billing.hasAccess(TENANT) || !billing.entitlements(TENANT).has("sso")) {
      throw new IllegalStateException("the tenant must have access and the sso feature: " + result);
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    pool.close();
    database.close();
  }

  @Benchmark
  public boolean hasAccess() {
    return billing.hasAccess(TENANT);
  }

  @Benchmark
  public boolean hasFeature() {
    return billing.entitlements(TENANT).has("sso");
  }

  @Benchmark
  public long limit() {
    return billing.entitlements(TENANT).limitOr("projects", 0);
  }
}
