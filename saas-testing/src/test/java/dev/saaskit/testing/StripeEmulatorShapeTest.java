package dev.saaskit.testing;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.annotations.SerializedName;
import com.stripe.net.ApiResource;
import java.lang.reflect.Field;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * Every field the emulator writes is one stripe-java 33.3.0's model knows (by its {@code @SerializedName}s), so a
 * misspelt or invented field fails here rather than going silently unread.
 */
class StripeEmulatorShapeTest {
  static Set<String> names(Class<?> c) {
    Set<String> out = new TreeSet<>();
    for (Class<?> k = c; k != null; k = k.getSuperclass()) {
      for (Field f : k.getDeclaredFields()) {
        SerializedName n = f.getAnnotation(SerializedName.class);
        if (n != null) {
          out.add(n.value());
        }
      }
    }
    return out;
  }

  private final java.util.List<String> problems = new java.util.ArrayList<>();

  void diff(String label, JsonObject o, Class<?> c) {
    Set<String> known = names(c);
    Set<String> unknown = new TreeSet<>();
    for (Map.Entry<String, JsonElement> e : o.entrySet()) {
      if (!known.contains(e.getKey())) {
        unknown.add(e.getKey());
      }
    }
    if (!unknown.isEmpty()) {
      problems.add(label + " has fields stripe-java does not know: " + unknown);
    }
  }

  @Test
  void everyFieldIsKnownToStripeJava() throws Exception {
    try (StripeFixture f = new StripeFixture()) {
      var c = f.customer("x@acme.test");
      var price = f.monthly(1000);
      var sub = f.subscribe(c.getId(), price.getId(), 1);
      JsonObject s = ApiResource.GSON.fromJson(f.emu.object(sub.getId()).orElseThrow(), JsonObject.class);
      diff("subscription", s, com.stripe.model.Subscription.class);
      diff("item", s.getAsJsonObject("items").getAsJsonArray("data").get(0).getAsJsonObject(),
          com.stripe.model.SubscriptionItem.class);
      JsonObject inv = ApiResource.GSON.fromJson(f.emu.object(sub.getLatestInvoice()).orElseThrow(), JsonObject.class);
      diff("invoice", inv, com.stripe.model.Invoice.class);
      diff("line", inv.getAsJsonObject("lines").getAsJsonArray("data").get(0).getAsJsonObject(),
          com.stripe.model.InvoiceLineItem.class);
      diff("line.parent", inv.getAsJsonObject("lines").getAsJsonArray("data").get(0).getAsJsonObject()
          .getAsJsonObject("parent"), com.stripe.model.InvoiceLineItem.Parent.class);
      diff("line.parent.sid", inv.getAsJsonObject("lines").getAsJsonArray("data").get(0).getAsJsonObject()
          .getAsJsonObject("parent").getAsJsonObject("subscription_item_details"),
          com.stripe.model.InvoiceLineItem.Parent.SubscriptionItemDetails.class);
      diff("line.pricing", inv.getAsJsonObject("lines").getAsJsonArray("data").get(0).getAsJsonObject()
          .getAsJsonObject("pricing"), com.stripe.model.InvoiceLineItem.Pricing.class);
      diff("invoice.parent", inv.getAsJsonObject("parent"), com.stripe.model.Invoice.Parent.class);
      diff("customer", ApiResource.GSON.fromJson(f.emu.object(c.getId()).orElseThrow(), JsonObject.class),
          com.stripe.model.Customer.class);
      diff("price", ApiResource.GSON.fromJson(f.emu.object(price.getId()).orElseThrow(), JsonObject.class),
          com.stripe.model.Price.class);
      diff("product", ApiResource.GSON.fromJson(f.emu.object(price.getProduct()).orElseThrow(), JsonObject.class),
          com.stripe.model.Product.class);
      var session = f.stripe.v1().checkout().sessions().create(com.stripe.param.checkout.SessionCreateParams.builder()
          .setMode(com.stripe.param.checkout.SessionCreateParams.Mode.SUBSCRIPTION)
          .addLineItem(com.stripe.param.checkout.SessionCreateParams.LineItem.builder().setPrice(price.getId())
              .setQuantity(1L).build()).setSuccessUrl("https://x").build());
      f.emu.completeCheckout(session.getId());
      diff("session", ApiResource.GSON.fromJson(f.emu.object(session.getId()).orElseThrow(), JsonObject.class),
          com.stripe.model.checkout.Session.class);
      var sched = f.stripe.v1().subscriptionSchedules().create(com.stripe.param.SubscriptionScheduleCreateParams
          .builder().setCustomer(c.getId()).addPhase(com.stripe.param.SubscriptionScheduleCreateParams.Phase.builder()
              .addItem(com.stripe.param.SubscriptionScheduleCreateParams.Phase.Item.builder().setPrice(price.getId())
                  .build()).build()).build());
      JsonObject sc = ApiResource.GSON.fromJson(f.emu.object(sched.getId()).orElseThrow(), JsonObject.class);
      diff("schedule", sc, com.stripe.model.SubscriptionSchedule.class);
      diff("schedule.phase", sc.getAsJsonArray("phases").get(0).getAsJsonObject(),
          com.stripe.model.SubscriptionSchedule.Phase.class);
      var meter = f.stripe.v1().billing().meters().create(com.stripe.param.billing.MeterCreateParams.builder()
          .setDisplayName("d").setEventName("e").setDefaultAggregation(com.stripe.param.billing.MeterCreateParams
              .DefaultAggregation.builder().setFormula(com.stripe.param.billing.MeterCreateParams.DefaultAggregation
                  .Formula.SUM).build()).build());
      diff("meter", ApiResource.GSON.fromJson(f.emu.object(meter.getId()).orElseThrow(), JsonObject.class),
          com.stripe.model.billing.Meter.class);
      diff("event", ApiResource.GSON.fromJson(f.emu.events().get(0).json(), JsonObject.class),
          com.stripe.model.Event.class);
      var portal = f.stripe.v1().billingPortal().sessions().create(com.stripe.param.billingportal.SessionCreateParams
          .builder().setCustomer(c.getId()).build());
      diff("portal", ApiResource.GSON.fromJson(f.emu.object(portal.getId()).orElseThrow(), JsonObject.class),
          com.stripe.model.billingportal.Session.class);
      diff("preview", ApiResource.GSON.fromJson(f.raw("POST", "/v1/invoices/create_preview", "subscription="
          + sub.getId()).body(), JsonObject.class), com.stripe.model.Invoice.class);
      diff("meter_event", ApiResource.GSON.fromJson(f.raw("POST", "/v1/billing/meter_events",
          "event_name=e&payload[stripe_customer_id]=" + c.getId() + "&payload[value]=1").body(), JsonObject.class),
          com.stripe.model.billing.MeterEvent.class);
    }
    org.assertj.core.api.Assertions.assertThat(problems).isEmpty();
  }
}
