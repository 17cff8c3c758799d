package dev.saaskit.auth;

import dev.saaskit.core.TenantId;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.LinkedHashSet;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * One issuer a {@link TokenVerifier} trusts: where its keys come from, which algorithms it signs with, which
 * audience its tokens must name, and which tenant(s) it may speak for. A token names its issuer in {@code iss};
 * an issuer that is not registered is refused before any key is looked up or fetched, and keys are never fetched
 * from a URL a token names.
 *
 * <pre>{@code
 * TrustedIssuer clerk = TrustedIssuer.builder("https://clerk.example.com")
 *     .jwksUri(URI.create("https://clerk.example.com/.well-known/jwks.json"))
 *     .algorithms(SigningAlgorithm.RS256)
 *     .authorizedParties("https://app.example.com")
 *     .claimMapping(ClaimMappings.clerk())
 *     .build();
 * }</pre>
 *
 * <p>Immutable and thread-safe; the secret of an HMAC issuer is copied in and never shown by {@link #toString()}.
 */
public final class TrustedIssuer {
  /** The longest clock skew allowed: {@value} seconds. */
  public static final long MAX_CLOCK_SKEW_SECONDS = 300;

  /** Where an issuer's keys come from. */
  public enum KeySource {
    /** A JWKS URL, fetched and cached. */
    JWKS_URI,
    /** A JWK set given as JSON. */
    STATIC_JWKS,
    /** A shared HMAC secret. */
    HMAC_SECRET
  }

  private final String issuer;
  private final KeySource keySource;
  private final @Nullable URI jwksUri;
  private final @Nullable String jwksJson;
  private final byte @Nullable [] hmacSecret;
  private final Set<SigningAlgorithm> algorithms;
  private final Set<String> audiences;
  private final Set<String> authorizedParties;
  private final Duration clockSkew;
  private final @Nullable TenantId fixedTenant;
  private final Set<TenantId> allowedTenants;
  private final boolean tenantRequired;
  private final ClaimMapping claimMapping;
  private final Duration jwksCacheTtl;
  private final Duration jwksRefreshAhead;
  private final Duration jwksMinRefetchInterval;
  private final Duration jwksOutageTolerance;
  private final Duration jwksHttpTimeout;
  private final @Nullable Boolean cacheVerifiedTokens;

  private TrustedIssuer(Builder b, KeySource keySource) {
    this.issuer = b.issuer;
    this.keySource = keySource;
    this.jwksUri = b.jwksUri;
    this.jwksJson = b.jwksJson;
    this.hmacSecret = b.hmacSecret == null ? null : b.hmacSecret.clone();
    this.algorithms = Set.copyOf(b.algorithms);
    this.audiences = Set.copyOf(b.audiences);
    this.authorizedParties = Set.copyOf(b.authorizedParties);
    this.clockSkew = b.clockSkew;
    this.fixedTenant = b.fixedTenant;
    this.allowedTenants = Set.copyOf(b.allowedTenants);
    this.tenantRequired = b.tenantRequired;
    this.claimMapping = b.claimMapping;
    this.jwksCacheTtl = b.jwksCacheTtl;
    this.jwksRefreshAhead = b.jwksRefreshAhead;
    this.jwksMinRefetchInterval = b.jwksMinRefetchInterval;
    this.jwksOutageTolerance = b.jwksOutageTolerance;
    this.jwksHttpTimeout = b.jwksHttpTimeout;
    this.cacheVerifiedTokens = b.cacheVerifiedTokens;
  }

  /** A builder for the issuer whose tokens carry exactly {@code issuer} in {@code iss}. */
  public static Builder builder(String issuer) {
    return new Builder(issuer);
  }

  /** A builder holding this issuer's settings, to make a variant. */
  public Builder toBuilder() {
    Builder b = new Builder(issuer);
    b.jwksUri = jwksUri;
    b.jwksJson = jwksJson;
    b.hmacSecret = hmacSecret == null ? null : hmacSecret.clone();
    b.algorithms = EnumSet.copyOf(algorithms);
    b.audiences = new LinkedHashSet<>(audiences);
    b.authorizedParties = new LinkedHashSet<>(authorizedParties);
    b.clockSkew = clockSkew;
    b.fixedTenant = fixedTenant;
    b.allowedTenants = new LinkedHashSet<>(allowedTenants);
    b.tenantRequired = tenantRequired;
    b.claimMapping = claimMapping;
    b.jwksCacheTtl = jwksCacheTtl;
    b.jwksRefreshAhead = jwksRefreshAhead;
    b.jwksMinRefetchInterval = jwksMinRefetchInterval;
    b.jwksOutageTolerance = jwksOutageTolerance;
    b.jwksHttpTimeout = jwksHttpTimeout;
    b.cacheVerifiedTokens = cacheVerifiedTokens;
    return b;
  }

  /** The exact {@code iss} value. */
  public String issuer() {
    return issuer;
  }

  /** Where the keys come from. */
  public KeySource keySource() {
    return keySource;
  }

  /** The JWKS URL, for {@link KeySource#JWKS_URI}. */
  public Optional<URI> jwksUri() {
    return Optional.ofNullable(jwksUri);
  }

  /** The JWK set JSON, for {@link KeySource#STATIC_JWKS}. */
  public Optional<String> jwksJson() {
    return Optional.ofNullable(jwksJson);
  }

  /** A copy of the HMAC secret, for {@link KeySource#HMAC_SECRET}. */
  public Optional<byte[]> hmacSecret() {
    return hmacSecret == null ? Optional.empty() : Optional.of(hmacSecret.clone());
  }

  /** The algorithms tokens of this issuer may use. */
  public Set<SigningAlgorithm> algorithms() {
    return algorithms;
  }

  /** The audiences of which a token must name one; empty when the audience is not checked. */
  public Set<String> audiences() {
    return audiences;
  }

  /** The authorized parties ({@code azp}) of which a token must name one; empty when not checked. */
  public Set<String> authorizedParties() {
    return authorizedParties;
  }

  /** The clock skew allowed on {@code exp}, {@code nbf} and {@code iat}. */
  public Duration clockSkew() {
    return clockSkew;
  }

  /** The one tenant this issuer speaks for (an enterprise IdP), or empty when the tenant comes from a claim. */
  public Optional<TenantId> fixedTenant() {
    return Optional.ofNullable(fixedTenant);
  }

  /** The tenants the tenant claim may name; empty for any. */
  public Set<TenantId> allowedTenants() {
    return allowedTenants;
  }

  /** Whether a token must name a tenant. */
  public boolean tenantRequired() {
    return tenantRequired;
  }

  /** How claims become the principal's tenant, roles and permissions. */
  public ClaimMapping claimMapping() {
    return claimMapping;
  }

  /** How long fetched JWKS are cached. */
  public Duration jwksCacheTtl() {
    return jwksCacheTtl;
  }

  /** How long before the cache expires a refresh starts in the background. */
  public Duration jwksRefreshAhead() {
    return jwksRefreshAhead;
  }

  /** The least time between two fetches of the JWKS (unknown {@code kid}s cannot make us fetch more often). */
  public Duration jwksMinRefetchInterval() {
    return jwksMinRefetchInterval;
  }

  /** How long cached keys keep working while the JWKS URL fails. */
  public Duration jwksOutageTolerance() {
    return jwksOutageTolerance;
  }

  /** The connect and read timeout of a JWKS fetch. */
  public Duration jwksHttpTimeout() {
    return jwksHttpTimeout;
  }

  /** Whether verified tokens of this issuer are cached: by default only for ECDSA and EdDSA issuers. */
  public boolean cachesVerifiedTokens() {
    if (cacheVerifiedTokens != null) {
      return cacheVerifiedTokens;
    }
    for (SigningAlgorithm a : algorithms) {
      if (!a.expensiveToVerify()) {
        return false;
      }
    }
    return true;
  }

  /** Names the issuer and its settings; never the secret. */
  @Override
  public String toString() {
    return "TrustedIssuer[" + issuer + ", keys=" + keySource + (jwksUri != null ? " " + jwksUri : "")
        + ", algorithms=" + algorithms + ", audiences=" + audiences + ", authorizedParties=" + authorizedParties
        + ", tenant=" + (fixedTenant != null ? fixedTenant.value() : "from claim") + "]";
  }

  /** Builds a {@link TrustedIssuer}; setters check their argument at once. Not thread-safe. */
  public static final class Builder {
    private final String issuer;
    private @Nullable URI jwksUri;
    private @Nullable String jwksJson;
    private byte @Nullable [] hmacSecret;
    private EnumSet<SigningAlgorithm> algorithms = EnumSet.noneOf(SigningAlgorithm.class);
    private Set<String> audiences = new LinkedHashSet<>();
    private Set<String> authorizedParties = new LinkedHashSet<>();
    private Duration clockSkew = Duration.ofSeconds(60);
    private @Nullable TenantId fixedTenant;
    private Set<TenantId> allowedTenants = new LinkedHashSet<>();
    private boolean tenantRequired;
    private ClaimMapping claimMapping = ClaimMappings.standard();
    private Duration jwksCacheTtl = Duration.ofMinutes(5);
    private Duration jwksRefreshAhead = Duration.ofSeconds(30);
    private Duration jwksMinRefetchInterval = Duration.ofSeconds(30);
    private Duration jwksOutageTolerance = Duration.ofHours(6);
    private Duration jwksHttpTimeout = Duration.ofSeconds(5);
    private @Nullable Boolean cacheVerifiedTokens;

    private Builder(String issuer) {
      Objects.requireNonNull(issuer, "issuer");
      if (issuer.isBlank() || issuer.length() > 1024) {
        throw new IllegalArgumentException("issuer must be 1 to 1024 non-blank characters");
      }
      this.issuer = issuer;
    }

    /** Keys from this JWKS URL (https, or http only for localhost), fetched and cached. */
    public Builder jwksUri(URI uri) {
      Objects.requireNonNull(uri, "uri");
      String scheme = uri.getScheme();
      String host = uri.getHost();
      boolean local = "localhost".equals(host) || "127.0.0.1".equals(host) || "[::1]".equals(host);
      if (!"https".equalsIgnoreCase(scheme) && !("http".equalsIgnoreCase(scheme) && local)) {
        throw new IllegalArgumentException("jwksUri must be https (http only for localhost) but was " + uri);
      }
      clearKeys();
      this.jwksUri = uri;
      return this;
    }

    /** Keys from this JWK set, given as JSON ({@code {"keys": [...]}}); only public keys are used. */
    public Builder jwks(String jwkSetJson) {
      Objects.requireNonNull(jwkSetJson, "jwkSetJson");
      clearKeys();
      this.jwksJson = jwkSetJson;
      return this;
    }

    /**
     * An HMAC secret (legacy Supabase projects sign with HS256): at least 32 bytes. Allows {@code HS256} unless
     * other HMAC algorithms are set.
     */
    public Builder hmacSecret(byte[] secret) {
      Objects.requireNonNull(secret, "secret");
      if (secret.length < 32) {
        throw new IllegalArgumentException("hmacSecret must be at least 32 bytes but was " + secret.length);
      }
      clearKeys();
      this.hmacSecret = secret.clone();
      return this;
    }

    /** Like {@link #hmacSecret(byte[])} with the UTF-8 bytes of {@code secret} (Supabase shows it as text). */
    public Builder hmacSecret(String secret) {
      return hmacSecret(Objects.requireNonNull(secret, "secret").getBytes(StandardCharsets.UTF_8));
    }

    private void clearKeys() {
      this.jwksUri = null;
      this.jwksJson = null;
      this.hmacSecret = null;
    }

    /** The algorithms this issuer signs with; required for JWKS issuers (HMAC issuers default to HS256). */
    public Builder algorithms(SigningAlgorithm... algorithms) {
      EnumSet<SigningAlgorithm> set = EnumSet.noneOf(SigningAlgorithm.class);
      for (SigningAlgorithm a : algorithms) {
        set.add(Objects.requireNonNull(a, "algorithm"));
      }
      this.algorithms = set;
      return this;
    }

    /** The audiences of which a token's {@code aud} must name one; default none (not checked). */
    public Builder audiences(String... audiences) {
      this.audiences = texts("audience", audiences);
      return this;
    }

    /** The authorized parties ({@code azp}, what Clerk sets) of which a token must name one; default none. */
    public Builder authorizedParties(String... parties) {
      this.authorizedParties = texts("authorized party", parties);
      return this;
    }

    /** The clock skew allowed on {@code exp}, {@code nbf}, {@code iat}; default 60 s, at most 5 minutes. */
    public Builder clockSkew(Duration skew) {
      Objects.requireNonNull(skew, "skew");
      if (skew.isNegative() || skew.toSeconds() > MAX_CLOCK_SKEW_SECONDS) {
        throw new IllegalArgumentException("clockSkew must be between 0 and 5 minutes but was " + skew);
      }
      this.clockSkew = skew;
      return this;
    }

    /**
     * This issuer speaks for one tenant only (an enterprise IdP): every token gets this tenant, and a token whose
     * claims name another is refused ({@link InvalidTokenException.Reason#TENANT_NOT_ALLOWED}).
     */
    public Builder tenant(TenantId tenant) {
      this.fixedTenant = Objects.requireNonNull(tenant, "tenant");
      this.tenantRequired = true;
      return this;
    }

    /** The tenant comes from the claims (a multi-tenant IdP) and must be one of these; default any. */
    public Builder allowedTenants(TenantId... tenants) {
      Set<TenantId> set = new LinkedHashSet<>();
      for (TenantId t : tenants) {
        set.add(Objects.requireNonNull(t, "tenant"));
      }
      this.allowedTenants = set;
      return this;
    }

    /**
     * Whether a token must name a tenant; default false (a user who has not picked a tenant yet gets a principal
     * without one, which {@link Authorizer} denies everything tenant-scoped).
     */
    public Builder tenantRequired(boolean required) {
      this.tenantRequired = required;
      return this;
    }

    /** How claims map to the principal; default {@link ClaimMappings#standard()}. */
    public Builder claimMapping(ClaimMapping mapping) {
      this.claimMapping = Objects.requireNonNull(mapping, "mapping");
      return this;
    }

    /** How long a fetched JWKS is cached; default 5 minutes. */
    public Builder jwksCacheTtl(Duration ttl) {
      this.jwksCacheTtl = positive("jwksCacheTtl", ttl);
      return this;
    }

    /** How long before expiry the cached JWKS is refreshed in the background; default 30 s. */
    public Builder jwksRefreshAhead(Duration ahead) {
      this.jwksRefreshAhead = positive("jwksRefreshAhead", ahead);
      return this;
    }

    /** The least time between two JWKS fetches, also for unknown {@code kid}s; default 30 s. */
    public Builder jwksMinRefetchInterval(Duration interval) {
      this.jwksMinRefetchInterval = positive("jwksMinRefetchInterval", interval);
      return this;
    }

    /** How long cached keys keep working while the JWKS URL fails; default 6 hours. */
    public Builder jwksOutageTolerance(Duration tolerance) {
      this.jwksOutageTolerance = positive("jwksOutageTolerance", tolerance);
      return this;
    }

    /** Connect and read timeout of a JWKS fetch; default 5 s. */
    public Builder jwksHttpTimeout(Duration timeout) {
      this.jwksHttpTimeout = positive("jwksHttpTimeout", timeout);
      return this;
    }

    /** Whether to cache verified tokens of this issuer; default: yes for ECDSA/EdDSA issuers, no otherwise. */
    public Builder cacheVerifiedTokens(boolean cache) {
      this.cacheVerifiedTokens = cache;
      return this;
    }

    /**
     * The issuer.
     *
     * @throws IllegalStateException if no keys were given, the algorithms do not fit the keys (an HMAC algorithm
     *     without a secret, or an asymmetric one with a secret), a JWKS issuer has no algorithms, or a JWK set
     *     given as JSON does not parse or holds no public key
     */
    public TrustedIssuer build() {
      KeySource source;
      if (jwksUri != null) {
        source = KeySource.JWKS_URI;
      } else if (jwksJson != null) {
        source = KeySource.STATIC_JWKS;
        requireJwkSet(jwksJson);
      } else if (hmacSecret != null) {
        source = KeySource.HMAC_SECRET;
      } else {
        throw new IllegalStateException("issuer " + issuer + " has no keys: set jwksUri, jwks or hmacSecret");
      }
      if (source == KeySource.HMAC_SECRET && algorithms.isEmpty()) {
        algorithms = EnumSet.of(SigningAlgorithm.HS256);
      }
      if (algorithms.isEmpty()) {
        throw new IllegalStateException("issuer " + issuer + " needs its algorithms pinned: algorithms(RS256) say");
      }
      for (SigningAlgorithm a : algorithms) {
        boolean hmac = a.family() == SigningAlgorithm.Family.HMAC;
        if (hmac != (source == KeySource.HMAC_SECRET)) {
          throw new IllegalStateException("issuer " + issuer + ": algorithm " + a
              + (hmac ? " needs an hmacSecret" : " cannot be used with an hmacSecret") + "; keys are bound to one family");
        }
      }
      if (fixedTenant != null && !allowedTenants.isEmpty() && !allowedTenants.contains(fixedTenant)) {
        throw new IllegalStateException("issuer " + issuer + ": the fixed tenant is not among the allowed tenants");
      }
      return new TrustedIssuer(this, source);
    }

    private void requireJwkSet(String json) {
      try {
        if (com.nimbusds.jose.jwk.JWKSet.parse(json).toPublicJWKSet().getKeys().isEmpty()) {
          throw new IllegalStateException("the JWK set of issuer " + issuer + " has no public key");
        }
      } catch (java.text.ParseException e) {
        throw new IllegalStateException("the JWK set of issuer " + issuer + " is not a JWK set: " + e.getMessage(), e);
      }
    }

    private static Set<String> texts(String what, String[] values) {
      Set<String> set = new LinkedHashSet<>();
      for (String v : Arrays.asList(values)) {
        Objects.requireNonNull(v, what);
        if (v.isBlank()) {
          throw new IllegalArgumentException(what + " must not be blank");
        }
        set.add(v);
      }
      return set;
    }

    private static Duration positive(String what, Duration d) {
      Objects.requireNonNull(d, what);
      if (d.isNegative() || d.isZero()) {
        throw new IllegalArgumentException(what + " must be positive but was " + d);
      }
      return d;
    }
  }
}
