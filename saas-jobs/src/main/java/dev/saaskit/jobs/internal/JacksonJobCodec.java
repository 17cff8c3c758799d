package dev.saaskit.jobs.internal;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.saaskit.jobs.JobCodec;
import dev.saaskit.jobs.JobCodecException;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/** The default {@link JobCodec}: plain Jackson with the modules found on the class path. Not API. */
public final class JacksonJobCodec implements JobCodec {
  /** The shared default instance. */
  public static final JacksonJobCodec DEFAULT =
      new JacksonJobCodec(JsonMapper.builder().findAndAddModules().build());

  private final ObjectMapper mapper;

  private JacksonJobCodec(ObjectMapper mapper) {
    this.mapper = mapper;
  }

  @Override
  public String encode(@Nullable Object value) {
    try {
      return mapper.writeValueAsString(value);
    } catch (JsonProcessingException e) {
      throw new JobCodecException("a value of " + (value == null ? "null" : value.getClass().getName())
          + " cannot be written as JSON: " + e.getOriginalMessage(), e);
    }
  }

  @Override
  public <T> @Nullable T decode(String json, Class<T> type) {
    Objects.requireNonNull(json, "json");
    Objects.requireNonNull(type, "type");
    try {
      return mapper.readValue(json, type);
    } catch (JsonProcessingException e) {
      throw new JobCodecException("JSON cannot be read as " + type.getName() + ": " + e.getOriginalMessage(), e);
    }
  }

  @Override
  public String toString() {
    return "JobCodec.jackson()";
  }
}
