package dev.saaskit.auth.docs;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.Filter;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.saaskit.auth.AccessDeniedException;
import dev.saaskit.auth.AuthContext;
import dev.saaskit.auth.Authorizer;
import dev.saaskit.auth.InvalidTokenException;
import dev.saaskit.auth.PermissionVersions;
import dev.saaskit.auth.Principal;
import dev.saaskit.auth.ResourceGrants;
import dev.saaskit.auth.RoleModel;
import dev.saaskit.core.TenantContext;
import dev.saaskit.core.TenantId;
import io.javalin.Javalin;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.lang.reflect.Proxy;
import java.net.HttpURLConnection;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The code of docs/auth-authorization.md, compiled and run: the model and authorizer, and the request filter in
 * plain Java (a real com.sun.net.httpserver server), Javalin (a real server) and a servlet filter (Spring).
 *
 * <p>The token verifier is a stand-in here: a {@code Function<String, Principal>} that knows a few test tokens and
 * throws {@link InvalidTokenException} for anything else, as {@code TokenVerifier.verify} does.
 */
class AuthorizationDocsTest {
  static final TenantId ACME = TenantId.of("acme");

  final Map<String, Principal> tokens = new HashMap<>();
  final Function<String, Principal> verifier = token -> {
    Principal p = tokens.get(token);
    if (p == null) {
      throw new InvalidTokenException(InvalidTokenException.Reason.MALFORMED, "not a test token");
    }
    return p;
  };
  final Authorizer authorizer = Authorizer.builder(RoleModel.defaults()).build();
  final List<AutoCloseable> servers = new ArrayList<>();

  AuthorizationDocsTest() {
    tokens.put("member-token", Principal.builder("https://idp.example", "alice").tenant(ACME)
        .roles(List.of("member")).build());
    tokens.put("no-role-token", Principal.builder("https://idp.example", "bob").tenant(ACME).build());
    tokens.put("no-tenant-token", Principal.builder("https://idp.example", "carol").roles(List.of("owner"))
        .build());
  }

  @AfterEach
  void stop() throws Exception {
    for (AutoCloseable s : servers) {
      s.close();
    }
  }

  @Test
  void modelAndAuthorizer() {
    Map<TenantId, Map<String, Long>> membershipTable = Map.of(ACME, Map.of());
    // snippet: model
    RoleModel model = RoleModel.builder()
        .role("member", "project:read", "invoice:read")
        .role("accountant", "invoice:write", "invoice:export").inherits("accountant", "member")
        .role("admin", "project:write", "members:invite").inherits("admin", "accountant")
        .role("owner", "billing:manage").inherits("owner", "admin")
        .permissions("project:share")                 // grantable per resource only
        .build();

    PermissionVersions versions = PermissionVersions.loadingFrom((tenant, userKey) ->
        membershipTable.getOrDefault(tenant, Map.of()).getOrDefault(userKey, PermissionVersions.NO_MEMBERSHIP));
    ResourceGrants grants = new ResourceGrants();

    Authorizer authorizer = Authorizer.builder(model)
        .permissionVersions(versions)                 // revocation: stale tokens are denied
        .resourceGrants(grants)                       // "editor of project p-7"
        .decisionListener(d -> {
          if (!d.allowed()) {
            System.out.println("denied: " + d);       // an audit log or a metric, in real code
          }
        })
        .build();
    // end snippet
    Principal alice = Principal.builder("https://idp.example", "alice").tenant(ACME).roles(List.of("accountant"))
        .permissionVersion(1L).build();
    assertThat(authorizer.check(alice, "invoice:export")).as("no membership row: stale").isFalse();
    versions.invalidateAll();
    Map<String, Long> row = Map.of(alice.userKey(), 1L);
    Authorizer withRow = Authorizer.builder(model).resourceGrants(grants)
        .permissionVersions(PermissionVersions.loadingFrom((t, u) -> row.getOrDefault(u, -1L))).build();
    Principal principal = alice;
    boolean allowed;
    // snippet: check
    allowed = withRow.check(principal, "invoice:export");            // tenant-wide
    grants.grantPermission(ACME, principal.userKey(), "p-7", "project:share");
    withRow.require(principal, "project:share", "p-7");              // on one resource; throws if denied
    // end snippet
    assertThat(allowed).isTrue();
    assertThat(withRow.check(principal, "project:share", "p-8")).isFalse();
    assertThat(withRow.check(principal, "members:invite")).isFalse();
  }

  // snippet: plain-filter
  /** Verifies the bearer token and runs the rest of the exchange as the principal, in its tenant. */
  static final class AuthFilter extends Filter {
    private final Function<String, Principal> verifier;   // TokenVerifier::verify in a real app

    AuthFilter(Function<String, Principal> verifier) {
      this.verifier = verifier;
    }

    @Override
    public void doFilter(HttpExchange exchange, Chain chain) throws IOException {
      Principal principal;
      try {
        principal = verifier.apply(bearer(exchange.getRequestHeaders().getFirst("Authorization")));
      } catch (InvalidTokenException e) {       // e.reason() is for logs and metrics, not for the client
        exchange.sendResponseHeaders(401, -1);
        exchange.close();
        return;
      }
      try {
        AuthContext.run(principal, () -> chain.doFilter(exchange));
      } catch (AccessDeniedException e) {       // no tenant in the token, or a require(...) below said no
        exchange.sendResponseHeaders(403, -1);
        exchange.close();
      }
    }

    @Override
    public String description() {
      return "saas-auth: bearer token to AuthContext";
    }
  }

  static String bearer(String header) {
    return header != null && header.startsWith("Bearer ") ? header.substring(7) : "";
  }
  // end snippet

  @Test
  void plainJavaFilter() throws IOException {
    HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    servers.add(() -> server.stop(0));
    // snippet: plain-server
    server.createContext("/invoices", exchange -> {
      authorizer.require(AuthContext.require(), "invoice:read");
      byte[] body = ("invoices of " + TenantContext.require()).getBytes(StandardCharsets.UTF_8);
      exchange.sendResponseHeaders(200, body.length);
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(body);
      }
    }).getFilters().add(new AuthFilter(verifier));
    // end snippet
    server.start();
    String base = "http://" + server.getAddress().getHostString() + ":" + server.getAddress().getPort();
    assertThat(get(base + "/invoices", "member-token")).isEqualTo("200 invoices of acme");
    assertThat(get(base + "/invoices", "no-role-token")).isEqualTo("403");
    assertThat(get(base + "/invoices", "no-tenant-token")).isEqualTo("403");
    assertThat(get(base + "/invoices", "forged")).isEqualTo("401");
    assertThat(get(base + "/invoices", null)).isEqualTo("401");
  }

  @Test
  void javalin() throws IOException {
    // snippet: javalin
    Javalin app = Javalin.create(config -> {
      // every endpoint handler runs as the verified principal, in its tenant
      config.router.handlerWrapper(endpoint -> ctx -> {
        Principal principal = verifier.apply(bearer(ctx.header("Authorization")));
        AuthContext.run(principal, () -> endpoint.handler.handle(ctx));
      });
      config.routes.exception(InvalidTokenException.class, (e, ctx) -> ctx.status(401));
      config.routes.exception(AccessDeniedException.class, (e, ctx) -> ctx.status(403));
      config.routes.get("/invoices", ctx -> {
        authorizer.require(AuthContext.require(), "invoice:read");
        ctx.result("invoices of " + TenantContext.require());
      });
    });
    // end snippet
    app.start("127.0.0.1", 0);
    servers.add(app::stop);
    String base = "http://127.0.0.1:" + app.port();
    assertThat(get(base + "/invoices", "member-token")).isEqualTo("200 invoices of acme");
    assertThat(get(base + "/invoices", "no-role-token")).isEqualTo("403");
    assertThat(get(base + "/invoices", "no-tenant-token")).isEqualTo("403");
    assertThat(get(base + "/invoices", "forged")).isEqualTo("401");
    assertThat(get(base + "/invoices", null)).isEqualTo("401");
  }

  // snippet: servlet-filter
  /** A servlet filter (register it as a bean in Spring Boot): the request runs as the principal. */
  static final class AuthServletFilter implements jakarta.servlet.Filter {
    private final Function<String, Principal> verifier;   // TokenVerifier::verify in a real app

    AuthServletFilter(Function<String, Principal> verifier) {
      this.verifier = verifier;
    }

    @Override
    public void doFilter(ServletRequest req, ServletResponse res, FilterChain chain)
        throws IOException, ServletException {
      HttpServletRequest request = (HttpServletRequest) req;
      HttpServletResponse response = (HttpServletResponse) res;
      Principal principal;
      try {
        principal = verifier.apply(bearer(request.getHeader("Authorization")));
      } catch (InvalidTokenException e) {
        response.sendError(401);
        return;
      }
      try {
        AuthContext.run(principal, () -> {
          try {
            chain.doFilter(request, response);
          } catch (IOException e) {
            throw new UncheckedIOException(e);   // run(...) rethrows one checked type: ServletException
          }
        });
      } catch (UncheckedIOException e) {
        throw e.getCause();
      } catch (AccessDeniedException e) {
        response.sendError(403);
      }
    }
  }
  // end snippet

  @Test
  void servletFilter() throws Exception {
    AuthServletFilter filter = new AuthServletFilter(verifier);
    for (String[] c : new String[][] {{"member-token", "200 acme"}, {"no-role-token", "403"},
        {"no-tenant-token", "403"}, {"forged", "401"}, {null, "401"}}) {
      int[] status = {200};
      StringBuilder body = new StringBuilder();
      HttpServletRequest request = proxy(HttpServletRequest.class, (name, args) ->
          name.equals("getHeader") && "Authorization".equals(args[0]) && c[0] != null ? "Bearer " + c[0] : null);
      HttpServletResponse response = proxy(HttpServletResponse.class, (name, args) -> {
        if (name.equals("sendError")) {
          status[0] = (Integer) args[0];
        }
        return null;
      });
      filter.doFilter(request, response, (req, res) -> {
        authorizer.require(AuthContext.require(), "invoice:read");
        body.append(' ').append(TenantContext.require());
      });
      assertThat(status[0] + body.toString()).as(String.valueOf(c[0])).isEqualTo(c[1]);
    }
  }

  interface Answer {
    Object answer(String method, Object[] args);
  }

  static <T> T proxy(Class<T> type, Answer answer) {
    return type.cast(Proxy.newProxyInstance(type.getClassLoader(), new Class<?>[] {type},
        (p, m, args) -> answer.answer(m.getName(), args == null ? new Object[0] : args)));
  }

  /** "status body" (or just the status when there is no body) of a GET with an optional bearer token. */
  static String get(String url, String token) throws IOException {
    HttpURLConnection c = (HttpURLConnection) new URL(url).openConnection();
    if (token != null) {
      c.setRequestProperty("Authorization", "Bearer " + token);
    }
    int status = c.getResponseCode();
    String body = "";
    if (status == 200) {
      try (InputStream in = c.getInputStream()) {
        body = " " + new String(in.readAllBytes(), StandardCharsets.UTF_8);
      }
    }
    c.disconnect();
    return status + body;
  }
}
