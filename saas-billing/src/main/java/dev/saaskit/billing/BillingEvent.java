package dev.saaskit.billing;

import dev.saaskit.core.TenantId;
import java.time.Instant;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A Stripe event the mirror applied, as {@link BillingEventListener}s see it.
 *
 * @param id Stripe's event id ({@code evt_...})
 * @param type Stripe's event type ({@code invoice.payment_failed}...)
 * @param tenant the tenant it concerns, when it concerns one (catalog events do not)
 * @param objectId the id of the object it is about ({@code sub_...}, {@code in_...})
 * @param created when Stripe created the event
 * @param objectJson the object as applied to the mirror: the payload's, or the one refetched from Stripe
 */
public record BillingEvent(
    String id, String type, @Nullable TenantId tenant, @Nullable String objectId, Instant created, String objectJson) {
  /** Checks the required fields. */
  public BillingEvent {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(type, "type");
    Objects.requireNonNull(created, "created");
    Objects.requireNonNull(objectJson, "objectJson");
  }
}
