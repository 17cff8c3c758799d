package dev.saaskit.auth.sso;

import java.util.Objects;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * What an administrator configures for an SSO connection: a display name, whether it is enabled, the role new users
 * get on their first login (just-in-time provisioning), whether an ID token's email must be in one of the
 * connection's verified domains, and the protocol settings ({@link OidcSettings} or {@link SamlConnectionSettings}). Given to
 * {@link SsoConnections#create} and {@link SsoConnections#update}. Immutable and thread-safe; {@link #toString()}
 * never shows the client secret.
 */
public final class SsoConnectionSpec {
  private final String displayName;
  private final boolean enabled;
  private final String defaultRole;
  private final boolean requireVerifiedEmailDomain;
  private final @Nullable OidcSettings oidc;
  private final @Nullable SamlConnectionSettings saml;

  private SsoConnectionSpec(Builder b) {
    this.displayName = b.displayName;
    this.enabled = b.enabled;
    this.defaultRole = b.defaultRole;
    this.requireVerifiedEmailDomain = b.requireVerifiedEmailDomain;
    this.oidc = b.oidc;
    this.saml = b.saml;
  }

  /** A builder for an OIDC connection named {@code displayName}. */
  public static Builder oidc(String displayName, OidcSettings settings) {
    return new Builder(displayName).oidc(settings);
  }

  /** A builder for a SAML connection named {@code displayName}. */
  public static Builder saml(String displayName, SamlConnectionSettings settings) {
    return new Builder(displayName).saml(settings);
  }

  /** A builder holding these values. */
  public Builder toBuilder() {
    Builder b = new Builder(displayName).enabled(enabled).defaultRole(defaultRole)
        .requireVerifiedEmailDomain(requireVerifiedEmailDomain);
    b.oidc = oidc;
    b.saml = saml;
    return b;
  }

  /** The protocol: {@link SsoProtocol#OIDC} when {@link #oidc()} is present, else {@link SsoProtocol#SAML}. */
  public SsoProtocol protocol() {
    return oidc != null ? SsoProtocol.OIDC : SsoProtocol.SAML;
  }

  /** The name shown to users ("Sign in with Acme Okta"). */
  public String displayName() {
    return displayName;
  }

  /** Whether logins through the connection are allowed; default {@code true}. */
  public boolean enabled() {
    return enabled;
  }

  /** The role a user gets on their first login through this connection; default {@code member}. */
  public String defaultRole() {
    return defaultRole;
  }

  /**
   * Whether a login is refused unless the IdP states an email in one of the connection's verified domains (and does
   * not say it is unverified); default {@code true}.
   */
  public boolean requireVerifiedEmailDomain() {
    return requireVerifiedEmailDomain;
  }

  /** The OIDC settings, for an OIDC connection. */
  public Optional<OidcSettings> oidc() {
    return Optional.ofNullable(oidc);
  }

  /** The SAML settings, for a SAML connection. */
  public Optional<SamlConnectionSettings> saml() {
    return Optional.ofNullable(saml);
  }

  @Override
  public boolean equals(@Nullable Object o) {
    return o instanceof SsoConnectionSpec s && displayName.equals(s.displayName) && enabled == s.enabled
        && defaultRole.equals(s.defaultRole) && requireVerifiedEmailDomain == s.requireVerifiedEmailDomain
        && Objects.equals(oidc, s.oidc) && Objects.equals(saml, s.saml);
  }

  @Override
  public int hashCode() {
    return Objects.hash(displayName, enabled, defaultRole, requireVerifiedEmailDomain, oidc, saml);
  }

  /** The values, without the client secret. */
  @Override
  public String toString() {
    return "SsoConnectionSpec[" + displayName + ", " + protocol() + ", enabled=" + enabled + ", defaultRole="
        + defaultRole + ", requireVerifiedEmailDomain=" + requireVerifiedEmailDomain + ", "
        + (oidc != null ? oidc : saml) + "]";
  }

  /** Builds an {@link SsoConnectionSpec}; setters check their argument at once. Not thread-safe. */
  public static final class Builder {
    private String displayName;
    private boolean enabled = true;
    private String defaultRole = "member";
    private boolean requireVerifiedEmailDomain = true;
    private @Nullable OidcSettings oidc;
    private @Nullable SamlConnectionSettings saml;

    private Builder(String displayName) {
      displayName(displayName);
      this.displayName = displayName;
    }

    /** The name shown to users: 1 to 200 characters, not blank. */
    public Builder displayName(String displayName) {
      if (Objects.requireNonNull(displayName, "displayName").isBlank() || displayName.length() > 200) {
        throw new IllegalArgumentException("displayName must be 1 to 200 characters, not blank, but was '"
            + displayName + "'");
      }
      this.displayName = displayName;
      return this;
    }

    /** Whether logins are allowed; default {@code true}. */
    public Builder enabled(boolean enabled) {
      this.enabled = enabled;
      return this;
    }

    /** The role of users provisioned on their first login; default {@code member}. 1 to 200 characters. */
    public Builder defaultRole(String defaultRole) {
      if (Objects.requireNonNull(defaultRole, "defaultRole").isBlank() || defaultRole.length() > 200) {
        throw new IllegalArgumentException("defaultRole must be 1 to 200 characters, not blank, but was '"
            + defaultRole + "'");
      }
      this.defaultRole = defaultRole;
      return this;
    }

    /** See {@link SsoConnectionSpec#requireVerifiedEmailDomain()}; default {@code true}. */
    public Builder requireVerifiedEmailDomain(boolean require) {
      this.requireVerifiedEmailDomain = require;
      return this;
    }

    /** Makes this an OIDC connection with these settings (clearing SAML settings). */
    public Builder oidc(OidcSettings settings) {
      this.oidc = Objects.requireNonNull(settings, "settings");
      this.saml = null;
      return this;
    }

    /** Makes this a SAML connection with these settings (clearing OIDC settings). */
    public Builder saml(SamlConnectionSettings settings) {
      this.saml = Objects.requireNonNull(settings, "settings");
      this.oidc = null;
      return this;
    }

    /** The spec. */
    public SsoConnectionSpec build() {
      return new SsoConnectionSpec(this);
    }
  }
}
