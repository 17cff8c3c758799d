package dev.saaskit.fleet;

import java.util.Locale;

/** The state of a tenant in the {@link TenantDirectory}. */
public enum TenantState {
  /** Reads and writes go to its placement. */
  ACTIVE,
  /** Reads work; writes get {@link TenantReadOnlyException}. */
  READ_ONLY,
  /** Being moved by {@link TenantMove}: like {@link #READ_ONLY}, with a "being moved" message. */
  MOVING,
  /** No connection at all: {@link TenantUnavailableException}. */
  SUSPENDED,
  /** Offboarded; the entry stays for audit. No connection. */
  DELETED;

  /** The spelling in the directory table and in the CLI, e.g. {@code read_only}. */
  public String sqlName() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** The state spelled {@code name} ({@code read_only}, case-insensitive). */
  public static TenantState fromSqlName(String name) {
    for (TenantState s : values()) {
      if (s.sqlName().equalsIgnoreCase(name)) {
        return s;
      }
    }
    throw new IllegalArgumentException("tenant state must be one of active, read_only, moving, suspended, deleted "
        + "but was '" + name + "'");
  }

  /** Whether a tenant in this state gets connections. */
  public boolean connectable() {
    return this != SUSPENDED && this != DELETED;
  }

  /** Whether a tenant in this state gets read-only connections. */
  public boolean readOnly() {
    return this == READ_ONLY || this == MOVING;
  }
}
