package dev.saaskit.auth.internal;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.util.Base64URL;
import com.nimbusds.jose.util.JSONObjectUtils;
import com.nimbusds.jwt.JWTClaimsSet;
import dev.saaskit.auth.ClaimMapping;
import dev.saaskit.auth.InvalidTokenException;
import dev.saaskit.auth.InvalidTokenException.Reason;
import dev.saaskit.auth.Principal;
import dev.saaskit.auth.SigningAlgorithm;
import dev.saaskit.auth.TrustedIssuer;
import dev.saaskit.auth.VerifiedTokenCache;
import dev.saaskit.core.TenantId;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.text.ParseException;
import java.time.Clock;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/** The verification path of {@code TokenVerifier}: parse, route by issuer, check, map, cache. Thread-safe. */
public final class JwtVerification implements AutoCloseable {
  private static final ThreadLocal<MessageDigest> SHA256 = ThreadLocal.withInitial(() -> {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("the JDK has no SHA-256", e);
    }
  });

  /** One registered issuer: its settings and keys. */
  public static final class Issuer {
    final TrustedIssuer config;
    final IssuerKeys keys;
    final long skewMillis;

    /** Pairs {@code config} with its {@code keys}. */
    public Issuer(TrustedIssuer config, IssuerKeys keys) {
      this.config = config;
      this.keys = keys;
      this.skewMillis = config.clockSkew().toMillis();
    }
  }

  private final Map<String, Issuer> issuers;
  private final Clock clock;
  private final VerifiedTokenCache.Mode cacheMode;
  private final @Nullable Cache<TokenHash, Principal> cache;
  private final int maxTokenLength;
  private final int maxJsonDepth;

  /** The verification over {@code issuers} (keyed by exact {@code iss}). */
  public JwtVerification(Map<String, Issuer> issuers, Clock clock, VerifiedTokenCache cacheSettings,
      int maxTokenLength, int maxJsonDepth) {
    this.issuers = Map.copyOf(issuers);
    this.clock = clock;
    this.maxTokenLength = maxTokenLength;
    this.maxJsonDepth = maxJsonDepth;
    VerifiedTokenCache.Mode mode = cacheSettings.mode();
    boolean anyFast = false;
    for (Issuer i : issuers.values()) {
      for (SigningAlgorithm a : i.config.algorithms()) {
        anyFast |= cachesByDefault(a);
      }
    }
    if (mode == VerifiedTokenCache.Mode.ALL || (mode == VerifiedTokenCache.Mode.EC_AND_EDDSA && anyFast)) {
      this.cacheMode = mode;
      this.cache = Caffeine.newBuilder()
          .maximumSize(cacheSettings.maximumSize())
          .executor(Runnable::run)
          .ticker(() -> {
            Instant now = clock.instant();
            return now.getEpochSecond() * 1_000_000_000L + now.getNano();
          })
          .expireAfter(new UntilExpiry(clock))
          .build();
    } else {
      this.cacheMode = VerifiedTokenCache.Mode.OFF;
      this.cache = null;
    }
  }

  private static boolean cachesByDefault(SigningAlgorithm a) {
    return a.family() == SigningAlgorithm.Family.EC || a.family() == SigningAlgorithm.Family.OKP;
  }

  /** Verifies {@code token} into a principal, or throws {@link InvalidTokenException}. */
  public Principal verify(@Nullable String token) {
    if (token == null || token.isEmpty()) {
      throw new InvalidTokenException(Reason.MALFORMED, "no token");
    }
    if (token.length() > maxTokenLength) {
      throw new InvalidTokenException(Reason.MALFORMED,
          "token longer than " + maxTokenLength + " characters (" + token.length() + ")");
    }
    Cache<TokenHash, Principal> c = cache;
    TokenHash hash = null;
    if (c != null) {
      hash = TokenHash.of(token);
      Principal hit = c.getIfPresent(hash);
      if (hit != null) {
        Instant exp = hit.expiresAt().orElse(Instant.MIN);
        if (clock.millis() < exp.toEpochMilli()) {
          return hit;
        }
        c.invalidate(hash);
      }
    }
    int d1 = token.indexOf('.');
    int d2 = d1 < 0 ? -1 : token.indexOf('.', d1 + 1);
    if (d1 <= 0 || d2 < 0 || d2 == d1 + 1 || token.indexOf('.', d2 + 1) >= 0) {
      throw new InvalidTokenException(Reason.MALFORMED, "not a compact JWS (three dot-separated parts)");
    }
    String h64 = token.substring(0, d1);
    Map<String, Object> headerJson = parseJson(h64, "header");
    Object algName = headerJson.get("alg");
    if (!(algName instanceof String)) {
      throw new InvalidTokenException(Reason.MALFORMED, "the header has no alg");
    }
    if ("none".equalsIgnoreCase((String) algName)) {
      throw new InvalidTokenException(Reason.UNSIGNED, "alg none is never accepted");
    }
    JWSHeader header;
    JWTClaimsSet claims;
    try {
      header = JWSHeader.parse(headerJson, new Base64URL(h64));
      claims = JWTClaimsSet.parse(parseJson(token.substring(d1 + 1, d2), "payload"));
    } catch (ParseException e) {
      throw new InvalidTokenException(Reason.MALFORMED, "malformed header or claims");
    }
    String iss = claims.getIssuer();
    if (iss == null) {
      throw new InvalidTokenException(Reason.UNKNOWN_ISSUER, "the token has no iss");
    }
    Issuer issuer = issuers.get(iss);
    if (issuer == null) {
      throw new InvalidTokenException(Reason.UNKNOWN_ISSUER, "the token's issuer is not registered");
    }
    SigningAlgorithm alg = SigningAlgorithm.fromJoseName((String) algName).orElse(null);
    if (alg == null || !issuer.config.algorithms().contains(alg)) {
      throw new InvalidTokenException(Reason.DISALLOWED_ALGORITHM,
          "issuer " + iss + " is not allowed this token's algorithm");
    }
    Set<String> crit = header.getCriticalParams();
    if ((crit != null && !crit.isEmpty()) || !header.isBase64URLEncodePayload()) {
      throw new InvalidTokenException(Reason.UNSUPPORTED_CRITICAL_HEADER,
          "the token has critical header parameters this verifier does not understand");
    }
    String s64 = token.substring(d2 + 1);
    if (s64.isEmpty()) {
      throw new InvalidTokenException(Reason.BAD_SIGNATURE, "empty signature on a token of " + iss);
    }
    byte[] signingInput = token.substring(0, d2).getBytes(StandardCharsets.US_ASCII);
    issuer.keys.verify(header, alg, signingInput, new Base64URL(s64));

    Principal p = checkClaims(issuer, claims);
    if (c != null && hash != null && (cacheMode == VerifiedTokenCache.Mode.ALL || cachesByDefault(alg))) {
      c.put(hash, p);
    }
    return p;
  }

  @SuppressWarnings("JavaUtilDate") // nimbus gives exp/nbf/iat as Dates
  private Principal checkClaims(Issuer issuer, JWTClaimsSet claims) {
    TrustedIssuer cfg = issuer.config;
    long now = clock.millis();
    Date exp = claims.getExpirationTime();
    if (exp == null) {
      throw new InvalidTokenException(Reason.MISSING_EXPIRY, "a token of " + cfg.id() + " has no exp");
    }
    if (now - issuer.skewMillis >= exp.getTime()) {
      throw new InvalidTokenException(Reason.EXPIRED, "a token of " + cfg.id() + " has expired");
    }
    Date nbf = claims.getNotBeforeTime();
    if (nbf != null && nbf.getTime() > now + issuer.skewMillis) {
      throw new InvalidTokenException(Reason.NOT_YET_VALID, "a token of " + cfg.id() + " is not valid yet (nbf)");
    }
    Date iat = claims.getIssueTime();
    if (iat != null && iat.getTime() > now + issuer.skewMillis) {
      throw new InvalidTokenException(Reason.NOT_YET_VALID, "a token of " + cfg.id() + " is issued in the future");
    }
    if (!cfg.audiences().isEmpty()) {
      List<String> aud = claims.getAudience();
      boolean match = false;
      for (String a : aud) {
        if (cfg.audiences().contains(a)) {
          match = true;
          break;
        }
      }
      if (!match) {
        throw new InvalidTokenException(Reason.WRONG_AUDIENCE, "a token of " + cfg.id() + " is for another audience");
      }
    }
    if (!cfg.authorizedParties().isEmpty()) {
      Object azp = claims.getClaim("azp");
      if (!(azp instanceof String) || !cfg.authorizedParties().contains(azp)) {
        throw new InvalidTokenException(Reason.WRONG_AUDIENCE,
            "a token of " + cfg.id() + " has a missing or unexpected azp");
      }
    }
    String sub = claims.getSubject();
    if (sub == null || sub.isEmpty() || sub.indexOf('\u0000') >= 0) {
      throw new InvalidTokenException(Reason.BAD_CLAIM, "a token of " + cfg.id() + " has no usable sub");
    }
    ClaimMapping.Mapped m;
    try {
      m = cfg.claimMapping().map(claims.getClaims());
    } catch (InvalidTokenException e) {
      throw e;
    } catch (RuntimeException e) {
      throw new InvalidTokenException(Reason.BAD_CLAIM,
          "the claim mapping of " + cfg.id() + " failed (" + e.getClass().getSimpleName() + ")");
    }
    if (m == null) {
      throw new InvalidTokenException(Reason.BAD_CLAIM, "the claim mapping of " + cfg.id() + " returned nothing");
    }
    TenantId tenant = null;
    if (m.tenant() != null) {
      try {
        tenant = TenantId.of(m.tenant());
      } catch (IllegalArgumentException e) {
        throw new InvalidTokenException(Reason.BAD_CLAIM, "a token of " + cfg.id() + " names an invalid tenant id");
      }
    }
    TenantId fixed = cfg.fixedTenant().orElse(null);
    if (fixed != null) {
      if (tenant != null && !tenant.equals(fixed)) {
        throw new InvalidTokenException(Reason.TENANT_NOT_ALLOWED,
            "issuer " + cfg.id() + " may only speak for tenant " + fixed.value());
      }
      tenant = fixed;
    } else if (tenant != null && !cfg.allowedTenants().isEmpty() && !cfg.allowedTenants().contains(tenant)) {
      throw new InvalidTokenException(Reason.TENANT_NOT_ALLOWED,
          "issuer " + cfg.id() + " may not speak for tenant " + tenant.value());
    }
    if (tenant == null && cfg.requireTenant()) {
      throw new InvalidTokenException(Reason.TENANT_NOT_ALLOWED, "a token of " + cfg.id() + " names no tenant");
    }
    try {
      return Principal.builder(cfg.id(), sub)
          .tenant(tenant)
          .roles(m.roles())
          .permissions(m.permissions())
          .permissionVersion(m.permissionVersion())
          .email(m.email())
          .expiresAt(Instant.ofEpochMilli(exp.getTime()))
          .credentialId(claims.getJWTID())
          .build();
    } catch (IllegalArgumentException e) {
      throw new InvalidTokenException(Reason.BAD_CLAIM, "a token of " + cfg.id() + " has unusable claims");
    }
  }

  private Map<String, Object> parseJson(String b64, String part) {
    byte[] json;
    try {
      json = Base64.getUrlDecoder().decode(b64);
    } catch (IllegalArgumentException e) {
      throw new InvalidTokenException(Reason.MALFORMED, "the " + part + " is not base64url");
    }
    checkDepth(json, part);
    try {
      return JSONObjectUtils.parse(new String(json, StandardCharsets.UTF_8));
    } catch (ParseException | RuntimeException e) {
      throw new InvalidTokenException(Reason.MALFORMED, "the " + part + " is not a JSON object");
    }
  }

  /** Refuses JSON nested deeper than the limit, scanning the raw bytes before any parser sees them. */
  private void checkDepth(byte[] json, String part) {
    int depth = 0;
    boolean inString = false;
    for (int i = 0; i < json.length; i++) {
      byte b = json[i];
      if (inString) {
        if (b == '\\') {
          i++;
        } else if (b == '"') {
          inString = false;
        }
      } else if (b == '"') {
        inString = true;
      } else if (b == '{' || b == '[') {
        if (++depth > maxJsonDepth) {
          throw new InvalidTokenException(Reason.MALFORMED,
              "the " + part + " is nested deeper than " + maxJsonDepth + " levels");
        }
      } else if (b == '}' || b == ']') {
        depth--;
      }
    }
  }

  @Override
  public void close() {
    for (Issuer i : issuers.values()) {
      i.keys.close();
    }
  }

  /** The SHA-256 of a token as four longs: the cache key (the token itself is never kept). */
  static final class TokenHash {
    private final long a;
    private final long b;
    private final long c;
    private final long d;

    private TokenHash(long a, long b, long c, long d) {
      this.a = a;
      this.b = b;
      this.c = c;
      this.d = d;
    }

    static TokenHash of(String token) {
      byte[] h = SHA256.get().digest(token.getBytes(StandardCharsets.UTF_8));
      ByteBuffer buf = ByteBuffer.wrap(h);
      return new TokenHash(buf.getLong(), buf.getLong(), buf.getLong(), buf.getLong());
    }

    @Override
    public boolean equals(@Nullable Object o) {
      if (!(o instanceof TokenHash)) {
        return false;
      }
      TokenHash t = (TokenHash) o;
      return a == t.a && b == t.b && c == t.c && d == t.d;
    }

    @Override
    public int hashCode() {
      return (int) (a ^ (a >>> 32));
    }
  }

  /** Each entry lives until its token's {@code exp}, on the injected clock, and never beyond. */
  private static final class UntilExpiry implements Expiry<TokenHash, Principal> {
    private final Clock clock;

    UntilExpiry(Clock clock) {
      this.clock = clock;
    }

    @Override
    public long expireAfterCreate(TokenHash key, Principal value, long currentTime) {
      long exp = value.expiresAt().map(Instant::toEpochMilli).orElse(0L);
      long left = exp - clock.millis();
      return left <= 0 ? 0 : Math.multiplyExact(left, 1_000_000L);
    }

    @Override
    public long expireAfterUpdate(TokenHash key, Principal value, long currentTime, long currentDuration) {
      return expireAfterCreate(key, value, currentTime);
    }

    @Override
    public long expireAfterRead(TokenHash key, Principal value, long currentTime, long currentDuration) {
      return currentDuration;
    }
  }
}
