package dev.saaskit.benchmarks;

import com.stripe.model.Event;
import com.stripe.net.Webhook;
import com.zaxxer.hikari.HikariDataSource;
import dev.saaskit.billing.Billing;
import dev.saaskit.billing.BillingConfig;
import dev.saaskit.billing.BillingSchema;
import dev.saaskit.billing.WebhookResult;
import dev.saaskit.testing.StripeEmulator;
import dev.saaskit.testing.TestDatabase;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.util.HexFormat;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Webhook events applied per second, end to end: {@code BillingWebhooks.handle} verifies the signature, records the
 * event in the inbox, resolves the tenant and applies the subscription to the mirror under RLS, one transaction per
 * event, on {@value #THREADS} threads and a pool of as many connections. {@code refetch=off} applies the payload;
 * {@code refetch=on} sends events of another API version, so each one is refetched from a local {@code
 * StripeEmulator} over HTTP. {@code handRolled} is the blog-post handler for scale: stripe-java's {@code
 * Webhook.constructEvent} (verify + Gson) and one upsert of the raw JSON, no inbox status, no tenant, no ordering.
 *
 * <p>The warm-up is a minute: throughput keeps rising for about 50 s (PostgreSQL and the JIT settling).
 *
 * <p>Run: {@code java -jar benchmarks/target/benchmarks.jar BillingWebhookBenchmark}. Figures: docs/benchmarks.md.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@Warmup(iterations = 6, time = 10)
@Measurement(iterations = 5, time = 10)
@Threads(BillingWebhookBenchmark.THREADS)
public class BillingWebhookBenchmark {
  static final int THREADS = 4;
  static final int TENANTS = 200;
  static final String SECRET = "whsec_benchmark_secret_0123456789";

  @Param({"off", "on"})
  String refetch;

  private TestDatabase database;
  private HikariDataSource pool;
  private StripeEmulator emulator;
  private Billing billing;
  private final AtomicLong sequence = new AtomicLong();
  private String[] subscriptionIds;
  private String[] customerIds;
  private long createdBase;
  private String apiVersion;

  @Setup(Level.Trial)
  public void setUp() throws Exception {
    database = TestDatabase.create();
    BillingSchema schema = BillingSchema.defaults();
    schema.migrate(database.ownerDataSource());
    try (Connection c = database.ownerDataSource().getConnection(); Statement st = c.createStatement()) {
      schema.grantApp(c, database.appRole());
      st.execute("CREATE TABLE public.hand_rolled_events (id text PRIMARY KEY, type text NOT NULL, payload jsonb NOT NULL)");
      st.execute("GRANT SELECT, INSERT, UPDATE ON public.hand_rolled_events TO " + database.appRole());
    }
    pool = database.newPool(database.appRole(), database.appPassword(), THREADS);
    subscriptionIds = new String[TENANTS];
    customerIds = new String[TENANTS];
    BillingConfig.Builder config = BillingConfig.builder().webhookSecrets(SECRET);
    if ("on".equals(refetch)) {
      emulator = StripeEmulator.builder().webhookSecret(SECRET).start();
      config.stripeApiKey(emulator.apiKey()).stripeApiBase(emulator.apiBase()).refetch(true);
      BenchmarkStripe.seed(emulator, TENANTS, customerIds, subscriptionIds);
      apiVersion = "2020-08-27";
    } else {
      config.stripeApiKey("sk_test_benchmark").stripeApiBase("http://127.0.0.1:9").refetch(false);
      for (int t = 0; t < TENANTS; t++) {
        customerIds[t] = "cus_bench" + t;
        subscriptionIds[t] = "sub_bench" + t;
      }
      apiVersion = com.stripe.Stripe.API_VERSION;  // the pinned one: no refetch
    }
    try (Connection c = database.adminDataSource().getConnection(); PreparedStatement ps = c.prepareStatement(
        "INSERT INTO saaskit_billing.customers (tenant_id, stripe_id, raw, state_as_of) VALUES (?, ?, '{}', 'epoch')"
            + " ON CONFLICT DO NOTHING")) {
      for (int t = 0; t < TENANTS; t++) {
        ps.setString(1, "tenant-" + t);
        ps.setString(2, customerIds[t]);
        ps.addBatch();
      }
      ps.executeBatch();
    }
    billing = Billing.create(config.build(), pool);
    createdBase = System.currentTimeMillis() / 1000 - 3600;
    WebhookResult first = billing.webhooks().handle(body(0), sign(body(0)));
    if (!first.acknowledged()) {
      throw new IllegalStateException("the benchmark's first event was not applied: " + first);
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    for (AutoCloseable c : new AutoCloseable[] {pool, emulator, database}) {
      if (c != null) {
        try {
          c.close();
        } catch (Exception e) {
          System.err.println("closing " + c + " failed: " + e);
        }
      }
    }
  }

  @Benchmark
  public WebhookResult saaskit() {
    long n = sequence.incrementAndGet();
    String body = body(n);
    WebhookResult result = billing.webhooks().handle(body, sign(body));
    if (!result.acknowledged()) {
      throw new IllegalStateException(result.toString());
    }
    return result;
  }

  @Benchmark
  public int handRolled() throws Exception {
    long n = sequence.incrementAndGet();
    String body = body(n);
    Event event = Webhook.constructEvent(body, sign(body), SECRET);
    try (Connection c = pool.getConnection(); PreparedStatement ps = c.prepareStatement(
        "INSERT INTO public.hand_rolled_events (id, type, payload) VALUES (?, ?, ?::jsonb)"
            + " ON CONFLICT (id) DO UPDATE SET payload = EXCLUDED.payload")) {
      ps.setString(1, event.getId());
      ps.setString(2, event.getType());
      ps.setString(3, body);
      return ps.executeUpdate();
    }
  }

  private String body(long n) {
    int t = (int) (n % TENANTS);
    return subscriptionEvent("evt_bench" + n, subscriptionIds[t], customerIds[t], n % 2 == 0 ? "active" : "past_due",
        createdBase + n, createdBase, apiVersion, 1 + n % 7);
  }

  /** A {@code customer.subscription.updated} event of one licensed item (price lookup key {@code pro_monthly}). */
  static String subscriptionEvent(String eventId, String subscriptionId, String customerId, String status,
      long created, long periodStart, String apiVersion, long quantity) {
    return "{\"id\":\"" + eventId + "\",\"object\":\"event\",\"api_version\":\"" + apiVersion + "\",\"created\":"
        + created + ",\"type\":\"customer.subscription.updated\",\"livemode\":false,\"pending_webhooks\":1,"
        + "\"data\":{\"object\":{\"id\":\"" + subscriptionId + "\",\"object\":\"subscription\",\"customer\":\""
        + customerId + "\",\"status\":\"" + status + "\",\"created\":" + periodStart
        + ",\"cancel_at_period_end\":false,\"collection_method\":\"charge_automatically\",\"items\":{\"object\":\"list\","
        + "\"data\":[{\"id\":\"si_" + subscriptionId + "\",\"object\":\"subscription_item\",\"quantity\":" + quantity
        + ",\"current_period_start\":" + periodStart + ",\"current_period_end\":" + (periodStart + 2_592_000)
        + ",\"price\":{\"id\":\"price_bench\",\"object\":\"price\",\"product\":\"prod_bench\",\"unit_amount\":1000,"
        + "\"currency\":\"usd\",\"recurring\":{\"interval\":\"month\",\"interval_count\":1,\"usage_type\":\"licensed\"},"
        + "\"lookup_key\":\"pro_monthly\",\"active\":true}}]},\"metadata\":{}}}}";
  }

  static String sign(String payload) {
    long now = System.currentTimeMillis() / 1000;
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(SECRET.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
      return "t=" + now + ",v1=" + HexFormat.of().formatHex(
          mac.doFinal((now + "." + payload).getBytes(StandardCharsets.UTF_8)));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }
}
