package dev.saaskit.billing;

import dev.saaskit.testing.TestDatabase;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.HexFormat;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import javax.sql.DataSource;

/** Test helpers shared by the billing tests: schema set-up, counts past RLS, fixtures, Stripe signatures. */
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
}
