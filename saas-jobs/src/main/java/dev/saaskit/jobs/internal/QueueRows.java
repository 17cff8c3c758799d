package dev.saaskit.jobs.internal;

import dev.saaskit.core.TenantId;
import dev.saaskit.jobs.JobCodec;
import dev.saaskit.jobs.JobId;
import dev.saaskit.jobs.JobState;
import dev.saaskit.jobs.JobStatus;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import org.jspecify.annotations.Nullable;

/** Reads job rows selected with {@link QueueSql#STATUS_COLUMNS}. Not API. */
public final class QueueRows {
  private QueueRows() {}

  /** The status in the current row of {@code rs}, whose result {@code codec} decodes. */
  public static JobStatus status(ResultSet rs, JobCodec codec) throws SQLException {
    String tenantText = rs.getString(2);
    TenantId tenant = tenantText == null ? null : tenantOrNull(tenantText);
    long timeoutMs = rs.getLong(9);
    Duration timeout = rs.wasNull() ? null : Duration.ofMillis(timeoutMs);
    float progress = rs.getFloat(12);
    // the column is a real: go through its decimal text so 0.3f reads as 0.3, not 0.30000001192092896
    Double progressValue = rs.wasNull() ? null : Double.valueOf(Float.toString(progress));
    return JobStatus.builder(JobId.of(rs.getLong(1)), rs.getString(3), rs.getString(4),
            JobState.fromDbValue(rs.getString(5)), requireInstant(rs, 16), requireInstant(rs, 17))
        .tenant(tenant)
        .invalidTenantId(tenant == null ? tenantText : null)
        .priority(rs.getInt(6))
        .attempts(rs.getInt(7), rs.getInt(8))
        .timeout(timeout)
        .uniqueKey(rs.getString(10))
        .cancelRequested(rs.getBoolean(11))
        .progress(progressValue, rs.getString(13))
        .resultJson(rs.getString(14))
        .lastError(rs.getString(15))
        .startedAndFinished(instant(rs, 18), instant(rs, 19))
        .codec(codec)
        .build();
  }

  /**
   * The tenant of a stored {@code tenant_id}, or {@code null} if the text is not a valid {@link TenantId}: a row
   * written around the library (the table only refuses the empty string) must not make a listing fail.
   */
  public static @Nullable TenantId tenantOrNull(String stored) {
    try {
      return TenantId.of(stored);
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  /** A timestamptz column as an instant, or {@code null}. */
  public static @Nullable Instant instant(ResultSet rs, int column) throws SQLException {
    OffsetDateTime value = rs.getObject(column, OffsetDateTime.class);
    return value == null ? null : value.toInstant();
  }

  private static Instant requireInstant(ResultSet rs, int column) throws SQLException {
    Instant value = instant(rs, column);
    if (value == null) {
      throw new SQLException("column " + column + " of a job row is null");
    }
    return value;
  }
}
