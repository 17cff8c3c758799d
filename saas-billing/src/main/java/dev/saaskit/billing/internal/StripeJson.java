package dev.saaskit.billing.internal;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.saaskit.billing.BillingException;
import java.time.Instant;
import org.jspecify.annotations.Nullable;

/**
 * Reads Stripe JSON as it comes, at any API version: the mirror stores Stripe's JSON and reads the few fields it
 * indexes from it, so an API-version mismatch never turns an object into an empty one (stripe-java's typed
 * deserializer does). Where a field moved between versions, both places are read.
 */
public final class StripeJson {
  /** The one mapper of the module (thread-safe once configured). */
  public static final ObjectMapper MAPPER = new ObjectMapper();

  private StripeJson() {}

  /** Parses {@code json}; a {@link BillingException} if it is not a JSON object. */
  public static ObjectNode parseObject(String json) {
    JsonNode node;
    try {
      node = MAPPER.readTree(json);
    } catch (JsonProcessingException e) {
      throw new BillingException("not JSON: " + e.getOriginalMessage());
    }
    if (!(node instanceof ObjectNode)) {
      throw new BillingException("not a JSON object");
    }
    return (ObjectNode) node;
  }

  /** The text of {@code field}, or null when absent, null or not text. */
  public static @Nullable String text(JsonNode node, String field) {
    JsonNode v = node.get(field);
    return v != null && v.isTextual() ? v.asText() : null;
  }

  /** The id a field holds, whether Stripe sent the id or the expanded object. */
  public static @Nullable String id(JsonNode node, String field) {
    JsonNode v = node.get(field);
    if (v == null || v.isNull()) {
      return null;
    }
    if (v.isTextual()) {
      return v.asText();
    }
    JsonNode id = v.get("id");
    return id != null && id.isTextual() ? id.asText() : null;
  }

  /** A boolean field, {@code otherwise} when absent. */
  public static boolean bool(JsonNode node, String field, boolean otherwise) {
    JsonNode v = node.get(field);
    return v != null && v.isBoolean() ? v.asBoolean() : otherwise;
  }

  /** A whole-number field, or null. */
  public static @Nullable Long number(JsonNode node, String field) {
    JsonNode v = node.get(field);
    return v != null && v.canConvertToLong() && v.isIntegralNumber() ? v.asLong() : null;
  }

  /** An epoch-seconds field as an instant, or null. */
  public static @Nullable Instant time(JsonNode node, String field) {
    Long seconds = number(node, field);
    return seconds == null ? null : Instant.ofEpochSecond(seconds);
  }

  /** The subscription an invoice bills: {@code parent.subscription_details.subscription} (2025+), or {@code subscription}. */
  public static @Nullable String invoiceSubscription(JsonNode invoice) {
    JsonNode parent = invoice.get("parent");
    if (parent != null && parent.isObject()) {
      JsonNode details = parent.get("subscription_details");
      if (details != null && details.isObject()) {
        String id = id(details, "subscription");
        if (id != null) {
          return id;
        }
      }
    }
    return id(invoice, "subscription");
  }

  /**
   * The current period of a subscription: on the subscription (before 2025-03-31) or on its items (since), where
   * the earliest start and the latest end are taken.
   */
  public static @Nullable Instant periodBound(JsonNode subscription, String field, boolean latest) {
    Instant top = time(subscription, field);
    if (top != null) {
      return top;
    }
    Instant found = null;
    for (JsonNode item : items(subscription)) {
      Instant t = time(item, field);
      if (t != null && (found == null || (latest ? t.isAfter(found) : t.isBefore(found)))) {
        found = t;
      }
    }
    return found;
  }

  /** The {@code items.data} of a subscription (empty when absent). */
  public static Iterable<JsonNode> items(JsonNode subscription) {
    JsonNode items = subscription.get("items");
    JsonNode data = items == null ? null : items.get("data");
    return data != null && data.isArray() ? data : MAPPER.createArrayNode();
  }

  /** The {@code data} of a list object (empty when absent). */
  public static Iterable<JsonNode> listData(JsonNode list) {
    JsonNode data = list.get("data");
    return data != null && data.isArray() ? data : MAPPER.createArrayNode();
  }

  /** Serializes a node. */
  public static String write(JsonNode node) {
    try {
      return MAPPER.writeValueAsString(node);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }
}
