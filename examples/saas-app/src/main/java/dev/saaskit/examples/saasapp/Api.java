package dev.saaskit.examples.saasapp;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import dev.saaskit.auth.AccessDeniedException;
import dev.saaskit.auth.Actor;
import dev.saaskit.auth.ApiKeyInfo;
import dev.saaskit.auth.ApiKeys;
import dev.saaskit.auth.AuthContext;
import dev.saaskit.auth.Authorizer;
import dev.saaskit.auth.CreatedApiKey;
import dev.saaskit.auth.CreatedInvitation;
import dev.saaskit.auth.InvalidTokenException;
import dev.saaskit.auth.InvitationException;
import dev.saaskit.auth.Invitations;
import dev.saaskit.auth.Membership;
import dev.saaskit.auth.MembershipException;
import dev.saaskit.auth.Memberships;
import dev.saaskit.auth.PermissionVersions;
import dev.saaskit.auth.Principal;
import dev.saaskit.auth.RoleModel;
import dev.saaskit.auth.TokenIssuer;
import dev.saaskit.auth.TokenVerifier;
import dev.saaskit.billing.Billing;
import dev.saaskit.billing.AlreadySubscribedException;
import dev.saaskit.billing.BillingException;
import dev.saaskit.billing.CheckoutRequest;
import dev.saaskit.billing.CheckoutSession;
import dev.saaskit.billing.Entitlements;
import dev.saaskit.billing.Subscription;
import dev.saaskit.billing.TenantBilling;
import dev.saaskit.billing.WebhookResult;
import dev.saaskit.cache.CacheLoadException;
import dev.saaskit.cache.CacheValue;
import dev.saaskit.cache.SaasCache;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import dev.saaskit.jobs.JobId;
import dev.saaskit.jobs.JobQueue;
import dev.saaskit.jobs.JobRequest;
import dev.saaskit.jobs.JobState;
import dev.saaskit.jobs.JobStatus;
import io.javalin.config.JavalinConfig;
import io.javalin.http.Context;
import io.javalin.http.Handler;
import io.javalin.http.HandlerType;
import io.javalin.http.HttpResponseException;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.server.handler.ThreadLimitHandler;
import org.eclipse.jetty.util.Callback;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP API: every route, the credential check at the edge of {@code /api}, and one error shape. Handlers stay
 * short: they check a permission, call a saaskit module or {@link Projects}/{@link Reports}, and answer JSON.
 */
final class Api {
  private static final Logger log = LoggerFactory.getLogger(Api.class);
  /** An email; no control character at all ({@code \p{Cc}}: saas-auth refuses the C1 ones too). */
  private static final Pattern EMAIL = Pattern.compile("[^@\\s\\p{Cc}]{1,64}@[^@\\s\\p{Cc}]{1,255}");
  /** saas-auth's longest user id (OpenID Connect's {@code sub}); the demo sign-in uses the email as the user id. */
  private static final int MAX_SUBJECT = 255;
  private static final Set<String> ROLES = Set.of("owner", "admin", "member");
  /** {@code application/problem+json}, {@code application/merge-patch+json}, ...: JSON too. */
  private static final Pattern JSON_SUFFIX_TYPE = Pattern.compile("application/[a-z0-9.!#$&^_-]+\\+json");
  /** Oversized bodies up to this size are read and dropped before the 413 (see {@code dropUnreadBody}). */
  private static final long DRAIN_LIMIT_BYTES = 8L * 1024 * 1024;
  /**
   * Requests of one client IP handled at once; more wait, queued without a thread, for one of them to end. Jetty
   * has 250 threads, and a request blocks one while its body arrives or its answer is read: without this bound a
   * single client holding 250 connections that send half a body (or read no answer) stalled every other client
   * until Jetty's 30-second idle timeout, and again on its next 250 connections.
   */
  static final int THREADS_PER_CLIENT_IP = 64;
  /** The largest body of any route: Stripe's webhooks (up to 1 MiB); {@code /api} bodies are far smaller. */
  private static final long MAX_REQUEST_BYTES = 2L * 1024 * 1024;
  /** What {@link #securityHeaders} sets, also on the answers Jetty gives before the app (see JsonErrorHandler). */
  private static final Map<String, String> SECURITY_HEADERS = securityHeaderValues();
  static final String SUBSCRIPTION_CACHE = "billing-subscription";
  static final String CURRENT = "current";
  static final String AUDIENCE = "saas-app";

  /** The roles and what each may do; API keys get a subset of their creator's permissions as scopes. */
  static final RoleModel ROLE_MODEL = RoleModel.builder()
      .role("member", "project:read", "project:create", "report:run", "members:read", "billing:read")
      .role("admin", "project:delete", "members:invite", "api_keys:manage", "billing:manage")
      .inherits("admin", "member")
      .role("owner", "roles:assign").inherits("owner", "admin")
      .build();

  /** A tenant's subscription as the dashboard shows it (cached per tenant). */
  record SubscriptionView(String status, String plan, long seats, @Nullable String currentPeriodEnd,
      boolean hasAccess, List<String> entitlements) {}

  /** What the API needs; built once in {@link SaasApp#start}. */
  record Deps(AppConfig config, String publicUrl, ObjectMapper json, PrometheusMeterRegistry registry,
      Projects projects, Reports reports, JobQueue jobs, Memberships memberships, Invitations invitations,
      PermissionVersions versions, Authorizer authorizer, ApiKeys apiKeys, @Nullable TokenIssuer demoIssuer,
      TokenVerifier verifier, Billing billing, SaasCache<String, SubscriptionView> subscriptions,
      Map<String, String> priceIds, Supplier<Map<String, Boolean>> ready, RateLimits rateLimits) {}

  private final Deps d;
  private final ObjectMapper json;
  /**
   * Request bodies: one JSON value and nothing after it ({@code {"name":"a"} garbage} is malformed), no key given
   * twice ({@code {"role":"member","role":"owner"}}: a proxy or filter in front that reads the first and the app
   * that would read the last must never disagree about what was asked).
   */
  private final ObjectReader jsonIn;
  private final Counter signups;
  private final byte[] pricingBody;
  private final String pricingEtag;
  /** API keys never act above their creator's current role (see {@link KeyCeilings}). */
  private final KeyCeilings keyCeilings;

  Api(Deps deps) {
    this.d = deps;
    this.json = deps.json();
    this.jsonIn = json.reader().with(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
        .with(StreamReadFeature.STRICT_DUPLICATE_DETECTION);
    this.signups = Counter.builder("saasapp.signups").description("new members through sign-in")
        .register(deps.registry());
    this.pricingBody = pricingJson();
    this.pricingEtag = "\"" + sha256(pricingBody).substring(0, 20) + "\"";
    this.keyCeilings = new KeyCeilings(deps.apiKeys(), deps.memberships(), deps.versions(), ROLE_MODEL);
  }

  /** Registers every route on {@code config}. */
  void routes(JavalinConfig config) {
    config.http.maxRequestSize = MAX_REQUEST_BYTES;
    config.http.prefer405over404 = true;              // PUT /api/projects: 405 method_not_allowed, not 404
    config.jetty.modifyServer(server -> {
      server.setErrorHandler(new JsonErrorHandler(json));
      server.setHandler(threadsPerClientIp());   // Javalin puts its own handler inside this one
    });
    config.router.handlerWrapper(endpoint -> ctx -> {
      if (HandlerType.BEFORE.equals(endpoint.method) || HandlerType.AFTER.equals(endpoint.method)) {
        endpoint.handler.handle(ctx);
        return;
      }
      Timer.Sample sample = Timer.start(d.registry());
      try {
        d.rateLimits().beforeRequest(ctx, endpoint.path);
        if (endpoint.path.startsWith("/api/")) {
          Principal principal;
          try {
            principal = authenticate(ctx);
          } catch (RuntimeException e) {
            d.rateLimits().authenticationFailed(ctx, e);   // 429 instead of the 401 when this IP guesses too much
            throw e;
          }
          d.rateLimits().authenticated(ctx, principal);
          AuthContext.run(principal, () -> endpoint.handler.handle(ctx));
        } else {
          endpoint.handler.handle(ctx);
        }
      } catch (Exception e) {
        error(ctx, e);
      } finally {
        sample.stop(Timer.builder("http.server.requests")
            .tag("method", endpoint.method.name())
            .tag("uri", endpoint.path)
            .tag("status", Integer.toString(ctx.statusCode()))
            .publishPercentileHistogram()
            .register(d.registry()));
      }
    });
    config.routes.before(Api::securityHeaders);
    config.routes.before(Api::refuseMethodOverride);
    config.routes.error(404, ctx -> {
      String type = ctx.res().getContentType();
      if (ctx.result() == null || ctx.result().isEmpty() || type == null || !type.contains("json")) {
        send(ctx, 404, errorBody("not_found", "no such resource: " + ctx.method() + " " + ctx.path()));
      }
    });
    config.routes.error(405, ctx -> send(ctx, 405, errorBody("method_not_allowed", "method not allowed")));
    config.routes.exception(Exception.class, (e, ctx) -> error(ctx, e));

    // ops and public
    get(config, "/health", ctx -> send(ctx, 200, Map.of("status", "up")));
    get(config, "/ready", this::ready);
    get(config, "/metrics", ctx -> ctx.contentType("text/plain; version=0.0.4; charset=utf-8")
        .result(d.registry().scrape()));
    get(config, "/pricing", this::pricing);
    config.routes.post("/webhooks/stripe", this::stripeWebhook);
    if (d.demoIssuer() != null) {
      TokenIssuer issuer = d.demoIssuer();
      get(config, "/.well-known/jwks.json", ctx -> ctx.contentType("application/json")
          .header("Cache-Control", "public, max-age=60").result(issuer.jwksJson()));
      config.routes.post("/dev/login", this::devLogin);
    }

    // the API: a credential is required (the wrapper above verifies it and sets the tenant)
    get(config, "/api/me", this::me);
    get(config, "/api/projects", this::listProjects);
    config.routes.post("/api/projects", this::createProject);
    get(config, "/api/projects/{id}", this::getProject);
    config.routes.delete("/api/projects/{id}", this::deleteProject);
    get(config, "/api/members", this::listMembers);
    config.routes.patch("/api/members/{userId}", this::changeRole);
    config.routes.post("/api/invitations", this::invite);
    config.routes.post("/api/invitations/accept", this::acceptInvitation);
    config.routes.post("/api/api-keys", this::createApiKey);
    get(config, "/api/billing/subscription", this::subscription);
    config.routes.post("/api/billing/checkout", this::checkout);
    config.routes.post("/api/reports", this::startReport);
    get(config, "/api/jobs/{id}", this::job);
    get(config, "/api/analytics/summary", this::analytics);
  }

  /**
   * At most {@value #THREADS_PER_CLIENT_IP} requests of one client IP at once (the TCP peer's address, as for the
   * rate limits: behind a proxy, every client shares the proxy's; there, {@code new ThreadLimitHandler(header)}
   * with the proxy's forwarding header, only if every request comes through that proxy). The app's own JWKS is
   * left out: the token verifier fetches it from 127.0.0.1 while the requests it verifies may hold every slot of
   * that address.
   */
  private static ThreadLimitHandler threadsPerClientIp() {
    ThreadLimitHandler limit = new ThreadLimitHandler();
    limit.setThreadLimit(THREADS_PER_CLIENT_IP);
    limit.excludePath("/.well-known/jwks.json");
    return limit;
  }

  /**
   * A GET route and its HEAD twin. Without the twin Javalin answers a HEAD for a GET route itself, 200 with no
   * headers, without running the route or the credential check above ({@code HEAD /api/me} answered 200 without
   * a token); with it, HEAD runs the GET handler and Jetty drops the body.
   */
  private static void get(JavalinConfig config, String path, Handler handler) {
    config.routes.get(path, handler);
    config.routes.head(path, handler);
  }

  /**
   * Headers every answer carries: no MIME sniffing, no framing (clickjacking), no referrer, a CSP that allows the
   * dashboard's own files only, and {@code Cache-Control: no-store} unless a route says otherwise (tokens, API keys
   * and invitation tokens are in answers: no browser or proxy may keep them). {@code /pricing}, the JWKS and the
   * static files set their own {@code Cache-Control}, which replaces this one.
   */
  private static void securityHeaders(Context ctx) {
    SECURITY_HEADERS.forEach(ctx::header);
  }

  /**
   * Javalin routes a request by its {@code X-HTTP-Method-Override} header when there is one, whatever the request's
   * own method: a {@code GET} carrying {@code X-HTTP-Method-Override: DELETE} deleted a project, past every proxy,
   * cache, log and filter that saw a GET. The app's clients send their methods as they are, so a request whose
   * header names another method than its own is refused (400 {@code method_override_refused}) before any route runs.
   */
  private static void refuseMethodOverride(Context ctx) {
    String override = ctx.header("X-HTTP-Method-Override");
    if (override != null && !override.strip().equalsIgnoreCase(ctx.req().getMethod())) {
      throw ApiError.badRequest("method_override_refused",
          "X-HTTP-Method-Override is not supported: send the request with its method");
    }
  }

  private static Map<String, String> securityHeaderValues() {
    Map<String, String> h = new LinkedHashMap<>();
    h.put("X-Content-Type-Options", "nosniff");
    h.put("X-Frame-Options", "DENY");
    h.put("Referrer-Policy", "no-referrer");
    h.put("Content-Security-Policy", "default-src 'self'; object-src 'none'; base-uri 'none';"
        + " form-action 'self'; frame-ancestors 'none'");
    h.put("Cache-Control", "no-store");
    return java.util.Collections.unmodifiableMap(h);
  }

  // ----- authentication at the edge

  private Principal authenticate(Context ctx) {
    java.util.Enumeration<String> headers = ctx.req().getHeaders("Authorization");
    String header = headers.hasMoreElements() ? headers.nextElement() : null;
    if (headers.hasMoreElements()) {
      // two credentials: a proxy or filter in front that checks the last and the app that would use the first must
      // never disagree about who is asking (RFC 9110 allows one Authorization field; RFC 6750: invalid_request)
      throw ApiError.badRequest("invalid_request", "send one Authorization header, not several");
    }
    if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7) || header.length() <= 7) {
      throw new ApiError(401, "unauthenticated", "sign in first: send Authorization: Bearer <token or API key>");
    }
    String credential = header.substring(7).trim();
    Principal principal = credential.startsWith("sk_") ? keyCeilings.cap(d.apiKeys().verify(credential))
        : d.verifier().verify(credential);
    if (principal.method() != Principal.Method.API_KEY) {
      // revocation: a token minted before a role change carries an older permission version
      TenantId tenant = principal.tenant().orElseThrow(
          () -> new ApiError(401, "invalid_token", "the token names no tenant"));
      long current = d.versions().current(tenant, principal.userKey());
      if (principal.permissionVersion().isEmpty() || principal.permissionVersion().getAsLong() != current) {
        throw new ApiError(401, "token_revoked", "your role changed since this token was issued: sign in again");
      }
    }
    return principal;
  }

  private void require(String permission) {
    d.authorizer().require(AuthContext.require(), permission);
  }

  // ----- demo sign-in

  private void devLogin(Context ctx) {
    JsonNode body = readJson(ctx);
    String tenantText = text(body, "tenant", 64);
    String email = text(body, "email", 320).toLowerCase(Locale.ROOT);
    String role = text(body, "role", 20);
    TenantId tenant;
    try {
      tenant = TenantId.of(tenantText);
    } catch (IllegalArgumentException e) {
      throw ApiError.badRequest("invalid_tenant", "tenant must be a short identifier such as acme: "
          + e.getMessage());
    }
    if (!EMAIL.matcher(email).matches() || !printable(email) || email.length() > MAX_SUBJECT) {
      throw ApiError.badRequest("invalid_email", "email must look like name@example.com, at most " + MAX_SUBJECT
          + " characters");
    }
    if (!ROLES.contains(role)) {
      throw ApiError.badRequest("invalid_role", "role must be owner, admin or member");
    }
    TokenIssuer issuer = java.util.Objects.requireNonNull(d.demoIssuer());
    String subject = email;   // the demo issuer's user id; a real IdP has its own (never the email)
    Membership membership = signIn(tenant, issuer.issuer(), subject, email, role);
    String token = token(issuer, membership, email);
    send(ctx, 200, Map.of("token", token, "tenant", tenant.value(), "userId", subject, "role",
        membership.role()));
  }

  private Membership signIn(TenantId tenant, String issuer, String subject, String email, String role) {
    Optional<Membership> existing = d.memberships().find(tenant, issuer, subject);
    if (existing.isEmpty()) {
      try {
        Membership added = d.memberships().add(tenant, issuer, subject, email, role, Actor.system());
        signups.increment();
        return added;
      } catch (MembershipException e) {
        if (e.reason() != MembershipException.Reason.ALREADY_MEMBER) {
          throw e;
        }
        existing = d.memberships().find(tenant, issuer, subject);   // a concurrent first sign-in won
      }
    }
    Membership m = existing.orElseThrow();
    if (!m.role().equals(role)) {
      // demo shortcut: signing in with another role changes it (old tokens of this user stop working)
      Membership changed = d.memberships().changeRole(tenant, issuer, subject, role, Actor.system());
      revokeKeysBeyondRole(tenant, issuer, subject, role,
          Principal.builder("saas-app", "demo-sign-in").tenant(tenant).build());
      return changed;
    }
    return m;
  }

  private static String token(TokenIssuer issuer, Membership m, String email) {
    return issuer.token(m.subject())
        .tenant(m.tenant())
        .roles(m.role())
        .permissionVersion(m.permissionVersion())
        .email(email)
        .audience(AUDIENCE)
        .ttl(Duration.ofHours(8))
        .sign();
  }

  // ----- me, members, invitations, API keys

  private void me(Context ctx) {
    Principal p = AuthContext.require();
    Set<String> permissions = new TreeSet<>(p.permissions());
    String role = p.roles().stream().filter(ROLE_MODEL::hasRole).findFirst().orElse("api_key");
    if (ROLE_MODEL.hasRole(role)) {
      permissions.addAll(ROLE_MODEL.permissionsOf(role));
    }
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("tenant", p.requireTenant().value());
    body.put("userId", p.subject());
    body.put("email", p.email().orElse(null));
    body.put("role", role);
    body.put("permissions", List.copyOf(permissions));
    send(ctx, 200, body);
  }

  /** {@code GET /api/members}: one page (see {@link Pages}), in issuer and subject order. */
  private void listMembers(Context ctx) {
    require("members:read");
    int limit = Pages.limit(ctx);
    String after = Pages.position(ctx, "members");
    List<Membership> fetched;
    try {
      fetched = d.memberships().list(TenantContext.require(), after, limit + 1);
    } catch (IllegalArgumentException e) {
      throw Pages.invalidCursor();   // not a user key
    }
    send(ctx, 200, Pages.answer("members", fetched, limit,
        m -> Map.of("userId", m.subject(), "role", m.role(), "since", m.createdAt().toString()),
        Membership::userKey));
  }

  private void changeRole(Context ctx) {
    require("roles:assign");
    Principal p = AuthContext.require();
    String userId = ctx.pathParam("userId");
    String role = text(readJson(ctx), "role", 20);
    if (!ROLES.contains(role)) {
      throw ApiError.badRequest("invalid_role", "role must be owner, admin or member");
    }
    TenantId tenant = TenantContext.require();
    Membership target = d.memberships().list(tenant).stream().filter(m -> m.subject().equals(userId)).findFirst()
        .orElseThrow(() -> ApiError.notFound("member"));
    try {
      Membership changed = d.memberships().changeRole(tenant, target.issuer(), target.subject(), role,
          Actor.of(p));
      revokeKeysBeyondRole(tenant, target.issuer(), target.subject(), role, p);
      send(ctx, 200, Map.of("userId", changed.subject(), "role", changed.role()));
    } catch (MembershipException e) {
      throw switch (e.reason()) {
        case NOT_A_MEMBER -> ApiError.notFound("member");
        case LAST_OWNER -> new ApiError(409, "last_owner", "a tenant keeps at least one owner");
        case ALREADY_MEMBER -> new ApiError(409, "conflict", "already a member");
      };
    }
  }

  /**
   * After a user's role changed: revokes the user's API keys whose scopes the new role does not grant, and every
   * key made by a key revoked here. saas-auth keeps a key's scopes when its creator is demoted and leaves revoking
   * to the app; without this a demoted owner's key with {@code roles:assign} made her owner again. This runs after
   * the role change committed, in other transactions: a crash or a failure in between leaves keys unrevoked, which
   * is why {@link KeyCeilings} caps every key at its creator's current role whatever happened here.
   */
  private void revokeKeysBeyondRole(TenantId tenant, String issuer, String subject, String role, Principal actor) {
    Set<String> allowed = ROLE_MODEL.permissionsOf(role);
    List<ApiKeyInfo> keys = d.apiKeys().list(tenant);
    Set<Long> revoked = new HashSet<>();
    Deque<String> revokedMakers = new ArrayDeque<>();
    String user = subject + " @ " + issuer;   // how ApiKeys records created_by
    for (ApiKeyInfo k : keys) {
      if (k.revokedAt().isEmpty() && k.createdBy().equals(user) && !allowed.containsAll(k.scopes())) {
        d.apiKeys().revoke(tenant, k.id(), actor);
        revoked.add(k.id());
        revokedMakers.push("apikey:" + k.publicId() + " @ " + ApiKeys.ISSUER);
      }
    }
    while (!revokedMakers.isEmpty()) {
      String maker = revokedMakers.pop();
      for (ApiKeyInfo k : keys) {
        if (k.revokedAt().isEmpty() && k.createdBy().equals(maker) && revoked.add(k.id())) {
          d.apiKeys().revoke(tenant, k.id(), actor);
          revokedMakers.push("apikey:" + k.publicId() + " @ " + ApiKeys.ISSUER);
        }
      }
    }
    if (!revoked.isEmpty()) {
      log.info("revoked {} API key(s) of a member whose role changed to {}", revoked.size(), role);
    }
  }

  private void invite(Context ctx) {
    require("members:invite");
    JsonNode body = readJson(ctx);
    String role = text(body, "role", 20);
    String email = optionalText(body, "email", 320);
    if (!ROLES.contains(role)) {
      throw ApiError.badRequest("invalid_role", "role must be owner, admin or member");
    }
    if (email != null && (!EMAIL.matcher(email).matches() || !printable(email))) {
      throw ApiError.badRequest("invalid_email", "email must look like name@example.com");
    }
    try {
      CreatedInvitation inv = d.invitations().create(TenantContext.require(), AuthContext.require(), email, role);
      send(ctx, 201, Map.of("token", inv.token(), "role", inv.role(), "expiresAt", inv.expiresAt().toString()));
    } catch (InvitationException e) {
      throw ApiError.forbidden("you cannot invite someone as " + role);
    }
  }

  private void acceptInvitation(Context ctx) {
    Principal p = AuthContext.require();
    if (p.method() == Principal.Method.API_KEY) {
      // an invitation makes a user a member; a key would join as a pseudo-user "apikey:..." whatever its scopes
      throw ApiError.forbidden("an API key cannot accept an invitation: sign in as the invited user");
    }
    String token = text(readJson(ctx), "token", 200);
    Membership joined;
    try {
      joined = d.invitations().accept(token, p.issuer(), p.subject(), statedEmail(p));
    } catch (InvitationException e) {
      throw ApiError.badRequest("invalid_invitation", "this invitation is unknown, expired or already used");
    }
    Map<String, Object> answer = new LinkedHashMap<>();
    answer.put("tenant", joined.tenant().value());
    answer.put("userId", joined.subject());
    answer.put("role", joined.role());
    TokenIssuer issuer = d.demoIssuer();
    if (issuer != null && issuer.issuer().equals(p.issuer())) {
      answer.put("token", token(issuer, joined, p.email().orElse(joined.subject())));
    }
    send(ctx, 200, answer);
  }

  /**
   * The email the credential states, when it is one: an IdP's email claim is the user's own text (several IdPs let
   * users set it) and only informational, so one saas-auth would refuse to record (a control character, past 320
   * characters: a 500 on accepting an invitation) or that is no email at all is left out.
   */
  private static @Nullable String statedEmail(Principal p) {
    return p.email().filter(e -> e.length() <= 320 && EMAIL.matcher(e).matches() && printable(e)).orElse(null);
  }

  private void createApiKey(Context ctx) {
    require("api_keys:manage");
    JsonNode body = readJson(ctx);
    String name = text(body, "name", 100);
    if (!printable(name)) {
      throw ApiError.badRequest("invalid_name", "name must be 1 to 100 printable characters");
    }
    Set<String> scopes = new TreeSet<>();
    JsonNode given = body.path("scopes");
    if (given.isMissingNode() || given.isNull()) {
      scopes.addAll(List.of("project:read", "project:create"));
    } else if (given.isArray()) {
      for (JsonNode s : given) {
        if (!s.isTextual()) {
          // asText() would turn {}, null or 5 into "", "null" or "5": a scope nobody holds, answered 403
          throw ApiError.badRequest("invalid_scopes", "scopes must be an array of permissions (strings)");
        }
        scopes.add(s.asText());
      }
    } else {
      throw ApiError.badRequest("invalid_scopes", "scopes must be an array of permissions");
    }
    try {
      CreatedApiKey created = d.apiKeys().create(TenantContext.require(), AuthContext.require(), name, scopes,
          null);
      send(ctx, 201, Map.of("key", created.key(), "id", created.info().publicId(), "name", name,
          "scopes", List.copyOf(scopes)));
    } catch (IllegalArgumentException e) {
      throw ApiError.badRequest("invalid_scopes", "unknown or malformed scope");
    }
  }

  // ----- projects

  /** {@code GET /api/projects}: one page (see {@link Pages}), oldest first. */
  private void listProjects(Context ctx) throws Exception {
    require("project:read");
    int limit = Pages.limit(ctx);
    String position = Pages.position(ctx, "projects");
    Projects.Project after = null;
    if (position != null) {
      // the position is "<created_at>|<id>" of the last project of the previous page
      int bar = position.indexOf('|');
      try {
        after = new Projects.Project(UUID.fromString(position.substring(bar + 1)), "",
            Instant.parse(position.substring(0, Math.max(bar, 0))));
      } catch (RuntimeException e) {
        throw Pages.invalidCursor();
      }
      if (after.createdAt().isBefore(Instant.parse("0001-01-01T00:00:00Z"))
          || after.createdAt().isAfter(Instant.parse("9999-12-31T23:59:59Z"))) {
        throw Pages.invalidCursor();   // PostgreSQL would refuse it as out of range: a 500, not the client's 400
      }
    }
    send(ctx, 200, Pages.answer("projects", d.projects().list(after, limit + 1), limit, Api::project,
        p -> p.createdAt() + "|" + p.id()));
  }

  private void createProject(Context ctx) throws Exception {
    require("project:create");
    String name = text(readJson(ctx), "name", 100).strip();
    if (name.isEmpty() || !printable(name)) {
      throw ApiError.badRequest("invalid_name", "name must be 1 to 100 printable characters");
    }
    long limit = d.billing().entitlements(TenantContext.require()).limitOr("projects", Catalog.FREE_PROJECTS);
    Projects.Project created = d.projects().create(name, limit).orElseThrow(() -> new ApiError(402, "plan_limit",
        "your plan allows " + limit + " projects: upgrade to add more"));
    send(ctx, 201, project(created));
  }

  private void getProject(Context ctx) throws Exception {
    require("project:read");
    Projects.Project p = d.projects().find(uuid(ctx.pathParam("id"))).orElseThrow(() -> ApiError.notFound("project"));
    send(ctx, 200, project(p));
  }

  private void deleteProject(Context ctx) throws Exception {
    require("project:delete");
    refuseNonJsonBody(ctx);
    if (!d.projects().delete(uuid(ctx.pathParam("id")))) {
      throw ApiError.notFound("project");
    }
    ctx.status(204);
  }

  private static Map<String, Object> project(Projects.Project p) {
    return Map.of("id", p.id().toString(), "name", p.name(), "createdAt", p.createdAt().toString());
  }

  private static UUID uuid(String text) {
    try {
      return UUID.fromString(text);
    } catch (IllegalArgumentException e) {
      throw ApiError.notFound("project");   // not a project id of this tenant, whatever it is
    }
  }

  // ----- billing

  private void subscription(Context ctx) {
    require("billing:read");
    SubscriptionView view;
    try {
      view = d.subscriptions().getWith(CURRENT, key -> loadSubscription(TenantContext.require()));
    } catch (CacheLoadException e) {
      throw new IllegalStateException("loading the subscription failed", e.getCause());
    }
    send(ctx, 200, java.util.Objects.requireNonNull(view));
  }

  private CacheValue<SubscriptionView> loadSubscription(TenantId tenant) {
    TenantBilling status = d.billing().status(tenant);
    Entitlements e = d.billing().entitlements(tenant);
    Subscription sub = status.subscription();
    String plan = e.plans().isEmpty() ? "free" : e.plans().get(0);
    long seats = e.limitOr("seats", sub == null ? 1 : sub.items().stream()
        .mapToLong(i -> i.quantity()).max().orElse(1));
    SubscriptionView view = new SubscriptionView(sub == null ? "none" : sub.status().stripeValue(), plan, seats,
        sub == null || sub.currentPeriodEnd() == null ? null : String.valueOf(sub.currentPeriodEnd()),
        status.hasAccess(), List.copyOf(new TreeSet<>(e.features())));
    // never cached past the instant the answer can change by time alone (a trial or grace period ending)
    Duration untilChange = Duration.between(Instant.now(), e.validUntil());
    Duration ttl = untilChange.compareTo(d.config().cacheTtl()) < 0 ? untilChange : d.config().cacheTtl();
    return ttl.compareTo(Duration.ofSeconds(1)) < 0 ? CacheValue.of(view).ttl(Duration.ofSeconds(1))
        : CacheValue.of(view).ttl(ttl);
  }

  private void checkout(Context ctx) {
    require("billing:manage");
    String price = text(readJson(ctx), "price", 200);
    String priceId = d.priceIds().get(price);
    if (priceId == null && d.priceIds().containsValue(price)) {
      priceId = price;
    }
    if (priceId == null) {
      throw ApiError.badRequest("unknown_price", "no such price: see GET /pricing");
    }
    Principal p = AuthContext.require();
    try {
      CheckoutSession session = d.billing().operations().createCheckoutSession(
          CheckoutRequest.builder(p.requireTenant(), priceId)
              .successUrl(d.publicUrl() + "/?checkout=success")
              .cancelUrl(d.publicUrl() + "/?checkout=cancel")
              .email(statedEmail(p))
              .build());
      send(ctx, 200, Map.of("url", session.url(), "sessionId", session.id()));
    } catch (AlreadySubscribedException e) {
      // a second tab, or a tenant past due: paying again would bill twice; the open invoice or the portal is the way
      throw new ApiError(409, "already_subscribed", "this tenant already has a live subscription; a second checkout"
          + " would bill it twice");
    } catch (BillingException e) {
      log.warn("checkout failed: {}", LogText.of(e.getMessage()));
      throw new ApiError(502, "stripe_unavailable", "the payment provider did not answer: try again");
    }
  }

  private void stripeWebhook(Context ctx) {
    refuseDeclaredAbove(ctx, MAX_REQUEST_BYTES);
    String body = new String(body(ctx), StandardCharsets.UTF_8);
    WebhookResult result = d.billing().webhooks().handle(body, ctx.header("Stripe-Signature"));
    Map<String, Object> answer = new LinkedHashMap<>();
    answer.put("received", result.acknowledged());
    answer.put("outcome", result.outcome().name().toLowerCase(Locale.ROOT));
    if (!result.acknowledged()) {
      answer.put("error", Map.of("code", result.status() < 500 ? "webhook_rejected" : "webhook_failed",
          "message", result.message()));
    }
    send(ctx, result.status(), answer);
  }

  private void pricing(Context ctx) {
    ctx.header("Cache-Control", "public, max-age=300");
    ctx.header("ETag", pricingEtag);
    String ifNoneMatch = ctx.header("If-None-Match");
    if (ifNoneMatch != null && (ifNoneMatch.trim().equals("*") || List.of(ifNoneMatch.split(",")).stream()
        .map(String::trim).map(t -> t.startsWith("W/") ? t.substring(2) : t).anyMatch(pricingEtag::equals))) {
      // no body, and no Content-Type (Javalin's default text/plain): a cache refreshing its stored JSON with this
      // 304 takes its headers, and would serve the pricing as text/plain from then on
      ctx.status(304);
      ctx.res().setContentType(null);
      return;
    }
    ctx.status(200).contentType("application/json").result(pricingBody);
  }

  private byte[] pricingJson() {
    List<Map<String, Object>> plans = new ArrayList<>();
    for (Catalog.Offer o : Catalog.OFFERS) {
      if (d.priceIds().containsKey(o.lookupKey())) {
        plans.add(Map.of("price", o.lookupKey(), "name", o.name(), "amount", o.amount(), "currency",
            o.currency(), "interval", o.interval(), "features", o.features()));
      }
    }
    try {
      return json.writeValueAsBytes(Map.of("plans", plans));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  // ----- jobs and analytics

  private void startReport(Context ctx) throws Exception {
    require("report:run");
    refuseNonJsonBody(ctx);
    JobId id = d.jobs().enqueue(JobRequest.builder(Reports.REPORT,
        new Reports.ReportRequest(AuthContext.require().subject())).build());
    send(ctx, 202, Map.of("jobId", id.toString()));
  }

  private void job(Context ctx) throws Exception {
    require("project:read");
    JobId id;
    try {
      id = JobId.parse(ctx.pathParam("id"));
    } catch (IllegalArgumentException e) {
      throw ApiError.notFound("job");
    }
    JobStatus status = d.jobs().status(id).filter(s -> !s.isSystemJob())
        .orElseThrow(() -> ApiError.notFound("job"));
    Double fraction = status.progress();
    int progress = status.state() == JobState.COMPLETED ? 100
        : fraction == null ? 0 : (int) Math.max(0, Math.min(100, Math.floor(fraction * 100)));
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("id", status.id().toString());
    body.put("state", status.state().name().toLowerCase(Locale.ROOT));
    body.put("progress", progress);
    body.put("message", status.progressMessage());
    String result = status.resultJson();
    body.put("result", result == null ? null : json.readTree(result));
    send(ctx, 200, body);
  }

  private void analytics(Context ctx) throws Exception {
    require("project:read");
    Reports.Summary s = d.reports().summary();
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("projects", s.projects());
    body.put("reports", s.reports());
    body.put("refreshedAt", s.refreshedAt() == null ? null : s.refreshedAt().toString());
    send(ctx, 200, body);
  }

  private void ready(Context ctx) {
    Map<String, Boolean> checks = d.ready().get();
    boolean ok = !checks.containsValue(false);
    send(ctx, ok ? 200 : 503, Map.of("status", ok ? "ready" : "not_ready", "checks", checks));
  }

  // ----- JSON in and out, errors

  private JsonNode readJson(Context ctx) {
    refuseDeclaredAbove(ctx, d.config().maxBodyBytes());
    if (!isJson(ctx.header("Content-Type"))) {
      // a body declared as something else (a form post, multipart, XML) is not read at all
      throw new ApiError(415, "unsupported_media_type", "send the body as Content-Type: application/json");
    }
    byte[] bytes = body(ctx);
    if (bytes.length > d.config().maxBodyBytes()) {
      throw new ApiError(413, "body_too_large", "the body is larger than " + d.config().maxBodyBytes() + " bytes");
    }
    try {
      JsonNode node = jsonIn.readTree(bytes);
      if (node == null || !node.isObject()) {
        throw ApiError.badRequest("malformed_json", "the body must be a JSON object");
      }
      return node;
    } catch (java.io.IOException e) {
      throw ApiError.badRequest("malformed_json", "the body is not valid JSON");
    }
  }

  /**
   * For the write routes that take no body: one sent anyway as a form, multipart or another non-JSON type is 415,
   * as on the routes that read one (it is never read). {@code POST /api/reports} with a form body started a report.
   */
  private static void refuseNonJsonBody(Context ctx) {
    boolean hasBody = ctx.req().getContentLengthLong() > 0 || ctx.header("Transfer-Encoding") != null;
    if (hasBody && !isJson(ctx.header("Content-Type"))) {
      throw new ApiError(415, "unsupported_media_type", "send the body as Content-Type: application/json");
    }
  }

  /**
   * Whether a body of {@code contentType} is read as JSON: {@code application/json} or a {@code +json} type,
   * parameters aside, and, for clients that send JSON without saying so (a bare {@code fetch} of a string, an
   * HTTP client without the header), {@code text/plain} or no type at all. Credentials travel in the
   * Authorization header, never in cookies, so a cross-site form could not authenticate anyway; a form or
   * multipart body, or any other declared type, is 415.
   */
  static boolean isJson(@Nullable String contentType) {
    if (contentType == null || contentType.isBlank()) {
      return true;
    }
    int semicolon = contentType.indexOf(';');
    String type = (semicolon < 0 ? contentType : contentType.substring(0, semicolon)).strip()
        .toLowerCase(Locale.ROOT);
    return type.equals("application/json") || type.equals("text/plain")
        || JSON_SUFFIX_TYPE.matcher(type).matches();
  }

  /**
   * The request's body. One that cannot be read (a broken chunked encoding, a client gone before the declared
   * length) is the client's fault: 400, not a 500. Javalin (Kotlin) throws the {@code IOException} unchecked.
   */
  private static byte[] body(Context ctx) {
    try {
      return ctx.bodyAsBytes();
    } catch (RuntimeException e) {
      throw e;
    } catch (Exception e) {
      log.debug("unreadable request body: {}", LogText.of(e));
      throw ApiError.badRequest("unreadable_body", "the body could not be read");
    }
  }

  /**
   * 413 {@code body_too_large}, before a byte of the body is read, when the request declares a body longer than
   * {@code limit}. The declared length is read as a long: {@code Context.contentLength()} is an int and answers -1
   * ("unknown") for a length past 2 GiB, and the request was then read as a body of unknown length, the client's
   * connection held until Jetty's idle timeout, and answered 400 {@code unreadable_body} instead of this 413.
   */
  private static void refuseDeclaredAbove(Context ctx, long limit) {
    long declared = ctx.req().getContentLengthLong();
    if (declared > limit) {
      dropUnreadBody(ctx, declared);
      throw new ApiError(413, "body_too_large", "the body is larger than " + limit + " bytes");
    }
  }

  /**
   * Before a 413 for a body declared too large: a server that answers without reading the body and then closes
   * the connection with the body's bytes still unread makes the kernel reset the connection, and the client may
   * see the reset instead of the 413 (it did, in a test). So a body up to {@value #DRAIN_LIMIT_BYTES} bytes is read
   * and dropped first (Jetty's idle timeout bounds a client that sends it slowly), and a larger one is answered with
   * {@code Connection: close}.
   */
  private static void dropUnreadBody(Context ctx, long declared) {
    if (declared > DRAIN_LIMIT_BYTES) {
      ctx.header("Connection", "close");
      return;
    }
    byte[] buffer = new byte[16 * 1024];
    try {
      java.io.InputStream in = ctx.req().getInputStream();
      while (in.read(buffer) >= 0) {
        // dropped
      }
    } catch (java.io.IOException e) {
      ctx.header("Connection", "close"); // the client stopped sending: nothing more to read
    }
  }

  private static String text(JsonNode body, String field, int maxLength) {
    JsonNode v = body.get(field);
    if (v == null || !v.isTextual() || v.asText().isBlank()) {
      throw ApiError.badRequest("missing_field", "'" + field + "' is required (a string)");
    }
    if (v.asText().length() > maxLength) {
      throw ApiError.badRequest("field_too_long", "'" + field + "' is longer than " + maxLength + " characters");
    }
    if (!StandardCharsets.UTF_8.newEncoder().canEncode(v.asText())) {
      // a lone surrogate (a "\\ud800" escape in the JSON): valid JSON, but not text; stored, it would become '?'
      throw ApiError.badRequest("invalid_text", "'" + field + "' is not valid Unicode text");
    }
    return v.asText();
  }

  /**
   * Whether {@code text} shows as what it is: no control character, no bidirectional embedding, override or isolate
   * (U+202A..U+202E, U+2066..U+2069, which make "invoice", U+202E, "gpj.exe" display as {@code invoiceexe.jpg}),
   * no direction mark, no line or paragraph separator (U+2028, U+2029: a line break in a listing or a log). Joiners
   * (U+200D, inside emoji and many scripts) stay allowed.
   */
  static boolean printable(String text) {
    return text.codePoints().noneMatch(c -> Character.isISOControl(c)
        || (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069)
        || c == 0x200E || c == 0x200F || c == 0x061C
        || Character.getType(c) == Character.LINE_SEPARATOR
        || Character.getType(c) == Character.PARAGRAPH_SEPARATOR);
  }

  private static @Nullable String optionalText(JsonNode body, String field, int maxLength) {
    JsonNode v = body.get(field);
    return v == null || v.isNull() ? null : text(body, field, maxLength);
  }

  private void send(Context ctx, int status, Object body) {
    try {
      ctx.status(status).contentType("application/json").result(json.writeValueAsBytes(body));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot write the answer as JSON", e);
    }
  }

  private static Map<String, Object> errorBody(String code, String message) {
    return Map.of("error", Map.of("code", code, "message", message));
  }

  /** Every failure becomes the one error shape with the right status; unexpected ones are logged, not shown. */
  private void error(Context ctx, Exception e) {
    if (e instanceof ApiError a) {
      if (a.status() == 401) {
        // RFC 6750: say which scheme is wanted; a credential that was sent and refused is an invalid_token
        ctx.header("WWW-Authenticate", a.code().equals("unauthenticated") ? "Bearer realm=\"saas-app\""
            : "Bearer realm=\"saas-app\", error=\"invalid_token\"");
      } else if (a.code().equals("invalid_request")) {
        ctx.header("WWW-Authenticate", "Bearer realm=\"saas-app\", error=\"invalid_request\"");
      }
      send(ctx, a.status(), errorBody(a.code(), String.valueOf(a.getMessage())));
    } else if (e instanceof InvalidTokenException t) {
      log.debug("refused credential: {}", t.reason());
      ctx.header("WWW-Authenticate", "Bearer realm=\"saas-app\", error=\"invalid_token\"");
      send(ctx, 401, errorBody("invalid_token", "the token or API key is invalid or expired"));
    } else if (e instanceof AccessDeniedException a) {
      if (a.reason() == AccessDeniedException.Reason.STALE_PERMISSIONS) {
        ctx.header("WWW-Authenticate", "Bearer realm=\"saas-app\", error=\"invalid_token\"");
        send(ctx, 401, errorBody("token_revoked", "your role changed since this token was issued: sign in again"));
      } else {
        send(ctx, 403, errorBody("forbidden", "your role does not allow this"));
      }
    } else if (e instanceof MembershipException m && m.reason() == MembershipException.Reason.LAST_OWNER) {
      send(ctx, 409, errorBody("last_owner", "a tenant keeps at least one owner"));
    } else if (e instanceof HttpResponseException h) {
      int status = h.getStatus();
      send(ctx, status, errorBody(status == 413 ? "body_too_large" : "http_" + status,
          status == 413 ? "the body is too large" : "the request was refused"));
    } else {
      log.error("unexpected failure on {} {}: {}", LogText.of(ctx.method()), LogText.of(ctx.path()),
          LogText.of(e));
      log.debug("stack trace", e);
      send(ctx, 500, errorBody("internal_error", "something went wrong on our side"));
    }
  }

  /**
   * Jetty's answer to what it refuses before the app sees it (a malformed URI, headers too large, a bad
   * Content-Length): the app's JSON error shape with Jetty's status and its standard reason, instead of an HTML page.
   */
  static final class JsonErrorHandler extends ErrorHandler {
    private final ObjectMapper json;

    JsonErrorHandler(ObjectMapper json) {
      this.json = json;
      setShowStacks(false);
      setShowCauses(false);
    }

    /**
     * Every method gets the JSON body and the security headers: Jetty's default answers only GET, POST and HEAD
     * with a body, so {@code OPTIONS *} or a {@code PATCH} with headers too large got an empty answer without them.
     */
    @Override
    public boolean errorPageForMethod(String method) {
      return true;
    }

    @Override
    protected void generateResponse(Request request, Response response, int code, String message,
        Throwable cause, Callback callback) {
      // the app's before-handler never ran for these: the same headers as every other answer, set here
      SECURITY_HEADERS.forEach((name, value) -> response.getHeaders().put(name, value));
      response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json");
      response.write(true, ByteBuffer.wrap(body(code)), callback);
    }

    private byte[] body(int status) {
      String code = switch (status) {
        case 400 -> "bad_request";
        case 404 -> "not_found";   // the app's own codes (OPTIONS *, for one, never reaches the app's routes)
        case 405 -> "method_not_allowed";
        case 413 -> "body_too_large";
        case 414 -> "uri_too_long";
        case 431 -> "headers_too_large";
        default -> "http_" + status;
      };
      String reason = HttpStatus.getMessage(status);
      try {
        return json.writeValueAsBytes(errorBody(code, reason == null ? "the request was refused" : reason));
      } catch (JsonProcessingException e) {
        throw new IllegalStateException(e);
      }
    }
  }

  private static String sha256(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
