package dev.saaskit.auth.saml.internal;

import dev.saaskit.auth.AuthSchema;
import dev.saaskit.auth.internal.Tx;
import dev.saaskit.core.internal.SqlNames;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.PreparedStatement;
import java.sql.Timestamp;
import java.time.Instant;
import javax.sql.DataSource;

/**
 * The service provider's rows in {@code saml_requests} and {@code saml_assertions}: only SHA-256 hashes of ids,
 * with the time after which a row no longer matters. No tenant: these are not tenant data.
 */
public final class SamlState {
  private final DataSource dataSource;
  private final AuthSchema schema;
  private final String requests;
  private final String assertions;

  /** State in {@code schema}, reached through {@code dataSource} (the application role). */
  public SamlState(DataSource dataSource, AuthSchema schema) {
    this.dataSource = dataSource;
    this.schema = schema;
    String s = SqlNames.quoteIdent(schema.name());
    this.requests = s + ".saml_requests";
    this.assertions = s + ".saml_assertions";
  }

  /** SHA-256 of the parts joined by NUL characters. */
  public static byte[] hash(String... parts) {
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      for (int i = 0; i < parts.length; i++) {
        if (i > 0) {
          sha.update((byte) 0);
        }
        sha.update(parts[i].getBytes(StandardCharsets.UTF_8));
      }
      return sha.digest();
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JDK", e);
    }
  }

  /** Records an outstanding request until {@code expiresAt}. */
  public void addRequest(byte[] requestHash, Instant expiresAt) {
    Tx.run(dataSource, schema.tenantSetting(), null, "recording a SAML AuthnRequest", c -> {
      try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + requests
          + " (request_hash, expires_at) VALUES (?, ?)")) {
        ps.setBytes(1, requestHash);
        ps.setTimestamp(2, Timestamp.from(expiresAt));
        return ps.executeUpdate();
      }
    });
  }

  /** The outcome of {@link #accept}. */
  public enum Outcome {
    /** The assertion was recorded and the request consumed. */
    ACCEPTED,
    /** The assertion was already recorded. */
    REPLAYED,
    /** No outstanding, unexpired request has this hash. */
    UNKNOWN_REQUEST
  }

  /**
   * In one transaction: records the assertion ({@code INSERT ... ON CONFLICT DO NOTHING}) and consumes the
   * request; if either fails, nothing is kept. Concurrent calls for the same assertion: PostgreSQL makes the
   * second insert wait for the first transaction, so at most one is {@link Outcome#ACCEPTED}.
   */
  public Outcome accept(byte[] assertionHash, Instant keepUntil, byte[] requestHash, Instant now) {
    return Tx.run(dataSource, schema.tenantSetting(), null, "recording a SAML assertion", c -> {
      try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + assertions
          + " (assertion_hash, expires_at) VALUES (?, ?) ON CONFLICT (assertion_hash) DO NOTHING")) {
        ps.setBytes(1, assertionHash);
        ps.setTimestamp(2, Timestamp.from(keepUntil));
        if (ps.executeUpdate() == 0) {
          c.rollback();
          return Outcome.REPLAYED;
        }
      }
      try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + requests
          + " WHERE request_hash = ? AND expires_at > ?")) {
        ps.setBytes(1, requestHash);
        ps.setTimestamp(2, Timestamp.from(now));
        if (ps.executeUpdate() == 0) {
          c.rollback();
          return Outcome.UNKNOWN_REQUEST;
        }
      }
      return Outcome.ACCEPTED;
    });
  }

  /** Deletes the rows that expired before {@code now}; returns how many. */
  public int prune(Instant now) {
    return Tx.run(dataSource, schema.tenantSetting(), null, "pruning expired SAML state", c -> {
      int deleted = 0;
      for (String table : new String[] {requests, assertions}) {
        try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + table + " WHERE expires_at <= ?")) {
          ps.setTimestamp(1, Timestamp.from(now));
          deleted += ps.executeUpdate();
        }
      }
      return deleted;
    });
  }
}
