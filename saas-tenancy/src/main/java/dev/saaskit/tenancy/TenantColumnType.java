package dev.saaskit.tenancy;

import dev.saaskit.core.TenantId;
import dev.saaskit.core.internal.TenantIdForms;

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

  /**
   * The tenant id of {@code raw} for a column of this type, in the one spelling PostgreSQL prints for it: every
   * spelling PostgreSQL reads as the same value gives the same id ({@link TenantId#ofUuid(String)},
   * {@link TenantId#ofNumber(String)}; {@link TenantId#of(String)} for text, which PostgreSQL compares exactly).
   *
   * @throws IllegalArgumentException if PostgreSQL would not read {@code raw} as a value of this type
   */
  public TenantId tenantId(String raw) {
    switch (this) {
      case UUID:
        return TenantId.ofUuid(raw);
      case BIGINT:
        return TenantId.ofNumber(raw);
      default:
        return TenantId.of(raw);
    }
  }

  /** Whether {@code value} is the spelling PostgreSQL prints for a value of this type (always true for text). */
  public boolean isCanonical(String value) {
    try {
      switch (this) {
        case UUID:
          return TenantIdForms.canonicalUuid(value).equals(value);
        case BIGINT:
          return TenantIdForms.canonicalBigint(value).equals(value);
        default:
          return true;
      }
    } catch (IllegalArgumentException notThisType) {
      return false;
    }
  }
}
