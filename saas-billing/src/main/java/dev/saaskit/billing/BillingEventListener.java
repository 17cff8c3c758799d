package dev.saaskit.billing;

/**
 * Told about each applied event after its transaction committed, at most once per event for each registered name
 * (a delivery is recorded before the call), with the event's tenant set in {@code TenantContext}. Provision an
 * account, send an email, notify a channel. An exception is recorded on the delivery and logged; it does not
 * undo the event and the listener is not called again for it.
 */
@FunctionalInterface
public interface BillingEventListener {
  /** Called for every applied event whose type the listener was registered for. */
  void onEvent(BillingEvent event) throws Exception;
}
