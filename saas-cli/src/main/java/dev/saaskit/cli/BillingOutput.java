package dev.saaskit.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.saaskit.billing.BillingWebhooks.InboxEvent;
import dev.saaskit.billing.BillingWebhooks.InboxSummary;
import dev.saaskit.billing.BillingWebhooks.ReplayReport;
import dev.saaskit.billing.Drift;
import dev.saaskit.billing.DriftReport;
import dev.saaskit.billing.Subscription;
import dev.saaskit.billing.SubscriptionItem;
import dev.saaskit.billing.TenantBilling;
import dev.saaskit.core.TenantId;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;

/**
 * Text and JSON renderings for the {@code billing} commands. Values that come from Stripe or the inbox (names,
 * emails, errors) are shown with control characters escaped, so they cannot drive the operator's terminal.
 */
final class BillingOutput {
  private static final ObjectMapper JSON = JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build();
  private static final String NONE = "-";
  private static final String ABSENT = "(absent)";
  private static final String PRESENT = "(present)";

  private BillingOutput() {}

  // ------------------------------------------------------------------------------------------------ sync

  /** One line per drift, then the summary. */
  static String syncText(DriftReport r) {
    StringBuilder out = new StringBuilder();
    if (r.isClean()) {
      out.append("no drift: the mirror agrees with Stripe\n");
    } else {
      List<String[]> rows = new ArrayList<>();
      rows.add(new String[] {"KIND", "TYPE", "ID", "TENANT", "FIELD", "MIRROR -> STRIPE"});
      for (Drift d : r.drifts()) {
        rows.add(new String[] {kind(d.kind()), d.objectType(), visible(d.objectId()), tenant(d.tenant()),
            d.field() == null ? NONE : visible(d.field()), change(d)});
      }
      out.append(JobsOutput.table(rows));
    }
    List<String> checked = new ArrayList<>();
    new TreeMap<>(r.checked()).forEach((type, n) -> checked.add(n + " " + type + (n == 1 ? "" : "s")));
    out.append("checked: ").append(checked.isEmpty() ? "nothing" : String.join(", ", checked)).append('\n');
    out.append("drifts: ").append(r.drifts().size());
    int unlinked = r.ofKind(Drift.Kind.UNLINKED).size();
    if (unlinked > 0) {
      out.append(" (").append(unlinked).append(" unlinked: never fixed, link the customer to a tenant)");
    }
    out.append('\n');
    if (r.fixed()) {
      out.append("fixed: ").append(r.fixedObjects()).append(" object(s)\n");
      out.append("fix failures: ").append(r.fixFailures().size()).append('\n');
      for (String failure : r.fixFailures()) {
        out.append("  ").append(visible(failure)).append('\n');
      }
    } else if (!r.isClean()) {
      out.append("fixed: none (run again with --fix to write Stripe's version into the mirror)\n");
    }
    return out.toString();
  }

  /**
   * {@code {"clean", "drifts": [{"kind", "objectType", "objectId", "tenant", "field", "mirrorValue",
   * "stripeValue"}], "checked": {type: n}, "fixed", "fixedObjects", "fixFailures": [...]}}.
   */
  static String syncJson(DriftReport r) {
    ObjectNode root = JSON.createObjectNode();
    root.put("clean", r.isClean());
    ArrayNode drifts = root.putArray("drifts");
    for (Drift d : r.drifts()) {
      ObjectNode o = drifts.addObject();
      o.put("kind", kind(d.kind()));
      o.put("objectType", d.objectType());
      o.put("objectId", d.objectId());
      TenantId tenant = d.tenant();
      o.put("tenant", tenant == null ? null : tenant.value());
      o.put("field", d.field());
      o.put("mirrorValue", d.mirrorValue());
      o.put("stripeValue", d.stripeValue());
    }
    ObjectNode checked = root.putObject("checked");
    new TreeMap<>(r.checked()).forEach(checked::put);
    root.put("fixed", r.fixed());
    root.put("fixedObjects", r.fixedObjects());
    ArrayNode failures = root.putArray("fixFailures");
    r.fixFailures().forEach(failures::add);
    return JobsOutput.write(root);
  }

  // ------------------------------------------------------------------------------------------------ replay

  static String replayText(ReplayReport r, Instant since) {
    return "replayed events created since " + since + ": listed " + r.listed() + ", recorded " + r.recorded()
        + ", applied " + r.applied() + ", failed " + r.failed() + "\n"
        + (r.failed() > 0 ? "failed events stay in the inbox: see 'saaskit billing events --status failed'\n" : "");
  }

  /** {@code {"since", "listed", "recorded", "applied", "failed"}}. */
  static String replayJson(ReplayReport r, Instant since) {
    ObjectNode root = JSON.createObjectNode();
    root.put("since", since.toString());
    root.put("listed", r.listed());
    root.put("recorded", r.recorded());
    root.put("applied", r.applied());
    root.put("failed", r.failed());
    return JobsOutput.write(root);
  }

  // ------------------------------------------------------------------------------------------------ status

  static String statusText(TenantBilling s) {
    StringBuilder out = new StringBuilder("tenant ").append(s.tenant().value()).append('\n');
    field(out, "state", s.state().name());
    field(out, "has access", s.hasAccess() ? "yes" : "no");
    field(out, "access until", JobsOutput.text(s.accessUntil()));
    Subscription sub = s.subscription();
    if (sub == null) {
      field(out, "subscription", "(none)");
    } else {
      field(out, "subscription", sub.id() + " (" + sub.status().stripeValue() + ")");
      field(out, "customer", sub.customerId());
      List<String> items = new ArrayList<>();
      for (SubscriptionItem item : sub.items()) {
        items.add(item.priceId() + " x " + item.quantity());
      }
      field(out, "items", items.isEmpty() ? "(none)" : String.join(", ", items));
      field(out, "period end", JobsOutput.text(sub.currentPeriodEnd()));
      field(out, "cancel at end", sub.cancelAtPeriodEnd() ? "yes" : "no");
      if (sub.cancelAt() != null) {
        field(out, "cancel at", JobsOutput.text(sub.cancelAt()));
      }
      field(out, "collection", sub.collectionMethod()
          + (sub.daysUntilDue() == null ? "" : " (net " + sub.daysUntilDue() + " days)"));
    }
    field(out, "subscriptions", Integer.toString(s.subscriptions().size()));
    field(out, "as of", s.at().toString());
    return out.toString();
  }

  /**
   * {@code {"tenant", "state", "hasAccess", "accessUntil", "subscription": {"id", "status", "customer", "items":
   * [{"id", "price", "product", "quantity"}], "currentPeriodEnd", "cancelAtPeriodEnd", "cancelAt", "collectionMethod",
   * "daysUntilDue"} | null, "subscriptions", "at"}}.
   */
  static String statusJson(TenantBilling s) {
    ObjectNode root = JSON.createObjectNode();
    root.put("tenant", s.tenant().value());
    root.put("state", s.state().name());
    root.put("hasAccess", s.hasAccess());
    root.put("accessUntil", JobsOutput.iso(s.accessUntil()));
    Subscription sub = s.subscription();
    if (sub == null) {
      root.putNull("subscription");
    } else {
      ObjectNode o = root.putObject("subscription");
      o.put("id", sub.id());
      o.put("status", sub.status().stripeValue());
      o.put("customer", sub.customerId());
      ArrayNode items = o.putArray("items");
      for (SubscriptionItem item : sub.items()) {
        items.addObject().put("id", item.id()).put("price", item.priceId()).put("product", item.productId())
            .put("quantity", item.quantity());
      }
      o.put("currentPeriodEnd", JobsOutput.iso(sub.currentPeriodEnd()));
      o.put("cancelAtPeriodEnd", sub.cancelAtPeriodEnd());
      o.put("cancelAt", JobsOutput.iso(sub.cancelAt()));
      o.put("collectionMethod", sub.collectionMethod());
      o.put("daysUntilDue", sub.daysUntilDue());
    }
    root.put("subscriptions", s.subscriptions().size());
    root.put("at", s.at().toString());
    return JobsOutput.write(root);
  }

  static String summaryText(InboxSummary s) {
    StringBuilder out = new StringBuilder("event inbox\n");
    field(out, "received", Long.toString(s.received()));
    field(out, "applied", Long.toString(s.applied()));
    field(out, "failed", Long.toString(s.failed()));
    field(out, "ignored", Long.toString(s.ignored()));
    field(out, "exhausted", Long.toString(s.exhausted()));
    field(out, "parked", Long.toString(s.parked()));
    field(out, "discarded", Long.toString(s.discarded()));
    return out.toString();
  }

  /** {@code {"received", "applied", "failed", "ignored", "exhausted", "parked", "discarded"}}. */
  static String summaryJson(InboxSummary s) {
    ObjectNode root = JSON.createObjectNode();
    root.put("received", s.received());
    root.put("applied", s.applied());
    root.put("failed", s.failed());
    root.put("ignored", s.ignored());
    root.put("exhausted", s.exhausted());
    root.put("parked", s.parked());
    root.put("discarded", s.discarded());
    return JobsOutput.write(root);
  }

  // ------------------------------------------------------------------------------------------------ events

  static String eventsText(List<InboxEvent> events) {
    List<String[]> rows = new ArrayList<>();
    rows.add(new String[] {"ID", "TYPE", "CREATED", "STATUS", "ATTEMPTS", "LAST ERROR"});
    for (InboxEvent e : events) {
      String error = e.lastError();
      rows.add(new String[] {visible(e.id()), visible(e.type()), e.created().toString(), e.status(),
          Integer.toString(e.attempts()), error == null ? NONE : visible(BillingCommand.oneLine(error))});
    }
    return JobsOutput.table(rows);
  }

  /** {@code {"events": [<event>...]}}. */
  static String eventsJson(List<InboxEvent> events) {
    ObjectNode root = JSON.createObjectNode();
    ArrayNode array = root.putArray("events");
    events.forEach(e -> array.add(json(e)));
    return JobsOutput.write(root);
  }

  static String retryText(InboxEvent e) {
    StringBuilder out = new StringBuilder("event ").append(visible(e.id())).append(" (").append(visible(e.type()))
        .append(") is ").append(e.status()).append(" after ").append(e.attempts()).append(" attempt(s)");
    String error = e.lastError();
    if ("failed".equals(e.status()) && error != null) {
      out.append(": ").append(visible(BillingCommand.oneLine(error)));
    }
    return out.append('\n').toString();
  }

  /** One {@code <event>}. */
  static String eventJson(InboxEvent e) {
    return JobsOutput.write(json(e));
  }

  /**
   * {@code {"id", "type", "created", "status", "attempts", "lastError", "nextAttemptAt", "tenant", "receivedAt",
   * "appliedAt"}}.
   */
  private static ObjectNode json(InboxEvent e) {
    ObjectNode o = JSON.createObjectNode();
    o.put("id", e.id());
    o.put("type", e.type());
    o.put("created", e.created().toString());
    o.put("status", e.status());
    o.put("attempts", e.attempts());
    o.put("lastError", e.lastError());
    o.put("nextAttemptAt", JobsOutput.iso(e.nextAttemptAt()));
    o.put("tenant", e.tenant());
    o.put("receivedAt", e.receivedAt().toString());
    o.put("appliedAt", JobsOutput.iso(e.appliedAt()));
    return o;
  }

  // ------------------------------------------------------------------------------------------------ helpers

  private static String kind(Drift.Kind kind) {
    return kind.name().toLowerCase(Locale.ROOT);
  }

  /** "mirror -> Stripe"; for a whole object without values, which side has it. */
  private static String change(Drift d) {
    if (d.field() == null && d.mirrorValue() == null && d.stripeValue() == null) {
      switch (d.kind()) {
        case MISSING_IN_MIRROR:
          return ABSENT + " -> " + PRESENT;
        case MISSING_IN_STRIPE:
          return PRESENT + " -> " + ABSENT;
        default:
          return NONE;
      }
    }
    return value(d.mirrorValue()) + " -> " + value(d.stripeValue());
  }

  private static String tenant(@Nullable TenantId tenant) {
    return tenant == null ? NONE : visible(tenant.value());
  }

  private static String value(@Nullable String value) {
    return value == null ? ABSENT : visible(value);
  }

  private static String visible(String text) {
    return JobsOutput.visible(text);
  }

  private static void field(StringBuilder out, String name, String value) {
    out.append("  ").append(name).append(':').append(" ".repeat(Math.max(1, 16 - name.length()))).append(value)
        .append('\n');
  }

}
