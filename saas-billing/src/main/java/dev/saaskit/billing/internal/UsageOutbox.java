package dev.saaskit.billing.internal;

import dev.saaskit.billing.BillingException;
import dev.saaskit.core.TenantId;
import dev.saaskit.core.TenantSetting;
import dev.saaskit.core.internal.SqlNames;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.Base64;
import java.util.Objects;
import java.util.regex.Pattern;

/** Writes usage records into the usage outbox (under the tenant's RLS) and derives their Stripe identifiers. */
public final class UsageOutbox {
  private static final Pattern METER = Pattern.compile("[A-Za-z0-9_.:-]{1,100}");
  /** The longest idempotency key accepted (the column allows 200 characters). */
  public static final int MAX_KEY_LENGTH = 200;

  private final String s;
  private final String tenantSetting;

  public UsageOutbox(String schema, TenantSetting setting) {
    this.s = SqlNames.quoteIdent(schema);
    this.tenantSetting = setting.name();
  }

  /** Checks the arguments of a usage record; {@link IllegalArgumentException} naming the bad one. */
  public static void validate(String meter, long value, String idempotencyKey) {
    Objects.requireNonNull(meter, "meter");
    Objects.requireNonNull(idempotencyKey, "idempotencyKey");
    if (!METER.matcher(meter).matches()) {
      throw new IllegalArgumentException(
          "meter must be Stripe's meter event_name, 1-100 of [A-Za-z0-9_.:-], but was '" + meter + "'");
    }
    if (value < 0) {
      throw new IllegalArgumentException("value must be >= 0 but was " + value);
    }
    if (idempotencyKey.isEmpty() || idempotencyKey.length() > MAX_KEY_LENGTH) {
      throw new IllegalArgumentException("idempotencyKey must be 1-" + MAX_KEY_LENGTH + " characters but had "
          + idempotencyKey.length());
    }
    // PostgreSQL's text cannot hold a NUL (the insert would fail, and abort the caller's transaction), and a lone
    // surrogate turns into '?' on its way to UTF-8: "k\uD800" would be the same record and identifier as "k?"
    for (int i = 0; i < idempotencyKey.length(); i++) {
      char ch = idempotencyKey.charAt(i);
      boolean lone = Character.isHighSurrogate(ch)
          ? i + 1 >= idempotencyKey.length() || !Character.isLowSurrogate(idempotencyKey.charAt(++i))
          : Character.isLowSurrogate(ch);
      if (ch == 0 || lone) {
        throw new IllegalArgumentException("idempotencyKey must not contain a NUL character or an unpaired surrogate");
      }
    }
  }

  /**
   * The meter event identifier of (tenant, key): {@code sk_} and the unpadded base64url SHA-256 of the tenant, a
   * NUL and the key (46 characters). Stable across runs and machines, so a resend carries the same identifier, and
   * distinct across tenants with the same key.
   */
  public static String identifier(TenantId tenant, String idempotencyKey) {
    MessageDigest sha;
    try {
      sha = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
    sha.update(tenant.value().getBytes(StandardCharsets.UTF_8));
    sha.update((byte) 0);
    sha.update(idempotencyKey.getBytes(StandardCharsets.UTF_8));
    return "sk_" + Base64.getUrlEncoder().withoutPadding().encodeToString(sha.digest());
  }

  /**
   * Binds {@code tenant} to the caller's open transaction on {@code c} (transaction-local), unless it is already
   * bound to it. Fails when {@code c} is in auto-commit mode (the binding would not outlive the statement) or when
   * the transaction is bound to another tenant.
   */
  public void bindCallerTransaction(Connection c, TenantId tenant) throws SQLException {
    if (c.getAutoCommit()) {
      throw new IllegalStateException("record(Connection, ...) writes in the caller's transaction: the connection is"
          + " in auto-commit mode; call setAutoCommit(false) first, or use record(meter, value, key)");
    }
    String current;
    try (PreparedStatement ps = c.prepareStatement("SELECT current_setting(?, true)")) {
      ps.setString(1, tenantSetting);
      try (ResultSet rs = ps.executeQuery()) {
        current = rs.next() ? rs.getString(1) : null;
      }
    }
    if (current != null && !current.isEmpty()) {
      if (!current.equals(tenant.value())) {
        throw new BillingException("the caller's transaction is bound to another tenant than the current "
            + "TenantContext: usage is not recorded");
      }
      return;
    }
    try (PreparedStatement ps = c.prepareStatement("SELECT set_config(?, ?, true)")) {
      ps.setString(1, tenantSetting);
      ps.setString(2, tenant.value());
      ps.execute();
    }
  }

  /**
   * Inserts a pending record of {@code tenant} on {@code c} (whose transaction is bound to the tenant); false when
   * (tenant, key) was recorded before (nothing is written).
   */
  public boolean insert(Connection c, TenantId tenant, String meter, long value, String idempotencyKey,
      Instant occurredAt) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + s + ".usage_outbox"
        + " (tenant_id, meter, value, idempotency_key, identifier, occurred_at, next_attempt_at)"
        + " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING")) {
      Timestamp at = Timestamp.from(occurredAt);
      ps.setString(1, tenant.value());
      ps.setString(2, meter);
      ps.setLong(3, value);
      ps.setString(4, idempotencyKey);
      ps.setString(5, identifier(tenant, idempotencyKey));
      ps.setTimestamp(6, at);
      ps.setTimestamp(7, at);
      return ps.executeUpdate() == 1;
    }
  }
}
