package dev.saaskit.auth;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.util.Base64URL;
import com.nimbusds.jose.util.JSONObjectUtils;
import com.nimbusds.jwt.JWTClaimsSet;
import dev.saaskit.auth.InvalidTokenException.Reason;
import dev.saaskit.auth.internal.IssuerKeys;
import dev.saaskit.auth.internal.JsonLimits;
import dev.saaskit.auth.internal.NumericDates;
import dev.saaskit.core.TenantId;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.text.ParseException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * Verifies JWTs from the {@link TrustedIssuer}s it knows and turns them into a {@link Principal}.
 *
 * <pre>{@code
 * TokenVerifier verifier = TokenVerifier.builder().issuer(clerk).issuer(enterpriseIdp).build();
 * Principal principal = verifier.verify(bearerToken);   // or InvalidTokenException with a reason()
 * }</pre>
 *
 * <p>What is checked, in order: the size ({@link Builder#maxTokenLength}) and JSON nesting
 * ({@link Builder#maxJsonDepth}); {@code alg: none} is refused; {@code iss} must name a registered issuer (no
 * network call otherwise); the header's {@code alg} must be one the issuer is pinned to; critical headers are
 * refused (none is understood); the key is found by ({@code iss}, {@code kid}) among the issuer's keys of the
 * algorithm's family only (the header's {@code jwk}, {@code jku}, {@code x5u} and {@code x5c} are ignored); the
 * signature; {@code exp} (required), {@code nbf} and {@code iat} with the issuer's clock skew; the audience or
 * authorized party; {@code sub} (required); then the issuer's {@link ClaimMapping} and its tenant binding.
 *
 * <p>Verified tokens of ECDSA and EdDSA issuers (where a signature check costs a fraction of a millisecond) are
 * kept in a small bounded cache keyed by the SHA-256 of the token, until the token's {@code exp}: a hot token is
 * then verified at the cost of a hash. Thread-safe; {@link #close()} stops JWKS background refreshes.
 */
public final class TokenVerifier implements AutoCloseable {
  private final Map<String, Entry> issuers;
  private final Clock clock;
  private final int maxTokenLength;
  private final int maxJsonDepth;
  private final @Nullable Cache<Digest, Principal> verified;
  private volatile boolean closed;

  private static final class Entry {
    final TrustedIssuer issuer;
    final IssuerKeys keys;
    final boolean cache;

    Entry(TrustedIssuer issuer) {
      this.issuer = issuer;
      this.keys = new IssuerKeys(issuer);
      this.cache = issuer.cachesVerifiedTokens();
    }
  }

  private TokenVerifier(Builder b) {
    Map<String, Entry> map = new HashMap<>();
    boolean anyCache = false;
    for (TrustedIssuer i : b.issuers.values()) {
      Entry e = new Entry(i);
      map.put(i.issuer(), e);
      anyCache |= e.cache;
    }
    this.issuers = Map.copyOf(map);
    this.clock = b.clock;
    this.maxTokenLength = b.maxTokenLength;
    this.maxJsonDepth = b.maxJsonDepth;
    this.verified = anyCache && b.verifiedTokenCacheSize > 0 ? Caffeine.newBuilder()
        .maximumSize(b.verifiedTokenCacheSize)
        .ticker(() -> TimeUnitNanos.of(clock))
        .expireAfter(new UntilExpiry(clock))
        .build() : null;
  }

  /** A builder; add at least one issuer. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Verifies {@code token} (the compact JWS, without a {@code Bearer } prefix).
   *
   * @throws InvalidTokenException saying why it was refused; do not echo the reason to the client
   * @throws IllegalStateException if this verifier was closed (its JWKS refreshes are stopped)
   */
  public Principal verify(String token) {
    Objects.requireNonNull(token, "token");
    if (closed) {
      throw new IllegalStateException("this TokenVerifier is closed: it stopped its JWKS refreshes; keep one verifier"
          + " for the application's lifetime and close it at shutdown");
    }
    if (token.length() > maxTokenLength) {
      throw new InvalidTokenException(Reason.MALFORMED, "token longer than " + maxTokenLength + " characters");
    }
    Cache<Digest, Principal> cache = verified;
    Digest digest = null;
    if (cache != null) {
      digest = Digest.of(token);
      Principal hit = cache.getIfPresent(digest);
      if (hit != null) {
        Entry e = issuers.get(hit.issuer());
        if (e != null && !expired(hit.expiresAt().orElseThrow(), e.issuer.clockSkew())) {
          return hit;
        }
        cache.invalidate(digest);
      }
    }
    int dot1 = token.indexOf('.');
    int dot2 = dot1 < 0 ? -1 : token.indexOf('.', dot1 + 1);
    if (dot1 <= 0 || dot2 < 0 || token.indexOf('.', dot2 + 1) >= 0) {
      throw new InvalidTokenException(Reason.MALFORMED, "not a compact JWS (three dot-separated parts)");
    }
    if (!base64Url(token, 0, dot1) || !base64Url(token, dot1 + 1, dot2)
        || !base64Url(token, dot2 + 1, token.length())) {
      // a lenient decoder would skip such characters, giving one token many spellings (RFC 7515: base64url only)
      throw new InvalidTokenException(Reason.MALFORMED, "a part is not base64url (A-Z a-z 0-9 - _, no padding)");
    }
    Base64URL headerPart = new Base64URL(token.substring(0, dot1));
    Base64URL payloadPart = new Base64URL(token.substring(dot1 + 1, dot2));
    Base64URL signaturePart = new Base64URL(token.substring(dot2 + 1));
    JWSHeader header = header(headerPart);
    Map<String, Object> claims = claims(payloadPart);
    Object iss = claims.get("iss");
    if (!(iss instanceof String)) {
      throw new InvalidTokenException(Reason.UNKNOWN_ISSUER, "the token has no iss");
    }
    Entry entry = issuers.get(iss);
    if (entry == null) {
      throw new InvalidTokenException(Reason.UNKNOWN_ISSUER, "issuer is not registered");
    }
    TrustedIssuer issuer = entry.issuer;
    SigningAlgorithm algorithm = algorithm(header, issuer);
    if (header.getCriticalParams() != null) {
      // any crit, an empty list too (RFC 7515 4.1.11 forbids sending one); the names are the token's text: not
      // echoed into logs
      throw new InvalidTokenException(Reason.UNSUPPORTED_CRITICAL_HEADER, header.getCriticalParams().size()
          + " critical header parameter(s) not understood");
    }
    if (signaturePart.toString().isEmpty()) {
      throw new InvalidTokenException(Reason.BAD_SIGNATURE, "the signature is empty");
    }
    if (!Base64URL.encode(signaturePart.decode()).toString().equals(signaturePart.toString())) {
      // unused bits set in the last character, or a length no encoder produces: another spelling of a signature
      throw new InvalidTokenException(Reason.BAD_SIGNATURE, "the signature is not canonical base64url");
    }
    byte[] signingInput = token.substring(0, dot2).getBytes(StandardCharsets.US_ASCII);
    if (!entry.keys.find(header, algorithm).verify(header, signingInput, signaturePart)) {
      throw new InvalidTokenException(Reason.BAD_SIGNATURE, "the signature does not verify");
    }
    Principal principal = principal(issuer, claims);
    if (cache != null && entry.cache && digest != null) {
      cache.put(digest, principal);
    }
    return principal;
  }

  private JWSHeader header(Base64URL part) {
    byte[] json = part.decode();
    if (JsonLimits.depth(json) > maxJsonDepth) {
      throw new InvalidTokenException(Reason.MALFORMED, "the header nests deeper than " + maxJsonDepth);
    }
    @Nullable Map<String, Object> map;
    try {
      map = JSONObjectUtils.parse(new String(json, StandardCharsets.UTF_8));
    } catch (ParseException | RuntimeException e) {
      throw new InvalidTokenException(Reason.MALFORMED, "the header is not a JSON object");
    }
    if (map == null) {
      // the parser answers the JSON literal null with no map at all
      throw new InvalidTokenException(Reason.MALFORMED, "the header is not a JSON object");
    }
    Object alg = map.get("alg");
    if (!(alg instanceof String)) {
      throw new InvalidTokenException(Reason.MALFORMED, "the header has no alg");
    }
    if ("none".equalsIgnoreCase(((String) alg).strip())) {
      throw new InvalidTokenException(Reason.UNSIGNED, "alg none is never accepted");
    }
    try {
      return JWSHeader.parse(map, part);
    } catch (ParseException | RuntimeException e) {
      throw new InvalidTokenException(Reason.MALFORMED, "the header is not a JWS header");
    }
  }

  private Map<String, Object> claims(Base64URL part) {
    byte[] json = part.decode();
    if (JsonLimits.depth(json) > maxJsonDepth) {
      throw new InvalidTokenException(Reason.MALFORMED, "the claims nest deeper than " + maxJsonDepth);
    }
    @Nullable Map<String, Object> map;
    try {
      map = JSONObjectUtils.parse(new String(json, StandardCharsets.UTF_8));
    } catch (ParseException | RuntimeException e) {
      throw new InvalidTokenException(Reason.MALFORMED, "the claims are not a JSON object");
    }
    if (map == null) {
      // the parser answers the JSON literal null with no map at all
      throw new InvalidTokenException(Reason.MALFORMED, "the claims are not a JSON object");
    }
    return map;
  }

  private static SigningAlgorithm algorithm(JWSHeader header, TrustedIssuer issuer) {
    String name = header.getAlgorithm().getName();
    for (SigningAlgorithm a : issuer.algorithms()) {
      if (a.name().equals(name)) {
        return a;
      }
    }
    throw new InvalidTokenException(Reason.DISALLOWED_ALGORITHM, "alg " + printable(name)
        + " is not allowed for issuer " + issuer.issuer());
  }

  /** Whether the characters of {@code token} from {@code from} to {@code to} (exclusive) are all base64url. */
  private static boolean base64Url(String token, int from, int to) {
    for (int i = from; i < to; i++) {
      char c = token.charAt(i);
      if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) {
        return false;
      }
    }
    return true;
  }

  /** At most 20 characters of a header value, letters, digits and {@code +-_.} only, for a log message. */
  private static String printable(String value) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < value.length() && b.length() < 20; i++) {
      char c = value.charAt(i);
      boolean ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+'
          || c == '-' || c == '_' || c == '.';
      b.append(ok ? c : '?');
    }
    return value.length() > 20 ? b + "..." : b.toString();
  }

  private Principal principal(TrustedIssuer issuer, Map<String, Object> raw) {
    JWTClaimsSet set;
    try {
      set = JWTClaimsSet.parse(raw);
    } catch (ParseException e) {
      throw new InvalidTokenException(Reason.BAD_CLAIM, "a registered claim has the wrong type");
    }
    // the times from the JSON itself: JWTClaimsSet's Dates wrap around for values beyond a long of milliseconds
    Instant expiresAt = NumericDates.read(raw, "exp");
    if (expiresAt == null) {
      throw new InvalidTokenException(Reason.MISSING_EXPIRY, "the token has no exp");
    }
    Duration skew = issuer.clockSkew();
    if (expired(expiresAt, skew)) {
      throw new InvalidTokenException(Reason.EXPIRED, "the token expired at " + expiresAt);
    }
    Instant now = clock.instant();
    Instant nbf = NumericDates.read(raw, "nbf");
    if (nbf != null && nbf.minus(skew).isAfter(now)) {
      throw new InvalidTokenException(Reason.NOT_YET_VALID, "the token is not valid before " + nbf);
    }
    Instant iat = NumericDates.read(raw, "iat");
    if (iat != null && iat.minus(skew).isAfter(now)) {
      throw new InvalidTokenException(Reason.NOT_YET_VALID, "the token is issued in the future");
    }
    if (!issuer.audiences().isEmpty()) {
      List<String> aud = set.getAudience();
      if (aud == null || Collections.disjoint(aud, issuer.audiences())) {
        throw new InvalidTokenException(Reason.WRONG_AUDIENCE, "the token's aud is not one of the required ones");
      }
    }
    if (!issuer.authorizedParties().isEmpty()) {
      Object azp = raw.get("azp");
      if (!(azp instanceof String) || !issuer.authorizedParties().contains(azp)) {
        throw new InvalidTokenException(Reason.WRONG_AUDIENCE, "the token's azp is not an authorized party");
      }
    }
    String subject = set.getSubject();
    if (subject == null || subject.isEmpty() || subject.indexOf('\u0000') >= 0) {
      throw new InvalidTokenException(Reason.BAD_CLAIM, "the token has no usable sub");
    }
    Principal.Builder builder = Principal.builder(issuer.issuer(), subject).expiresAt(expiresAt)
        .method(Principal.Method.TOKEN).credentialId(set.getJWTID());
    try {
      issuer.claimMapping().map(Collections.unmodifiableMap(raw), builder);
    } catch (InvalidTokenException e) {
      throw e;
    } catch (RuntimeException e) {
      // a custom mapping's message may quote claim values: name the failure only
      throw new InvalidTokenException(Reason.BAD_CLAIM, "the claim mapping of issuer " + issuer.issuer()
          + " failed with " + e.getClass().getName());
    }
    Principal principal = builder.build();
    Optional<TenantId> tenant = principal.tenant();
    Optional<TenantId> fixed = issuer.fixedTenant();
    if (fixed.isPresent()) {
      if (tenant.isPresent() && !tenant.get().equals(fixed.get())) {
        throw new InvalidTokenException(Reason.TENANT_NOT_ALLOWED, "issuer " + issuer.issuer()
            + " may only speak for its own tenant");
      }
      if (tenant.isEmpty()) {
        principal = principal.toBuilder().tenant(fixed.get()).build();
      }
    } else if (tenant.isPresent()) {
      if (!issuer.allowedTenants().isEmpty() && !issuer.allowedTenants().contains(tenant.get())) {
        throw new InvalidTokenException(Reason.TENANT_NOT_ALLOWED, "issuer " + issuer.issuer()
            + " may not speak for that tenant");
      }
    } else if (issuer.tenantRequired()) {
      throw new InvalidTokenException(Reason.TENANT_NOT_ALLOWED, "the token names no tenant");
    }
    return principal;
  }

  private boolean expired(Instant expiresAt, Duration skew) {
    return clock.instant().isAfter(expiresAt.plus(skew));
  }

  /** The number of verified tokens held in the cache (an estimate), for monitoring. */
  public long cachedTokens() {
    Cache<Digest, Principal> cache = verified;
    return cache == null ? 0 : cache.estimatedSize();
  }

  /**
   * Stops the JWKS background refreshes; {@link #verify} then throws {@link IllegalStateException}. Safe to call more
   * than once.
   */
  @Override
  public void close() {
    closed = true;
    for (Entry e : issuers.values()) {
      e.keys.close();
    }
  }

  /** Builds a {@link TokenVerifier}; setters check their argument at once. Not thread-safe. */
  public static final class Builder {
    private final Map<String, TrustedIssuer> issuers = new LinkedHashMap<>();
    private Clock clock = Clock.systemUTC();
    private int maxTokenLength = 16 * 1024;
    private int maxJsonDepth = 16;
    private long verifiedTokenCacheSize = 10_000;

    private Builder() {}

    /** Trusts {@code issuer}; registering the same {@code iss} twice is an error. */
    public Builder issuer(TrustedIssuer issuer) {
      Objects.requireNonNull(issuer, "issuer");
      if (issuers.putIfAbsent(issuer.issuer(), issuer) != null) {
        throw new IllegalArgumentException("issuer " + issuer.issuer() + " is registered twice");
      }
      return this;
    }

    /** The clock for {@code exp}, {@code nbf}, {@code iat} and the cache; default the system UTC clock. */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /** The longest token accepted, in characters; default 16,384. */
    public Builder maxTokenLength(int characters) {
      if (characters < 64) {
        throw new IllegalArgumentException("maxTokenLength must be >= 64 but was " + characters);
      }
      this.maxTokenLength = characters;
      return this;
    }

    /** The deepest nesting of objects and arrays accepted in the header or claims; default 16. */
    public Builder maxJsonDepth(int depth) {
      if (depth < 2) {
        throw new IllegalArgumentException("maxJsonDepth must be >= 2 but was " + depth);
      }
      this.maxJsonDepth = depth;
      return this;
    }

    /** The most verified tokens cached (for issuers that cache); default 10,000; 0 turns the cache off. */
    public Builder verifiedTokenCacheSize(long entries) {
      if (entries < 0) {
        throw new IllegalArgumentException("verifiedTokenCacheSize must be >= 0 but was " + entries);
      }
      this.verifiedTokenCacheSize = entries;
      return this;
    }

    /**
     * The verifier. Builds each issuer's key source (a JWKS URL is not fetched until the first token needs it).
     *
     * @throws IllegalStateException if no issuer was added
     */
    public TokenVerifier build() {
      if (issuers.isEmpty()) {
        throw new IllegalStateException("a TokenVerifier needs at least one issuer");
      }
      return new TokenVerifier(this);
    }
  }

  /** The SHA-256 of a token: the cache never holds the token itself. */
  private static final class Digest {
    private final byte[] bytes;
    private final int hash;

    private Digest(byte[] bytes) {
      this.bytes = bytes;
      this.hash = (bytes[0] & 0xff) | (bytes[1] & 0xff) << 8 | (bytes[2] & 0xff) << 16 | (bytes[3] & 0xff) << 24;
    }

    static Digest of(String token) {
      try {
        return new Digest(MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8)));
      } catch (NoSuchAlgorithmException e) {
        throw new IllegalStateException("SHA-256 is missing from this JVM", e);
      }
    }

    @Override
    public boolean equals(@Nullable Object o) {
      return o instanceof Digest && MessageDigest.isEqual(bytes, ((Digest) o).bytes);
    }

    @Override
    public int hashCode() {
      return hash;
    }

    @Override
    public String toString() {
      return "Digest[" + Arrays.hashCode(bytes) + "]";
    }
  }

  private static final class TimeUnitNanos {
    static long of(Clock clock) {
      Instant now = clock.instant();
      return now.getEpochSecond() * 1_000_000_000L + now.getNano();
    }
  }

  /** Cached until the token's {@code exp}, never longer. */
  private static final class UntilExpiry implements Expiry<Digest, Principal> {
    private static final Duration MAX_NANOS = Duration.ofNanos(Long.MAX_VALUE);
    private final Clock clock;

    UntilExpiry(Clock clock) {
      this.clock = clock;
    }

    @Override
    public long expireAfterCreate(Digest key, Principal value, long currentTime) {
      Instant exp = value.expiresAt().orElse(clock.instant());
      Duration left = Duration.between(clock.instant(), exp);
      if (left.isNegative()) {
        return 0;
      }
      // an exp centuries away does not fit in a long of nanoseconds (toNanos would throw): saturate
      return left.compareTo(MAX_NANOS) >= 0 ? Long.MAX_VALUE : left.toNanos();
    }

    @Override
    public long expireAfterUpdate(Digest key, Principal value, long currentTime, long currentDuration) {
      return expireAfterCreate(key, value, currentTime);
    }

    @Override
    public long expireAfterRead(Digest key, Principal value, long currentTime, long currentDuration) {
      return currentDuration;
    }
  }
}
