package dev.saaskit.billing;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * What {@link Reconciler#sync(boolean)} found: every difference, object by object, as it was before any fix.
 *
 * @param drifts the differences, in the order found (products, prices, customers, subscriptions, invoices, then
 *     objects missing in Stripe)
 * @param checked how many Stripe objects of each type were compared ({@code customer -> 42})
 * @param fixed whether fixes were applied ({@code sync(true)})
 * @param fixedObjects how many objects were written or removed by the fixes
 * @param fixFailures fixes that failed, one line each (object and error); empty when all succeeded
 */
public record DriftReport(List<Drift> drifts, Map<String, Integer> checked, boolean fixed, int fixedObjects,
    List<String> fixFailures) {
  /** Copies the collections. */
  public DriftReport {
    drifts = List.copyOf(drifts);
    checked = Map.copyOf(checked);
    fixFailures = List.copyOf(fixFailures);
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
}
