package dev.saaskit.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.saaskit.billing.BillingSchema;
import dev.saaskit.testing.StripeEmulator;
import dev.saaskit.testing.TestDatabase;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The billing schema (migrated, granted to the application role), a Stripe emulator with a distinctive secret key,
 * and one tenant's customer and subscription made in Stripe only (the mirror knows nothing of them), for the billing
 * command tests.
 */
final class BillingFixtures implements AutoCloseable {
  /** A key no output may show. */
  static final String STRIPE_KEY = "sk_test_CliKeyNeverPrinted_7Qz3";
  static final String KEY_VAR = "SAASKIT_TEST_STRIPE_KEY";
  static final String PASSWORD_VAR = "SAASKIT_TEST_APP_PW";
  static final String TENANT = "cli-acme";
  private static final ObjectMapper JSON = new ObjectMapper();

  final TestDatabase db;
  final StripeEmulator emu;
  final String product;
  final String price;
  final String customer;
  final String subscription;

  BillingFixtures(TestDatabase db) throws SQLException {
    this.db = db;
    BillingSchema.defaults().migrate(db.ownerDataSource());
    try (Connection c = db.ownerDataSource().getConnection()) {
      BillingSchema.defaults().grantApp(c, db.appRole());
    }
    this.emu = StripeEmulator.builder().apiKey(STRIPE_KEY).start();
    this.product = post("/v1/products", Map.of("name", "Pro"));
    this.price = post("/v1/prices", Map.of("product", product, "currency", "usd", "unit_amount", "2000",
        "recurring[interval]", "month"));
    this.customer = post("/v1/customers", Map.of("email", "billing@cli-acme.example", "metadata[tenant_id]", TENANT));
    this.subscription = post("/v1/subscriptions", Map.of("customer", customer, "items[0][price]", price,
        "items[0][quantity]", "3"));
  }

  /** The environment of a run: the Stripe key and the application role's password. */
  Map<String, String> env() {
    return Map.of(KEY_VAR, STRIPE_KEY, PASSWORD_VAR, db.appPassword());
  }

  /** The arguments of {@code billing <command>} logged in as the application role, against the emulator. */
  List<String> args(String command, String... more) {
    List<String> all = new ArrayList<>(List.of("billing", command, "--url", db.jdbcUrl(), "--user", db.appRole(),
        "--password-env", PASSWORD_VAR, "--stripe-key-env", KEY_VAR, "--stripe-api-base", emu.apiBase()));
    all.addAll(List.of(more));
    return all;
  }

  /** POSTs a form to the emulator and returns the created object's id. */
  String post(String path, Map<String, String> params) {
    StringBuilder form = new StringBuilder();
    new LinkedHashMap<>(params).forEach((k, v) -> {
      if (form.length() > 0) {
        form.append('&');
      }
      form.append(URLEncoder.encode(k, StandardCharsets.UTF_8)).append('=')
          .append(URLEncoder.encode(v, StandardCharsets.UTF_8));
    });
    try {
      HttpURLConnection c = (HttpURLConnection) URI.create(emu.apiBase() + path).toURL().openConnection();
      c.setRequestMethod("POST");
      c.setDoOutput(true);
      c.setRequestProperty("Authorization", "Bearer " + STRIPE_KEY);
      c.setRequestProperty("Content-Type", "application/x-www-form-urlencoded");
      try (OutputStream out = c.getOutputStream()) {
        out.write(form.toString().getBytes(StandardCharsets.UTF_8));
      }
      int status = c.getResponseCode();
      try (InputStream in = status == 200 ? c.getInputStream() : c.getErrorStream()) {
        String body = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        if (status != 200) {
          throw new IllegalStateException(path + " answered " + status + ": " + body);
        }
        return JSON.readTree(body).get("id").asText();
      }
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Runs SQL as the superuser (past RLS). */
  void sql(String sql, Object... params) {
    try (Connection c = db.adminDataSource().getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
      for (int i = 0; i < params.length; i++) {
        ps.setObject(i + 1, params[i]);
      }
      ps.execute();
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  /** {@code SELECT count(*) ...} as the superuser. */
  long count(String sql) {
    try (Connection c = db.adminDataSource().getConnection(); PreparedStatement ps = c.prepareStatement(sql);
        ResultSet rs = ps.executeQuery()) {
      rs.next();
      return rs.getLong(1);
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Plants an event the inbox holds as failed, as if its applies had failed. */
  void plantFailedEvent(String id, String error) {
    sql("INSERT INTO saaskit_billing.events (id, type, created, payload, status, attempts, last_error)"
        + " VALUES (?, 'customer.subscription.updated', now(), '{}'::jsonb, 'failed', 3, ?)", id, error);
  }

  /** Plants an event the inbox holds as parked, waiting for {@code customer} to be linked to a tenant. */
  void plantParkedEvent(String id, String customer) {
    sql("INSERT INTO saaskit_billing.events (id, type, created, payload, status, attempts, parked_customer)"
        + " VALUES (?, 'customer.subscription.created', now(), '{}'::jsonb, 'parked', 1, ?)", id, customer);
  }

  @Override
  public void close() {
    emu.close();
  }
}
