package dev.saaskit.billing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.saaskit.billing.internal.StripeJson;
import dev.saaskit.core.MissingTenantException;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.MutableClock;
import dev.saaskit.testing.PostgresExtension;
import dev.saaskit.testing.StripeEmulator;
import dev.saaskit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Metered usage against real PostgreSQL (RLS as the application role) and the Stripe emulator over HTTP. */
@ExtendWith(PostgresExtension.class)
class UsageTest {
  static TestDatabase db;
  static MutableClock clock = MutableClock.at(Instant.parse("2026-03-01T10:00:00Z"));
  static StripeEmulator emu;
  static Billing billing;
  static int tenantCounter;

  @BeforeAll
  static void setUp(TestDatabase database) throws Exception {
    db = database;
    BillingTestSupport.migrate(db);
    emu = StripeEmulator.builder().clock(clock).seed(13).start();
    billing = billing(b -> b);
  }

  @AfterAll
  static void tearDown() {
    emu.close();
  }

  @AfterEach
  void clearOutbox() throws Exception {
    try (Connection c = db.adminDataSource().getConnection(); Statement st = c.createStatement()) {
      st.execute("DELETE FROM saaskit_billing.usage_outbox");
      st.execute("DELETE FROM saaskit_billing.usage_routes");
    }
  }

  static Billing billing(UnaryOperator<BillingConfig.Builder> tweak) {
    BillingConfig config = tweak.apply(BillingConfig.builder().stripeApiKey(emu.apiKey()).stripeApiBase(emu.apiBase())
        .webhookSecrets(emu.webhookSecret()).clock(clock).stripeMaxRetries(0)).build();
    return Billing.create(config, db.appDataSource());
  }

  /** A new tenant with a Stripe customer in the emulator and in the mirror; returns the customer id. */
  static String customerFor(TenantId tenant) {
    StripeGatewayAccess gw = new StripeGatewayAccess(billing);
    String customer = gw.createCustomer(tenant);
    billing.db().inTransaction(tenant, "test", c -> billing.mirror().upsertCustomer(c, tenant,
        StripeJson.parseObject("{\"id\":\"" + customer + "\",\"object\":\"customer\"}"), clock.instant()));
    return customer;
  }

  /** Creates customers through the billing's gateway (as saaskit does, with metadata.tenant_id). */
  record StripeGatewayAccess(Billing billing) {
    String createCustomer(TenantId tenant) {
      return StripeJson.text(billing.stripe().post("/v1/customers",
          Map.of("metadata", Map.of("tenant_id", tenant.value())), null).json(), "id");
    }
  }

  static TenantId newTenant() {
    return TenantId.of("usage-t" + (++tenantCounter));
  }

  static long pending(TenantId tenant) throws Exception {
    return BillingTestSupport.count(db, "SELECT count(*) FROM saaskit_billing.usage_outbox WHERE tenant_id = ?"
        + " AND status = 'pending'", tenant.value());
  }

  @Test
  void theSameKeyOfOneTenantIsRecordedOnceAndKeysOfTenantsNeverCollide() throws Exception {
    TenantId a = newTenant();
    TenantId b = newTenant();
    boolean first = TenantContext.call(a, () -> billing.usage().record("api_calls", 3, "req-1"));
    boolean again = TenantContext.call(a, () -> billing.usage().record("api_calls", 99, "req-1"));
    boolean other = TenantContext.call(b, () -> billing.usage().record("api_calls", 5, "req-1"));
    assertThat(first).isTrue();
    assertThat(again).isFalse();
    assertThat(other).isTrue();
    assertThat(BillingTestSupport.count(db, "SELECT count(*) FROM saaskit_billing.usage_outbox WHERE tenant_id IN (?, ?)",
        a.value(), b.value())).isEqualTo(2);
    assertThat(BillingTestSupport.count(db, "SELECT sum(value) FROM saaskit_billing.usage_outbox WHERE tenant_id = ?",
        a.value())).isEqualTo(3);
    String idA = Usage.identifier(a, "req-1");
    assertThat(idA).isNotEqualTo(Usage.identifier(b, "req-1")).startsWith("sk_").hasSizeLessThanOrEqualTo(100)
        .isEqualTo(Usage.identifier(TenantId.of(a.value()), "req-1"));
    assertThat(BillingTestSupport.count(db, "SELECT count(*) FROM saaskit_billing.usage_outbox WHERE identifier = ?",
        idA)).isEqualTo(1);
    // the app role sees only the bound tenant's rows
    assertThat(BillingTestSupport.count(db.appDataSource(), "SELECT count(*) FROM saaskit_billing.usage_outbox"))
        .isZero();
  }

  @Test
  void recordNeedsATenantAndValidArguments() {
    assertThatThrownBy(() -> billing.usage().record("api_calls", 1, "k")).isInstanceOf(MissingTenantException.class);
    TenantId t = newTenant();
    assertThatThrownBy(() -> TenantContext.call(t, () -> billing.usage().record("bad meter!", 1, "k")))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("meter");
    assertThatThrownBy(() -> TenantContext.call(t, () -> billing.usage().record("api_calls", -1, "k")))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("value must be >= 0 but was -1");
    assertThatThrownBy(() -> TenantContext.call(t, () -> billing.usage().record("api_calls", 1, "x".repeat(201))))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("idempotencyKey");
    assertThatThrownBy(() -> TenantContext.call(t, () -> billing.usage().record("api_calls", 1, "")))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void keysPostgreSqlCannotStoreOrThatWouldCollideAreRefusedAsBadArguments() throws Exception {
    TenantId t = newTenant();
    // a NUL cannot be stored in text; a lone surrogate becomes '?' on its way to UTF-8, so "k\uD800" would be the
    // same record (and the same Stripe identifier) as "k?": both refused up front, naming the argument
    for (String key : List.of("k\u0000", "k\uD800", "\uDC00k")) {
      assertThatThrownBy(() -> TenantContext.call(t, () -> billing.usage().record("api_calls", 1, key)))
          .as(key).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("idempotencyKey");
    }
    try (Connection c = db.appDataSource().getConnection()) {
      c.setAutoCommit(false);
      assertThatThrownBy(() -> TenantContext.call(t, () -> billing.usage().record(c, "api_calls", 1, "a\u0000")))
          .isInstanceOf(IllegalArgumentException.class);
      // the caller's transaction is still usable
      assertThat(TenantContext.call(t, () -> billing.usage().record(c, "api_calls", 2, "k?"))).isTrue();
      c.commit();
    }
    // a well-formed pair (an emoji) is a fine key
    assertThat(TenantContext.call(t, () -> billing.usage().record("api_calls", 1, "k\uD83D\uDE00"))).isTrue();
    assertThat(BillingTestSupport.count(db, "SELECT count(*) FROM saaskit_billing.usage_outbox WHERE tenant_id = ?",
        t.value())).isEqualTo(2);
  }

  @Test
  void recordInTheCallersTransactionCommitsAndRollsBackWithIt() throws Exception {
    TenantId t = newTenant();
    TenantId other = newTenant();
    try (Connection c = db.appDataSource().getConnection()) {
      c.setAutoCommit(false);
      boolean written = TenantContext.call(t, () -> billing.usage().record(c, "api_calls", 7, "rolled-back"));
      assertThat(written).isTrue();
      c.rollback();
      TenantContext.call(t, () -> billing.usage().record(c, "api_calls", 8, "committed"));
      // same transaction, same tenant: still fine; the binding stays the caller's
      assertThat(TenantContext.call(t, () -> billing.usage().record(c, "api_calls", 8, "committed"))).isFalse();
      c.commit();
      c.setAutoCommit(true);
      assertThatThrownBy(() -> TenantContext.call(t, () -> billing.usage().record(c, "api_calls", 1, "auto")))
          .isInstanceOf(IllegalStateException.class).hasMessageContaining("auto-commit");
      c.setAutoCommit(false);
      TenantContext.call(t, () -> billing.usage().record(c, "api_calls", 1, "bound"));
      assertThatThrownBy(() -> TenantContext.call(other, () -> billing.usage().record(c, "api_calls", 1, "x")))
          .isInstanceOf(BillingException.class).hasMessageContaining("another tenant");
      c.rollback();
    }
    assertThat(BillingTestSupport.count(db, "SELECT count(*) FROM saaskit_billing.usage_outbox WHERE tenant_id = ?",
        t.value())).isEqualTo(1);
    assertThat(BillingTestSupport.count(db, "SELECT count(*) FROM saaskit_billing.usage_outbox WHERE idempotency_key"
        + " = 'committed' AND value = 8")).isEqualTo(1);
  }

  @Test
  void sendPendingSendsEachRecordOnceAndForgetsDrainedTenants() throws Exception {
    TenantId t = newTenant();
    String customer = customerFor(t);
    long sum = 0;
    for (int i = 0; i < 25; i++) {
      int v = i + 1;
      sum += v;
      TenantContext.run(t, () -> billing.usage().record("tokens", v, "op-" + v));
    }
    UsageReport report = billing.usage().sendPending();
    assertThat(report.sent()).isEqualTo(25);
    assertThat(report.alreadyCounted()).isZero();
    assertThat(report.failed()).isEmpty();
    assertThat(emu.meterEventTotal(customer, "tokens")).isEqualTo(sum);
    assertThat(pending(t)).isZero();
    assertThat(BillingTestSupport.count(db, "SELECT count(*) FROM saaskit_billing.usage_routes")).isZero();
    assertThat(billing.usage().sendPending().isEmpty()).isTrue();
    assertThat(emu.meterEventTotal(customer, "tokens")).isEqualTo(sum);
  }

  @Test
  void aSenderKilledMidBatchLosesNothingAndCountsNothingTwice() throws Exception {
    TenantId t = newTenant();
    String customer = customerFor(t);
    Random random = new Random(42);
    long sum = 0;
    for (int i = 0; i < 30; i++) {
      long v = 1L + random.nextInt(1000);
      sum += v;
      TenantContext.run(t, () -> billing.usage().record("requests", v, "crash-" + v + "-" + random.nextLong()));
    }
    Billing crashing = billing(b -> b.usageBatchSize(20));
    int[] sends = {0};
    crashing.usage().sender().hook(id -> {
      if (++sends[0] == 7) {
        throw new IllegalStateException("killed after 7 sends");
      }
    });
    assertThatThrownBy(() -> crashing.usage().sendPending()).hasMessageContaining("killed");
    // its transaction rolled back: every row is still pending, though Stripe counted 7 of them
    assertThat(pending(t)).isEqualTo(30);
    long counted = emu.meterEventTotal(customer, "requests");
    assertThat(counted).isPositive().isLessThan(sum);

    UsageReport first = billing(b -> b.usageBatchSize(20)).usage().sendPending();
    UsageReport second = billing(b -> b.usageBatchSize(20)).usage().sendPending();
    assertThat(first.alreadyCounted()).isEqualTo(7);
    assertThat(first.sent() + second.sent()).isEqualTo(23);
    assertThat(first.failed()).isEmpty();
    assertThat(second.failed()).isEmpty();
    assertThat(pending(t)).isZero();
    assertThat(emu.meterEventTotal(customer, "requests")).isEqualTo(sum);
  }

  @Test
  void parallelSendersNeverDoubleCount() throws Exception {
    int tenants = 6;
    int perTenant = 60;
    Map<String, Long> expected = new HashMap<>();
    Random random = new Random(7);
    for (int i = 0; i < tenants; i++) {
      TenantId t = newTenant();
      String customer = customerFor(t);
      long sum = 0;
      for (int j = 0; j < perTenant; j++) {
        long v = (long) random.nextInt(50);
        sum += v;
        int k = j;
        TenantContext.run(t, () -> billing.usage().record("seats_used", v, "p-" + k));
      }
      expected.put(customer, sum);
    }
    int threads = 8;
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    CountDownLatch start = new CountDownLatch(1);
    List<Future<int[]>> results = new ArrayList<>();
    for (int i = 0; i < threads; i++) {
      Billing mine = billing(b -> b.usageBatchSize(7));
      results.add(pool.submit(() -> {
        start.await();
        int sent = 0;
        int already = 0;
        for (int round = 0; round < 100; round++) {
          UsageReport r = mine.usage().sendPending();
          sent += r.sent();
          already += r.alreadyCounted();
          if (r.isEmpty() && round > 20) {
            break;
          }
        }
        return new int[] {sent, already};
      }));
    }
    start.countDown();
    int sent = 0;
    int already = 0;
    for (Future<int[]> f : results) {
      int[] r = f.get(5, TimeUnit.MINUTES);
      sent += r[0];
      already += r[1];
    }
    pool.shutdown();
    assertThat(sent).isEqualTo(tenants * perTenant);
    assertThat(already).isZero();
    for (Map.Entry<String, Long> e : expected.entrySet()) {
      assertThat(emu.meterEventTotal(e.getKey(), "seats_used")).as(e.getKey()).isEqualTo(e.getValue());
    }
    assertThat(BillingTestSupport.count(db, "SELECT count(*) FROM saaskit_billing.usage_outbox WHERE status <> 'sent'"))
        .isZero();
  }

  @Test
  void manyThreadsRecordingForAlternatingTenantsNeverCrossTenants() throws Exception {
    int tenantCount = 8;
    List<TenantId> tenants = new ArrayList<>();
    for (int i = 0; i < tenantCount; i++) {
      tenants.add(newTenant());
    }
    int threads = 16;
    int perThread = 80;
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    CountDownLatch start = new CountDownLatch(1);
    List<Future<?>> done = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      int thread = t;
      done.add(pool.submit(() -> {
        start.await();
        for (int i = 0; i < perThread; i++) {
          TenantId tenant = tenants.get((thread + i) % tenantCount);
          long value = tenantCount * 1000L + tenants.indexOf(tenant); // the value names the tenant it was recorded for
          String key = "k-" + thread + "-" + i;
          if (i % 2 == 0) {
            TenantContext.run(tenant, () -> billing.usage().record("calls", value, key));
          } else {
            try (Connection c = db.appDataSource().getConnection()) {
              c.setAutoCommit(false);
              TenantContext.run(tenant, () -> billing.usage().record(c, "calls", value, key));
              c.commit();
            }
          }
        }
        return null;
      }));
    }
    start.countDown();
    for (Future<?> f : done) {
      f.get(5, TimeUnit.MINUTES);
    }
    pool.shutdown();
    assertThat(BillingTestSupport.count(db, "SELECT count(*) FROM saaskit_billing.usage_outbox"))
        .isEqualTo((long) threads * perThread);
    for (int i = 0; i < tenantCount; i++) {
      TenantId tenant = tenants.get(i);
      assertThat(BillingTestSupport.count(db, "SELECT count(*) FROM saaskit_billing.usage_outbox WHERE tenant_id = ?"
          + " AND value <> ?", tenant.value(), tenantCount * 1000L + i)).as(tenant.value()).isZero();
      assertThat(BillingTestSupport.count(db, "SELECT count(*) FROM saaskit_billing.usage_outbox WHERE tenant_id = ?",
          tenant.value())).isEqualTo((long) threads * perThread / tenantCount);
    }
  }

  @Test
  void retryableFailuresWaitAndRefusalsFailWithTheirError() throws Exception {
    TenantId t = newTenant();
    String customer = customerFor(t);
    TenantContext.run(t, () -> billing.usage().record("calls", 10, "r-1"));
    emu.failNextRequests(1, 503, null);
    UsageReport down = billing.usage().sendPending();
    assertThat(down.retried()).isEqualTo(1);
    assertThat(down.retrying()).singleElement().satisfies(f -> {
      assertThat(f.tenant()).isEqualTo(t);
      assertThat(f.attempts()).isEqualTo(1);
      assertThat(f.error()).contains("503");
    });
    // not due yet: nothing is sent
    assertThat(billing.usage().sendPending().sent()).isZero();
    assertThat(emu.meterEventTotal(customer, "calls")).isZero();
    clock.advance(Duration.ofSeconds(31));
    assertThat(billing.usage().sendPending().sent()).isEqualTo(1);
    assertThat(emu.meterEventTotal(customer, "calls")).isEqualTo(10);

    TenantContext.run(t, () -> billing.usage().record("calls", 5, "r-2"));
    emu.failNextRequests(1, 400, null);
    UsageReport refused = billing.usage().sendPending();
    assertThat(refused.failed()).singleElement().satisfies(f -> assertThat(f.error()).contains("400"));
    assertThat(BillingTestSupport.count(db, "SELECT count(*) FROM saaskit_billing.usage_outbox WHERE tenant_id = ?"
        + " AND status = 'failed' AND last_error LIKE '%400%'", t.value())).isEqualTo(1);
    assertThat(BillingTestSupport.count(db, "SELECT count(*) FROM saaskit_billing.usage_routes WHERE"
        + " routed_tenant_id = ?", t.value())).isZero();
  }

  @Test
  void anOutageCostsOneFailingCallPerRunNotOnePerRecord() throws Exception {
    TenantId a = newTenant();
    TenantId b = newTenant();
    String customerA = customerFor(a);
    String customerB = customerFor(b);
    for (int i = 0; i < 5; i++) {
      String key = "o-" + i;
      TenantContext.run(a, () -> billing.usage().record("calls", 1, key));
      TenantContext.run(b, () -> billing.usage().record("calls", 2, key));
    }
    int before = emu.requestCount("POST", "/v1/billing/meter_events");
    UsageReport down;
    emu.down(true);
    try {
      down = billing.usage().sendPending();
    } finally {
      emu.down(false);
    }
    // the first record's failure ends the run: nine more failing calls (each with its retries and waits, while a
    // transaction holds the batch) would tell nothing new
    assertThat(emu.requestCount("POST", "/v1/billing/meter_events") - before).isEqualTo(1);
    assertThat(down.sent()).isZero();
    assertThat(down.retrying()).singleElement().satisfies(f -> assertThat(f.attempts()).isEqualTo(1));
    assertThat(pending(a) + pending(b)).isEqualTo(10);
    assertThat(BillingTestSupport.count(db, "SELECT count(*) FROM saaskit_billing.usage_outbox WHERE attempts > 0"))
        .isEqualTo(1);

    clock.advance(Duration.ofSeconds(31));
    assertThat(billing.usage().sendPending().sent()).isEqualTo(10);
    assertThat(emu.meterEventTotal(customerA, "calls")).isEqualTo(5);
    assertThat(emu.meterEventTotal(customerB, "calls")).isEqualTo(10);
  }

  @Test
  void recordsRunOutOfAttemptsAndTenantsWithoutCustomerWait() throws Exception {
    TenantId noCustomer = newTenant();
    TenantContext.run(noCustomer, () -> billing.usage().record("calls", 1, "n-1"));
    Billing twoTries = billing(b -> b.usageMaxAttempts(2));
    UsageReport waiting = twoTries.usage().sendPending();
    assertThat(waiting.retrying()).singleElement()
        .satisfies(f -> assertThat(f.error()).contains("no Stripe customer"));
    assertThat(pending(noCustomer)).isEqualTo(1);
    clock.advance(Duration.ofMinutes(2));
    UsageReport gaveUp = twoTries.usage().sendPending();
    assertThat(gaveUp.failed()).singleElement().satisfies(f -> {
      assertThat(f.attempts()).isEqualTo(2);
      assertThat(f.error()).contains("gave up after 2 attempts");
    });
    assertThat(pending(noCustomer)).isZero();
  }
}
