package dev.saaskit.core;

import java.util.List;
import java.util.Objects;

/** What a {@link ModuleSchema#migrate} call did: the scripts it applied, and the version the schema is at now. */
public final class MigrationResult {
  private final String schema;
  private final List<String> applied;
  private final int version;

  private MigrationResult(String schema, List<String> applied, int version) {
    this.schema = schema;
    this.applied = applied;
    this.version = version;
  }

  /**
   * A result for {@code schema}, now at {@code version}, after applying {@code applied} (script names, in order;
   * empty when the schema was up to date).
   */
  public static MigrationResult of(String schema, List<String> applied, int version) {
    if (version < 0) {
      throw new IllegalArgumentException("version must be >= 0 but was " + version);
    }
    return new MigrationResult(Objects.requireNonNull(schema, "schema"), List.copyOf(applied), version);
  }

  /** The PostgreSQL schema migrated. */
  public String schema() {
    return schema;
  }

  /** The scripts applied by this call, in order; empty if the schema was already up to date. */
  public List<String> applied() {
    return applied;
  }

  /** Whether this call changed the schema. */
  public boolean changed() {
    return !applied.isEmpty();
  }

  /** The schema's version after the call. */
  public int version() {
    return version;
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof MigrationResult o && o.schema.equals(schema) && o.applied.equals(applied)
        && o.version == version;
  }

  @Override
  public int hashCode() {
    return Objects.hash(schema, applied, version);
  }

  @Override
  public String toString() {
    return "MigrationResult[schema=" + schema + ", applied=" + applied + ", version=" + version + "]";
  }
}
