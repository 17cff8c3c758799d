package dev.saaskit.jobs;

import dev.saaskit.jobs.internal.JacksonJobCodec;
import org.jspecify.annotations.Nullable;

/**
 * Turns job payloads and results into JSON text and back. The queue encodes payloads with it at enqueue, the
 * worker decodes them into the handler's payload type and encodes what the handler returns, and
 * {@link JobStatus#result(Class)} decodes a stored result with the codec of the {@link SaasJobs} that read it. One
 * {@link SaasJobs} uses one codec for all of this, so the two sides always agree.
 *
 * <p>The default, {@link #jackson()}, is plain Jackson with the modules found on the class path (records, beans,
 * maps, lists, {@code java.time} when jackson-datatype-jsr310 is present). saaskit's API names no Jackson type: to
 * customise the mapping (naming strategy, extra modules, another JSON library), implement this interface, for
 * example around your own configured {@code ObjectMapper}, and pass it to {@link SaasJobs.Builder#codec(JobCodec)}.
 *
 * <p>Implementations must be thread-safe, and {@link #encode} must produce one well-formed JSON value (it is
 * stored as PostgreSQL {@code jsonb}).
 */
public interface JobCodec {

  /**
   * The value as JSON text; {@code null} is the JSON {@code null}.
   *
   * @throws JobCodecException if the value cannot be written as JSON
   */
  String encode(@Nullable Object value);

  /**
   * The JSON text read as {@code type}; the JSON {@code null} gives {@code null}.
   *
   * @throws JobCodecException if the text is not JSON or cannot be read as {@code type}
   */
  <T> @Nullable T decode(String json, Class<T> type);

  /** The default codec: plain Jackson with the modules found on the class path. Shared and thread-safe. */
  static JobCodec jackson() {
    return JacksonJobCodec.DEFAULT;
  }
}
