package dev.saaskit.billing;

import dev.saaskit.billing.internal.StripeJson;
import dev.saaskit.core.TenantId;
import dev.saaskit.testing.TestDatabase;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Instant;
import java.util.HexFormat;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import javax.sql.DataSource;

/**
 * Test helpers shared by the billing tests: schema set-up, counts past RLS, fixtures, Stripe signatures, and
 * offline billing fed by signed events.
 */
final class BillingTestSupport {
  private BillingTestSupport() {}

  /** Migrates the billing schema as the owner and grants the app role. */
  public static void migrate(TestDatabase db) throws SQLException {
    BillingSchema.defaults().migrate(db.ownerDataSource());
    try (Connection c = db.ownerDataSource().getConnection()) {
      BillingSchema.defaults().grantApp(c, db.appRole());
    }
  }

  /** {@code SELECT count(*) ...} as the superuser (past RLS). */
  public static long count(TestDatabase db, String sql, Object... args) throws SQLException {
    return count(db.adminDataSource(), sql, args);
  }

  /** {@code SELECT count(*) ...} on {@code ds}. */
  public static long count(DataSource ds, String sql, Object... args) throws SQLException {
    try (Connection c = ds.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
      for (int i = 0; i < args.length; i++) {
        ps.setObject(i + 1, args[i]);
      }
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getLong(1);
      }
    }
  }

  /**
   * A real Stripe event payload from src/test/resources/stripe-fixtures (copied unchanged from the public projects
   * named in its README), e.g. {@code "stripe-ruby-mock/customer.created.json"}.
   */
  public static String fixture(String path) {
    String resource = "stripe-fixtures/" + path;
    try (InputStream in = BillingTestSupport.class.getClassLoader().getResourceAsStream(resource)) {
      if (in == null) {
        throw new IllegalArgumentException("no fixture " + resource);
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The {@code Stripe-Signature} header Stripe sends for {@code payload} signed at {@code epochSeconds}. */
  public static String signature(String payload, String secret, long epochSeconds) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
      byte[] sig = mac.doFinal((epochSeconds + "." + payload).getBytes(StandardCharsets.UTF_8));
      return "t=" + epochSeconds + ",v1=" + HexFormat.of().formatHex(sig);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  /** A configuration with no reachable Stripe and no refetch: the mirror holds exactly what signed events say. */
  public static BillingConfig.Builder offline(String webhookSecret, Clock clock) {
    return BillingConfig.builder().stripeApiKey("sk_test_unused").stripeApiBase("http://127.0.0.1:9")
        .webhookSecrets(webhookSecret).refetch(false).clock(clock);
  }

  /** Links Stripe customer {@code customerId} to {@code tenant}, as checkout or {@code ensureCustomer} would. */
  public static void linkCustomer(Billing billing, TenantId tenant, String customerId) {
    billing.db().inTransaction(tenant, "link", c -> billing.mirror().upsertCustomer(c, tenant,
        StripeJson.parseObject("{\"id\":\"" + customerId + "\",\"object\":\"customer\"}"), Instant.EPOCH));
  }

  /** Delivers a signed event of {@code type} created at {@code created} about {@code object} (JSON), signed now. */
  public static WebhookResult deliver(Billing billing, String webhookSecret, Clock clock, String eventId, String type,
      long created, String object) {
    String body = "{\"id\":\"" + eventId + "\",\"object\":\"event\",\"type\":\"" + type + "\",\"created\":" + created
        + ",\"api_version\":\"2026-07-29.dahlia\",\"livemode\":false,\"data\":{\"object\":" + object + "}}";
    return billing.webhooks().handle(body, signature(body, webhookSecret, clock.instant().getEpochSecond()));
  }
}
