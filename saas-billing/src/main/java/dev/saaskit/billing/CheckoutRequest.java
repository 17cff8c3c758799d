package dev.saaskit.billing;

import dev.saaskit.core.TenantId;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * What {@link BillingOperations#createCheckoutSession} asks Stripe for: a subscription-mode checkout of one price.
 *
 * <pre>{@code
 * CheckoutRequest request = CheckoutRequest.builder(tenant, "price_pro_monthly")
 *     .quantity(5).trialDays(14)
 *     .successUrl("https://app.example.com/billing/done")      // ?session_id={CHECKOUT_SESSION_ID} is appended
 *     .cancelUrl("https://app.example.com/billing")
 *     .build();
 * }</pre>
 *
 * <p>A final class rather than a record, so that a setting can be added without breaking callers
 * (docs/architecture.md): make one with {@link #builder}.
 */
public final class CheckoutRequest {
  private final TenantId tenant;
  private final String priceId;
  private final long quantity;
  private final int trialDays;
  private final String successUrl;
  private final String cancelUrl;
  private final @Nullable String email;
  private final @Nullable String name;
  private final boolean allowAdditionalSubscription;

  private CheckoutRequest(TenantId tenant, String priceId, long quantity, int trialDays, String successUrl,
      String cancelUrl, @Nullable String email, @Nullable String name, boolean allowAdditionalSubscription) {
    Objects.requireNonNull(tenant, "tenant");
    Objects.requireNonNull(priceId, "priceId");
    if (priceId.isBlank()) {
      throw new IllegalArgumentException("priceId must not be blank");
    }
    if (quantity < 1) {
      throw new IllegalArgumentException("quantity must be >= 1 but was " + quantity);
    }
    if (trialDays < 0 || trialDays > 730) {
      throw new IllegalArgumentException("trialDays must be between 0 and 730 but was " + trialDays);
    }
    requireUrl("successUrl", successUrl);
    requireUrl("cancelUrl", cancelUrl);
    this.tenant = tenant;
    this.priceId = priceId;
    this.quantity = quantity;
    this.trialDays = trialDays;
    this.successUrl = successUrl;
    this.cancelUrl = cancelUrl;
    this.email = email;
    this.name = name;
    this.allowAdditionalSubscription = allowAdditionalSubscription;
  }

  /** The tenant that subscribes (from the authenticated principal, never from the request body). */
  public TenantId tenant() {
    return tenant;
  }

  /** The recurring Stripe price. */
  public String priceId() {
    return priceId;
  }

  /** The quantity (seats), at least 1. */
  public long quantity() {
    return quantity;
  }

  /** The trial, in days ({@code 0}: none). */
  public int trialDays() {
    return trialDays;
  }

  /**
   * Where Stripe sends the browser after payment; when it has no {@code {CHECKOUT_SESSION_ID}} placeholder, {@code
   * session_id={CHECKOUT_SESSION_ID}} is appended as a query parameter, so the success page can call {@link
   * BillingOperations#syncCheckoutSession}.
   */
  public String successUrl() {
    return successUrl;
  }

  /** Where Stripe sends the browser when the customer goes back. */
  public String cancelUrl() {
    return cancelUrl;
  }

  /** The customer's email, used when the tenant's Stripe customer is created now. */
  public @Nullable String email() {
    return email;
  }

  /** The customer's name, likewise. */
  public @Nullable String name() {
    return name;
  }

  /**
   * Whether the tenant may start a second subscription: by default ({@code false}) {@link
   * BillingOperations#createCheckoutSession} refuses while the tenant has a live subscription and expires the tenant's
   * other open checkout sessions, so two tabs never bill one tenant twice.
   */
  public boolean allowAdditionalSubscription() {
    return allowAdditionalSubscription;
  }

  private static void requireUrl(String what, String url) {
    Objects.requireNonNull(url, what);
    if (!url.startsWith("https://") && !url.startsWith("http://")) {
      throw new IllegalArgumentException(what + " must be an absolute http(s) URL but was '" + url + "'");
    }
  }

  /** The success URL as sent to Stripe: with the {@code {CHECKOUT_SESSION_ID}} placeholder. */
  public String successUrlWithSessionId() {
    if (successUrl.contains("{CHECKOUT_SESSION_ID}")) {
      return successUrl;
    }
    int hash = successUrl.indexOf('#');
    String base = hash < 0 ? successUrl : successUrl.substring(0, hash);
    String fragment = hash < 0 ? "" : successUrl.substring(hash);
    return base + (base.contains("?") ? "&" : "?") + "session_id={CHECKOUT_SESSION_ID}" + fragment;
  }

  /** A builder holding this request, for a variant. */
  public Builder toBuilder() {
    Builder b = new Builder(tenant, priceId);
    b.quantity = quantity;
    b.trialDays = trialDays;
    b.successUrl = successUrl;
    b.cancelUrl = cancelUrl;
    b.email = email;
    b.name = name;
    b.allowAdditionalSubscription = allowAdditionalSubscription;
    return b;
  }

  /** A builder for {@code tenant} subscribing to {@code priceId}; quantity 1, no trial. */
  public static Builder builder(TenantId tenant, String priceId) {
    return new Builder(tenant, priceId);
  }

  /** Builds a {@link CheckoutRequest}. Not thread-safe. */
  public static final class Builder {
    private final TenantId tenant;
    private final String priceId;
    private long quantity = 1;
    private int trialDays;
    private @Nullable String successUrl;
    private @Nullable String cancelUrl;
    private @Nullable String email;
    private @Nullable String name;
    private boolean allowAdditionalSubscription;

    private Builder(TenantId tenant, String priceId) {
      this.tenant = Objects.requireNonNull(tenant, "tenant");
      this.priceId = Objects.requireNonNull(priceId, "priceId");
    }

    /** The quantity (seats); default 1. */
    public Builder quantity(long quantity) {
      this.quantity = quantity;
      return this;
    }

    /** The trial in days; default 0 (none). */
    public Builder trialDays(int days) {
      this.trialDays = days;
      return this;
    }

    /** Required: where the browser goes after paying. */
    public Builder successUrl(String url) {
      this.successUrl = url;
      return this;
    }

    /** Required: where the browser goes when the customer goes back. */
    public Builder cancelUrl(String url) {
      this.cancelUrl = url;
      return this;
    }

    /** The customer's email, for a customer created now. */
    public Builder email(@Nullable String email) {
      this.email = email;
      return this;
    }

    /** The customer's name, for a customer created now. */
    public Builder name(@Nullable String name) {
      this.name = name;
      return this;
    }

    /**
     * Lets this checkout start a subscription while the tenant already has a live one ({@code active}, {@code
     * trialing} or {@code past_due}), and leaves the tenant's other open checkout sessions open: for products sold
     * as several subscriptions per tenant (add-ons billed separately). Off by default: {@link
     * BillingOperations#createCheckoutSession} then throws {@link AlreadySubscribedException}, and change the
     * subscription with {@link BillingOperations#changePlan} or {@link BillingOperations#setSeats} instead.
     */
    public Builder allowAdditionalSubscription(boolean allow) {
      this.allowAdditionalSubscription = allow;
      return this;
    }

    /**
     * The request.
     *
     * @throws IllegalStateException if the success or cancel URL is missing
     */
    public CheckoutRequest build() {
      if (successUrl == null || cancelUrl == null) {
        throw new IllegalStateException("successUrl and cancelUrl are required");
      }
      return new CheckoutRequest(tenant, priceId, quantity, trialDays, successUrl, cancelUrl, email, name,
          allowAdditionalSubscription);
    }
  }

  @Override
  public boolean equals(@Nullable Object o) {
    if (this == o) {
      return true;
    }
    if (!(o instanceof CheckoutRequest)) {
      return false;
    }
    CheckoutRequest other = (CheckoutRequest) o;
    return Objects.equals(tenant, other.tenant) && Objects.equals(priceId, other.priceId)
        && quantity == other.quantity && trialDays == other.trialDays && Objects.equals(successUrl, other.successUrl)
        && Objects.equals(cancelUrl, other.cancelUrl) && Objects.equals(email, other.email)
        && Objects.equals(name, other.name) && allowAdditionalSubscription == other.allowAdditionalSubscription;
  }

  @Override
  public int hashCode() {
    return Objects.hash(tenant, priceId, quantity, trialDays, successUrl, cancelUrl, email, name,
        allowAdditionalSubscription);
  }

  @Override
  public String toString() {
    return "CheckoutRequest[tenant=" + tenant + ", priceId=" + priceId + ", quantity=" + quantity
        + ", trialDays=" + trialDays + ", successUrl=" + successUrl + ", cancelUrl=" + cancelUrl + ", email=" + email
        + ", name=" + name + ", allowAdditionalSubscription=" + allowAdditionalSubscription + "]";
  }
}
