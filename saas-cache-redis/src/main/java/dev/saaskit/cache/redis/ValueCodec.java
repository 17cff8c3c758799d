package dev.saaskit.cache.redis;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.saaskit.cache.redis.internal.JsonValueCodec;

/**
 * Turns cached values into bytes for Redis and back. Every stored value carries the codec's {@link #version()}: a
 * value written under another version (an older deploy, before a type changed) is treated as a miss, never decoded,
 * and so is a value the codec fails to decode.
 *
 * <pre>{@code
 * ValueCodec<Plan> codec = ValueCodec.json(Plan.class);            // Jackson, version 0
 * ValueCodec<Plan> next = ValueCodec.json(Plan.class).version(2);  // after an incompatible change of Plan
 * }</pre>
 *
 * @param <V> the value type
 */
public interface ValueCodec<V> {

  /** The bytes of {@code value}. */
  byte[] encode(V value);

  /**
   * The value of {@code bytes}.
   *
   * @throws RuntimeException if they do not decode (the tier then treats the entry as a miss)
   */
  V decode(byte[] bytes);

  /** The format version, 0 to 255: change it when the value type changes incompatibly. Default 0. */
  default int version() {
    return 0;
  }

  /** This codec with another {@link #version()}. */
  default ValueCodec<V> version(int version) {
    if (version < 0 || version > 255) {
      throw new IllegalArgumentException("version must be 0 to 255 but was " + version);
    }
    ValueCodec<V> self = this;
    return new ValueCodec<>() {
      @Override
      public byte[] encode(V value) {
        return self.encode(value);
      }

      @Override
      public V decode(byte[] bytes) {
        return self.decode(bytes);
      }

      @Override
      public int version() {
        return version;
      }
    };
  }

  /** JSON through a default Jackson {@link ObjectMapper} (modules found on the class path registered). */
  static <V> ValueCodec<V> json(Class<V> type) {
    return new JsonValueCodec<>(JsonValueCodec.defaultMapper(), type);
  }

  /** JSON through {@code mapper}. */
  static <V> ValueCodec<V> json(ObjectMapper mapper, Class<V> type) {
    return new JsonValueCodec<>(mapper, type);
  }
}
