package dev.saaskit.billing;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * What {@link Reconciler#sync(boolean)} found: every difference, object by object, as it was before any fix.
 *
 * <p>A final class rather than a record, so that a field can be added without breaking callers (docs/architecture.md).
 */
public final class DriftReport {
  private final List<Drift> drifts;
  private final Map<String, Integer> checked;
  private final boolean fixed;
  private final int fixedObjects;
  private final List<String> fixFailures;

  private DriftReport(List<Drift> drifts, Map<String, Integer> checked, boolean fixed, int fixedObjects,
      List<String> fixFailures) {
    this.drifts = List.copyOf(drifts);
    this.checked = Map.copyOf(checked);
    this.fixed = fixed;
    this.fixedObjects = fixedObjects;
    this.fixFailures = List.copyOf(fixFailures);
  }

  /**
   * A report (the reconciler makes these).
   *
   * @param drifts the differences, in the order found (products, prices, customers, subscriptions, invoices, then
   *     objects missing in Stripe)
   * @param checked how many Stripe objects of each type were compared ({@code customer -> 42})
   * @param fixed whether fixes were applied ({@code sync(true)})
   * @param fixedObjects how many objects were written or removed by the fixes
   * @param fixFailures fixes that failed, one line each (object and error); empty when all succeeded
   */
  public static DriftReport of(List<Drift> drifts, Map<String, Integer> checked, boolean fixed, int fixedObjects,
      List<String> fixFailures) {
    return new DriftReport(drifts, checked, fixed, fixedObjects, fixFailures);
  }

  /**
   * The differences, in the order found (products, prices, customers, subscriptions, invoices, then objects missing in
   * Stripe).
   */
  public List<Drift> drifts() {
    return drifts;
  }

  /** How many Stripe objects of each type were compared ({@code customer -> 42}). */
  public Map<String, Integer> checked() {
    return checked;
  }

  /** Whether fixes were applied ({@code sync(true)}). */
  public boolean fixed() {
    return fixed;
  }

  /** How many objects were written or removed by the fixes. */
  public int fixedObjects() {
    return fixedObjects;
  }

  /** Fixes that failed, one line each (object and error); empty when all succeeded. */
  public List<String> fixFailures() {
    return fixFailures;
  }

  /** Whether the mirror agreed with Stripe on everything compared. */
  public boolean isClean() {
    return drifts.isEmpty();
  }

  /** The drifts of one object. */
  public List<Drift> of(String objectId) {
    List<Drift> out = new ArrayList<>();
    for (Drift d : drifts) {
      if (d.objectId().equals(objectId)) {
        out.add(d);
      }
    }
    return out;
  }

  /** The drifts of one kind. */
  public List<Drift> ofKind(Drift.Kind kind) {
    List<Drift> out = new ArrayList<>();
    for (Drift d : drifts) {
      if (d.kind() == kind) {
        out.add(d);
      }
    }
    return out;
  }

  @Override
  public boolean equals(@Nullable Object o) {
    if (this == o) {
      return true;
    }
    if (!(o instanceof DriftReport)) {
      return false;
    }
    DriftReport other = (DriftReport) o;
    return Objects.equals(drifts, other.drifts) && Objects.equals(checked, other.checked) && fixed == other.fixed
        && fixedObjects == other.fixedObjects && Objects.equals(fixFailures, other.fixFailures);
  }

  @Override
  public int hashCode() {
    return Objects.hash(drifts, checked, fixed, fixedObjects, fixFailures);
  }

  @Override
  public String toString() {
    return "DriftReport[drifts=" + drifts + ", checked=" + checked + ", fixed=" + fixed
        + ", fixedObjects=" + fixedObjects + ", fixFailures=" + fixFailures + "]";
  }
}
