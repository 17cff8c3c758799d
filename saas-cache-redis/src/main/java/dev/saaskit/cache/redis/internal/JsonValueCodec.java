package dev.saaskit.cache.redis.internal;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.saaskit.cache.redis.ValueCodec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Objects;

/** {@link ValueCodec#json(Class)}. */
public final class JsonValueCodec<V> implements ValueCodec<V> {
  private static final ObjectMapper DEFAULT = new ObjectMapper().findAndRegisterModules();

  private final ObjectMapper mapper;
  private final Class<V> type;

  public JsonValueCodec(ObjectMapper mapper, Class<V> type) {
    this.mapper = Objects.requireNonNull(mapper, "mapper");
    this.type = Objects.requireNonNull(type, "type");
  }

  /** The shared default mapper (an ObjectMapper is thread-safe once configured). */
  public static ObjectMapper defaultMapper() {
    return DEFAULT;
  }

  @Override
  public byte[] encode(V value) {
    try {
      return mapper.writeValueAsBytes(value);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("cannot write a " + type.getName() + " as JSON: " + e.getOriginalMessage(),
          e);
    }
  }

  @Override
  public V decode(byte[] bytes) {
    try {
      return mapper.readValue(bytes, type);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read a " + type.getName() + " from JSON", e);
    }
  }

  @Override
  public String toString() {
    return "ValueCodec.json(" + type.getName() + ")";
  }
}
