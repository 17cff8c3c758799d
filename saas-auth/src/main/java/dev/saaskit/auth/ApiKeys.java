package dev.saaskit.auth;

import dev.saaskit.auth.InvalidTokenException.Reason;
import dev.saaskit.auth.internal.ApiKeyFormat;
import dev.saaskit.auth.internal.Tx;
import dev.saaskit.core.SaasException;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.core.internal.LogText;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tenant-owned API keys: created with scopes that never exceed the creator's permissions, shown once, stored only as
 * a hash, verified into the same {@link Principal} a token gives (so {@link Authorizer} does not care how the
 * caller authenticated), revoked without losing the row, and marked used without a write per request.
 *
 * <pre>{@code
 * ApiKeys apiKeys = ApiKeys.builder(appDataSource, authorizer).pepper("2026-12", pepperBytes).build().start();
 * CreatedApiKey created = apiKeys.create(tenant, admin, "CI deploys", Set.of("project:write"), null);
 * show(created.key());                          // once
 * Principal caller = apiKeys.verify(presented); // or InvalidTokenException (BAD_API_KEY, REVOKED, EXPIRED)
 * }</pre>
 *
 * <p>A key reads {@code sk_live_<tenant>_<publicId>_<secret><check>}: a greppable prefix (secret scanners and
 * {@code grep} find leaked keys), the owning tenant (base32, so a key is looked up under that tenant's row-level
 * security with no lookup around it), a 12-character public id (shown in listings), 256 random bits of secret,
 * and a 6-character CRC-32 check, so a mistyped or truncated key is refused without a query. The stored hash is
 * HMAC-SHA-256 of the whole key with the newest server pepper (or SHA-256 without one), compared in constant
 * time; each row remembers its pepper id, so peppers can be added without invalidating older keys.
 *
 * <p>{@link Builder#build()} starts nothing; {@link #start()} (once) starts one daemon thread that writes the last-use
 * times gathered in memory, in one {@code UPDATE} per tenant every {@link Builder#lastUsedFlushInterval} (1 minute by
 * default); {@link #close()} stops it within the {@linkplain Builder#closeTimeout close timeout} (10 s by default)
 * and writes what is pending. Thread-safe.
 */
public final class ApiKeys implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ApiKeys.class);
  /** The issuer of API-key principals. */
  public static final String ISSUER = "saaskit:api-key";
  private static final byte[] NO_HASH = new byte[32];
  /** The latest expiry accepted (later ones are a key that never expires: pass null). */
  private static final Instant MAX_EXPIRY = Instant.parse("9999-12-31T23:59:59Z");

  private final DataSource dataSource;
  private final AuthSchema schema;
  private final Authorizer authorizer;
  private final Clock clock;
  private final SecureRandom random;
  private final String prefix;
  private final Map<String, byte[]> peppers;
  private final @Nullable String currentPepper;
  private final Duration flushInterval;
  private final Duration closeTimeout;
  private final ConcurrentHashMap<TenantId, ConcurrentHashMap<String, Instant>> used = new ConcurrentHashMap<>();
  private final Object lifecycle = new Object();
  private @Nullable ScheduledExecutorService flusher;
  private boolean started;
  private volatile boolean closed; // written under lifecycle
  /** Opened when the first close() has written the pending times (or given up at the close timeout). */
  private final CountDownLatch closeDone = new CountDownLatch(1);

  private ApiKeys(Builder b) {
    this.dataSource = b.dataSource;
    this.schema = b.schema;
    this.authorizer = b.authorizer;
    this.clock = b.clock;
    this.random = b.random;
    this.prefix = b.prefix + b.environment + "_";
    this.peppers = Map.copyOf(b.peppers);
    this.currentPepper = b.currentPepper;
    this.flushInterval = b.flushInterval;
    this.closeTimeout = b.closeTimeout;
  }

  /**
   * A builder for keys stored through {@code appDataSource} (the application role, after
   * {@link AuthSchema#grantApp}), checking scopes with {@code authorizer}.
   */
  public static Builder builder(DataSource appDataSource, Authorizer authorizer) {
    return new Builder(appDataSource, authorizer);
  }

  /**
   * Starts the last-use flusher (one daemon thread). Call it once, after {@code build()}.
   *
   * @return this
   * @throws IllegalStateException if it was started already, or closed
   */
  public ApiKeys start() {
    synchronized (lifecycle) {
      if (closed) {
        throw new IllegalStateException("this ApiKeys is closed: build a new one to start again");
      }
      if (started) {
        throw new IllegalStateException("this ApiKeys is already started: call start() once, after build()");
      }
      ScheduledExecutorService s = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "saaskit-api-keys-last-used");
        t.setDaemon(true);
        return t;
      });
      long ms = flushInterval.toMillis();
      var unused = s.scheduleWithFixedDelay(this::flushQuietly, ms, ms, TimeUnit.MILLISECONDS);
      flusher = s;
      started = true;
    }
    return this;
  }

  /**
   * Creates a key of {@code tenant} for {@code creator}.
   *
   * @param scopes the permissions the key grants; each must be one the creator holds in {@code tenant} now
   * @param expiresAt when the key stops working; {@code null} for never
   * @throws AccessDeniedException if the creator acts for another tenant or lacks one of the scopes; with reason
   *     {@code STALE_PERMISSIONS} if the creator is one of these keys and it was revoked (or expired) since it was
   *     verified
   * @throws IllegalArgumentException for a blank or overlong name, a name with control characters, no scopes, or
   *     an expiry in the past or after the year 9999
   */
  public CreatedApiKey create(TenantId tenant, Principal creator, String name, Set<String> scopes,
      @Nullable Instant expiresAt) {
    checkOpen();
    Objects.requireNonNull(tenant, "tenant");
    Objects.requireNonNull(creator, "creator");
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(scopes, "scopes");
    if (name.isBlank() || name.length() > 200) {
      throw new IllegalArgumentException("name must be 1 to 200 characters, not blank");
    }
    // PostgreSQL text cannot hold NUL (the insert would fail as a database error), and a name is shown in
    // listings and logs, where a line break or an escape sequence would forge lines
    if (name.chars().anyMatch(Character::isISOControl)) {
      throw new IllegalArgumentException("name must not contain control characters");
    }
    if (scopes.isEmpty()) {
      throw new IllegalArgumentException("a key needs at least one scope");
    }
    Instant now = clock.instant();
    if (expiresAt != null && !expiresAt.isAfter(now)) {
      throw new IllegalArgumentException("expiresAt must be in the future but was " + expiresAt);
    }
    if (expiresAt != null && expiresAt.isAfter(MAX_EXPIRY)) {
      // PostgreSQL's timestamptz ends in the year 294276: a later expiry would fail the insert as a database error
      throw new IllegalArgumentException("expiresAt must be at most " + MAX_EXPIRY + " but was " + expiresAt
          + " (null for a key that never expires)");
    }
    if (!creator.tenant().map(tenant::equals).orElse(false)) {
      throw new AccessDeniedException(AccessDeniedException.Reason.TENANT_MISMATCH,
          "the creator does not act for tenant " + tenant.value());
    }
    for (String scope : scopes) {
      if (!TenantContext.call(tenant, () -> authorizer.check(creator, scope))) {
        throw new AccessDeniedException(AccessDeniedException.Reason.NOT_PERMITTED,
            "a key may not have scope " + scope + ": its creator does not hold it");
      }
    }
    String publicId = ApiKeyFormat.newPublicId(random);
    String key = ApiKeyFormat.newKey(prefix, tenant, publicId, random);
    byte[] hash = hash(key, currentPepper);
    String createdBy = creator.subject() + " @ " + creator.issuer();
    long id = Tx.run(dataSource, schema.tenantSetting(), tenant, "creating an API key", c -> {
      requireLiveCreatorKey(c, creator, now);
      try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + table() + " (tenant_id, public_id, name,"
          + " secret_hash, hash_alg, pepper_id, scopes, created_by, created_at, expires_at)"
          + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id")) {
        ps.setString(1, tenant.value());
        ps.setString(2, publicId);
        ps.setString(3, name);
        ps.setBytes(4, hash);
        ps.setString(5, currentPepper == null ? "sha256" : "hmac-sha256");
        ps.setString(6, currentPepper);
        ps.setArray(7, c.createArrayOf("text", scopes.toArray()));
        ps.setString(8, createdBy);
        ps.setTimestamp(9, Timestamp.from(now));
        ps.setTimestamp(10, expiresAt == null ? null : Timestamp.from(expiresAt));
        try (ResultSet rs = ps.executeQuery()) {
          rs.next();
          return rs.getLong(1);
        }
      }
    });
    return new CreatedApiKey(key, new ApiKeyInfo(id, tenant, publicId, name, scopes, createdBy, now, expiresAt,
        null, null, null));
  }

  /**
   * When the creator is itself one of these keys: that key must still be unrevoked and unexpired in the creating
   * transaction. The principal was verified earlier (at the start of the request), and a key revoked since then
   * must not mint a successor that outlives it. {@code FOR SHARE} conflicts with the {@code UPDATE} of
   * {@link #revoke}: a revocation either commits first (and is seen here) or waits for this insert to commit, so
   * the new key is in the table (and listed by its {@code createdBy}) before the revocation returns.
   */
  private void requireLiveCreatorKey(Connection c, Principal creator, Instant now) throws SQLException {
    if (creator.method() != Principal.Method.API_KEY || !ISSUER.equals(creator.issuer())) {
      return;
    }
    String creatorId = creator.credentialId().orElse(creator.subject().startsWith("apikey:")
        ? creator.subject().substring("apikey:".length()) : creator.subject());
    try (PreparedStatement ps = c.prepareStatement("SELECT revoked_at IS NOT NULL, expires_at FROM " + table()
        + " WHERE public_id = ? FOR SHARE")) {
      ps.setString(1, creatorId);
      try (ResultSet rs = ps.executeQuery()) {
        boolean live = rs.next() && !rs.getBoolean(1);
        Timestamp exp = live ? rs.getTimestamp(2) : null;
        if (!live || (exp != null && !now.isBefore(exp.toInstant()))) {
          throw new AccessDeniedException(AccessDeniedException.Reason.STALE_PERMISSIONS,
              "the API key creating this one is unknown, revoked or expired");
        }
      }
    }
  }

  /**
   * Verifies a presented key into a principal: method {@link Principal.Method#API_KEY}, issuer {@value #ISSUER},
   * subject {@code apikey:<publicId>}, the key's tenant, its scopes as permissions.
   *
   * @throws InvalidTokenException {@code BAD_API_KEY} (malformed, unknown, wrong secret), {@code EXPIRED} or
   *     {@code REVOKED}: answer the client the same way for all of them
   * @throws IllegalStateException if this ApiKeys was closed (as {@code create}, {@code revoke} and {@code list})
   */
  public Principal verify(String presentedKey) {
    checkOpen();
    Objects.requireNonNull(presentedKey, "presentedKey");
    ApiKeyFormat.Parsed parsed = ApiKeyFormat.parse(prefix, presentedKey);
    if (parsed == null) {
      hash(presentedKey.length() > 512 ? presentedKey.substring(0, 512) : presentedKey, currentPepper);
      throw new InvalidTokenException(Reason.BAD_API_KEY, "not an API key of this environment");
    }
    Row row = Tx.run(dataSource, schema.tenantSetting(), parsed.tenant, "verifying an API key", c -> {
      Row found = null;
      try (PreparedStatement ps = c.prepareStatement("SELECT secret_hash, pepper_id, scopes, expires_at, revoked_at"
          + " FROM " + table() + " WHERE public_id = ?")) {
        ps.setString(1, parsed.publicId);
        try (ResultSet rs = ps.executeQuery()) {
          if (rs.next()) {
            Array scopes = rs.getArray(3);
            Timestamp exp = rs.getTimestamp(4);
            found = new Row(rs.getBytes(1), rs.getString(2),
                new LinkedHashSet<>(Arrays.asList((String[]) scopes.getArray())), exp == null ? null : exp.toInstant(),
                rs.getTimestamp(5) != null);
          }
        }
      }
      return java.util.Optional.ofNullable(found);
    }).orElse(null);
    String pepperId = row == null ? currentPepper : row.pepperId;
    if (pepperId != null && !peppers.containsKey(pepperId)) {
      LOG.warn("API key {} was hashed with pepper '{}', which is not configured", LogText.of(parsed.publicId),
          LogText.of(pepperId));
      throw new InvalidTokenException(Reason.BAD_API_KEY, "the key's pepper is not configured");
    }
    byte[] presented = hash(presentedKey, pepperId);
    boolean matches = MessageDigest.isEqual(presented, row == null ? NO_HASH : row.hash);
    if (row == null || !matches) {
      throw new InvalidTokenException(Reason.BAD_API_KEY, "unknown key or wrong secret");
    }
    if (row.revoked) {
      throw new InvalidTokenException(Reason.REVOKED, "the key was revoked");
    }
    Instant now = clock.instant();
    if (row.expiresAt != null && !now.isBefore(row.expiresAt)) {
      throw new InvalidTokenException(Reason.EXPIRED, "the key expired at " + row.expiresAt);
    }
    recordUse(parsed.tenant, parsed.publicId, now);
    return Principal.builder(ISSUER, "apikey:" + parsed.publicId).tenant(parsed.tenant)
        .permissions(row.scopes).method(Principal.Method.API_KEY).credentialId(parsed.publicId)
        .expiresAt(row.expiresAt).build();
  }

  /**
   * Revokes a key of {@code tenant}; the row stays, with who revoked it and when. Once this returns, no verify
   * accepts the key.
   *
   * @param actor who revokes it (recorded); a principal acting for a tenant must act for {@code tenant}, as for
   *     {@link #create}; one without a tenant (an operator) may revoke in any
   * @return false if {@code tenant} has no such key, or it was revoked already
   * @throws AccessDeniedException {@code TENANT_MISMATCH} if {@code actor} acts for another tenant
   */
  public boolean revoke(TenantId tenant, long keyId, Principal actor) {
    checkOpen();
    Objects.requireNonNull(tenant, "tenant");
    Objects.requireNonNull(actor, "actor");
    if (actor.tenant().isPresent() && !actor.tenant().get().equals(tenant)) {
      // the tenant usually comes from the request's URL: a credential of another tenant must not act in it
      throw new AccessDeniedException(AccessDeniedException.Reason.TENANT_MISMATCH,
          "the actor does not act for tenant " + tenant.value());
    }
    return Tx.run(dataSource, schema.tenantSetting(), tenant, "revoking an API key", c -> {
      try (PreparedStatement ps = c.prepareStatement("UPDATE " + table() + " SET revoked_at = ?, revoked_by = ?"
          + " WHERE id = ? AND revoked_at IS NULL")) {
        ps.setTimestamp(1, Timestamp.from(clock.instant()));
        ps.setString(2, actor.subject() + " @ " + actor.issuer());
        ps.setLong(3, keyId);
        return ps.executeUpdate() == 1;
      }
    });
  }

  /** The keys of {@code tenant}, newest first, revoked ones included; never a secret or a hash. */
  public List<ApiKeyInfo> list(TenantId tenant) {
    checkOpen();
    Objects.requireNonNull(tenant, "tenant");
    return Tx.run(dataSource, schema.tenantSetting(), tenant, "listing API keys", c -> {
      List<ApiKeyInfo> out = new ArrayList<>();
      try (PreparedStatement ps = c.prepareStatement("SELECT id, public_id, name, scopes, created_by, created_at,"
          + " expires_at, revoked_at, revoked_by, last_used_at FROM " + table() + " ORDER BY created_at DESC, id DESC");
          ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.add(new ApiKeyInfo(rs.getLong(1), tenant, rs.getString(2), rs.getString(3),
              new LinkedHashSet<>(Arrays.asList((String[]) rs.getArray(4).getArray())), rs.getString(5),
              rs.getTimestamp(6).toInstant(), instant(rs.getTimestamp(7)), instant(rs.getTimestamp(8)),
              rs.getString(9), instant(rs.getTimestamp(10))));
        }
      }
      return out;
    });
  }

  /**
   * Writes the last-use times gathered since the previous flush: one {@code UPDATE} per tenant that used a key.
   * The flusher calls it; call it yourself in tests or before a planned shutdown ({@link #close()} does).
   *
   * @return the number of keys whose time was written
   */
  public int flush() {
    int written = 0;
    for (TenantId tenant : new ArrayList<>(used.keySet())) {
      ConcurrentHashMap<String, Instant> batch = used.remove(tenant);
      if (batch == null || batch.isEmpty()) {
        continue;
      }
      Map<String, Instant> snapshot = new LinkedHashMap<>(batch);
      try {
        written += Tx.run(dataSource, schema.tenantSetting(), tenant, "recording API key use", c -> {
          try (PreparedStatement ps = c.prepareStatement("UPDATE " + table() + " k SET last_used_at ="
              + " greatest(k.last_used_at, u.t) FROM unnest(?::text[], ?::timestamptz[]) AS u(pid, t)"
              + " WHERE k.public_id = u.pid")) {
            ps.setArray(1, c.createArrayOf("text", snapshot.keySet().toArray()));
            Timestamp[] times = new Timestamp[snapshot.size()];
            int i = 0;
            for (Instant t : snapshot.values()) {
              times[i++] = Timestamp.from(t);
            }
            ps.setArray(2, c.createArrayOf("timestamptz", times));
            return ps.executeUpdate();
          }
        });
      } catch (RuntimeException e) {
        // put the times back (newest wins) so a failed flush loses nothing
        ConcurrentHashMap<String, Instant> again = used.computeIfAbsent(tenant, t -> new ConcurrentHashMap<>());
        snapshot.forEach((pid, t) -> again.merge(pid, t, (a, b) -> a.isAfter(b) ? a : b));
        throw e;
      }
    }
    return written;
  }

  /**
   * Notes a key's use for the next {@link #flush()}. The flusher takes a tenant's map away whole; a use put into a
   * map it has just taken (and maybe copied already) is put again into the map that replaced it, so none is lost
   * (a time written twice is harmless: the update keeps the greatest).
   */
  private void recordUse(TenantId tenant, String publicId, Instant now) {
    while (true) {
      ConcurrentHashMap<String, Instant> pending = used.computeIfAbsent(tenant, t -> new ConcurrentHashMap<>());
      pending.merge(publicId, now, (a, b) -> a.isAfter(b) ? a : b);
      @SuppressWarnings("ReferenceEquality") // the very map the flusher has not taken away yet
      boolean stillPending = used.get(tenant) == pending;
      if (stillPending) {
        return;
      }
    }
  }

  private void flushQuietly() {
    try {
      flush();
    } catch (RuntimeException e) {
      LOG.warn("could not record API key use (will retry): {}", LogText.of(e.getMessage()));
    }
  }

  /**
   * Stops the flusher and writes the pending last-use times, waiting at most the {@linkplain Builder#closeTimeout
   * close timeout} (default 10 s) in all for a flush in progress and for that last write: a database that does not
   * answer does not hold the caller longer (the write is then logged and left to finish on a daemon thread). Safe to
   * call more than once, and before {@link #start()}; a second call, from another thread, returns when the first has
   * written the pending times (at most the close timeout).
   */
  @Override
  public void close() {
    ScheduledExecutorService s = null;
    boolean first = false;
    synchronized (lifecycle) {
      if (!closed) {
        closed = true;
        s = flusher;
        flusher = null;
        first = true;
      }
    }
    if (!first) {
      awaitFirstClose();
      return;
    }
    try {
      writeLastUses(s);
    } finally {
      closeDone.countDown();
    }
  }

  /** The final write, on the flusher's thread (after a flush in progress) or on one of its own: bounded. */
  private void writeLastUses(@Nullable ScheduledExecutorService started) {
    ScheduledExecutorService s = started;
    if (s == null) {
      if (used.isEmpty()) {
        return;
      }
      s = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "saaskit-api-keys-last-used-close");
        t.setDaemon(true);
        return t;
      });
    }
    s.execute(this::flushQuietly); // runs before the shutdown below takes effect; the periodic flush is cancelled
    s.shutdown();
    try {
      if (!s.awaitTermination(closeTimeout.toNanos(), TimeUnit.NANOSECONDS)) {
        LOG.warn("the API key last-use times were not written within the close timeout of {} (is the database"
            + " answering?); a daemon thread writes them when it can", closeTimeout);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void awaitFirstClose() {
    try {
      if (!closeDone.await(closeTimeout.toNanos(), TimeUnit.NANOSECONDS)) {
        LOG.warn("another close() of these API keys did not finish within the close timeout of {}", closeTimeout);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** After close(), a use verify() recorded would never be written: every operation refuses instead. */
  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("this ApiKeys is closed: keep one for the application's lifetime and close it"
          + " at shutdown");
    }
  }

  private String table() {
    return "\"" + schema.name() + "\".api_keys";
  }

  private byte[] hash(String key, @Nullable String pepperId) {
    byte[] input = key.getBytes(StandardCharsets.UTF_8);
    try {
      if (pepperId == null) {
        return MessageDigest.getInstance("SHA-256").digest(input);
      }
      byte[] pepper = peppers.get(pepperId);
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(pepper == null ? NO_HASH : pepper, "HmacSHA256"));
      return mac.doFinal(input);
    } catch (GeneralSecurityException e) {
      throw new SaasException("SHA-256 or HMAC-SHA-256 is missing from this JVM", e);
    }
  }

  private static @Nullable Instant instant(@Nullable Timestamp t) {
    return t == null ? null : t.toInstant();
  }

  private static final class Row {
    final byte[] hash;
    final @Nullable String pepperId;
    final Set<String> scopes;
    final @Nullable Instant expiresAt;
    final boolean revoked;

    Row(byte[] hash, @Nullable String pepperId, Set<String> scopes, @Nullable Instant expiresAt, boolean revoked) {
      this.hash = hash;
      this.pepperId = pepperId;
      this.scopes = scopes;
      this.expiresAt = expiresAt;
      this.revoked = revoked;
    }
  }

  /** Builds {@link ApiKeys}; setters check their argument at once. Not thread-safe. */
  public static final class Builder {
    private final DataSource dataSource;
    private final Authorizer authorizer;
    private AuthSchema schema = AuthSchema.defaults();
    private Clock clock = Clock.systemUTC();
    private SecureRandom random = new SecureRandom();
    private String prefix = "sk_";
    private String environment = "live";
    private final Map<String, byte[]> peppers = new LinkedHashMap<>();
    private @Nullable String currentPepper;
    private Duration flushInterval = Duration.ofMinutes(1);
    private Duration closeTimeout = Duration.ofSeconds(10);

    private Builder(DataSource dataSource, Authorizer authorizer) {
      this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
      this.authorizer = Objects.requireNonNull(authorizer, "authorizer");
    }

    /** The schema; default {@link AuthSchema#defaults()}. */
    public Builder schema(AuthSchema schema) {
      this.schema = Objects.requireNonNull(schema, "schema");
      return this;
    }

    /** The clock for creation, expiry and last use; default the system UTC clock. */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /** The randomness of public ids and secrets; default a new {@link SecureRandom}. */
    public Builder random(SecureRandom random) {
      this.random = Objects.requireNonNull(random, "random");
      return this;
    }

    /** The start of every key; default {@code sk_}: 2 to 16 of {@code a-z 0-9 _}, ending in {@code _}. */
    public Builder prefix(String prefix) {
      Objects.requireNonNull(prefix, "prefix");
      if (!ApiKeyFormat.validPrefix(prefix)) {
        throw new IllegalArgumentException("prefix must be 2 to 16 of a-z 0-9 _ and end in _ but was '" + prefix + "'");
      }
      this.prefix = prefix;
      return this;
    }

    /** {@code live} (default) or {@code test}, or another lower-case word: a key works only in its environment. */
    public Builder environment(String environment) {
      Objects.requireNonNull(environment, "environment");
      if (!environment.matches("[a-z]{2,12}")) {
        throw new IllegalArgumentException("environment must be 2 to 12 of a-z but was '" + environment + "'");
      }
      this.environment = environment;
      return this;
    }

    /**
     * Adds a server pepper (at least 32 bytes, kept out of the database, never logged); the last one added hashes
     * new keys, the others still verify the keys hashed with them. Without a pepper keys are hashed with SHA-256.
     */
    public Builder pepper(String id, byte[] pepper) {
      Objects.requireNonNull(id, "id");
      Objects.requireNonNull(pepper, "pepper");
      if (!id.matches("[A-Za-z0-9_.-]{1,32}")) {
        throw new IllegalArgumentException("pepper id must be 1 to 32 of A-Z a-z 0-9 _ . - but was '" + id + "'");
      }
      if (pepper.length < 32) {
        throw new IllegalArgumentException("pepper must be at least 32 bytes but was " + pepper.length);
      }
      peppers.put(id, pepper.clone());
      currentPepper = id;
      return this;
    }

    /** How often last-use times are written; default 1 minute. */
    public Builder lastUsedFlushInterval(Duration interval) {
      Objects.requireNonNull(interval, "interval");
      if (interval.toMillis() < 10) {
        throw new IllegalArgumentException("lastUsedFlushInterval must be at least 10 ms but was " + interval);
      }
      this.flushInterval = interval;
      return this;
    }

    /**
     * How long {@link ApiKeys#close()} waits for a flush in progress before it gives up on the flusher thread;
     * default 10 seconds, from 1 ms to 10 minutes.
     */
    public Builder closeTimeout(Duration closeTimeout) {
      Objects.requireNonNull(closeTimeout, "closeTimeout");
      if (closeTimeout.compareTo(Duration.ofMillis(1)) < 0 || closeTimeout.compareTo(Duration.ofMinutes(10)) > 0) {
        throw new IllegalArgumentException("closeTimeout must be from 1 ms to 10 minutes but was " + closeTimeout);
      }
      this.closeTimeout = closeTimeout;
      return this;
    }

    /** The keys; starts no thread ({@link ApiKeys#start()} does). */
    public ApiKeys build() {
      return new ApiKeys(this);
    }
  }
}
