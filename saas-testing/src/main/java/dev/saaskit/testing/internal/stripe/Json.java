package dev.saaskit.testing.internal.stripe;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/** JSON helpers over Jackson's tree model, and typed reads of form parameters. */
final class Json {
  static final ObjectMapper MAPPER = new ObjectMapper();
  static final JsonNodeFactory F = JsonNodeFactory.instance;

  private Json() {}

  static ObjectNode object() {
    return F.objectNode();
  }

  static ArrayNode array() {
    return F.arrayNode();
  }

  static String write(JsonNode node) {
    try {
      return MAPPER.writeValueAsString(node);
    } catch (JsonProcessingException e) {
      throw new UncheckedIOException(e);
    }
  }

  static ObjectNode read(String json) {
    try {
      return (ObjectNode) MAPPER.readTree(json);
    } catch (JsonProcessingException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The top-level fields that differ, with their values in {@code before} (null when absent there). */
  static ObjectNode previous(ObjectNode before, ObjectNode after) {
    ObjectNode prev = object();
    for (Map.Entry<String, JsonNode> e : before.properties()) {
      JsonNode now = after.get(e.getKey());
      if (now == null || !now.equals(e.getValue())) {
        prev.set(e.getKey(), e.getValue());
      }
    }
    for (Map.Entry<String, JsonNode> e : after.properties()) {
      if (!before.has(e.getKey())) {
        prev.set(e.getKey(), NullNode.getInstance());
      }
    }
    return prev;
  }

  /** A list object as Stripe returns it. */
  static ObjectNode list(String url, List<? extends JsonNode> data, boolean hasMore) {
    ObjectNode list = object();
    list.put("object", "list");
    ArrayNode array = list.putArray("data");
    data.forEach(array::add);
    list.put("has_more", hasMore);
    list.put("url", url);
    return list;
  }

  // ---- parameters (form values are strings)

  static @Nullable String str(JsonNode params, String name) {
    JsonNode v = params.get(name);
    if (v == null || v.isNull()) {
      return null;
    }
    if (!v.isValueNode()) {
      throw ApiException.invalid("parameter_invalid_string", "Invalid string: " + name, name);
    }
    return v.asText();
  }

  static String required(JsonNode params, String name) {
    String v = str(params, name);
    if (v == null || v.isEmpty()) {
      throw ApiException.paramMissing(name);
    }
    return v;
  }

  static @Nullable Long lng(JsonNode params, String name) {
    String v = str(params, name);
    if (v == null || v.isEmpty()) {
      return null;
    }
    try {
      return Long.parseLong(v);
    } catch (NumberFormatException e) {
      throw ApiException.invalid("parameter_invalid_integer", "Invalid integer: " + v, name);
    }
  }

  static @Nullable Boolean bool(JsonNode params, String name) {
    String v = str(params, name);
    if (v == null || v.isEmpty()) {
      return null;
    }
    if (!v.equals("true") && !v.equals("false")) {
      throw ApiException.invalid("parameter_invalid_boolean", "Invalid boolean: " + v, name);
    }
    return Boolean.valueOf(v);
  }

  static ObjectNode obj(JsonNode params, String name) {
    JsonNode v = params.get(name);
    return v instanceof ObjectNode ? (ObjectNode) v : object();
  }

  /** An array parameter ({@code a[0]=x}, {@code a[]=x}); a single value counts as one element. */
  static List<JsonNode> arr(JsonNode params, String name) {
    JsonNode v = params.get(name);
    List<JsonNode> out = new ArrayList<>();
    if (v == null || v.isNull() || (v.isTextual() && v.asText().isEmpty())) {
      return out;
    }
    if (v.isArray()) {
      v.forEach(out::add);
    } else {
      out.add(v);
    }
    return out;
  }

  static List<String> strings(JsonNode params, String name) {
    List<String> out = new ArrayList<>();
    for (JsonNode n : arr(params, name)) {
      out.add(n.asText());
    }
    return out;
  }

  /** Applies a {@code metadata} parameter: {@code ""} clears all, a key set to {@code ""} is removed. */
  static void mergeMetadata(ObjectNode target, JsonNode params) {
    JsonNode m = params.get("metadata");
    if (m == null) {
      return;
    }
    ObjectNode meta = target.has("metadata") && target.get("metadata").isObject()
        ? (ObjectNode) target.get("metadata") : target.putObject("metadata");
    if (m.isTextual() && m.asText().isEmpty()) {
      meta.removeAll();
      return;
    }
    if (!m.isObject()) {
      throw ApiException.invalid("parameter_invalid_string", "Invalid metadata", "metadata");
    }
    for (Map.Entry<String, JsonNode> e : m.properties()) {
      if (e.getValue().asText().isEmpty()) {
        meta.remove(e.getKey());
      } else {
        meta.put(e.getKey(), e.getValue().asText());
      }
    }
  }
}
