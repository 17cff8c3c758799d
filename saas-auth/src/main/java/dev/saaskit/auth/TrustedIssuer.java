package dev.saaskit.auth;

import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.KeyType;
import dev.saaskit.core.TenantId;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.text.ParseException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.EnumSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * One issuer a {@link TokenVerifier} trusts: its exact {@code iss}, where its keys come from (a JWKS URL, a static
 * JWK set, or an HMAC secret for legacy Supabase projects), the algorithms it is pinned to, the audience or
 * authorized party tokens must name, the clock skew, the tenant(s) it may speak for, and how its claims map to a
 * {@link Principal}. Immutable; built by {@link #builder(String)}, which fails fast on contradictory settings.
 *
 * <p>Settings and defaults: keys (required, exactly one of {@link Builder#jwksUrl}, {@link Builder#jwks},
 * {@link Builder#hmacSecret(byte[])}); algorithms (RS256 for JWKS keys, HS256 for a secret); audience (required:
 * {@link Builder#audiences}, {@link Builder#authorizedParties} or explicitly {@link Builder#anyAudience()}); clock
 * skew 60 s (at most 5 min); tenant from the mapping's tenant claim, any tenant, none required; mapping
 * {@link ClaimMappings#generic()}; JWKS cache time-to-live 5 min, refresh timeout 15 s, refresh ahead 30 s before
 * expiry, at most one refetch per 30 s (rate limit), outage tolerance 1 h, HTTP connect and read timeouts 1 s, JWKS
 * size limit 50 KiB.
 */
public final class TrustedIssuer {
  /** The largest clock skew an issuer may be given. */
  public static final Duration MAX_CLOCK_SKEW = Duration.ofMinutes(5);

  private final String id;
  private final @Nullable URI jwksUrl;
  private final @Nullable JWKSet staticKeys;
  private final @Nullable String staticJwksJson;
  private final byte @Nullable [] hmacSecret;
  private final Set<SigningAlgorithm> algorithms;
  private final Set<String> audiences;
  private final Set<String> authorizedParties;
  private final boolean anyAudience;
  private final Duration clockSkew;
  private final @Nullable TenantId fixedTenant;
  private final Set<TenantId> allowedTenants;
  private final boolean requireTenant;
  private final ClaimMapping claimMapping;
  private final Duration jwksCacheTtl;
  private final Duration jwksRefreshTimeout;
  private final Duration jwksRefreshAhead;
  private final Duration jwksRateLimit;
  private final Duration jwksOutageTolerance;
  private final Duration httpConnectTimeout;
  private final Duration httpReadTimeout;
  private final int jwksSizeLimit;

  private TrustedIssuer(Builder b, Set<SigningAlgorithm> algorithms) {
    this.id = b.id;
    this.jwksUrl = b.jwksUrl;
    this.staticKeys = b.staticKeys;
    this.staticJwksJson = b.staticJwksJson;
    this.hmacSecret = b.hmacSecret == null ? null : b.hmacSecret.clone();
    this.algorithms = algorithms;
    this.audiences = Set.copyOf(b.audiences);
    this.authorizedParties = Set.copyOf(b.authorizedParties);
    this.anyAudience = b.anyAudience;
    this.clockSkew = b.clockSkew;
    this.fixedTenant = b.fixedTenant;
    this.allowedTenants = Set.copyOf(b.allowedTenants);
    this.requireTenant = b.requireTenant;
    this.claimMapping = b.claimMapping;
    this.jwksCacheTtl = b.jwksCacheTtl;
    this.jwksRefreshTimeout = b.jwksRefreshTimeout;
    this.jwksRefreshAhead = b.jwksRefreshAhead;
    this.jwksRateLimit = b.jwksRateLimit;
    this.jwksOutageTolerance = b.jwksOutageTolerance;
    this.httpConnectTimeout = b.httpConnectTimeout;
    this.httpReadTimeout = b.httpReadTimeout;
    this.jwksSizeLimit = b.jwksSizeLimit;
  }

  /** A builder for the issuer whose tokens carry exactly this {@code iss} (compared as a plain string). */
  public static Builder builder(String issuer) {
    return new Builder(issuer);
  }

  /** A builder holding this issuer's settings, to make a variant. */
  public Builder toBuilder() {
    Builder b = new Builder(id);
    b.jwksUrl = jwksUrl;
    b.staticKeys = staticKeys;
    b.staticJwksJson = staticJwksJson;
    b.hmacSecret = hmacSecret == null ? null : hmacSecret.clone();
    b.algorithms = EnumSet.copyOf(algorithms);
    b.audiences = new LinkedHashSet<>(audiences);
    b.authorizedParties = new LinkedHashSet<>(authorizedParties);
    b.anyAudience = anyAudience;
    b.clockSkew = clockSkew;
    b.fixedTenant = fixedTenant;
    b.allowedTenants = new LinkedHashSet<>(allowedTenants);
    b.requireTenant = requireTenant;
    b.claimMapping = claimMapping;
    b.jwksCacheTtl = jwksCacheTtl;
    b.jwksRefreshTimeout = jwksRefreshTimeout;
    b.jwksRefreshAhead = jwksRefreshAhead;
    b.jwksRateLimit = jwksRateLimit;
    b.jwksOutageTolerance = jwksOutageTolerance;
    b.httpConnectTimeout = httpConnectTimeout;
    b.httpReadTimeout = httpReadTimeout;
    b.jwksSizeLimit = jwksSizeLimit;
    return b;
  }

  /** The exact {@code iss} this issuer's tokens carry. */
  public String id() {
    return id;
  }

  /** The JWKS URL keys are fetched from, if the keys come from one. */
  public Optional<URI> jwksUrl() {
    return Optional.ofNullable(jwksUrl);
  }

  /** The static JWK set (public keys only, as JSON), if the keys were given as one. */
  public Optional<String> staticJwks() {
    return Optional.ofNullable(staticJwksJson);
  }

  /** Whether the issuer signs with an HMAC secret (the secret itself is never exposed). */
  public boolean usesHmacSecret() {
    return hmacSecret != null;
  }

  /** The algorithms tokens of this issuer may use (unmodifiable). */
  public Set<SigningAlgorithm> algorithms() {
    return algorithms;
  }

  /** Audiences of which a token's {@code aud} must contain one; empty for no {@code aud} check. */
  public Set<String> audiences() {
    return audiences;
  }

  /** Authorized parties one of which a token's {@code azp} must be; empty for no {@code azp} check. */
  public Set<String> authorizedParties() {
    return authorizedParties;
  }

  /** Whether the audience check was explicitly turned off ({@link Builder#anyAudience()}). */
  public boolean anyAudience() {
    return anyAudience;
  }

  /** The clock skew allowed on {@code exp}, {@code nbf} and {@code iat}. */
  public Duration clockSkew() {
    return clockSkew;
  }

  /** The one tenant this issuer speaks for (an enterprise IdP), if it is bound to one. */
  public Optional<TenantId> fixedTenant() {
    return Optional.ofNullable(fixedTenant);
  }

  /** The tenants a multi-tenant issuer's tenant claim may name; empty for any tenant. */
  public Set<TenantId> allowedTenants() {
    return allowedTenants;
  }

  /** Whether a token that names no tenant is refused. */
  public boolean requireTenant() {
    return requireTenant;
  }

  /** How this issuer's claims map to a principal. */
  public ClaimMapping claimMapping() {
    return claimMapping;
  }

  /** How long a fetched JWK set is used before it is fetched again. */
  public Duration jwksCacheTtl() {
    return jwksCacheTtl;
  }

  /** How long a caller waits for a JWK set refresh another thread started. */
  public Duration jwksRefreshTimeout() {
    return jwksRefreshTimeout;
  }

  /** How long before the cached JWK set expires it is refreshed in the background; zero for never. */
  public Duration jwksRefreshAhead() {
    return jwksRefreshAhead;
  }

  /** The least time between two fetches of the JWK set (unknown {@code kid}s cannot force more); zero for none. */
  public Duration jwksRateLimit() {
    return jwksRateLimit;
  }

  /** How long the last JWK set keeps being used while the JWKS URL fails; zero for not at all. */
  public Duration jwksOutageTolerance() {
    return jwksOutageTolerance;
  }

  /** The HTTP connect timeout of JWKS fetches. */
  public Duration httpConnectTimeout() {
    return httpConnectTimeout;
  }

  /** The HTTP read timeout of JWKS fetches. */
  public Duration httpReadTimeout() {
    return httpReadTimeout;
  }

  /** The largest JWKS document accepted, in bytes. */
  public int jwksSizeLimit() {
    return jwksSizeLimit;
  }

  /** For the implementation: the static keys, or null. */
  @Nullable JWKSet staticKeySet() {
    return staticKeys;
  }

  /** For the implementation: a copy of the HMAC secret, or null. */
  byte @Nullable [] hmacSecretCopy() {
    return hmacSecret == null ? null : hmacSecret.clone();
  }

  /** Names the issuer and its key source; never a secret. */
  @Override
  public String toString() {
    return "TrustedIssuer[" + id + ", keys=" + (jwksUrl != null ? "jwks " + jwksUrl
        : staticKeys != null ? "static JWK set" : "HMAC secret") + ", algorithms=" + algorithms + "]";
  }

  /** Builds a {@link TrustedIssuer}; setters check their argument at once. Not thread-safe. */
  public static final class Builder {
    private final String id;
    private @Nullable URI jwksUrl;
    private @Nullable JWKSet staticKeys;
    private @Nullable String staticJwksJson;
    private byte @Nullable [] hmacSecret;
    private @Nullable EnumSet<SigningAlgorithm> algorithms;
    private Set<String> audiences = new LinkedHashSet<>();
    private Set<String> authorizedParties = new LinkedHashSet<>();
    private boolean anyAudience;
    private Duration clockSkew = Duration.ofSeconds(60);
    private @Nullable TenantId fixedTenant;
    private Set<TenantId> allowedTenants = new LinkedHashSet<>();
    private boolean requireTenant;
    private ClaimMapping claimMapping = ClaimMappings.generic().build();
    private Duration jwksCacheTtl = Duration.ofMinutes(5);
    private Duration jwksRefreshTimeout = Duration.ofSeconds(15);
    private Duration jwksRefreshAhead = Duration.ofSeconds(30);
    private Duration jwksRateLimit = Duration.ofSeconds(30);
    private Duration jwksOutageTolerance = Duration.ofHours(1);
    private Duration httpConnectTimeout = Duration.ofSeconds(1);
    private Duration httpReadTimeout = Duration.ofSeconds(1);
    private int jwksSizeLimit = 50 * 1024;

    private Builder(String issuer) {
      Objects.requireNonNull(issuer, "issuer");
      if (issuer.isEmpty() || issuer.indexOf('\u0000') >= 0) {
        throw new IllegalArgumentException("issuer must be non-empty and free of NUL characters");
      }
      this.id = issuer;
    }

    /**
     * Keys come from this JWKS URL (https, or http for a loopback address in tests), fetched with caching,
     * refresh-ahead, a refetch rate limit and outage tolerance. Replaces any other key source.
     */
    public Builder jwksUrl(URI url) {
      Objects.requireNonNull(url, "jwksUrl");
      String scheme = url.getScheme();
      String host = url.getHost();
      boolean loopback = host != null && (host.equals("localhost") || host.equals("127.0.0.1")
          || host.equals("[::1]") || host.equals("::1"));
      if (!"https".equalsIgnoreCase(scheme) && !("http".equalsIgnoreCase(scheme) && loopback)) {
        throw new IllegalArgumentException(
            "jwksUrl must be https (http only for a loopback address) but was " + url);
      }
      clearKeys();
      this.jwksUrl = url;
      return this;
    }

    /**
     * Keys are this JWK set, given as JSON ({@code {"keys": [...]}}); only public keys are kept, and symmetric
     * ({@code oct}) keys are refused: an HMAC secret is set with {@link #hmacSecret(byte[])}. Replaces any other
     * key source.
     */
    public Builder jwks(String jwkSetJson) {
      Objects.requireNonNull(jwkSetJson, "jwks");
      JWKSet set;
      try {
        set = JWKSet.parse(jwkSetJson);
      } catch (ParseException e) {
        throw new IllegalArgumentException("jwks is not a valid JWK set JSON document", e);
      }
      List<JWK> pub = new ArrayList<>();
      for (JWK k : set.getKeys()) {
        if (KeyType.OCT.equals(k.getKeyType())) {
          throw new IllegalArgumentException(
              "jwks must not contain symmetric (oct) keys; use hmacSecret for an HMAC secret");
        }
        JWK p = k.toPublicJWK();
        if (p != null) {
          pub.add(p);
        }
      }
      if (pub.isEmpty()) {
        throw new IllegalArgumentException("jwks must contain at least one public key");
      }
      clearKeys();
      this.staticKeys = new JWKSet(pub);
      this.staticJwksJson = staticKeys.toString(true);
      return this;
    }

    /**
     * Tokens are HMAC-signed with this shared secret (legacy Supabase projects: the project's JWT secret), at
     * least 32 bytes. Only HS256/384/512 are then allowed. Replaces any other key source.
     */
    public Builder hmacSecret(byte[] secret) {
      Objects.requireNonNull(secret, "hmacSecret");
      if (secret.length < 32) {
        throw new IllegalArgumentException("hmacSecret must be at least 32 bytes but was " + secret.length);
      }
      clearKeys();
      this.hmacSecret = secret.clone();
      return this;
    }

    /** {@link #hmacSecret(byte[])} with the UTF-8 bytes of {@code secret} (how Supabase uses its JWT secret). */
    public Builder hmacSecret(String secret) {
      return hmacSecret(Objects.requireNonNull(secret, "hmacSecret").getBytes(StandardCharsets.UTF_8));
    }

    private void clearKeys() {
      jwksUrl = null;
      staticKeys = null;
      staticJwksJson = null;
      hmacSecret = null;
    }

    /**
     * The algorithms this issuer's tokens may use (replaces the default: RS256 for JWKS keys, HS256 for a
     * secret). All must be of key families the key source has: HS* only with a secret, the others only with keys.
     */
    public Builder algorithms(SigningAlgorithm first, SigningAlgorithm... more) {
      EnumSet<SigningAlgorithm> s = EnumSet.of(Objects.requireNonNull(first, "algorithm"));
      for (SigningAlgorithm a : more) {
        s.add(Objects.requireNonNull(a, "algorithm"));
      }
      this.algorithms = s;
      return this;
    }

    /** The audiences of which a token's {@code aud} must contain at least one (replaces any set before). */
    public Builder audiences(String... audiences) {
      this.audiences = requireTexts("audience", Arrays.asList(audiences));
      return this;
    }

    /**
     * The authorized parties ({@code azp}, for Clerk: your app's origins) one of which a token must name
     * (replaces any set before). A token without {@code azp} is refused.
     */
    public Builder authorizedParties(String... parties) {
      this.authorizedParties = requireTexts("authorizedParty", Arrays.asList(parties));
      return this;
    }

    /**
     * Checks neither {@code aud} nor {@code azp}: only for an issuer whose tokens are for this app alone (such as
     * our own {@link TokenIssuer} without audience). Without it, {@link #build()} requires an audience or
     * authorized party.
     */
    public Builder anyAudience() {
      this.anyAudience = true;
      return this;
    }

    /** The clock skew on {@code exp}, {@code nbf} and {@code iat}; default 60 s, at most 5 minutes. */
    public Builder clockSkew(Duration skew) {
      Objects.requireNonNull(skew, "clockSkew");
      if (skew.isNegative() || skew.compareTo(MAX_CLOCK_SKEW) > 0) {
        throw new IllegalArgumentException("clockSkew must be between 0 and " + MAX_CLOCK_SKEW + " but was " + skew);
      }
      this.clockSkew = skew;
      return this;
    }

    /**
     * Binds the issuer to one tenant (an enterprise IdP): every principal it vouches for acts for {@code tenant},
     * and a token whose tenant claim names another tenant is refused ({@code TENANT_NOT_ALLOWED}).
     */
    public Builder fixedTenant(TenantId tenant) {
      this.fixedTenant = Objects.requireNonNull(tenant, "fixedTenant");
      this.allowedTenants = new LinkedHashSet<>();
      return this;
    }

    /**
     * The tenant comes from the mapping's tenant claim (the default: a multi-tenant IdP), restricted to these
     * tenants when any are given; a token naming another is refused ({@code TENANT_NOT_ALLOWED}).
     */
    public Builder tenantFromClaim(TenantId... allowed) {
      this.fixedTenant = null;
      Set<TenantId> s = new LinkedHashSet<>();
      for (TenantId t : allowed) {
        s.add(Objects.requireNonNull(t, "tenant"));
      }
      this.allowedTenants = s;
      return this;
    }

    /** Whether a token that names no tenant is refused ({@code TENANT_NOT_ALLOWED}); default {@code false}. */
    public Builder requireTenant(boolean require) {
      this.requireTenant = require;
      return this;
    }

    /** How the claims map to a principal; default {@link ClaimMappings#generic()} with its default names. */
    public Builder claimMapping(ClaimMapping mapping) {
      this.claimMapping = Objects.requireNonNull(mapping, "claimMapping");
      return this;
    }

    /** How long a fetched JWK set is used; default 5 minutes. */
    public Builder jwksCacheTtl(Duration ttl) {
      this.jwksCacheTtl = positive("jwksCacheTtl", ttl);
      return this;
    }

    /** How long a caller waits for a refresh in progress; default 15 s. */
    public Builder jwksRefreshTimeout(Duration timeout) {
      this.jwksRefreshTimeout = positive("jwksRefreshTimeout", timeout);
      return this;
    }

    /** Refresh this long before the cached set expires, in the background; default 30 s, zero turns it off. */
    public Builder jwksRefreshAhead(Duration ahead) {
      this.jwksRefreshAhead = notNegative("jwksRefreshAhead", ahead);
      return this;
    }

    /** At most one JWKS fetch per this interval, however many unknown {@code kid}s arrive; default 30 s. */
    public Builder jwksRateLimit(Duration minInterval) {
      this.jwksRateLimit = notNegative("jwksRateLimit", minInterval);
      return this;
    }

    /** Keep using the last JWK set this long while the JWKS URL fails; default 1 hour, zero turns it off. */
    public Builder jwksOutageTolerance(Duration tolerance) {
      this.jwksOutageTolerance = notNegative("jwksOutageTolerance", tolerance);
      return this;
    }

    /** HTTP connect timeout of JWKS fetches; default 1 s. */
    public Builder httpConnectTimeout(Duration timeout) {
      this.httpConnectTimeout = positive("httpConnectTimeout", timeout);
      return this;
    }

    /** HTTP read timeout of JWKS fetches; default 1 s. */
    public Builder httpReadTimeout(Duration timeout) {
      this.httpReadTimeout = positive("httpReadTimeout", timeout);
      return this;
    }

    /** The largest JWKS document accepted, in bytes; default 51,200. */
    public Builder jwksSizeLimit(int bytes) {
      if (bytes < 1024) {
        throw new IllegalArgumentException("jwksSizeLimit must be >= 1024 but was " + bytes);
      }
      this.jwksSizeLimit = bytes;
      return this;
    }

    /** The issuer; fails when the key source, algorithms and audience settings do not fit together. */
    public TrustedIssuer build() {
      if (jwksUrl == null && staticKeys == null && hmacSecret == null) {
        throw new IllegalStateException("issuer " + id + " needs keys: jwksUrl, jwks or hmacSecret");
      }
      boolean mac = hmacSecret != null;
      EnumSet<SigningAlgorithm> algs = algorithms != null ? EnumSet.copyOf(algorithms)
          : EnumSet.of(mac ? SigningAlgorithm.HS256 : SigningAlgorithm.RS256);
      for (SigningAlgorithm a : algs) {
        if (mac != (a.family() == SigningAlgorithm.Family.HMAC)) {
          throw new IllegalStateException("algorithm " + a + " of issuer " + id + " does not fit its keys: "
              + (mac ? "an HMAC secret allows HS256/384/512 only" : "HS256/384/512 need an hmacSecret"));
        }
      }
      if (!anyAudience && audiences.isEmpty() && authorizedParties.isEmpty()) {
        throw new IllegalStateException("issuer " + id
            + " needs audiences(..) or authorizedParties(..), or anyAudience() to check neither");
      }
      if (anyAudience && (!audiences.isEmpty() || !authorizedParties.isEmpty())) {
        throw new IllegalStateException("issuer " + id + ": anyAudience() contradicts audiences/authorizedParties");
      }
      if (jwksUrl != null && !jwksRefreshAhead.isZero()
          && jwksRefreshAhead.plus(jwksRefreshTimeout).compareTo(jwksCacheTtl) >= 0) {
        throw new IllegalStateException("jwksRefreshAhead + jwksRefreshTimeout must be < jwksCacheTtl but were "
            + jwksRefreshAhead + " + " + jwksRefreshTimeout + " >= " + jwksCacheTtl);
      }
      return new TrustedIssuer(this, java.util.Collections.unmodifiableSet(algs));
    }

    private static Set<String> requireTexts(String what, Collection<String> values) {
      Set<String> s = new LinkedHashSet<>();
      for (String v : values) {
        Objects.requireNonNull(v, what);
        if (v.isEmpty()) {
          throw new IllegalArgumentException(what + " must not be empty");
        }
        s.add(v);
      }
      return s;
    }

    private static Duration positive(String what, Duration d) {
      Objects.requireNonNull(d, what);
      if (d.isNegative() || d.isZero()) {
        throw new IllegalArgumentException(what + " must be > 0 but was " + d);
      }
      return d;
    }

    private static Duration notNegative(String what, Duration d) {
      Objects.requireNonNull(d, what);
      if (d.isNegative()) {
        throw new IllegalArgumentException(what + " must be >= 0 but was " + d);
      }
      return d;
    }
  }
}
