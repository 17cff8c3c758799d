package dev.saaskit.auth.sso;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.oauth2.sdk.AuthorizationCode;
import com.nimbusds.oauth2.sdk.AuthorizationCodeGrant;
import com.nimbusds.oauth2.sdk.ResponseType;
import com.nimbusds.oauth2.sdk.Scope;
import com.nimbusds.oauth2.sdk.TokenRequest;
import com.nimbusds.oauth2.sdk.TokenResponse;
import com.nimbusds.oauth2.sdk.auth.ClientSecretBasic;
import com.nimbusds.oauth2.sdk.auth.Secret;
import com.nimbusds.oauth2.sdk.http.HTTPRequest;
import com.nimbusds.oauth2.sdk.http.HTTPResponse;
import com.nimbusds.oauth2.sdk.id.ClientID;
import com.nimbusds.oauth2.sdk.id.State;
import com.nimbusds.oauth2.sdk.pkce.CodeChallengeMethod;
import com.nimbusds.oauth2.sdk.pkce.CodeVerifier;
import com.nimbusds.openid.connect.sdk.AuthenticationRequest;
import com.nimbusds.openid.connect.sdk.Nonce;
import com.nimbusds.openid.connect.sdk.OIDCTokenResponse;
import com.nimbusds.openid.connect.sdk.OIDCTokenResponseParser;
import dev.saaskit.auth.InvalidTokenException;
import dev.saaskit.auth.Principal;
import dev.saaskit.auth.internal.sso.BoundedHttp;
import dev.saaskit.auth.internal.sso.Domains;
import dev.saaskit.auth.internal.sso.IdTokenValidator;
import dev.saaskit.auth.internal.sso.OidcProvider;
import dev.saaskit.auth.internal.sso.Tx;
import dev.saaskit.auth.internal.sso.Urls;
import dev.saaskit.core.TenantId;
import dev.saaskit.core.internal.LogText;
import dev.saaskit.core.internal.SqlNames;
import java.io.IOException;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Base64;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The OpenID Connect relying party of {@link SsoConnection}s: the authorization code flow with PKCE (S256), state
 * and nonce kept server-side (single use, expiring, in {@code sso_login_states}), the RFC 9207 {@code iss} callback
 * parameter checked against the connection's issuer, the code exchanged with {@code client_secret_basic}, and the ID
 * token validated with the verifier's rules (keys from the issuer's JWKS only, algorithms pinned to what discovery
 * advertises intersected with a safe list, {@code iss}, {@code aud} = client id, {@code azp}, {@code exp}/{@code
 * iat}/{@code nbf} with skew, {@code nonce}).
 *
 * <pre>{@code
 * OidcLogin oidc = OidcLogin.builder(connections).build();
 * // login page: route by the email's verified domain, then send the browser to the IdP
 * SsoConnection connection = connections.connectionForEmail(email).orElseThrow();
 * OidcLogin.Start start = oidc.begin(connection, URI.create("https://app.example.com/sso/callback"));
 * response.redirect(start.authorizationUri());
 * // callback: the full URI the browser came back with
 * SsoLogin login = oidc.complete(callbackUri);   // or signIn(callbackUri) for a Principal
 * }</pre>
 *
 * <p>Discovery documents are cached per (issuer, client id) for {@link Builder#discoveryTtl}, and a failed discovery
 * for 30 seconds (logins meanwhile are refused with {@code DISCOVERY_FAILED} at once); the JWKS per issuer
 * through nimbus's {@code JWKSourceBuilder} (cache, refresh-ahead, rate limit, outage tolerance). Thread-safe.
 */
public final class OidcLogin {
  /** The ID token algorithms allowed by default (an IdP's advertised list is intersected with these). */
  public static final Set<String> DEFAULT_ALGORITHMS = Set.of("RS256", "RS384", "RS512", "PS256", "PS384",
      "PS512", "ES256", "ES384", "ES512");

  private static final Logger LOG = LoggerFactory.getLogger(OidcLogin.class);
  /** How long a failed discovery is answered from memory before it is tried again. */
  private static final Duration DISCOVERY_RETRY = Duration.ofSeconds(30);
  private static final Base64.Encoder B64 = Base64.getUrlEncoder().withoutPadding();
  /** The longest email kept from an ID token: what a membership's user row holds. */
  private static final int MAX_EMAIL = 320;

  private final SsoConnections connections;
  private final Clock clock;
  private final SecureRandom random;
  private final Duration loginTtl;
  private final Duration clockSkew;
  private final Duration httpTimeout;
  private final boolean allowPrivateAddresses;
  private final Scope scope;
  private final Set<JWSAlgorithm> algorithms;
  private final SsoProvisioner provisioner;
  private final Cache<String, OidcProvider> providers;
  /** Discoveries that failed recently, per provider key: not attempted again before {@link #DISCOVERY_RETRY}. */
  private final Cache<String, SsoException> failedDiscoveries;
  private final Tx tx;
  private final String s;

  private OidcLogin(Builder b) {
    this.connections = b.connections;
    this.clock = b.clock;
    this.random = b.random;
    this.loginTtl = b.loginTtl;
    this.clockSkew = b.clockSkew;
    this.httpTimeout = b.httpTimeout;
    this.allowPrivateAddresses = b.allowPrivateAddresses;
    this.scope = new Scope(b.scopes.toArray(new String[0]));
    Set<JWSAlgorithm> algs = new LinkedHashSet<>();
    for (String a : b.algorithms) {
      algs.add(JWSAlgorithm.parse(a));
    }
    this.algorithms = Set.copyOf(algs);
    this.provisioner = b.provisioner;
    Clock ticking = b.clock;
    this.providers = Caffeine.newBuilder().expireAfterWrite(b.discoveryTtl).maximumSize(10_000)
        .ticker(() -> ticking.millis() * 1_000_000L).build();
    this.failedDiscoveries = Caffeine.newBuilder().expireAfterWrite(DISCOVERY_RETRY).maximumSize(10_000)
        .ticker(() -> ticking.millis() * 1_000_000L).build();
    this.tx = new Tx(connections.dataSource(), connections.schema().tenantSetting());
    this.s = SqlNames.quoteIdent(connections.schema().name());
  }

  /** A builder over {@code connections} (its data source, schema, clock and randomness are the defaults). */
  public static Builder builder(SsoConnections connections) {
    return new Builder(connections);
  }

  /**
   * Starts a login: stores the state, nonce and PKCE verifier (single use, expiring after {@link
   * Builder#loginTtl}) and returns where to send the browser.
   *
   * @param connection an enabled OIDC connection
   * @param redirectUri this application's callback, registered at the IdP ({@code https}, or {@code http} on a
   *     loopback host)
   * @throws SsoException {@code CONNECTION_DISABLED}, {@code WRONG_PROTOCOL}, {@code DISCOVERY_FAILED}
   * @throws IllegalArgumentException when {@code redirectUri} is not an https URL
   */
  public Start begin(SsoConnection connection, URI redirectUri) {
    Objects.requireNonNull(connection, "connection");
    Objects.requireNonNull(redirectUri, "redirectUri");
    Urls.requireEndpoint("redirectUri", redirectUri.toString());
    OidcSettings settings = oidcOf(connection);
    OidcProvider provider = provider(settings);
    TenantId tenant = connection.tenant();
    String state = B64.encodeToString(tenant.value().getBytes(StandardCharsets.UTF_8)) + "." + randomToken();
    String nonce = randomToken();
    String verifier = randomToken();
    Instant now = clock.instant().truncatedTo(ChronoUnit.MICROS);
    Instant expiresAt = now.plus(loginTtl);
    try {
      tx.inTenant(tenant, c -> {
        try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + s + ".sso_login_states"
            + " WHERE tenant_id = ? AND expires_at < ?")) {
          ps.setString(1, tenant.value());
          ps.setTimestamp(2, Timestamp.from(now));
          ps.executeUpdate();
        }
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + s + ".sso_login_states (tenant_id,"
            + " state_hash, connection_id, nonce, code_verifier, redirect_uri, created_at, expires_at)"
            + " VALUES (?, ?, ?, ?, ?, ?, ?, ?)")) {
          ps.setString(1, tenant.value());
          ps.setBytes(2, sha256(state));
          ps.setObject(3, connection.id());
          ps.setString(4, nonce);
          ps.setString(5, verifier);
          ps.setString(6, redirectUri.toString());
          ps.setTimestamp(7, Timestamp.from(now));
          ps.setTimestamp(8, Timestamp.from(expiresAt));
          return ps.executeUpdate();
        }
      });
    } catch (SQLException e) {
      throw Tx.failure("storing an OIDC login state", e);
    }
    URI uri = new AuthenticationRequest.Builder(ResponseType.CODE, scope, new ClientID(settings.clientId()),
        redirectUri)
        .endpointURI(provider.authorizationEndpoint())
        .state(new State(state))
        .nonce(new Nonce(nonce))
        .codeChallenge(new CodeVerifier(verifier), CodeChallengeMethod.S256)
        .build()
        .toURI();
    return new Start(uri, state, expiresAt);
  }

  /**
   * Completes a login from the callback URI the browser came back with (its query holds {@code code},
   * {@code state} and, from IdPs that send it, {@code iss}).
   *
   * @throws SsoException with the reason the login was refused
   */
  public SsoLogin complete(URI callbackUri) {
    return complete(parseQuery(Objects.requireNonNull(callbackUri, "callbackUri")), null);
  }

  /**
   * Like {@link #complete(URI)}, and the callback's state must also equal {@code expectedState}: the {@link
   * Start#state()} the application kept in the browser's session when the login began, which binds the login to
   * the browser that started it (login CSRF defence).
   *
   * @throws SsoException {@code UNKNOWN_STATE} when the states differ, and every reason of {@link #complete(URI)}
   */
  public SsoLogin complete(URI callbackUri, String expectedState) {
    return complete(parseQuery(Objects.requireNonNull(callbackUri, "callbackUri")),
        Objects.requireNonNull(expectedState, "expectedState"));
  }

  /**
   * Completes a login from the callback's query parameters (decoded, one value each). A {@code null} map, and
   * entries with a {@code null} name or value, are hostile input like any other: such an entry counts as absent, and
   * a missing {@code state} or {@code code} is refused as {@code MALFORMED_CALLBACK}.
   *
   * @throws SsoException with the reason the login was refused
   */
  public SsoLogin complete(@Nullable Map<String, String> callbackParameters) {
    if (callbackParameters == null) {
      throw refused(SsoException.Reason.MALFORMED_CALLBACK, "the callback has no parameters");
    }
    Map<String, String> params = new HashMap<>();
    // read as Map<?, ?>: a map filled through raw types may hold anything, and only text parameters are ours
    for (Map.Entry<?, ?> e : ((Map<?, ?>) callbackParameters).entrySet()) {
      if (e.getKey() instanceof String && e.getValue() instanceof String) {
        params.put((String) e.getKey(), (String) e.getValue());
      }
    }
    return complete(params, null);
  }

  /**
   * {@link #complete(URI)}, then the {@link Builder#provisioner provisioner} turns the login into a principal.
   *
   * @throws SsoException with the reason the login was refused
   */
  public Principal signIn(URI callbackUri) {
    return provisioner.provision(complete(callbackUri));
  }

  private SsoLogin complete(Map<String, String> params, @Nullable String expectedState) {
    String state = params.get("state");
    if (state == null || state.isEmpty() || state.length() > 512) {
      throw refused(SsoException.Reason.MALFORMED_CALLBACK, "the callback has no state");
    }
    if (expectedState != null && !MessageDigest.isEqual(state.getBytes(StandardCharsets.UTF_8),
        expectedState.getBytes(StandardCharsets.UTF_8))) {
      throw refused(SsoException.Reason.UNKNOWN_STATE, "the callback's state is not the one of this browser");
    }
    TenantId tenant = tenantOf(state);
    byte[] hash = sha256(state);
    Instant now = clock.instant();
    Optional<Pending> taken;
    try {
      taken = tx.inTenant(tenant, c -> {
        try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + s + ".sso_login_states"
            + " WHERE tenant_id = ? AND state_hash = ?"
            + " RETURNING connection_id, nonce, code_verifier, redirect_uri, expires_at")) {
          ps.setString(1, tenant.value());
          ps.setBytes(2, hash);
          try (ResultSet rs = ps.executeQuery()) {
            if (!rs.next()) {
              return Optional.<Pending>empty();
            }
            return Optional.of(new Pending(rs.getObject(1, UUID.class), rs.getString(2), rs.getString(3),
                URI.create(rs.getString(4)), rs.getTimestamp(5).toInstant()));
          }
        }
      });
    } catch (SQLException e) {
      throw Tx.failure("taking an OIDC login state", e);
    }
    // looked up by its SHA-256: timing reveals nothing usable about a state nobody knows
    if (taken.isEmpty()) {
      throw refused(SsoException.Reason.UNKNOWN_STATE, "unknown, used or altered state");
    }
    Pending pending = taken.get();
    if (!now.isBefore(pending.expiresAt())) {
      throw refused(SsoException.Reason.UNKNOWN_STATE, "the login expired at " + pending.expiresAt());
    }
    SsoConnection connection = connections.find(tenant, pending.connectionId()).orElseThrow(() ->
        refused(SsoException.Reason.NOT_FOUND, "the connection of the login was deleted"));
    OidcSettings settings = oidcOf(connection);
    OidcProvider provider = provider(settings);
    String error = params.get("error");
    if (error != null) {
      throw refused(SsoException.Reason.PROVIDER_ERROR, "the IdP answered " + printable(error));
    }
    String iss = params.get("iss");
    if (iss != null && !iss.equals(settings.issuer())) {
      throw refused(SsoException.Reason.ISSUER_MISMATCH, "the callback's iss is not the connection's issuer");
    }
    if (iss == null && provider.issParameterSupported()) {
      throw refused(SsoException.Reason.MISSING_ISSUER, "the IdP promises an iss callback parameter and sent none");
    }
    String code = params.get("code");
    if (code == null || code.isEmpty()) {
      throw refused(SsoException.Reason.MALFORMED_CALLBACK, "the callback has no code");
    }
    String idToken = exchange(provider, settings, code, pending);
    JWTClaimsSet claims;
    try {
      claims = provider.validator().validate(idToken);
    } catch (InvalidTokenException e) {
      throw refused(SsoException.Reason.INVALID_ID_TOKEN, "invalid ID token (" + e.reason() + "): "
          + e.getMessage(), e);
    }
    if (!IdTokenValidator.nonceMatches(claims, pending.nonce())) {
      throw refused(SsoException.Reason.NONCE_MISMATCH, "the ID token's nonce is not the one of this login");
    }
    // an email with a control character, or longer than an address can be (RFC 5321: 320), is no address: it is
    // left out rather than stripped into one by the domain check, or failing the provisioning that records it
    Optional<String> email = Optional.ofNullable(claims.getClaim("email")).filter(String.class::isInstance)
        .map(String.class::cast).filter(e -> e.length() <= MAX_EMAIL && e.chars().noneMatch(Character::isISOControl));
    Boolean verifiedClaim = IdTokenValidator.emailVerified(claims);
    boolean emailVerified = Boolean.TRUE.equals(verifiedClaim);
    if (connection.requireVerifiedEmailDomain()) {
      Optional<String> domain = email.flatMap(Domains::ofEmail);
      if (domain.isEmpty() || Boolean.FALSE.equals(verifiedClaim)
          || !connection.verifiedDomains().contains(domain.get())) {
        throw refused(SsoException.Reason.EMAIL_DOMAIN_NOT_ALLOWED, "the ID token's email is missing, unverified"
            + " or not in a verified domain of connection " + connection.id());
      }
    }
    Optional<String> name = Optional.ofNullable(claims.getClaim("name")).filter(String.class::isInstance)
        .map(String.class::cast);
    Instant exp = Objects.requireNonNull(claims.getExpirationTime(), "exp").toInstant();
    String subject = Objects.requireNonNull(claims.getSubject(), "sub");
    return new SsoLogin(connection, settings.issuer(), subject, email, emailVerified, name, exp,
        withoutNulls(claims.getClaims()));
  }

  private String exchange(OidcProvider provider, OidcSettings settings, String code, Pending pending) {
    TokenRequest request = new TokenRequest.Builder(provider.tokenEndpoint(),
        new ClientSecretBasic(new ClientID(settings.clientId()), new Secret(settings.clientSecret())),
        new AuthorizationCodeGrant(new AuthorizationCode(code), pending.redirectUri(),
            new CodeVerifier(pending.codeVerifier()))).build();
    try {
      HTTPRequest http = request.toHTTPRequest();
      http.setConnectTimeout((int) httpTimeout.toMillis());
      http.setReadTimeout((int) httpTimeout.toMillis());
      http.setFollowRedirects(false);
      // at most 256 KiB: the token endpoint is whatever the tenant configured, nimbus alone would read any size
      HTTPResponse response = http.send(new BoundedHttp(BoundedHttp.MAX_RESPONSE_BYTES, allowPrivateAddresses));
      TokenResponse parsed = OIDCTokenResponseParser.parse(response);
      if (!parsed.indicatesSuccess()) {
        String error = parsed.toErrorResponse().getErrorObject().getCode();
        throw refused(SsoException.Reason.TOKEN_REQUEST_FAILED, "the token endpoint refused the code: "
            + printable(error == null ? "HTTP " + response.getStatusCode() : error));
      }
      String idToken = ((OIDCTokenResponse) parsed.toSuccessResponse()).getOIDCTokens().getIDTokenString();
      if (idToken == null) {
        throw refused(SsoException.Reason.TOKEN_REQUEST_FAILED, "the token response has no id_token");
      }
      return idToken;
    } catch (IOException e) {
      throw refused(SsoException.Reason.TOKEN_REQUEST_FAILED, "the token endpoint is unreachable: "
          + e.getMessage(), e);
    } catch (com.nimbusds.oauth2.sdk.ParseException e) {
      throw refused(SsoException.Reason.TOKEN_REQUEST_FAILED, "the token response is invalid", e);
    }
  }

  /**
   * The provider of {@code settings}, discovered once per discovery TTL. A failed discovery is remembered for
   * {@link #DISCOVERY_RETRY}: without that, every login page view of a connection whose IdP is down or slow (or
   * pointed by its tenant at a tarpit) fetched the discovery document again, each waiting up to twice the HTTP
   * timeout, one after the other under the cache's lock for that key, so request threads piled up behind it.
   */
  private OidcProvider provider(OidcSettings settings) {
    String key = settings.issuer() + '\u0000' + settings.clientId();
    return providers.get(key, k -> {
      // under the key's lock: callers that waited for a discovery that failed find its failure here
      SsoException failed = failedDiscoveries.getIfPresent(k);
      if (failed != null) {
        throw new SsoException(SsoException.Reason.DISCOVERY_FAILED, failed.getMessage() + " (not tried again for"
            + " up to " + DISCOVERY_RETRY.toSeconds() + " s)", failed);
      }
      try {
        return OidcProvider.discover(settings.issuer(), settings.clientId(), algorithms, httpTimeout, clock,
            clockSkew, allowPrivateAddresses);
      } catch (SsoException e) {
        failedDiscoveries.put(k, e);
        throw e;
      }
    });
  }

  private static OidcSettings oidcOf(SsoConnection connection) {
    if (!connection.enabled()) {
      throw refused(SsoException.Reason.CONNECTION_DISABLED, "SSO connection " + connection.id() + " is disabled");
    }
    return connection.oidc().orElseThrow(() -> refused(SsoException.Reason.WRONG_PROTOCOL, "SSO connection "
        + connection.id() + " is not an OIDC connection"));
  }

  private static TenantId tenantOf(String state) {
    int dot = state.indexOf('.');
    if (dot <= 0 || dot != state.lastIndexOf('.')) {
      throw refused(SsoException.Reason.UNKNOWN_STATE, "the state is not one of ours");
    }
    try {
      return TenantId.of(new String(Base64.getUrlDecoder().decode(state.substring(0, dot)),
          StandardCharsets.UTF_8));
    } catch (IllegalArgumentException e) {
      throw refused(SsoException.Reason.UNKNOWN_STATE, "the state is not one of ours");
    }
  }

  private static Map<String, String> parseQuery(URI uri) {
    String query = uri.getRawQuery();
    if (query == null || query.isEmpty()) {
      throw refused(SsoException.Reason.MALFORMED_CALLBACK, "the callback URI has no query");
    }
    Map<String, String> out = new HashMap<>();
    for (String pair : query.split("&", -1)) {
      if (pair.isEmpty()) {
        continue;
      }
      int eq = pair.indexOf('=');
      String name;
      String value;
      try {
        name = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
        value = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
      } catch (IllegalArgumentException e) {
        throw refused(SsoException.Reason.MALFORMED_CALLBACK, "the callback's query is not URL-encoded");
      }
      if (out.put(name, value) != null) {
        throw refused(SsoException.Reason.MALFORMED_CALLBACK, "the callback repeats the parameter " + printable(name));
      }
    }
    return out;
  }

  private static Map<String, Object> withoutNulls(Map<String, Object> claims) {
    Map<String, Object> out = new HashMap<>();
    claims.forEach((k, v) -> {
      if (v != null) {
        out.put(k, v);
      }
    });
    return out;
  }

  private static String printable(String value) {
    String v = value.length() > 64 ? value.substring(0, 64) : value;
    return v.replaceAll("[^A-Za-z0-9_.:-]", "?");
  }

  private static SsoException refused(SsoException.Reason reason, String message) {
    LOG.debug("OIDC login refused: {}: {}", reason, LogText.of(message));
    return new SsoException(reason, message);
  }

  private static SsoException refused(SsoException.Reason reason, String message, Throwable cause) {
    LOG.debug("OIDC login refused: {}: {}", reason, LogText.of(message));
    return new SsoException(reason, message, cause);
  }

  private String randomToken() {
    byte[] bytes = new byte[32];
    random.nextBytes(bytes);
    return B64.encodeToString(bytes);
  }

  private static byte[] sha256(String value) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(value.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }

  private record Pending(UUID connectionId, String nonce, String codeVerifier, URI redirectUri,
      Instant expiresAt) {}

  /**
   * Where to send the browser to start a login, and the login's state. The state is a bearer value for this login
   * until it completes or expires: keep it in the browser's session (a cookie) to pass to {@link
   * OidcLogin#complete(URI, String)}, and never log it ({@link #toString()} leaves it out). Immutable.
   */
  public static final class Start {
    private final URI authorizationUri;
    private final String state;
    private final Instant expiresAt;

    Start(URI authorizationUri, String state, Instant expiresAt) {
      this.authorizationUri = authorizationUri;
      this.state = state;
      this.expiresAt = expiresAt;
    }

    /** The IdP's authorization endpoint with the request (redirect the browser there). */
    public URI authorizationUri() {
      return authorizationUri;
    }

    /** The login's state value. */
    public String state() {
      return state;
    }

    /** When the login expires if not completed. */
    public Instant expiresAt() {
      return expiresAt;
    }

    /** The expiry only. */
    @Override
    public String toString() {
      return "OidcLogin.Start[expiresAt=" + expiresAt + "]";
    }
  }

  /** Builds an {@link OidcLogin}; setters check their argument at once. Not thread-safe. */
  public static final class Builder {
    private static final Duration MAX_SKEW = Duration.ofMinutes(5);

    private final SsoConnections connections;
    private Clock clock;
    private SecureRandom random;
    private Duration loginTtl = Duration.ofMinutes(10);
    private Duration discoveryTtl = Duration.ofHours(1);
    private Duration clockSkew = Duration.ofSeconds(60);
    private Duration httpTimeout = Duration.ofSeconds(5);
    private boolean allowPrivateAddresses;
    private List<String> scopes = List.of("openid", "email", "profile");
    private Collection<String> algorithms = DEFAULT_ALGORITHMS;
    private SsoProvisioner provisioner = SsoProvisioner.defaultRole();

    private Builder(SsoConnections connections) {
      this.connections = Objects.requireNonNull(connections, "connections");
      this.clock = connections.clock();
      this.random = connections.random();
    }

    /** The clock for expiry and ID token times; default the connections' clock. */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /** The randomness for state, nonce and PKCE verifier; default the connections' {@link SecureRandom}. */
    public Builder random(SecureRandom random) {
      this.random = Objects.requireNonNull(random, "random");
      return this;
    }

    /** How long a started login may take to complete; default 10 minutes, between 1 minute and 1 hour. */
    public Builder loginTtl(Duration ttl) {
      this.loginTtl = within("loginTtl", ttl, Duration.ofMinutes(1), Duration.ofHours(1));
      return this;
    }

    /** How long a discovery document is kept; default 1 hour, between 1 minute and 1 day. */
    public Builder discoveryTtl(Duration ttl) {
      this.discoveryTtl = within("discoveryTtl", ttl, Duration.ofMinutes(1), Duration.ofDays(1));
      return this;
    }

    /** Tolerance for the ID token's {@code exp}, {@code iat} and {@code nbf}; default 60 s, at most 5 minutes. */
    public Builder clockSkew(Duration skew) {
      this.clockSkew = within("clockSkew", skew, Duration.ZERO, MAX_SKEW);
      return this;
    }

    /** Connect and read timeout of each request to an IdP; default 5 s, between 100 ms and 60 s. */
    public Builder httpTimeout(Duration timeout) {
      this.httpTimeout = within("httpTimeout", timeout, Duration.ofMillis(100), Duration.ofSeconds(60));
      return this;
    }

    /**
     * Whether IdP endpoints may be on this server's own networks; default false. A tenant administrator types the
     * issuer, and its discovery document names the token and key endpoints: by default every request to them is
     * refused ({@code DISCOVERY_FAILED} or {@code TOKEN_REQUEST_FAILED}) when the host is, or resolves to, a
     * loopback, private (RFC 1918, unique local, carrier-grade NAT), link-local (cloud metadata), wildcard,
     * multicast or reserved address, so no tenant can make the server call its internal services. Allow it for
     * tests with a local fake IdP, or for an IdP that runs inside your network and whose connections only your
     * operators configure.
     */
    public Builder allowPrivateAddresses(boolean allow) {
      this.allowPrivateAddresses = allow;
      return this;
    }

    /** The scopes requested; default {@code openid email profile}. Must include {@code openid}. */
    public Builder scopes(Collection<String> scopes) {
      List<String> copy = List.copyOf(Objects.requireNonNull(scopes, "scopes"));
      if (!copy.contains("openid")) {
        throw new IllegalArgumentException("scopes must include openid but were " + copy);
      }
      this.scopes = copy;
      return this;
    }

    /**
     * The ID token algorithms allowed, intersected with what each IdP advertises; default {@link
     * #DEFAULT_ALGORITHMS} (RSA, RSA-PSS and ECDSA). MAC algorithms ({@code HS*}) and {@code none} are refused.
     */
    public Builder algorithms(Collection<String> algorithms) {
      List<String> copy = List.copyOf(Objects.requireNonNull(algorithms, "algorithms"));
      if (copy.isEmpty()) {
        throw new IllegalArgumentException("algorithms must not be empty");
      }
      for (String a : copy) {
        JWSAlgorithm alg = JWSAlgorithm.parse(a);
        if (!JWSAlgorithm.Family.SIGNATURE.contains(alg)) {
          throw new IllegalArgumentException("algorithms must be public-key signature algorithms but held '" + a
              + "'");
        }
      }
      this.algorithms = copy;
      return this;
    }

    /** Turns logins into principals in {@link OidcLogin#signIn}; default {@link SsoProvisioner#defaultRole()}. */
    public Builder provisioner(SsoProvisioner provisioner) {
      this.provisioner = Objects.requireNonNull(provisioner, "provisioner");
      return this;
    }

    /** The relying party. */
    public OidcLogin build() {
      return new OidcLogin(this);
    }

    private static Duration within(String name, Duration value, Duration min, Duration max) {
      Objects.requireNonNull(value, name);
      if (value.compareTo(min) < 0 || value.compareTo(max) > 0) {
        throw new IllegalArgumentException(name + " must be between " + min + " and " + max + " but was " + value);
      }
      return value;
    }
  }
}
