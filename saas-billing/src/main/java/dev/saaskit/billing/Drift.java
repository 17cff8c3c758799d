package dev.saaskit.billing;

import dev.saaskit.core.TenantId;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * One difference between the mirror and Stripe, found by {@link Reconciler#sync(boolean)}.
 *
 * @param kind what kind of difference
 * @param objectType Stripe's object name: {@code customer}, {@code product}, {@code price}, {@code subscription},
 *     {@code invoice}
 * @param objectId Stripe's id of the object
 * @param tenant the tenant the object belongs to, {@code null} for account objects (products, prices) and
 *     {@link Kind#UNLINKED} ones
 * @param field the field that differs ({@code status}, {@code cancel_at_period_end}, {@code cancel_at}, {@code
 *     current_period_end}, {@code items[price_...].quantity}, {@code amount_due}...), {@code null} for a whole
 *     missing object
 * @param mirrorValue the mirror's value, as text ({@code null}: absent)
 * @param stripeValue Stripe's value, as text ({@code null}: absent)
 */
public record Drift(Kind kind, String objectType, String objectId, @Nullable TenantId tenant, @Nullable String field,
    @Nullable String mirrorValue, @Nullable String stripeValue) {

  /** Kinds of drift. */
  public enum Kind {
    /** Stripe has the object, the mirror does not (fixed by inserting Stripe's version). */
    MISSING_IN_MIRROR,
    /** The mirror has a live object Stripe no longer has (fixed by marking it deleted, or removing the row). */
    MISSING_IN_STRIPE,
    /** Both have it and {@link Drift#field()} differs (fixed by writing Stripe's version). */
    DIFFERENT,
    /**
     * A Stripe customer (or one of its subscriptions or invoices) linked to no tenant: no route in the mirror and no
     * {@code metadata.tenant_id}. Reported for an operator, never guessed and never fixed.
     */
    UNLINKED
  }

  /** Checks for nulls. */
  public Drift {
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(objectType, "objectType");
    Objects.requireNonNull(objectId, "objectId");
  }

  @Override
  public String toString() {
    return kind + " " + objectType + " " + objectId + (tenant == null ? "" : " (tenant " + tenant + ")")
        + (field == null ? "" : ": " + field + " mirror=" + mirrorValue + " stripe=" + stripeValue);
  }
}
