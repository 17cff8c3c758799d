package dev.saaskit.core;

import dev.saaskit.core.internal.SqlNames;
import java.io.Serializable;

/**
 * The PostgreSQL setting that carries the current tenant from the application to the row-level security policies:
 * {@code app.tenant_id} unless you choose another. Every module that writes or reads the setting (the tenant data
 * source, the policy generator, the audit, the jobs schema) takes one of these, so the name is checked once and
 * spelled once.
 *
 * <pre>{@code
 * TenantSetting setting = TenantSetting.of("acme.tenant");   // or TenantSetting.DEFAULT
 * TenantDataSource.builder(pool).tenantSetting(setting).build();
 * RlsPolicy.forTable("notes").tenantSetting(setting).columnType(TenantColumnType.UUID).build();
 * }</pre>
 */
public final class TenantSetting implements Serializable {
  private static final long serialVersionUID = 1L;

  /** {@code app.tenant_id}, the setting every module uses unless told otherwise. */
  public static final TenantSetting DEFAULT = new TenantSetting("app.tenant_id");

  private final String name;

  private TenantSetting(String name) {
    this.name = name;
  }

  /**
   * The setting named {@code name}, which must be a qualified custom setting ({@code prefix.name}: letters, digits
   * and underscores, at most 63 characters), so that it can be written into SQL and policies as it is.
   *
   * @throws IllegalArgumentException if {@code name} is not such a name; the message shows the expected form
   */
  public static TenantSetting of(String name) {
    return new TenantSetting(SqlNames.requireSettingName(name));
  }

  /** The setting's name, as PostgreSQL knows it ({@code app.tenant_id}). */
  public String name() {
    return name;
  }

  /** A forged stream must not build an unchecked name. */
  private Object readResolve() {
    return of(name);
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof TenantSetting && ((TenantSetting) other).name.equals(name);
  }

  @Override
  public int hashCode() {
    return name.hashCode();
  }

  /** The name. */
  @Override
  public String toString() {
    return name;
  }
}
