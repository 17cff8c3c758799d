package dev.saaskit.testing.internal.stripe;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * Parses Stripe's form encoding ({@code a[b][c]=x}, {@code a[0][b]=x}, {@code a[]=x}) into a JSON tree whose
 * leaves are strings. Objects whose keys are all digits become arrays, in index order.
 */
final class Form {
  private static final JsonNodeFactory F = JsonNodeFactory.instance;
  private static final Pattern AMP = Pattern.compile("&");

  private Form() {}

  static ObjectNode parse(String... encodedParts) {
    ObjectNode root = F.objectNode();
    for (String encoded : encodedParts) {
      if (encoded.isEmpty()) {
        continue;
      }
      for (String pair : AMP.split(encoded, -1)) {
        if (pair.isEmpty()) {
          continue;
        }
        int eq = pair.indexOf('=');
        String key = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
        String value = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
        put(root, key, value);
      }
    }
    return (ObjectNode) arrays(root);
  }

  private static void put(ObjectNode root, String key, String value) {
    List<String> path = new ArrayList<>();
    int bracket = key.indexOf('[');
    if (bracket < 0) {
      path.add(key);
    } else {
      path.add(key.substring(0, bracket));
      int i = bracket;
      while (i < key.length() && key.charAt(i) == '[') {
        int close = key.indexOf(']', i);
        if (close < 0) {
          break;
        }
        path.add(key.substring(i + 1, close));
        i = close + 1;
      }
    }
    ObjectNode node = root;
    for (int i = 0; i < path.size() - 1; i++) {
      String segment = path.get(i);
      if (segment.isEmpty()) {
        segment = String.valueOf(node.size());
      }
      JsonNode child = node.get(segment);
      if (!(child instanceof ObjectNode)) {
        child = node.putObject(segment);
      }
      node = (ObjectNode) child;
    }
    String last = path.get(path.size() - 1);
    if (last.isEmpty()) {
      last = String.valueOf(node.size());
    }
    node.put(last, value);
  }

  private static JsonNode arrays(JsonNode node) {
    if (!(node instanceof ObjectNode)) {
      return node;
    }
    ObjectNode object = (ObjectNode) node;
    boolean allDigits = object.size() > 0;
    Map<Integer, JsonNode> indexed = new TreeMap<>();
    ObjectNode converted = F.objectNode();
    for (Map.Entry<String, JsonNode> e : object.properties()) {
      JsonNode child = arrays(e.getValue());
      converted.set(e.getKey(), child);
      if (allDigits && e.getKey().chars().allMatch(Character::isDigit) && e.getKey().length() < 7) {
        indexed.put(Integer.parseInt(e.getKey()), child);
      } else {
        allDigits = false;
      }
    }
    if (!allDigits) {
      return converted;
    }
    ArrayNode array = F.arrayNode();
    indexed.values().forEach(array::add);
    return array;
  }
}
