package dev.saaskit.examples.saasapp;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.saaskit.examples.saasapp.AppFixture.Answer;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * What an attacker with an HTTP client sends: bodies that are not quite JSON or cannot be read, texts the modules
 * refuse, credentials used where they do not belong, HEAD requests, requests Jetty refuses before the app. Every
 * answer must be the README's: the one JSON error shape with the right status, never a 500 for the client's fault.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SaasAppHostileRequestTest {
  private AppFixture f;

  @BeforeAll
  void start() throws Exception {
    f = AppFixture.start(b -> {});
  }

  @AfterAll
  void stop() throws Exception {
    if (f != null) {
      f.close();
    }
  }

  @Test
  void jsonFollowedByMoreContentIsMalformedAndWritesNothing() throws Exception {
    String owner = f.login("trail-co", "olga@trail.test", "owner");
    for (String body : List.of("{\"name\":\"one\"} trailing garbage", "{\"name\":\"two\"}{\"name\":\"three\"}",
        "{\"name\":\"four\"}]")) {
      Answer a = f.post("/api/projects", owner, body);
      assertThat(a.status()).as(body).isEqualTo(400);
      assertThat(a.body().at("/error/code").asText()).isEqualTo("malformed_json");
    }
    assertThat(f.get("/api/projects", owner).body().get("projects").size()).isZero();
    assertThat(f.post("/api/projects", owner, "{\"name\":\"ok\"}  \r\n").status()).isEqualTo(201);
  }

  /**
   * A key given twice is malformed: a filter in front of the app that reads the first {@code role} and the app that
   * would read the last must never disagree about what a request asked for.
   */
  @Test
  void aKeyGivenTwiceIsMalformedAndWritesNothing() throws Exception {
    String owner = f.login("dupkey-co", "olga@dupkey.test", "owner");
    Answer project = f.post("/api/projects", owner, "{\"name\":\"first\",\"name\":\"second\"}");
    assertThat(project.status()).as(project.raw()).isEqualTo(400);
    assertThat(project.body().at("/error/code").asText()).isEqualTo("malformed_json");
    assertThat(f.get("/api/projects", owner).body().get("projects").size()).isZero();
    Answer login = f.post("/dev/login", null,
        "{\"tenant\":\"dupkey-co\",\"email\":\"mia@dupkey.test\",\"role\":\"member\",\"role\":\"owner\"}");
    assertThat(login.status()).as(login.raw()).isEqualTo(400);
    assertThat(login.body().at("/error/code").asText()).isEqualTo("malformed_json");
    assertThat(f.get("/api/members", owner).body().get("members").size()).as("nobody joined").isEqualTo(1);
    Answer nested = f.post("/api/projects", owner, "{\"name\":\"ok\",\"meta\":{\"a\":1},\"other\":{\"a\":2}}");
    assertThat(nested.status()).as("the same key in two different objects is fine: " + nested.raw()).isEqualTo(201);
  }

  /**
   * A list parameter whose value is not valid percent-encoding is the client's mistake, answered like any other bad
   * value: Javalin drops such a parameter, which used to give the first page with the default limit and a 200.
   */
  @Test
  void aListParameterThatIsNotValidPercentEncodingIs400() throws Exception {
    String owner = f.login("percent-co", "olga@percent.test", "owner");
    for (String path : List.of("/api/projects", "/api/members")) {
      for (String query : List.of("limit=%ZZ", "cursor=%ZZ", "limit=%", "cursor=%C3%28")) {
        String raw = raw("GET " + path + "?" + query + " HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer "
            + owner + "\r\nConnection: close\r\n\r\n");
        assertThat(statusOf(raw)).as(path + "?" + query + ": " + raw).isEqualTo(400);
        String body = raw.substring(raw.indexOf("\r\n\r\n") + 4);
        assertThat(AppFixture.JSON.readTree(body).at("/error/code").asText()).as(body)
            .isEqualTo(query.startsWith("limit") ? "invalid_limit" : "invalid_cursor");
      }
      assertThat(statusOf(raw("GET " + path + "?limit=2&other=x HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer "
          + owner + "\r\nConnection: close\r\n\r\n"))).isEqualTo(200);
    }
  }

  @Test
  void aMethodARouteDoesNotTakeIs405AndAnUnknownPathStays404() throws Exception {
    String owner = f.login("method-co", "olga@method.test", "owner");
    for (String method : List.of("PUT", "PATCH", "TRACE", "FOO")) {
      Answer a = f.send(f.request("/api/projects", owner).method(method, HttpRequest.BodyPublishers.noBody())
          .build());
      assertThat(a.status()).as(method + " " + a.raw()).isEqualTo(405);
      assertThat(a.body().at("/error/code").asText()).isEqualTo("method_not_allowed");
    }
    assertThat(f.post("/api/me", owner, "{}").status()).isEqualTo(405);
    Answer unknown = f.send(f.request("/api/nope", owner).method("PUT", HttpRequest.BodyPublishers.noBody())
        .build());
    assertThat(unknown.status()).isEqualTo(404);
    assertThat(unknown.body().at("/error/code").asText()).isEqualTo("not_found");
    assertThat(f.get("/api/projects", owner).status()).isEqualTo(200);
  }

  @Test
  void anEmailTheMembershipsRefuseIsA400NotA500() throws Exception {
    String longEmail = "a".repeat(60) + "@" + "b".repeat(250) + ".test";   // 320 characters at most, > 255
    for (String email : List.of(longEmail, "a\u0085b@c1.test", "a\u0001b@c0.test")) {
      Answer a = f.post("/dev/login", null, Map.of("tenant", "mail-co", "email", email, "role", "owner"));
      assertThat(a.status()).as(a.raw()).isEqualTo(400);
      assertThat(a.body().at("/error/code").asText()).isEqualTo("invalid_email");
    }
    String admin = f.login("mail-co", "ada@mail.test", "admin");
    for (String email : List.of("a\u0001b@c0.test", "a\u0085b@c1.test", "not an email")) {
      Answer a = f.post("/api/invitations", admin, Map.of("email", email, "role", "member"));
      assertThat(a.status()).as(a.raw()).isEqualTo(400);
      assertThat(a.body().at("/error/code").asText()).isEqualTo("invalid_email");
    }
    assertThat(f.post("/api/invitations", admin, Map.of("email", "new@mail.test", "role", "member")).status())
        .isEqualTo(201);
  }

  @Test
  void anApiKeyNameWithControlCharactersIsA400NotA500() throws Exception {
    String admin = f.login("keyname-co", "ada@keyname.test", "admin");
    for (String name : List.of("ci\u0000", "ci\u0001", "ci\u0085")) {
      Answer a = f.post("/api/api-keys", admin, Map.of("name", name, "scopes", List.of("project:read")));
      assertThat(a.status()).as(a.raw()).isEqualTo(400);
      assertThat(a.body().at("/error/code").asText()).isEqualTo("invalid_name");
    }
  }

  @Test
  void aTextThatIsNotValidUnicodeIsRefusedNotStoredAsQuestionMarks() throws Exception {
    String owner = f.login("surrogate-co", "olga@surrogate.test", "owner");
    Answer a = f.post("/api/projects", owner, "{\"name\":\"x\\ud800y\"}");
    assertThat(a.status()).as(a.raw()).isEqualTo(400);
    assertThat(a.body().at("/error/code").asText()).isEqualTo("invalid_text");
    assertThat(f.get("/api/projects", owner).body().get("projects").size()).isZero();
    Answer emoji = f.post("/api/projects", owner, "{\"name\":\"rocket \\ud83d\\ude80\"}");
    assertThat(emoji.status()).isEqualTo(201);
    assertThat(emoji.body().get("name").asText()).isEqualTo("rocket \uD83D\uDE80");
  }

  @Test
  void aBodyThatCannotBeReadIsA400NotA500() throws Exception {
    String owner = f.login("chunk-co", "olga@chunk.test", "owner");
    for (String path : List.of("/api/projects", "/webhooks/stripe", "/dev/login")) {
      String head = "POST " + path + " HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + owner
          + "\r\nStripe-Signature: t=1,v1=00\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
          + "Connection: close\r\n\r\n";
      String raw = raw(head + "zz\r\n{}\r\n0\r\n\r\n");
      assertThat(statusOf(raw)).as(path + ": " + raw).isEqualTo(400);
      assertThat(raw).doesNotContain("internal_error").contains("\"error\"");
    }
    assertThat(f.get("/api/projects", owner).body().get("projects").size()).isZero();
  }

  @Test
  void headNeedsTheSameCredentialAsGet() throws Exception {
    for (String path : List.of("/api/me", "/api/projects", "/api/projects/00000000-0000-0000-0000-000000000000",
        "/api/members", "/api/billing/subscription", "/api/jobs/1", "/api/analytics/summary")) {
      Answer a = f.send(f.request(path, null).method("HEAD", HttpRequest.BodyPublishers.noBody()).build());
      assertThat(a.status()).as("HEAD " + path).isEqualTo(401);
    }
    String owner = f.login("head-co", "olga@head.test", "owner");
    Answer me = f.send(f.request("/api/me", owner).method("HEAD", HttpRequest.BodyPublishers.noBody()).build());
    assertThat(me.status()).isEqualTo(200);
    assertThat(me.raw()).isEmpty();
    Answer pricing = f.send(f.request("/pricing", null).method("HEAD", HttpRequest.BodyPublishers.noBody()).build());
    assertThat(pricing.status()).isEqualTo(200);
    assertThat(pricing.headers().firstValue("ETag")).isPresent();
    assertThat(pricing.headers().firstValue("Cache-Control")).isPresent();
  }

  @Test
  void anApiKeyCannotAcceptAnInvitation() throws Exception {
    String owner = f.login("keyjoin-co", "olga@keyjoin.test", "owner");
    String key = f.post("/api/api-keys", owner, Map.of("name", "ci", "scopes", List.of("project:read")))
        .body().get("key").asText();
    String admin = f.login("keyjoin-target", "ada@keyjoin.test", "admin");
    String invitation = f.post("/api/invitations", admin, Map.of("role", "admin")).body().get("token").asText();
    Answer refused = f.post("/api/invitations/accept", key, Map.of("token", invitation));
    assertThat(refused.status()).as(refused.raw()).isEqualTo(403);
    assertThat(refused.body().at("/error/code").asText()).isEqualTo("forbidden");
    JsonNode members = f.get("/api/members", admin).body().get("members");
    assertThat(members.toString()).doesNotContain("apikey:");
    // the invitation was not used up: a user can still accept it
    String user = f.login("keyjoin-home", "new@keyjoin.test", "owner");
    assertThat(f.post("/api/invitations/accept", user, Map.of("token", invitation)).status()).isEqualTo(200);
  }

  @Test
  void requestsJettyRefusesGetTheJsonErrorShape() throws Exception {
    String owner = f.login("jetty-co", "olga@jetty.test", "owner");
    List<String> requests = List.of(
        "GET /api/projects/%zz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        "GET /api/me HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + "a".repeat(20_000)
            + "\r\nConnection: close\r\n\r\n",
        "POST /api/projects HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + owner
            + "\r\nContent-Length: -1\r\nConnection: close\r\n\r\n{}");
    for (String request : requests) {
      String raw = raw(request);
      int status = statusOf(raw);
      assertThat(status).as(raw).isBetween(400, 499);
      String body = raw.substring(raw.indexOf("\r\n\r\n") + 4);
      assertThat(raw).as(raw).containsIgnoringCase("Content-Type: application/json");
      JsonNode json = AppFixture.JSON.readTree(body);
      assertThat(json.at("/error/code").isTextual()).as(body).isTrue();
      assertThat(json.at("/error/message").isTextual()).as(body).isTrue();
      assertThat(body).doesNotContain("<html").doesNotContain("org.eclipse").doesNotContain("Exception");
    }
  }

  @Test
  void everyAnswerCarriesSecurityHeadersAndCredentialsAreNeverCached() throws Exception {
    Answer login = f.post("/dev/login", null, Map.of("tenant", "header-co", "email", "olga@header.test",
        "role", "owner"));
    String owner = login.body().get("token").asText();
    Answer key = f.post("/api/api-keys", owner, Map.of("name", "ci", "scopes", List.of("project:read")));
    Answer unauthenticated = f.get("/api/me", null);
    Answer badToken = f.get("/api/me", "nonsense");
    Answer page = f.get("/", null);
    for (Answer a : List.of(login, key, unauthenticated, badToken, f.get("/api/me", owner), f.get("/nope", null))) {
      assertThat(a.headers().firstValue("X-Content-Type-Options")).as(a.raw()).hasValue("nosniff");
      assertThat(a.headers().firstValue("Cache-Control")).as(a.raw()).hasValue("no-store");
    }
    for (Answer a : List.of(page, login, f.get("/pricing", null))) {
      assertThat(a.headers().firstValue("X-Content-Type-Options")).hasValue("nosniff");
      assertThat(a.headers().firstValue("X-Frame-Options")).hasValue("DENY");
      assertThat(a.headers().firstValue("Content-Security-Policy").orElse("")).contains("frame-ancestors 'none'");
      assertThat(a.headers().firstValue("Referrer-Policy")).hasValue("no-referrer");
    }
    assertThat(page.status()).isEqualTo(200);
    // RFC 6750: a 401 for a bearer-protected resource says which scheme it wants
    assertThat(unauthenticated.headers().firstValue("WWW-Authenticate").orElse("")).startsWith("Bearer");
    assertThat(badToken.headers().firstValue("WWW-Authenticate").orElse("")).startsWith("Bearer")
        .contains("invalid_token");
    assertThat(f.get("/pricing", null).headers().firstValue("Cache-Control")).hasValue("public, max-age=300");
  }

  @Test
  void aBodyDeclaredAsSomethingElseThanJsonIs415AndWritesNothing() throws Exception {
    String owner = f.login("mime-co", "olga@mime.test", "owner");
    for (String type : List.of("application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
        "application/jsonx", "application/xml")) {
      Answer a = f.send(f.request("/api/projects", owner).header("Content-Type", type)
          .POST(HttpRequest.BodyPublishers.ofString("{\"name\":\"sneaky\"}")).build());
      assertThat(a.status()).as(type + ": " + a.raw()).isEqualTo(415);
      assertThat(a.body().at("/error/code").asText()).isEqualTo("unsupported_media_type");
    }
    Answer login = f.send(f.request("/dev/login", null).header("Content-Type", "application/x-www-form-urlencoded")
        .POST(HttpRequest.BodyPublishers.ofString(
            "{\"tenant\":\"mime-co\",\"email\":\"x@mime.test\",\"role\":\"owner\"}")).build());
    assertThat(login.status()).as(login.raw()).isEqualTo(415);
    assertThat(f.get("/api/projects", owner).body().get("projects").size()).isZero();
    assertThat(f.get("/api/members", owner).body().get("members").size()).isEqualTo(1);
    // JSON sent without saying so (no header, or text/plain as a bare fetch of a string sends it) is read as JSON
    Answer none = f.send(f.request("/api/projects", owner)
        .POST(HttpRequest.BodyPublishers.ofString("{\"name\":\"untyped\"}")).build());
    assertThat(none.status()).as(none.raw()).isEqualTo(201);
    Answer plain = f.send(f.request("/api/projects", owner).header("Content-Type", "text/plain;charset=UTF-8")
        .POST(HttpRequest.BodyPublishers.ofString("{\"name\":\"plain\"}")).build());
    assertThat(plain.status()).as(plain.raw()).isEqualTo(201);
    Answer charset = f.send(f.request("/api/projects", owner).header("Content-Type", "Application/JSON; charset=UTF-8")
        .POST(HttpRequest.BodyPublishers.ofString("{\"name\":\"fine\"}")).build());
    assertThat(charset.status()).as(charset.raw()).isEqualTo(201);
  }

  @Test
  void aFormBodyOnARouteThatTakesNoBodyIs415AndChangesNothing() throws Exception {
    String owner = f.login("nobody-co", "olga@nobody.test", "owner");
    String id = f.post("/api/projects", owner, Map.of("name", "stays")).body().get("id").asText();
    for (String type : List.of("application/x-www-form-urlencoded", "multipart/form-data; boundary=x")) {
      Answer report = f.send(f.request("/api/reports", owner).header("Content-Type", type)
          .POST(HttpRequest.BodyPublishers.ofString("a=b")).build());
      assertThat(report.status()).as(type + ": " + report.raw()).isEqualTo(415);
      assertThat(report.body().at("/error/code").asText()).isEqualTo("unsupported_media_type");
      Answer delete = f.send(f.request("/api/projects/" + id, owner).header("Content-Type", type)
          .method("DELETE", HttpRequest.BodyPublishers.ofString("a=b")).build());
      assertThat(delete.status()).as(type + ": " + delete.raw()).isEqualTo(415);
    }
    assertThat(f.countAll("saaskit_jobs.jobs WHERE tenant_id = 'nobody-co'")).isZero();
    assertThat(f.get("/api/projects/" + id, owner).status()).isEqualTo(200);
    // no body, or a JSON one, as the dashboard sends: accepted
    assertThat(f.send(f.request("/api/reports", owner).POST(HttpRequest.BodyPublishers.noBody()).build())
        .status()).isEqualTo(202);
    assertThat(f.post("/api/reports", owner, Map.of()).status()).isEqualTo(202);
    assertThat(f.delete("/api/projects/" + id, owner).status()).isEqualTo(204);
  }

  @Test
  void scopesThatAreNotStringsAre400() throws Exception {
    String owner = f.login("scope-co", "olga@scope.test", "owner");
    for (String scopes : List.of("[{\"a\":1}]", "[null]", "[5]", "[true]", "[[\"project:read\"]]")) {
      Answer a = f.post("/api/api-keys", owner, "{\"name\":\"ci\",\"scopes\":" + scopes + "}");
      assertThat(a.status()).as(scopes + ": " + a.raw()).isEqualTo(400);
      assertThat(a.body().at("/error/code").asText()).isEqualTo("invalid_scopes");
    }
  }

  @Test
  void aDemotedUsersApiKeysLoseWhatTheRoleNoLongerAllows() throws Exception {
    String owner = f.login("demote-co", "olga@demote.test", "owner");
    String other = f.login("demote-co", "ada@demote.test", "owner");
    String wide = f.post("/api/api-keys", owner, Map.of("name", "wide",
        "scopes", List.of("roles:assign", "api_keys:manage", "project:read"))).body().get("key").asText();
    String narrow = f.post("/api/api-keys", owner, Map.of("name", "narrow",
        "scopes", List.of("project:read"))).body().get("key").asText();
    // a key made by a key: it must not outlive its maker's demotion either
    String child = f.post("/api/api-keys", wide, Map.of("name", "child",
        "scopes", List.of("roles:assign"))).body().get("key").asText();
    assertThat(f.get("/api/projects", child).status()).isEqualTo(403);   // alive, but no project:read
    Answer demoted = f.patch("/api/members/olga@demote.test", other, Map.of("role", "member"));
    assertThat(demoted.status()).as(demoted.raw()).isEqualTo(200);
    // the demoted member cannot promote herself back through her keys
    for (String key : List.of(wide, child)) {
      Answer back = f.patch("/api/members/olga@demote.test", key, Map.of("role", "owner"));
      assertThat(back.status()).as(back.raw()).isEqualTo(401);
    }
    assertThat(f.get("/api/members", other).body().toString()).contains("\"role\":\"member\"");
    // a key within the new role keeps working
    assertThat(f.get("/api/projects", narrow).status()).isEqualTo(200);
    // the demo sign-in's role change does the same
    String member = f.login("demote-co", "bob@demote.test", "admin");
    String adminKey = f.post("/api/api-keys", member, Map.of("name", "bob",
        "scopes", List.of("members:invite"))).body().get("key").asText();
    f.login("demote-co", "bob@demote.test", "member");
    assertThat(f.post("/api/invitations", adminKey, Map.of("role", "member")).status()).isEqualTo(401);
  }

  @Test
  void aDemotedUsersKeysActWithinTheNewRoleEvenWhenRevokingThemFailedAfterTheRoleChange() throws Exception {
    String owner = f.login("crash-co", "olga@crash.test", "owner");
    String other = f.login("crash-co", "ada@crash.test", "owner");
    String wide = f.post("/api/api-keys", owner, Map.of("name", "wide",
        "scopes", List.of("roles:assign", "api_keys:manage", "project:read"))).body().get("key").asText();
    String child = f.post("/api/api-keys", wide, Map.of("name", "child",
        "scopes", List.of("roles:assign", "api_keys:manage", "project:read"))).body().get("key").asText();
    String grandchild = f.post("/api/api-keys", child, Map.of("name", "grandchild",
        "scopes", List.of("project:read"))).body().get("key").asText();
    // the role change commits, then revoking the keys fails (a crash, a lost connection: here a trigger)
    try (java.sql.Connection c = f.adminConnection(); java.sql.Statement st = c.createStatement()) {
      st.execute("CREATE FUNCTION public.no_key_revocation() RETURNS trigger LANGUAGE plpgsql AS"
          + " $$BEGIN RAISE EXCEPTION 'the node crashed'; END$$");
      st.execute("CREATE TRIGGER no_key_revocation BEFORE UPDATE OF revoked_at ON saaskit_auth.api_keys"
          + " FOR EACH ROW EXECUTE FUNCTION public.no_key_revocation()");
    }
    try {
      Answer demoted = f.patch("/api/members/olga@crash.test", other, Map.of("role", "member"));
      assertThat(demoted.status()).as(demoted.raw()).isEqualTo(500);
    } finally {
      try (java.sql.Connection c = f.adminConnection(); java.sql.Statement st = c.createStatement()) {
        st.execute("DROP TRIGGER no_key_revocation ON saaskit_auth.api_keys");
        st.execute("DROP FUNCTION public.no_key_revocation()");
      }
    }
    // the keys were not revoked, yet none of them acts above a member any more
    for (String key : List.of(wide, child)) {
      Answer back = f.patch("/api/members/olga@crash.test", key, Map.of("role", "owner"));
      assertThat(back.status()).as(back.raw()).isIn(401, 403);
      Answer more = f.post("/api/api-keys", key, Map.of("name", "more", "scopes", List.of("project:read")));
      assertThat(more.status()).as(more.raw()).isIn(401, 403);
      assertThat(f.get("/api/me", key).body().get("permissions").toString()).doesNotContain("roles:assign");
    }
    for (JsonNode m : f.get("/api/members", other).body().get("members")) {
      if (m.get("userId").asText().equals("olga@crash.test")) {
        assertThat(m.get("role").asText()).isEqualTo("member");
      }
    }
    assertThat(f.get("/api/projects", grandchild).status()).isEqualTo(200);   // within the member role
    // a key whose maker was revoked (but not the key itself: the revocation stopped half way) is refused
    try (java.sql.Connection c = f.adminConnection(); java.sql.Statement st = c.createStatement()) {
      st.execute("UPDATE saaskit_auth.api_keys SET revoked_at = now(), revoked_by = 'test' WHERE name = 'child'"
          + " AND tenant_id = 'crash-co'");
    }
    assertThat(f.get("/api/projects", grandchild).status()).isEqualTo(401);
    assertThat(f.get("/api/projects", wide).status()).isEqualTo(200);
  }

  @Test
  void namesWithBidiOverridesOrLineSeparatorsAre400() throws Exception {
    String owner = f.login("bidi-co", "olga@bidi.test", "owner");
    for (String name : List.of("invoice\u202Egpj.exe", "a\u2066b", "line\u2028break", "para\u2029graph")) {
      Answer a = f.post("/api/projects", owner, Map.of("name", name));
      assertThat(a.status()).as(a.raw()).isEqualTo(400);
      assertThat(a.body().at("/error/code").asText()).isEqualTo("invalid_name");
      Answer k = f.post("/api/api-keys", owner, Map.of("name", name, "scopes", List.of("project:read")));
      assertThat(k.status()).as(k.raw()).isEqualTo(400);
    }
    assertThat(f.get("/api/projects", owner).body().get("projects").size()).isZero();
    // joiners inside emoji and scripts stay allowed
    Answer family = f.post("/api/projects", owner, Map.of("name", "team \uD83D\uDC69\u200D\uD83D\uDCBB"));
    assertThat(family.status()).as(family.raw()).isEqualTo(201);
  }

  @Test
  void requestsJettyRefusesCarryTheSecurityHeadersAndAJsonBodyWhateverTheMethod() throws Exception {
    List<String> requests = List.of(
        "GET /api/projects/%zz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        "GET /../../etc/passwd HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        "GET /health HTTP/1.1\r\nHost: localhost\r\nX-Big: " + "a".repeat(20_000)
            + "\r\nConnection: close\r\n\r\n",
        "PATCH /api/members/a HTTP/1.1\r\nHost: localhost\r\nX-Big: " + "a".repeat(20_000)
            + "\r\nConnection: close\r\n\r\n",
        "OPTIONS * HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    for (String request : requests) {
      String raw = raw(request);
      assertThat(statusOf(raw)).as(raw).isBetween(400, 499);
      JsonNode body = AppFixture.JSON.readTree(raw.substring(raw.indexOf("\r\n\r\n") + 4));
      assertThat(body.at("/error/code").isTextual()).as(raw).isTrue();
      String head = raw.substring(0, raw.indexOf("\r\n\r\n")).toLowerCase(java.util.Locale.ROOT);
      assertThat(head).as(raw).contains("\r\nx-content-type-options: nosniff")
          .contains("\r\nx-frame-options: deny").contains("\r\nreferrer-policy: no-referrer")
          .contains("frame-ancestors 'none'").contains("\r\ncache-control: no-store");
    }
  }

  @Test
  void aBodyDeclaredLongerThan2GiBIs413AtOnceAndWritesNothing() throws Exception {
    String owner = f.login("huge-co", "olga@huge.test", "owner");
    long before = f.countAll("projects");
    // past Integer.MAX_VALUE: the servlet's int content length says -1, "unknown"; the two bytes sent are all
    // there is, so a server that waits for the rest answers only at its idle timeout
    for (String request : List.of(
        "POST /api/projects HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + owner
            + "\r\nContent-Type: application/json\r\nContent-Length: 99999999999999\r\n\r\n{}",
        "POST /dev/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json"
            + "\r\nContent-Length: 4294967296\r\n\r\n{}",
        "POST /webhooks/stripe HTTP/1.1\r\nHost: localhost\r\nStripe-Signature: t=1,v1=00"
            + "\r\nContent-Length: 3000000000\r\n\r\n{}")) {
      String raw = raw(request);
      assertThat(statusOf(raw)).as(raw).isEqualTo(413);
      JsonNode body = AppFixture.JSON.readTree(raw.substring(raw.indexOf("\r\n\r\n") + 4));
      assertThat(body.at("/error/code").asText()).as(raw).isEqualTo("body_too_large");
    }
    assertThat(f.countAll("projects")).isEqualTo(before);
  }

  @Test
  void twoAuthorizationHeadersAre400WhicheverComesFirst() throws Exception {
    String owner = f.login("twoauth-co", "olga@twoauth.test", "owner");
    String other = f.login("twoauth-other", "eve@twoauth.test", "owner");
    long before = f.countAll("projects");
    for (List<String> credentials : List.of(List.of(owner, "nonsense"), List.of("nonsense", owner),
        List.of(other, owner))) {
      // a proxy in front that checks the last one and an app that uses the first must never disagree
      Answer a = f.send(f.request("/api/projects", null)
          .header("Authorization", "Bearer " + credentials.get(0))
          .header("Authorization", "Bearer " + credentials.get(1))
          .header("Content-Type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofString("{\"name\":\"twice\"}")).build());
      assertThat(a.status()).as(a.raw()).isEqualTo(400);
      assertThat(a.body().at("/error/code").asText()).isEqualTo("invalid_request");
      assertThat(a.headers().firstValue("WWW-Authenticate").orElse("")).contains("invalid_request");
    }
    assertThat(f.countAll("projects")).isEqualTo(before);
    assertThat(f.get("/api/me", owner).status()).isEqualTo(200);   // one header still works
  }

  @Test
  void oneClientHoldingHundredsOfHalfSentBodiesDoesNotStallTheOthers() throws Exception {
    // more connections than Jetty has threads, each with a body that never arrives: before the per-IP bound every
    // thread waited on one of them and another client's request got no answer until Jetty's 30-second idle timeout
    List<Socket> held = new java.util.ArrayList<>();
    try {
      for (int i = 0; i < 300; i++) {
        Socket s = new Socket(java.net.InetAddress.getLoopbackAddress(), f.app.port());
        s.getOutputStream().write(("POST /webhooks/stripe HTTP/1.1\r\nHost: localhost\r\nStripe-Signature: t=1,v1=00"
            + "\r\nContent-Length: 100\r\n\r\n{").getBytes(StandardCharsets.ISO_8859_1));
        held.add(s);
      }
      AppFixture.await("the held requests wait for their bodies", java.time.Duration.ofSeconds(30),
          () -> threadsInWebhook() >= Api.THREADS_PER_CLIENT_IP ? Boolean.TRUE : null);
      // another client (127.0.0.2) is answered at once: HttpClient's own timeout would be the old 30 s wait
      try (Socket other = new Socket()) {
        other.bind(new java.net.InetSocketAddress(java.net.InetAddress.getByAddress(new byte[] {127, 0, 0, 2}), 0));
        other.connect(new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), f.app.port()));
        other.setSoTimeout(10_000);
        other.getOutputStream().write("GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
            .getBytes(StandardCharsets.ISO_8859_1));
        String answer = new String(other.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
        assertThat(statusOf(answer)).as(answer).isEqualTo(200);
      }
      assertThat(threadsInWebhook()).isLessThanOrEqualTo(Api.THREADS_PER_CLIENT_IP);
    } finally {
      for (Socket s : held) {
        s.close();
      }
    }
    // the held client's own later requests go on once its connections are gone
    AppFixture.await("127.0.0.1 is served again", java.time.Duration.ofSeconds(30),
        () -> f.get("/health", null).status() == 200 ? Boolean.TRUE : null);
  }

  /** The app's threads inside the webhook handler (waiting for a body): the app runs in this JVM. */
  private static long threadsInWebhook() {
    return Thread.getAllStackTraces().values().stream().filter(stack -> java.util.Arrays.stream(stack)
        .anyMatch(frame -> frame.getClassName().equals(Api.class.getName())
            && frame.getMethodName().equals("stripeWebhook"))).count();
  }

  @Test
  void aMethodOverrideHeaderIsRefusedAndChangesNothing() throws Exception {
    String owner = f.login("override-co", "olga@override.test", "owner");
    String id = f.post("/api/projects", owner, Map.of("name", "keep me")).body().get("id").asText();
    String other = f.login("override-co", "mia@override.test", "member");
    // a GET (or POST) that Javalin would have routed as the DELETE or PATCH its header names
    List<HttpRequest> requests = List.of(
        f.request("/api/projects/" + id, owner).header("X-HTTP-Method-Override", "DELETE").GET().build(),
        f.request("/api/projects/" + id, owner).header("X-HTTP-Method-Override", "delete")
            .POST(HttpRequest.BodyPublishers.noBody()).build(),
        f.request("/api/members/mia@override.test", owner).header("X-HTTP-Method-Override", "PATCH")
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString("{\"role\":\"owner\"}")).build(),
        f.request("/api/me", null).header("X-HTTP-Method-Override", "HEAD").GET().build());
    for (HttpRequest request : requests) {
      Answer a = f.send(request);
      assertThat(a.status()).as(a.raw()).isEqualTo(400);
      assertThat(a.body().at("/error/code").asText()).isEqualTo("method_override_refused");
      assertThat(a.headers().firstValue("X-Content-Type-Options")).hasValue("nosniff");
    }
    assertThat(f.get("/api/projects/" + id, owner).status()).isEqualTo(200);
    assertThat(f.get("/api/me", other).body().get("role").asText()).isEqualTo("member");
    // the header naming the request's own method changes nothing
    Answer same = f.send(f.request("/api/projects/" + id, owner).header("X-HTTP-Method-Override", "GET").GET()
        .build());
    assertThat(same.status()).as(same.raw()).isEqualTo(200);
  }

  /** Sends {@code request} as is on a new connection and returns everything the server answers. */
  private String raw(String request) throws Exception {
    try (Socket socket = new Socket(java.net.InetAddress.getLoopbackAddress(), f.app.port())) {
      socket.setSoTimeout(15_000);
      OutputStream out = socket.getOutputStream();
      out.write(request.getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
      InputStream in = socket.getInputStream();
      ByteArrayOutputStream answer = new ByteArrayOutputStream();
      byte[] buffer = new byte[8192];
      try {
        for (int n; (n = in.read(buffer)) >= 0; ) {
          answer.write(buffer, 0, n);
        }
      } catch (java.net.SocketException e) {
        // the server may reset after answering a request it refused: what it answered is enough
      }
      return answer.toString(StandardCharsets.UTF_8);
    }
  }

  private static int statusOf(String raw) {
    assertThat(raw).startsWith("HTTP/1.1 ");
    return Integer.parseInt(raw.substring(9, 12));
  }
}
