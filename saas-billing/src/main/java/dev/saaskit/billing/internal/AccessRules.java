package dev.saaskit.billing.internal;

import dev.saaskit.billing.AccessState;
import dev.saaskit.billing.Subscription;
import dev.saaskit.billing.TenantBilling;
import dev.saaskit.core.TenantId;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The access rules: a pure function from the mirrored subscriptions and open invoices of a tenant and an instant to
 * its {@link TenantBilling}, plus the next instant at which the answer can change by time alone.
 *
 * <ul>
 *   <li>trialing / active: access; with a scheduled cancellation ({@code cancel_at_period_end}, or a {@code
 *       cancel_at} date; the earlier of the two counts): {@link AccessState#CANCELING} while {@code now <} that end,
 *       then {@link AccessState#ENDED};
 *   <li>active on invoice terms ({@code send_invoice}) with an open invoice of the subscription: {@link
 *       AccessState#INVOICE_OPEN} while {@code now <= due_date}, then {@link AccessState#INVOICE_OVERDUE_IN_GRACE}
 *       while {@code now < due_date + grace}, then {@link AccessState#INVOICE_OVERDUE_LOCKED};
 *   <li>past_due: access while {@code now < anchor + grace}, where the anchor is the oldest open invoice's due date
 *       (or its creation when it has none; without a mirrored open invoice, the current period start, else the
 *       state time); on invoice terms the states are the {@code INVOICE_OVERDUE_*} ones;
 *   <li>unpaid: {@link AccessState#PAST_DUE_LOCKED}; canceled, incomplete_expired: {@link AccessState#ENDED};
 *       incomplete, paused, unknown: no access.
 * </ul>
 * Several subscriptions: the best one wins (access first; then the latest access end, open-ended best; then the
 * newest).
 */
public final class AccessRules {
  /** An open invoice, as the rules need it. */
  public record OpenInvoice(@Nullable String subscriptionId, @Nullable Instant dueDate, Instant created) {
    /** The instant its grace period counts from: the due date, or the creation without one. */
    Instant anchor() {
      return dueDate != null ? dueDate : created;
    }
  }

  /** One evaluation. */
  public record Evaluation(TenantBilling billing, List<Subscription> granting, @Nullable Instant nextChange) {}

  private record One(Subscription sub, AccessState state, @Nullable Instant until, @Nullable Instant next) {}

  private AccessRules() {}

  /** The open invoices of the bound tenant, oldest first. */
  public static List<OpenInvoice> openInvoices(Connection c, String schema, TenantId tenant) throws SQLException {
    List<OpenInvoice> out = new ArrayList<>();
    try (PreparedStatement ps = c.prepareStatement("SELECT subscription_id, due_date, created, state_as_of FROM "
        + schema + ".invoices WHERE tenant_id = ? AND status = 'open' ORDER BY created NULLS LAST, stripe_id")) {
      ps.setString(1, tenant.value());
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          Timestamp due = rs.getTimestamp(2);
          Timestamp created = rs.getTimestamp(3);
          out.add(new OpenInvoice(rs.getString(1), due == null ? null : due.toInstant(),
              (created != null ? created : rs.getTimestamp(4)).toInstant()));
        }
      }
    }
    return out;
  }

  /** Evaluates {@code subscriptions} (newest first) with {@code openInvoices} (oldest first) at {@code now}. */
  public static Evaluation evaluate(TenantId tenant, List<Subscription> subscriptions,
      List<OpenInvoice> openInvoices, Instant now, Duration grace) {
    One best = null;
    Instant next = null;
    List<Subscription> granting = new ArrayList<>();
    for (Subscription sub : subscriptions) {
      One one = one(sub, openInvoices, now, grace);
      next = earliest(next, one.next());
      if (one.state().grantsAccess()) {
        granting.add(sub);
      }
      if (best == null || better(one, best)) {
        best = one;
      }
    }
    TenantBilling billing = best == null
        ? new TenantBilling(tenant, AccessState.NONE, null, null, subscriptions, now)
        : new TenantBilling(tenant, best.state(), best.state().grantsAccess() ? best.until() : null, best.sub(),
            subscriptions, now);
    return new Evaluation(billing, List.copyOf(granting), next);
  }

  private static boolean better(One a, One b) {
    boolean aa = a.state().grantsAccess();
    boolean ba = b.state().grantsAccess();
    if (aa != ba) {
      return aa;
    }
    if (!aa) {
      return false; // keep the newest (first seen)
    }
    if (a.until() == null || b.until() == null) {
      return a.until() == null && b.until() != null;
    }
    return a.until().isAfter(b.until());
  }

  private static One one(Subscription sub, List<OpenInvoice> invoices, Instant now, Duration grace) {
    switch (sub.status()) {
      case TRIALING:
      case ACTIVE: {
        Instant end = scheduledEnd(sub.cancelAtPeriodEnd(), sub.currentPeriodEnd(), sub.cancelAt());
        if (end != null) {
          return now.isBefore(end) ? new One(sub, AccessState.CANCELING, end, end)
              : new One(sub, AccessState.ENDED, null, null);
        }
        OpenInvoice open = sub.invoiceTerms() ? oldestOpen(sub, invoices) : null;
        if (open != null && open.dueDate() != null) {
          Instant due = open.dueDate();
          Instant until = due.plus(grace);
          if (!now.isAfter(due)) {
            return new One(sub, AccessState.INVOICE_OPEN, until, due.plusNanos(1));
          }
          return now.isBefore(until) ? new One(sub, AccessState.INVOICE_OVERDUE_IN_GRACE, until, until)
              : new One(sub, AccessState.INVOICE_OVERDUE_LOCKED, null, null);
        }
        AccessState state = sub.status() == dev.saaskit.billing.SubscriptionStatus.TRIALING
            ? AccessState.TRIALING : AccessState.ACTIVE;
        Instant trialEnd = sub.trialEnd();
        return new One(sub, state, null, trialEnd != null && trialEnd.isAfter(now) ? trialEnd : null);
      }
      case PAST_DUE: {
        OpenInvoice open = oldestOpen(sub, invoices);
        Instant anchor = open != null ? open.anchor()
            : sub.currentPeriodStart() != null ? sub.currentPeriodStart() : sub.stateAsOf();
        Instant until = anchor.plus(grace);
        boolean terms = sub.invoiceTerms();
        if (now.isBefore(until)) {
          return new One(sub, terms ? AccessState.INVOICE_OVERDUE_IN_GRACE : AccessState.PAST_DUE_IN_GRACE, until,
              until);
        }
        return new One(sub, terms ? AccessState.INVOICE_OVERDUE_LOCKED : AccessState.PAST_DUE_LOCKED, null, null);
      }
      case UNPAID:
        return new One(sub, AccessState.PAST_DUE_LOCKED, null, null);
      case CANCELED:
      case INCOMPLETE_EXPIRED:
        return new One(sub, AccessState.ENDED, null, null);
      case INCOMPLETE:
        return new One(sub, AccessState.INCOMPLETE, null, null);
      case PAUSED:
        return new One(sub, AccessState.PAUSED, null, null);
      default:
        return new One(sub, AccessState.UNKNOWN, null, null);
    }
  }

  /**
   * The instant a scheduled cancellation ends a subscription: the earlier of {@code cancelAt} and, with {@code
   * cancelAtPeriodEnd}, {@code periodEnd}; {@code null} when none is scheduled (or the period end is unknown).
   */
  public static @Nullable Instant scheduledEnd(boolean cancelAtPeriodEnd, @Nullable Instant periodEnd,
      @Nullable Instant cancelAt) {
    return earliest(cancelAtPeriodEnd ? periodEnd : null, cancelAt);
  }

  private static @Nullable OpenInvoice oldestOpen(Subscription sub, List<OpenInvoice> invoices) {
    for (OpenInvoice inv : invoices) {
      if (sub.id().equals(inv.subscriptionId())) {
        return inv;
      }
    }
    return null;
  }

  private static @Nullable Instant earliest(@Nullable Instant a, @Nullable Instant b) {
    if (a == null) {
      return b;
    }
    return b == null || a.isBefore(b) ? a : b;
  }
}
