package dev.saaskit.examples.saasapp;

import io.javalin.http.Context;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * Cursor pagination of the list routes ({@code GET /api/projects}, {@code GET /api/members}): {@code ?limit=}
 * (default {@value #DEFAULT_LIMIT}, at most {@value #MAX_LIMIT}) and {@code ?cursor=} (the {@code nextCursor} of
 * the previous answer). A cursor is the position of the last item of a page (keyset pagination: items added or
 * removed meanwhile neither shift nor repeat the others), base64url-encoded with the name of its list. It is opaque
 * to clients but not a secret: a crafted one only moves within the caller's own tenant, which row-level security and
 * the tenant of the credential decide, not the cursor.
 */
final class Pages {
  static final int DEFAULT_LIMIT = 50;
  static final int MAX_LIMIT = 200;
  /** Longest cursor accepted (a member cursor holds an issuer and a subject: under 1 KiB encoded). */
  private static final int MAX_CURSOR_LENGTH = 2048;

  private Pages() {}

  /** {@code ?limit=}: 1 to {@value #MAX_LIMIT}, {@value #DEFAULT_LIMIT} when absent; 400 {@code invalid_limit}. */
  static int limit(Context ctx) {
    String text = ctx.queryParam("limit");
    if (text == null) {
      if (named(ctx, "limit")) {
        throw invalidLimit();   // given, but not decodable (?limit=%ZZ): not the default
      }
      return DEFAULT_LIMIT;
    }
    if (text.isEmpty() || text.length() > 3 || !text.chars().allMatch(c -> c >= '0' && c <= '9')) {
      throw invalidLimit();
    }
    int limit = Integer.parseInt(text);
    if (limit < 1 || limit > MAX_LIMIT) {
      throw invalidLimit();
    }
    return limit;
  }

  /**
   * The position {@code ?cursor=} names in list {@code list}, or null for the first page (no cursor); 400
   * {@code invalid_cursor} for anything that is not a cursor of that list.
   */
  static @Nullable String position(Context ctx, String list) {
    String cursor = ctx.queryParam("cursor");
    if (cursor == null) {
      if (named(ctx, "cursor")) {
        throw invalidCursor();   // given, but not decodable (?cursor=%ZZ): not the first page
      }
      return null;
    }
    if (cursor.isEmpty() || cursor.length() > MAX_CURSOR_LENGTH) {
      throw invalidCursor();
    }
    String text;
    try {
      text = StandardCharsets.UTF_8.newDecoder()
          .decode(java.nio.ByteBuffer.wrap(Base64.getUrlDecoder().decode(cursor))).toString();
    } catch (IllegalArgumentException | java.nio.charset.CharacterCodingException e) {
      throw invalidCursor();
    }
    String prefix = list + "|";
    if (!text.startsWith(prefix) || text.length() == prefix.length()) {
      throw invalidCursor();
    }
    return text.substring(prefix.length());
  }

  /**
   * Whether the raw query string names parameter {@code name}. Javalin drops a parameter whose value is not valid
   * percent-encoding ({@code ?cursor=%ZZ}): without this check such a request would silently get the first page or
   * the default limit instead of its 400.
   */
  private static boolean named(Context ctx, String name) {
    String query = ctx.queryString();
    if (query == null) {
      return false;
    }
    for (String pair : query.split("&", -1)) {
      int eq = pair.indexOf('=');
      if ((eq < 0 ? pair : pair.substring(0, eq)).equals(name)) {
        return true;
      }
    }
    return false;
  }

  /** The cursor of {@code position} in list {@code list}. */
  static String cursor(String list, String position) {
    return Base64.getUrlEncoder().withoutPadding()
        .encodeToString((list + "|" + position).getBytes(StandardCharsets.UTF_8));
  }

  /**
   * The answer {@code {"<field>": [...], "nextCursor": ...}}: {@code fetched} holds up to {@code limit + 1} items
   * (one more than the page, to know whether another page follows); {@code nextCursor}, the cursor of list
   * {@code field} at the {@code positionOf} the page's last item, is null on the last page.
   */
  static <T> Map<String, Object> answer(String field, List<T> fetched, int limit,
      java.util.function.Function<T, Map<String, Object>> view, java.util.function.Function<T, String> positionOf) {
    List<T> page = fetched.size() > limit ? fetched.subList(0, limit) : fetched;
    List<Map<String, Object>> items = page.stream().map(view).toList();
    Map<String, Object> body = new LinkedHashMap<>();
    body.put(field, items);
    body.put("nextCursor", fetched.size() > limit ? cursor(field, positionOf.apply(page.get(page.size() - 1)))
        : null);
    return body;
  }

  /** A position that cannot be read: 400 {@code invalid_cursor}. */
  static ApiError invalidCursor() {
    return ApiError.badRequest("invalid_cursor", "cursor must be the nextCursor of a previous answer of this list");
  }

  private static ApiError invalidLimit() {
    return ApiError.badRequest("invalid_limit", "limit must be a whole number from 1 to " + MAX_LIMIT);
  }
}
