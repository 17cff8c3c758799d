package dev.saaskit.jobs;

import java.util.Objects;

/**
 * A job type and the class of its payload: the one token shared by the code that enqueues a job and the handler
 * that runs it, so the two cannot disagree on the payload class. Declare it once, as a constant:
 *
 * <pre>{@code
 * static final JobType<SendEmail> SEND_EMAIL = JobType.of("send-email", SendEmail.class);
 *
 * queue.enqueue(JobRequest.builder(SEND_EMAIL, new SendEmail("ada@example.com")).build());
 * jobs.worker().handler(SEND_EMAIL, (email, ctx) -> mailer.send(email));
 * }</pre>
 *
 * <p>The name is what the job table stores (column {@code type}) and what operators filter on; the payload class
 * is what the worker decodes the stored JSON into, with the {@link JobCodec} of its {@link SaasJobs}. Two tokens
 * are equal when name and payload class are. Immutable and thread-safe.
 *
 * @param <P> the payload type
 */
public final class JobType<P> {
  private final String name;
  private final Class<P> payloadType;

  private JobType(String name, Class<P> payloadType) {
    this.name = name;
    this.payloadType = payloadType;
  }

  /**
   * The job type {@code name} with payloads of {@code payloadType}.
   *
   * @param name 1 to {@value JobRequest#MAX_NAME_LENGTH} characters of {@code A-Z a-z 0-9 _ . : -}
   * @throws IllegalArgumentException if the name is not a valid job type name
   */
  public static <P> JobType<P> of(String name, Class<P> payloadType) {
    return new JobType<>(JobRequest.requireName("type", name), Objects.requireNonNull(payloadType, "payloadType"));
  }

  /** The stored type name. */
  public String name() {
    return name;
  }

  /** The class payloads are decoded into. */
  public Class<P> payloadType() {
    return payloadType;
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof JobType<?> t && t.name.equals(name) && t.payloadType.equals(payloadType);
  }

  @Override
  public int hashCode() {
    return name.hashCode() * 31 + payloadType.hashCode();
  }

  @Override
  public String toString() {
    return "JobType[" + name + ", " + payloadType.getName() + "]";
  }
}
