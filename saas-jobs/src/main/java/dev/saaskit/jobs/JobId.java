package dev.saaskit.jobs;

/**
 * The id of a job, returned by enqueue and used to poll its {@link JobStatus}. Ids are positive and unique per
 * database. Its {@link #toString()} is the decimal number, so it can travel in URLs and be read back with
 * {@link #parse(String)}. A job is visible only to its tenant, so knowing an id discloses nothing.
 *
 * @param value the positive id
 */
public record JobId(long value) {

  /** @throws IllegalArgumentException if {@code value} is not positive */
  public JobId {
    if (value <= 0) {
      throw new IllegalArgumentException("job id must be positive but was " + value);
    }
  }

  /** The id with this value. */
  public static JobId of(long value) {
    return new JobId(value);
  }

  /**
   * Reads an id written by {@link #toString()}.
   *
   * @throws IllegalArgumentException if {@code text} is not a positive decimal number
   */
  public static JobId parse(String text) {
    try {
      return new JobId(Long.parseLong(text));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("job id must be a positive decimal number but was '" + text + "'", e);
    }
  }

  @Override
  public String toString() {
    return Long.toString(value);
  }
}
