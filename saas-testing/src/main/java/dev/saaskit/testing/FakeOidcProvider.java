package dev.saaskit.testing;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSSigner;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jose.util.JSONObjectUtils;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.PlainJWT;
import com.nimbusds.jwt.SignedJWT;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.Date;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/**
 * A local OpenID Connect provider for tests: a real HTTP server on a random loopback port serving discovery
 * ({@code /.well-known/openid-configuration}), a JWKS ({@code /jwks}), an authorization endpoint that approves the
 * configured {@link User} at once (redirecting back with {@code code}, {@code state} and {@code iss}), and a token
 * endpoint that checks the client's {@code client_secret_basic} credentials, the redirect URI, the PKCE verifier
 * (S256) and that each code is used once, then issues an RS256 or ES256 ID token carrying the nonce.
 *
 * <pre>{@code
 * try (FakeOidcProvider idp = FakeOidcProvider.builder().user(User.of("user-1", "jane@acme.test")).start()) {
 *   URI callback = idp.authorize(authorizationUriFromYourApp);  // what the browser would come back with
 *   ...
 * }
 * }</pre>
 *
 * <p>Knobs for attack tests, each until {@link #reset()}: {@link #issParameter} (wrong or missing {@code iss} in
 * the callback), {@link #idTokenNonce}, {@link #idTokenAudience}, {@link #idTokenIssuer}, {@link
 * #expiredIdToken}, {@link #signWithForeignKey} (a key not in the JWKS, with the published key id), {@link
 * #unsignedIdToken} ({@code alg: none}). Thread-safe.
 */
public final class FakeOidcProvider implements AutoCloseable {
  /** What the callback says about {@code iss} (RFC 9207). */
  public enum IssParameter {
    /** The provider's issuer (the default). */
    CORRECT,
    /** Another issuer (a mix-up attack). */
    WRONG,
    /** No {@code iss} parameter. */
    MISSING
  }

  /**
   * The user the authorization endpoint approves.
   *
   * @param subject the {@code sub}
   * @param email the {@code email}, or {@code null} for none
   * @param emailVerified the {@code email_verified}
   * @param name the {@code name}, or {@code null} for none
   */
  public record User(String subject, @Nullable String email, boolean emailVerified, @Nullable String name) {
    /** Checks the subject. */
    public User {
      Objects.requireNonNull(subject, "subject");
    }

    /** A user with a verified email and no name. */
    public static User of(String subject, String email) {
      return new User(subject, email, true, null);
    }
  }

  private record Grant(String redirectUri, String codeChallenge, @Nullable String nonce, User user) {}

  private final HttpServer server;
  private final ExecutorService executor;
  private final String issuer;
  private final String clientId;
  private final String clientSecret;
  private final JWSAlgorithm algorithm;
  private final JWK signingKey;
  private final Clock clock;
  private final Duration idTokenLifetime;
  private final SecureRandom random = new SecureRandom();
  private final Map<String, Grant> codes = new ConcurrentHashMap<>();
  private final List<String> tokenErrors = new CopyOnWriteArrayList<>();
  private final AtomicInteger tokenRequests = new AtomicInteger();
  private final AtomicInteger pkceVerified = new AtomicInteger();
  private final AtomicInteger discoveryRequests = new AtomicInteger();
  private volatile @Nullable JWK foreignKey;

  private volatile User user;
  private volatile IssParameter issParameter = IssParameter.CORRECT;
  private volatile boolean advertiseIssParameter = true;
  private volatile @Nullable String nonceOverride;
  private volatile @Nullable String audienceOverride;
  private volatile @Nullable String issuerOverride;
  private volatile boolean expired;
  private volatile boolean foreign;
  private volatile boolean unsigned;

  private FakeOidcProvider(Builder b) throws IOException {
    this.clientId = b.clientId;
    this.clientSecret = b.clientSecret;
    this.algorithm = b.algorithm;
    this.clock = b.clock;
    this.idTokenLifetime = b.idTokenLifetime;
    this.user = b.user;
    this.signingKey = newKey(algorithm, "fake-key-1");
    this.server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    this.issuer = "http://127.0.0.1:" + server.getAddress().getPort() + b.issuerPath;
    String base = b.issuerPath;
    server.createContext(base + "/.well-known/openid-configuration", this::discovery);
    server.createContext(base + "/jwks", this::jwks);
    server.createContext(base + "/authorize", this::authorizeEndpoint);
    server.createContext(base + "/token", this::token);
    this.executor = Executors.newFixedThreadPool(4, r -> {
      Thread t = new Thread(r, "fake-oidc-provider");
      t.setDaemon(true);
      return t;
    });
    server.setExecutor(executor);
    server.start();
  }

  /** A builder: client {@code test-client} / {@code test-secret}, RS256, user {@code user-1}. */
  public static Builder builder() {
    return new Builder();
  }

  /** Starts a provider with the {@link #builder()} defaults. */
  public static FakeOidcProvider start() {
    return builder().start();
  }

  /** The issuer identifier, {@code http://127.0.0.1:<port>} (plus the builder's path). */
  public String issuer() {
    return issuer;
  }

  /** The client id it accepts. */
  public String clientId() {
    return clientId;
  }

  /** The client secret it accepts. */
  public String clientSecret() {
    return clientSecret;
  }

  /** The JWKS URL. */
  public URI jwksUri() {
    return URI.create(issuer + "/jwks");
  }

  /** The public JWK set it publishes (JSON). */
  public String jwksJson() {
    return new JWKSet(signingKey.toPublicJWK()).toString();
  }

  /** Sets the user the authorization endpoint approves. */
  public FakeOidcProvider user(User user) {
    this.user = Objects.requireNonNull(user, "user");
    return this;
  }

  /** What the callback says about {@code iss}; default {@link IssParameter#CORRECT}. */
  public FakeOidcProvider issParameter(IssParameter mode) {
    this.issParameter = Objects.requireNonNull(mode, "mode");
    return this;
  }

  /** Whether discovery advertises {@code authorization_response_iss_parameter_supported}; default true. */
  public FakeOidcProvider advertiseIssParameter(boolean advertise) {
    this.advertiseIssParameter = advertise;
    return this;
  }

  /** Puts this {@code nonce} in ID tokens instead of the request's; {@code null} for the request's. */
  public FakeOidcProvider idTokenNonce(@Nullable String nonce) {
    this.nonceOverride = nonce;
    return this;
  }

  /** Puts this {@code aud} in ID tokens instead of the client id; {@code null} for the client id. */
  public FakeOidcProvider idTokenAudience(@Nullable String audience) {
    this.audienceOverride = audience;
    return this;
  }

  /** Puts this {@code iss} in ID tokens instead of the issuer; {@code null} for the issuer. */
  public FakeOidcProvider idTokenIssuer(@Nullable String issuer) {
    this.issuerOverride = issuer;
    return this;
  }

  /** Issues ID tokens that expired an hour ago. */
  public FakeOidcProvider expiredIdToken(boolean expired) {
    this.expired = expired;
    return this;
  }

  /** Signs ID tokens with a key that is not in the JWKS (but carries the published key id). */
  public FakeOidcProvider signWithForeignKey(boolean foreign) {
    this.foreign = foreign;
    return this;
  }

  /** Issues unsigned ID tokens ({@code alg: none}). */
  public FakeOidcProvider unsignedIdToken(boolean unsigned) {
    this.unsigned = unsigned;
    return this;
  }

  /** Every knob back to its default (the user stays). */
  public FakeOidcProvider reset() {
    issParameter = IssParameter.CORRECT;
    advertiseIssParameter = true;
    nonceOverride = null;
    audienceOverride = null;
    issuerOverride = null;
    expired = false;
    foreign = false;
    unsigned = false;
    return this;
  }

  /** Token requests received so far. */
  public int tokenRequests() {
    return tokenRequests.get();
  }

  /** Token requests whose PKCE verifier matched the code's challenge. */
  public int pkceVerified() {
    return pkceVerified.get();
  }

  /** Discovery requests received so far. */
  public int discoveryRequests() {
    return discoveryRequests.get();
  }

  /** Why token requests were refused, in order ({@code invalid_client: ...}, {@code invalid_grant: ...}). */
  public List<String> tokenErrors() {
    return Collections.unmodifiableList(new ArrayList<>(tokenErrors));
  }

  /**
   * Plays the browser: requests {@code authorizationUri} (an authorization request your relying party built) and
   * returns the redirect back to it ({@code redirect_uri?code=...&state=...&iss=...}).
   *
   * @throws IllegalStateException when the provider refused the request (the message says why)
   */
  public URI authorize(URI authorizationUri) {
    HttpClient client = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER)
        .connectTimeout(Duration.ofSeconds(10)).build();
    try {
      HttpResponse<String> response = client.send(HttpRequest.newBuilder(authorizationUri).GET().build(),
          HttpResponse.BodyHandlers.ofString());
      String location = response.headers().firstValue("Location").orElse(null);
      if (response.statusCode() != 302 || location == null) {
        throw new IllegalStateException("the authorization request was refused: " + response.statusCode() + " "
            + response.body());
      }
      return URI.create(location);
    } catch (IOException e) {
      throw new IllegalStateException("cannot reach " + authorizationUri, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }

  /** Stops the server. */
  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
  }

  @Override
  public String toString() {
    return "FakeOidcProvider[" + issuer + "]";
  }

  private void discovery(HttpExchange exchange) throws IOException {
    discoveryRequests.incrementAndGet();
    Map<String, Object> doc = new LinkedHashMap<>();
    doc.put("issuer", issuer);
    doc.put("authorization_endpoint", issuer + "/authorize");
    doc.put("token_endpoint", issuer + "/token");
    doc.put("jwks_uri", issuer + "/jwks");
    doc.put("response_types_supported", List.of("code"));
    doc.put("subject_types_supported", List.of("public"));
    doc.put("id_token_signing_alg_values_supported", List.of(algorithm.getName()));
    doc.put("scopes_supported", List.of("openid", "email", "profile"));
    doc.put("token_endpoint_auth_methods_supported", List.of("client_secret_basic"));
    doc.put("code_challenge_methods_supported", List.of("S256"));
    doc.put("grant_types_supported", List.of("authorization_code"));
    if (advertiseIssParameter) {
      doc.put("authorization_response_iss_parameter_supported", true);
    }
    send(exchange, 200, "application/json", JSONObjectUtils.toJSONString(doc));
  }

  private void jwks(HttpExchange exchange) throws IOException {
    send(exchange, 200, "application/json", jwksJson());
  }

  private void authorizeEndpoint(HttpExchange exchange) throws IOException {
    Map<String, String> p = parse(exchange.getRequestURI().getRawQuery());
    String redirectUri = p.get("redirect_uri");
    String challenge = p.get("code_challenge");
    String state = p.get("state");
    if (redirectUri == null || !"code".equals(p.get("response_type")) || !clientId.equals(p.get("client_id"))
        || challenge == null || !"S256".equals(p.get("code_challenge_method")) || state == null
        || !String.valueOf(p.get("scope")).contains("openid")) {
      send(exchange, 400, "text/plain", "invalid authorization request: need response_type=code, the client id,"
          + " redirect_uri, state, scope openid and an S256 code_challenge");
      return;
    }
    String code = token();
    codes.put(code, new Grant(redirectUri, challenge, p.get("nonce"), user));
    StringBuilder location = new StringBuilder(redirectUri).append(redirectUri.contains("?") ? '&' : '?')
        .append("code=").append(enc(code)).append("&state=").append(enc(state));
    switch (issParameter) {
      case CORRECT -> location.append("&iss=").append(enc(issuer));
      case WRONG -> location.append("&iss=").append(enc("https://attacker.example"));
      case MISSING -> { }
    }
    exchange.getResponseHeaders().add("Location", location.toString());
    exchange.sendResponseHeaders(302, -1);
    exchange.close();
  }

  private void token(HttpExchange exchange) throws IOException {
    tokenRequests.incrementAndGet();
    if (!"POST".equals(exchange.getRequestMethod())) {
      tokenError(exchange, 405, "invalid_request", "POST only");
      return;
    }
    if (!clientAuthenticated(exchange.getRequestHeaders().getFirst("Authorization"))) {
      tokenError(exchange, 401, "invalid_client", "client_secret_basic credentials missing or wrong");
      return;
    }
    Map<String, String> p;
    try (InputStream in = exchange.getRequestBody()) {
      p = parse(new String(in.readNBytes(64 * 1024), StandardCharsets.UTF_8));
    }
    if (!"authorization_code".equals(p.get("grant_type"))) {
      tokenError(exchange, 400, "unsupported_grant_type", "authorization_code only");
      return;
    }
    String code = p.get("code");
    Grant grant = code == null ? null : codes.remove(code);
    if (grant == null) {
      tokenError(exchange, 400, "invalid_grant", "unknown or used code");
      return;
    }
    if (!grant.redirectUri().equals(p.get("redirect_uri"))) {
      tokenError(exchange, 400, "invalid_grant", "redirect_uri differs from the authorization request");
      return;
    }
    String verifier = p.get("code_verifier");
    if (verifier == null || !MessageDigest.isEqual(s256(verifier).getBytes(StandardCharsets.US_ASCII),
        grant.codeChallenge().getBytes(StandardCharsets.US_ASCII))) {
      tokenError(exchange, 400, "invalid_grant", "PKCE verifier missing or wrong");
      return;
    }
    pkceVerified.incrementAndGet();
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("access_token", token());
    body.put("token_type", "Bearer");
    body.put("expires_in", 300);
    body.put("id_token", idToken(grant));
    exchange.getResponseHeaders().add("Cache-Control", "no-store");
    send(exchange, 200, "application/json", JSONObjectUtils.toJSONString(body));
  }

  private String idToken(Grant grant) {
    Instant now = clock.instant();
    Instant iat = expired ? now.minus(Duration.ofHours(2)) : now;
    Instant exp = expired ? now.minus(Duration.ofHours(1)) : now.plus(idTokenLifetime);
    String nonce = nonceOverride != null ? nonceOverride : grant.nonce();
    JWTClaimsSet.Builder claims = new JWTClaimsSet.Builder()
        .issuer(issuerOverride != null ? issuerOverride : issuer)
        .subject(grant.user().subject())
        .audience(audienceOverride != null ? audienceOverride : clientId)
        .issueTime(Date.from(iat))
        .expirationTime(Date.from(exp))
        .claim("auth_time", iat.getEpochSecond());
    if (nonce != null) {
      claims.claim("nonce", nonce);
    }
    if (grant.user().email() != null) {
      claims.claim("email", grant.user().email()).claim("email_verified", grant.user().emailVerified());
    }
    if (grant.user().name() != null) {
      claims.claim("name", grant.user().name());
    }
    if (unsigned) {
      return new PlainJWT(claims.build()).serialize();
    }
    JWK key = signingKey;
    if (foreign) {
      JWK other = foreignKey;
      if (other == null) {
        other = newKey(algorithm, signingKey.getKeyID());
        foreignKey = other;
      }
      key = other;
    }
    try {
      SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(algorithm).keyID(key.getKeyID()).build(), claims.build());
      jwt.sign(signer(key));
      return jwt.serialize();
    } catch (JOSEException e) {
      throw new IllegalStateException("cannot sign the ID token", e);
    }
  }

  private boolean clientAuthenticated(@Nullable String header) {
    if (header == null || !header.regionMatches(true, 0, "Basic ", 0, 6)) {
      return false;
    }
    String decoded;
    try {
      decoded = new String(Base64.getDecoder().decode(header.substring(6).strip()), StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      return false;
    }
    int colon = decoded.indexOf(':');
    if (colon < 0) {
      return false;
    }
    String id = URLDecoder.decode(decoded.substring(0, colon), StandardCharsets.UTF_8);
    String secret = URLDecoder.decode(decoded.substring(colon + 1), StandardCharsets.UTF_8);
    return id.equals(clientId) && MessageDigest.isEqual(secret.getBytes(StandardCharsets.UTF_8),
        clientSecret.getBytes(StandardCharsets.UTF_8));
  }

  private void tokenError(HttpExchange exchange, int status, String error, String description) throws IOException {
    tokenErrors.add(error + ": " + description);
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("error", error);
    body.put("error_description", description);
    send(exchange, status, "application/json", JSONObjectUtils.toJSONString(body));
  }

  private static JWSSigner signer(JWK key) throws JOSEException {
    return key instanceof RSAKey rsa ? new RSASSASigner(rsa) : new ECDSASigner((ECKey) key);
  }

  private static JWK newKey(JWSAlgorithm algorithm, String kid) {
    try {
      if (JWSAlgorithm.Family.RSA.contains(algorithm)) {
        return new RSAKeyGenerator(2048).keyID(kid).algorithm(algorithm).generate();
      }
      Curve curve = algorithm.equals(JWSAlgorithm.ES384) ? Curve.P_384
          : algorithm.equals(JWSAlgorithm.ES512) ? Curve.P_521 : Curve.P_256;
      return new ECKeyGenerator(curve).keyID(kid).algorithm(algorithm).generate();
    } catch (JOSEException e) {
      throw new IllegalStateException("cannot generate a " + algorithm + " key", e);
    }
  }

  private String token() {
    byte[] bytes = new byte[24];
    random.nextBytes(bytes);
    return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
  }

  private static String s256(String verifier) {
    try {
      byte[] digest = MessageDigest.getInstance("SHA-256").digest(verifier.getBytes(StandardCharsets.US_ASCII));
      return Base64.getUrlEncoder().withoutPadding().encodeToString(digest);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static Map<String, String> parse(@Nullable String query) {
    Map<String, String> out = new HashMap<>();
    if (query == null) {
      return out;
    }
    for (String pair : query.split("&", -1)) {
      if (pair.isEmpty()) {
        continue;
      }
      int eq = pair.indexOf('=');
      String name = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
      String value = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
      out.putIfAbsent(name, value);
    }
    return out;
  }

  private static String enc(String value) {
    return URLEncoder.encode(value, StandardCharsets.UTF_8);
  }

  private static void send(HttpExchange exchange, int status, String type, String body) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().add("Content-Type", type + "; charset=utf-8");
    exchange.sendResponseHeaders(status, bytes.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(bytes);
    }
  }

  /** Builds a {@link FakeOidcProvider}; setters check their argument at once. Not thread-safe. */
  public static final class Builder {
    private String clientId = "test-client";
    private String clientSecret = "test-secret";
    private JWSAlgorithm algorithm = JWSAlgorithm.RS256;
    private Clock clock = Clock.systemUTC();
    private Duration idTokenLifetime = Duration.ofMinutes(5);
    private User user = new User("user-1", "user-1@example.test", true, "Test User");
    private String issuerPath = "";

    private Builder() {}

    /** The client id it accepts; default {@code test-client}. */
    public Builder clientId(String clientId) {
      this.clientId = requireText("clientId", clientId);
      return this;
    }

    /** The client secret it accepts; default {@code test-secret}. */
    public Builder clientSecret(String clientSecret) {
      this.clientSecret = requireText("clientSecret", clientSecret);
      return this;
    }

    /** The ID token algorithm: {@code RS256} (default), {@code RS384}, {@code RS512}, {@code ES256}, ... */
    public Builder algorithm(String algorithm) {
      JWSAlgorithm alg = JWSAlgorithm.parse(requireText("algorithm", algorithm));
      if (!JWSAlgorithm.Family.RSA.contains(alg) && !JWSAlgorithm.Family.EC.contains(alg)) {
        throw new IllegalArgumentException("algorithm must be an RSA or ECDSA algorithm but was " + algorithm);
      }
      this.algorithm = alg;
      return this;
    }

    /** The clock for {@code iat} and {@code exp}; default the system clock. */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /** How long ID tokens are valid; default 5 minutes. */
    public Builder idTokenLifetime(Duration lifetime) {
      if (Objects.requireNonNull(lifetime, "lifetime").isNegative() || lifetime.isZero()) {
        throw new IllegalArgumentException("idTokenLifetime must be positive but was " + lifetime);
      }
      this.idTokenLifetime = lifetime;
      return this;
    }

    /** The user approved; default {@code user-1}, {@code user-1@example.test} (verified), "Test User". */
    public Builder user(User user) {
      this.user = Objects.requireNonNull(user, "user");
      return this;
    }

    /** A path after host and port in the issuer ({@code /realms/acme}); default none. */
    public Builder issuerPath(String path) {
      if (!Objects.requireNonNull(path, "path").isEmpty() && (!path.startsWith("/") || path.endsWith("/"))) {
        throw new IllegalArgumentException("issuerPath must be empty or start, and not end, with / but was '"
            + path + "'");
      }
      this.issuerPath = path;
      return this;
    }

    /** Starts the provider on a random loopback port. */
    public FakeOidcProvider start() {
      try {
        return new FakeOidcProvider(this);
      } catch (IOException e) {
        throw new IllegalStateException("cannot start the fake OIDC provider", e);
      }
    }

    private static String requireText(String name, String value) {
      if (Objects.requireNonNull(value, name).isBlank()) {
        throw new IllegalArgumentException(name + " must be non-blank");
      }
      return value;
    }
  }
}
