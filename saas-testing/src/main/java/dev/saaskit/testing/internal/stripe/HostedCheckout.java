package dev.saaskit.testing.internal.stripe;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.math.BigDecimal;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * The hosted checkout page, served by the emulator's own HTTP server at {@code /checkout/<session id>} (the
 * session's {@code url}): {@code GET} shows the plan, the amount and a "Pay" button; {@code POST} (the button)
 * completes the session exactly as {@code StripeEmulator.completeCheckout} does (same events, delivered the same
 * way, before the answer) and redirects (303) to the session's {@code success_url}. An unknown, completed or
 * expired session gets an error page. No API key: a browser opens it.
 */
final class HostedCheckout {
  static final String PREFIX = "/checkout/";

  /** Stripe's zero-decimal currencies: amounts are in whole units. */
  private static final Set<String> ZERO_DECIMAL = Set.of("bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga",
      "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf");

  private final Engine engine;

  HostedCheckout(Engine engine) {
    this.engine = engine;
  }

  /** What the page shows, read under the engine's lock. */
  private record View(String id, @Nullable String email, List<String> lines,
      String total, @Nullable Long trialDays, @Nullable String successUrl, @Nullable String cancelUrl) {}

  private static final class PageException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    final int status;
    final String title;

    PageException(int status, String title, String message) {
      super(message, null, false, false);
      this.status = status;
      this.title = title;
    }
  }

  MiniHttpServer.Response handle(MiniHttpServer.Request request) {
    String id = request.path().substring(PREFIX.length());
    try {
      if (id.isEmpty() || id.indexOf('/') >= 0) {
        throw unknown();
      }
      switch (request.method()) {
        case "GET":
        case "HEAD":
          return html(200, page(engine.call(null, null, () -> view(id))), Map.of());
        case "POST":
          return pay(id);
        default:
          Map<String, String> allow = new LinkedHashMap<>();
          allow.put("Allow", "GET, HEAD, POST");
          return html(405, errorPage("Method not allowed", "The checkout page answers GET and POST."), allow);
      }
    } catch (PageException e) {
      return html(e.status, errorPage(e.title, String.valueOf(e.getMessage())), Map.of());
    }
  }

  private MiniHttpServer.Response pay(String id) {
    View done = engine.call(null, null, () -> {
      View v = view(id); // throws for unknown, completed, expired
      try {
        engine.completeCheckout(id, false);
      } catch (ApiException e) {
        if ("card_declined".equals(e.code())) {
          throw new PageException(402, "Payment declined", "Your card was declined. No subscription was created.");
        }
        throw new PageException(e.status(), "Checkout failed", String.valueOf(e.getMessage()));
      }
      return v;
    }); // events are delivered by now, as for StripeEmulator.completeCheckout
    String successUrl = done.successUrl();
    if (successUrl == null) {
      return html(200, shell("Payment complete", "<h1>Payment complete</h1><p class=\"muted\">This session has no "
          + "success_url to return to.</p>"), Map.of());
    }
    Map<String, String> headers = new LinkedHashMap<>();
    headers.put("Location", successUrl);
    return html(303, shell("Payment complete", "<h1>Payment complete</h1><p><a href=\"" + escape(successUrl)
        + "\">Continue</a></p>"), headers);
  }

  /** The session as the page shows it; call under the lock. Throws a page error unless it can be paid. */
  private View view(String id) {
    ObjectNode s = engine.object(id);
    if (s == null || !"checkout.session".equals(s.path("object").asText())) {
      throw unknown();
    }
    String status = s.path("status").asText();
    boolean timedOut = s.path("expires_at").asLong(Long.MAX_VALUE) <= engine.epochSecond();
    if (status.equals("complete")) {
      throw new PageException(410, "Already paid", "This checkout session is already complete.");
    }
    if (status.equals("expired") || timedOut) {
      throw new PageException(410, "Session expired", "This checkout session has expired. Start again from the app.");
    }
    if (!status.equals("open")) {
      throw new PageException(410, "Checkout closed", "This checkout session is " + status + ".");
    }
    List<ObjectNode> items = engine.sessionItems(id);
    java.util.ArrayList<String> lines = new java.util.ArrayList<>();
    String currency = s.path("currency").asText("usd");
    for (ObjectNode item : items) {
      JsonNode price = item.path("price");
      JsonNode recurring = price.path("recurring");
      StringBuilder line = new StringBuilder();
      line.append("<tr><td class=\"plan\">").append(escape(item.path("description").asText("Subscription")));
      if (item.hasNonNull("quantity") && item.get("quantity").asLong() != 1) {
        line.append(" &times; ").append(item.get("quantity").asLong());
      }
      line.append("</td><td class=\"amount\">");
      if (recurring.path("usage_type").asText().equals("metered")) {
        line.append("billed by usage");
      } else {
        line.append(escape(money(item.path("amount_total").asLong(), item.path("currency").asText(currency))))
            .append(escape(per(recurring)));
      }
      line.append("</td></tr>");
      lines.add(line.toString());
    }
    JsonNode trial = engine.sessionSubscriptionData(id).get("trial_period_days");
    String email = s.path("customer_email").asText(null);
    if (email == null && s.hasNonNull("customer")) {   // an existing customer: show whose card pays
      ObjectNode customer = engine.object(s.get("customer").asText());
      email = customer == null ? null : customer.path("email").asText(null);
    }
    return new View(id, email, lines,
        money(s.path("amount_total").asLong(), currency), trial == null ? null : trial.asLong(),
        s.path("success_url").asText(null), s.path("cancel_url").asText(null));
  }

  private static PageException unknown() {
    return new PageException(404, "Unknown checkout session", "There is no checkout session at this address.");
  }

  private static String per(JsonNode recurring) {
    if (recurring.isMissingNode() || recurring.isNull()) {
      return "";
    }
    String interval = recurring.path("interval").asText("month");
    long count = recurring.path("interval_count").asLong(1);
    return count == 1 ? " / " + interval : " every " + count + " " + interval + "s";
  }

  static String money(long minor, String currency) {
    String c = currency.toLowerCase(Locale.ROOT);
    BigDecimal amount = ZERO_DECIMAL.contains(c) ? BigDecimal.valueOf(minor) : BigDecimal.valueOf(minor, 2);
    String symbol;
    switch (c) {
      case "usd":
        symbol = "$";
        break;
      case "eur":
        symbol = "\u20ac";
        break;
      case "gbp":
        symbol = "\u00a3";
        break;
      default:
        symbol = c.toUpperCase(Locale.ROOT) + " ";
        break;
    }
    return symbol + amount.toPlainString();
  }

  private String page(View v) {
    StringBuilder b = new StringBuilder();
    b.append("<p class=\"badge\">Test mode &middot; StripeEmulator</p>");
    b.append("<h1>Subscribe</h1>");
    if (v.email() != null) {
      b.append("<p class=\"muted\" id=\"email\">").append(escape(v.email())).append("</p>");
    }
    b.append("<table id=\"lines\">");
    v.lines().forEach(b::append);
    b.append("<tr class=\"total\"><td>Total due today</td><td class=\"amount\" id=\"total\">")
        .append(escape(v.trialDays() != null ? "Free for " + v.trialDays() + " days, then " + v.total()
            : v.total()))
        .append("</td></tr></table>");
    b.append("<form method=\"post\" action=\"").append(escape(PREFIX + v.id())).append("\">")
        .append("<p class=\"muted\">Card: 4242 4242 4242 4242 (emulated: no card data is asked or sent)</p>")
        .append("<button type=\"submit\" id=\"pay\">")
        .append(v.trialDays() != null ? "Start trial" : "Pay " + escape(v.total())).append("</button></form>");
    if (v.cancelUrl() != null) {
      b.append("<p><a id=\"cancel\" href=\"").append(escape(v.cancelUrl())).append("\">Cancel and return</a></p>");
    }
    return shell("Checkout", b.toString());
  }

  private static String errorPage(String title, String message) {
    return shell(title, "<h1 id=\"error\">" + escape(title) + "</h1><p>" + escape(message) + "</p>");
  }

  private static String shell(String title, String body) {
    return "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        + "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>" + escape(title)
        + "</title><style>"
        + "body{font:16px/1.5 system-ui,-apple-system,'Segoe UI',sans-serif;background:#f6f9fc;color:#1a1f36;"
        + "margin:0;padding:48px 16px}main{max-width:420px;margin:0 auto;background:#fff;border-radius:12px;"
        + "box-shadow:0 2px 12px rgba(0,0,0,.08);padding:32px}h1{font-size:22px;margin:0 0 8px}"
        + ".badge{display:inline-block;background:#ffde92;color:#6b4d00;border-radius:4px;padding:2px 8px;"
        + "font-size:12px;margin:0 0 16px}.muted{color:#697386;font-size:14px}table{width:100%;"
        + "border-collapse:collapse;margin:16px 0}td{padding:8px 0;border-bottom:1px solid #e3e8ee}"
        + ".amount{text-align:right}.total td{font-weight:600;border-bottom:0}button{width:100%;padding:12px;font-family:inherit;font-weight:600;"
        + "font-size:16px;color:#fff;background:#635bff;border:0;border-radius:6px;cursor:pointer}"
        + "button:hover{background:#5148e5}a{color:#635bff}"
        + "</style></head><body><main>" + body + "</main></body></html>";
  }

  private static MiniHttpServer.Response html(int status, String body, Map<String, String> extra) {
    Map<String, String> headers = new LinkedHashMap<>();
    headers.put("Content-Type", "text/html; charset=utf-8");
    headers.put("Cache-Control", "no-store");
    headers.put("X-Content-Type-Options", "nosniff");
    // no form-action: the form's 303 goes to the app's success_url, on another origin
    headers.put("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'");
    headers.putAll(extra);
    return new MiniHttpServer.Response(status, headers, body);
  }

  /** HTML-escapes text for element content and quoted attribute values. */
  static String escape(String s) {
    StringBuilder b = new StringBuilder(s.length() + 16);
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '&':
          b.append("&amp;");
          break;
        case '<':
          b.append("&lt;");
          break;
        case '>':
          b.append("&gt;");
          break;
        case '"':
          b.append("&quot;");
          break;
        case '\'':
          b.append("&#39;");
          break;
        default:
          b.append(c);
      }
    }
    return b.toString();
  }
}
