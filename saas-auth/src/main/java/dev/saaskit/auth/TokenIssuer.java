package dev.saaskit.auth;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSSigner;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import dev.saaskit.core.SaasException;
import dev.saaskit.core.TenantId;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.Date;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A minimal token issuer of our own, for apps that mint their own session tokens and for tests: signs with a key it
 * generates (ES256 by default, or RS256), rotates keys on demand, and serves its public keys as a JWKS.
 *
 * <pre>{@code
 * TokenIssuer issuer = TokenIssuer.builder("https://app.example.com").build();
 * String token = issuer.token("user-42").tenant(TenantId.of("acme")).roles("admin").permissionVersion(3)
 *     .audience("api").ttl(Duration.ofMinutes(15)).sign();
 * TokenVerifier verifier = TokenVerifier.builder().issuer(issuer.trusted().audiences("api").build()).build();
 * }</pre>
 *
 * <p>Tokens carry our standard claims ({@code tenant_id}, {@code roles}, {@code permissions},
 * {@value ClaimMappings#PERMISSION_VERSION}), read by {@link ClaimMappings#standard()}. {@link #rotate()} makes a
 * new key current and keeps the previous ones in {@link #jwksJson()} until {@link Builder#retiredKeys} newer keys
 * have replaced them, so tokens signed before a rotation keep verifying. Keys live in memory only: an app that
 * runs several nodes or restarts must share its keys another way (or use its IdP). Thread-safe.
 */
public final class TokenIssuer {
  private final String issuer;
  private final SigningAlgorithm algorithm;
  private final Clock clock;
  private final int retiredKeys;
  private final Duration defaultTtl;
  private final SecureRandom random;
  private final Deque<JWK> keys = new ArrayDeque<>();
  private volatile JWSSigner signer;
  private volatile JWK current;

  private TokenIssuer(Builder b) {
    this.issuer = b.issuer;
    this.algorithm = b.algorithm;
    this.clock = b.clock;
    this.retiredKeys = b.retiredKeys;
    this.defaultTtl = b.defaultTtl;
    this.random = b.random;
    JWK first = generate();
    this.current = first;
    this.signer = signer(first);
    keys.addFirst(first);
  }

  /** A builder for tokens whose {@code iss} is {@code issuer}. */
  public static Builder builder(String issuer) {
    return new Builder(issuer);
  }

  /** The {@code iss} of the tokens. */
  public String issuer() {
    return issuer;
  }

  /** Starts a token for the user {@code subject}. */
  public TokenBuilder token(String subject) {
    return new TokenBuilder(this, subject);
  }

  /** Makes a new key current; the previous ones stay published (see {@link Builder#retiredKeys(int)}). */
  public synchronized void rotate() {
    JWK next = generate();
    JWSSigner nextSigner = signer(next);
    keys.addFirst(next);
    while (keys.size() > retiredKeys + 1) {
      keys.removeLast();
    }
    signer = nextSigner;
    current = next;
  }

  /** The {@code kid} of the current signing key. */
  public String currentKeyId() {
    return Objects.requireNonNull(current.getKeyID());
  }

  /** The public keys, current first, as a JWKS document ({@code {"keys": [...]}}); never a private part. */
  public synchronized String jwksJson() {
    List<JWK> publicKeys = new ArrayList<>();
    for (JWK k : keys) {
      publicKeys.add(k.toPublicJWK());
    }
    return new JWKSet(publicKeys).toString(true);
  }

  /**
   * A {@link TrustedIssuer} builder for this issuer with its current public keys (static: call it again after a
   * rotation, or serve {@link #jwksJson()} at a URL and register that), its algorithm and the standard mapping.
   */
  public TrustedIssuer.Builder trusted() {
    return TrustedIssuer.builder(issuer).jwks(jwksJson()).algorithms(algorithm)
        .claimMapping(ClaimMappings.standard());
  }

  private JWK generate() {
    String kid = kid();
    try {
      if (algorithm == SigningAlgorithm.RS256) {
        return new RSAKeyGenerator(2048).keyID(kid).keyUse(KeyUse.SIGNATURE).algorithm(JWSAlgorithm.RS256)
            .secureRandom(random).generate();
      }
      return new ECKeyGenerator(Curve.P_256).keyID(kid).keyUse(KeyUse.SIGNATURE).algorithm(JWSAlgorithm.ES256)
          .secureRandom(random).generate();
    } catch (JOSEException e) {
      throw new SaasException("could not generate a signing key: " + e.getMessage(), e);
    }
  }

  private String kid() {
    byte[] bytes = new byte[12];
    random.nextBytes(bytes);
    return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
  }

  private static JWSSigner signer(JWK key) {
    try {
      return key instanceof com.nimbusds.jose.jwk.RSAKey ? new RSASSASigner((com.nimbusds.jose.jwk.RSAKey) key)
          : new ECDSASigner((com.nimbusds.jose.jwk.ECKey) key);
    } catch (JOSEException e) {
      throw new SaasException("could not use the signing key: " + e.getMessage(), e);
    }
  }

  private String sign(TokenBuilder t) {
    Instant now = clock.instant();
    JWTClaimsSet.Builder claims = new JWTClaimsSet.Builder().issuer(issuer).subject(t.subject)
        .issueTime(Date.from(now)).expirationTime(Date.from(now.plus(t.ttl == null ? defaultTtl : t.ttl)))
        .jwtID(kid());
    if (!t.audiences.isEmpty()) {
      claims.audience(t.audiences);
    }
    if (t.tenant != null) {
      claims.claim("tenant_id", t.tenant.value());
    }
    if (!t.roles.isEmpty()) {
      claims.claim("roles", t.roles);
    }
    if (!t.permissions.isEmpty()) {
      claims.claim("permissions", t.permissions);
    }
    if (t.permissionVersion != null) {
      claims.claim(ClaimMappings.PERMISSION_VERSION, t.permissionVersion);
    }
    if (t.email != null) {
      claims.claim("email", t.email);
    }
    for (Map.Entry<String, Object> e : t.extra.entrySet()) {
      claims.claim(e.getKey(), e.getValue());
    }
    JWK key;
    JWSSigner s;
    synchronized (this) {
      key = current;
      s = signer;
    }
    JWSAlgorithm alg = algorithm == SigningAlgorithm.RS256 ? JWSAlgorithm.RS256 : JWSAlgorithm.ES256;
    SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(alg).keyID(key.getKeyID()).type(JOSEObjectType.JWT).build(),
        claims.build());
    try {
      jwt.sign(s);
    } catch (JOSEException e) {
      throw new SaasException("could not sign a token: " + e.getMessage(), e);
    }
    return jwt.serialize();
  }

  /** The claims of one token; {@link #sign()} signs it. Not thread-safe. */
  public static final class TokenBuilder {
    private final TokenIssuer owner;
    private final String subject;
    private @Nullable TenantId tenant;
    private List<String> roles = List.of();
    private List<String> permissions = List.of();
    private @Nullable Long permissionVersion;
    private List<String> audiences = List.of();
    private @Nullable Duration ttl;
    private @Nullable String email;
    private final Map<String, Object> extra = new LinkedHashMap<>();

    private TokenBuilder(TokenIssuer owner, String subject) {
      Objects.requireNonNull(subject, "subject");
      if (subject.isEmpty()) {
        throw new IllegalArgumentException("subject must not be empty");
      }
      this.owner = owner;
      this.subject = subject;
    }

    /** The tenant the token acts for ({@code tenant_id}). */
    public TokenBuilder tenant(TenantId tenant) {
      this.tenant = Objects.requireNonNull(tenant, "tenant");
      return this;
    }

    /** The user's roles in the tenant ({@code roles}). */
    public TokenBuilder roles(String... roles) {
      this.roles = List.of(roles);
      return this;
    }

    /** The user's roles in the tenant ({@code roles}). */
    public TokenBuilder roles(Collection<String> roles) {
      this.roles = List.copyOf(roles);
      return this;
    }

    /** Permissions granted directly ({@code permissions}). */
    public TokenBuilder permissions(String... permissions) {
      this.permissions = List.of(permissions);
      return this;
    }

    /** The membership's permission version ({@value ClaimMappings#PERMISSION_VERSION}). */
    public TokenBuilder permissionVersion(long version) {
      if (version < 0) {
        throw new IllegalArgumentException("permissionVersion must be >= 0 but was " + version);
      }
      this.permissionVersion = version;
      return this;
    }

    /** The audiences ({@code aud}). */
    public TokenBuilder audience(String... audiences) {
      this.audiences = List.of(audiences);
      return this;
    }

    /** The email (display only). */
    public TokenBuilder email(String email) {
      this.email = Objects.requireNonNull(email, "email");
      return this;
    }

    /** How long the token is valid; default the issuer's {@link Builder#defaultTtl(Duration)}. */
    public TokenBuilder ttl(Duration ttl) {
      Objects.requireNonNull(ttl, "ttl");
      if (ttl.isNegative() || ttl.isZero()) {
        throw new IllegalArgumentException("ttl must be positive but was " + ttl);
      }
      this.ttl = ttl;
      return this;
    }

    /** Any further claim (a JSON-able value: string, number, boolean, list, map). */
    public TokenBuilder claim(String name, Object value) {
      extra.put(Objects.requireNonNull(name, "name"), Objects.requireNonNull(value, "value"));
      return this;
    }

    /** The signed compact JWS. */
    public String sign() {
      return owner.sign(this);
    }
  }

  /** Builds a {@link TokenIssuer}; setters check their argument at once. Not thread-safe. */
  public static final class Builder {
    private final String issuer;
    private SigningAlgorithm algorithm = SigningAlgorithm.ES256;
    private Clock clock = Clock.systemUTC();
    private int retiredKeys = 1;
    private Duration defaultTtl = Duration.ofMinutes(15);
    private SecureRandom random = new SecureRandom();

    private Builder(String issuer) {
      Objects.requireNonNull(issuer, "issuer");
      if (issuer.isBlank()) {
        throw new IllegalArgumentException("issuer must not be blank");
      }
      this.issuer = issuer;
    }

    /** ES256 (default) or RS256. */
    public Builder algorithm(SigningAlgorithm algorithm) {
      Objects.requireNonNull(algorithm, "algorithm");
      if (algorithm != SigningAlgorithm.ES256 && algorithm != SigningAlgorithm.RS256) {
        throw new IllegalArgumentException("algorithm must be ES256 or RS256 but was " + algorithm);
      }
      this.algorithm = algorithm;
      return this;
    }

    /** The clock for {@code iat} and {@code exp}; default the system UTC clock. */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /** How many replaced keys stay published after a rotation; default 1. */
    public Builder retiredKeys(int keys) {
      if (keys < 0 || keys > 10) {
        throw new IllegalArgumentException("retiredKeys must be between 0 and 10 but was " + keys);
      }
      this.retiredKeys = keys;
      return this;
    }

    /** The validity of tokens that set no ttl; default 15 minutes. */
    public Builder defaultTtl(Duration ttl) {
      Objects.requireNonNull(ttl, "ttl");
      if (ttl.isNegative() || ttl.isZero()) {
        throw new IllegalArgumentException("defaultTtl must be positive but was " + ttl);
      }
      this.defaultTtl = ttl;
      return this;
    }

    /** The randomness for keys and ids; default a new {@link SecureRandom}. */
    public Builder random(SecureRandom random) {
      this.random = Objects.requireNonNull(random, "random");
      return this;
    }

    /** The issuer, with a fresh current key. */
    public TokenIssuer build() {
      return new TokenIssuer(this);
    }
  }
}
