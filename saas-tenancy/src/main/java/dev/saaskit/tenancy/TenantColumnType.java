package dev.saaskit.tenancy;

/**
 * The SQL type of a table's tenant column, as {@link RlsPolicy} casts the tenant setting to it.
 *
 * <p>The policy compares the column, uncast, with the setting cast to this type, so the tenant index can serve the
 * comparison. Pick the type the column is declared with: a {@code uuid} column needs {@link #UUID}, a
 * {@code bigint} (or {@code bigserial}) column {@link #BIGINT}, a {@code text} column {@link #TEXT}.
 */
public enum TenantColumnType {
  /** A {@code uuid} column. */
  UUID("uuid"),
  /** A {@code bigint} column (also {@code int8}, {@code bigserial}). */
  BIGINT("bigint"),
  /** A {@code text} column. */
  TEXT("text");

  private final String sqlType;

  TenantColumnType(String sqlType) {
    this.sqlType = sqlType;
  }

  /** The PostgreSQL type name, as written after {@code ::} in a cast: {@code uuid}, {@code bigint}, {@code text}. */
  public String sqlType() {
    return sqlType;
  }
}
