package dev.saaskit.examples.saasapp;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.saaskit.examples.saasapp.AppFixture.Answer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/** The list routes over HTTP: {@code limit}, an opaque {@code nextCursor}, and 400s for bad ones. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SaasAppPaginationTest {
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
  void membersArePagedWithAnOpaqueCursor() throws Exception {
    String owner = f.login("page-co", "olga@page.test", "owner");
    for (String name : List.of("dan", "bea", "eve", "cid")) {
      f.login("page-co", name + "@page.test", "member");
    }
    f.login("other-page-co", "zed@other.test", "owner");   // another tenant's member is never listed

    Answer all = f.get("/api/members", owner);
    assertThat(all.status()).isEqualTo(200);
    assertThat(all.body().get("members")).hasSize(5);
    assertThat(all.body().get("nextCursor").isNull()).as("one page: no next cursor").isTrue();

    List<String> seen = new ArrayList<>();
    String cursor = null;
    int pages = 0;
    do {
      Answer a = f.get("/api/members?limit=2" + (cursor == null ? "" : "&cursor=" + cursor), owner);
      assertThat(a.status()).as(a.raw()).isEqualTo(200);
      assertThat(a.body().get("members").size()).isBetween(1, 2);
      a.body().get("members").forEach(m -> seen.add(m.get("userId").asText()));
      JsonNode next = a.body().get("nextCursor");
      cursor = next.isNull() ? null : next.asText();
      if (cursor != null) {
        assertThat(cursor).matches("[A-Za-z0-9_-]+");
      }
      if (pages == 0) {
        // a member added after the first page does not shift the others: it shows where it sorts
        f.login("page-co", "aaa@page.test", "member");
      }
      pages++;
    } while (cursor != null && pages < 10);
    assertThat(pages).isEqualTo(3);
    assertThat(seen).containsExactly("bea@page.test", "cid@page.test", "dan@page.test", "eve@page.test",
        "olga@page.test");
  }

  @Test
  void projectsArePagedTheSameWay() throws Exception {
    String owner = f.login("page-projects-co", "olga@pp.test", "owner");
    for (String name : List.of("one", "two", "three")) {   // the free plan's 3 projects
      assertThat(f.post("/api/projects", owner, java.util.Map.of("name", name)).status()).isEqualTo(201);
    }
    Answer first = f.get("/api/projects?limit=2", owner);
    assertThat(first.status()).isEqualTo(200);
    assertThat(first.body().get("projects")).extracting(p -> p.get("name").asText()).containsExactly("one", "two");
    String cursor = first.body().get("nextCursor").asText();
    Answer second = f.get("/api/projects?limit=2&cursor=" + cursor, owner);
    assertThat(second.body().get("projects")).extracting(p -> p.get("name").asText()).containsExactly("three");
    assertThat(second.body().get("nextCursor").isNull()).isTrue();
    Answer exact = f.get("/api/projects?limit=3", owner);
    assertThat(exact.body().get("projects")).hasSize(3);
    assertThat(exact.body().get("nextCursor").isNull()).as("no empty last page").isTrue();
    // another tenant following this cursor sees only its own projects
    String other = f.login("page-projects-other", "olga@ppo.test", "owner");
    assertThat(f.get("/api/projects?cursor=" + cursor, other).body().get("projects")).isEmpty();
  }

  @Test
  void badLimitsAndCursorsAre400() throws Exception {
    String owner = f.login("page-bad-co", "olga@bad.test", "owner");
    assertThat(f.post("/api/projects", owner, java.util.Map.of("name", "p")).status()).isEqualTo(201);
    String projectCursor = f.get("/api/projects?limit=1", owner).body().get("nextCursor").asText("");
    for (String path : List.of("/api/projects", "/api/members")) {
      for (String limit : List.of("0", "201", "-1", "abc", "", "1.5", "99999999999", "%201")) {
        Answer a = f.get(path + "?limit=" + limit, owner);
        assertThat(a.status()).as(path + " limit=" + limit + " " + a.raw()).isEqualTo(400);
        assertThat(a.body().at("/error/code").asText()).isEqualTo("invalid_limit");
      }
      assertThat(f.get(path + "?limit=200", owner).status()).isEqualTo(200);
      assertThat(f.get(path + "?limit=1", owner).status()).isEqualTo(200);
      List<String> cursors = new ArrayList<>(List.of("", "not*base64", "%00", b64("garbage"), b64("members|"),
          b64("projects|"), b64("members|no-nul-here"), b64("members|https://iss\u0000sub\u0000more"),
          b64("members|" + "x".repeat(600) + "\u0000sub"), b64("projects|2026-01-01T00:00:00Z"),
          b64("projects|not-a-time|" + java.util.UUID.randomUUID()),
          b64("projects|+1000000000-01-01T00:00:00Z|" + java.util.UUID.randomUUID()),
          b64("projects|2026-01-01T00:00:00Z|not-a-uuid"), "A".repeat(5000)));
      cursors.add(path.endsWith("members") ? projectCursor : b64("members|https://iss\u0000sub"));
      for (String cursor : cursors) {
        Answer a = f.get(path + "?cursor=" + cursor, owner);
        assertThat(a.status()).as(path + " cursor=" + cursor + " " + a.raw()).isEqualTo(400);
        assertThat(a.body().at("/error/code").asText()).isEqualTo("invalid_cursor");
      }
    }
  }

  private static String b64(String text) {
    return Base64.getUrlEncoder().withoutPadding().encodeToString(text.getBytes(StandardCharsets.UTF_8));
  }
}
