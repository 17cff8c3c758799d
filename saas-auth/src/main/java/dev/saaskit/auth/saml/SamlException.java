package dev.saaskit.auth.saml;

import dev.saaskit.core.SaasException;
import java.util.Objects;

/**
 * A SAML Response was refused. {@link #reason()} says why, for logs and metrics; neither the reason nor the message
 * should be shown to the user agent, and the message never contains the XML, a NameID or an attribute value.
 */
public final class SamlException extends SaasException {
  /** Why a Response was refused. */
  public enum Reason {
    /** Not Base64, not well-formed XML, a DOCTYPE, not a SAML 2.0 Response, a required element missing, too large,
     * or markup (such as a comment) inside a NameID or attribute value. */
    MALFORMED,
    /** An encrypted assertion or NameID: not supported. */
    UNSUPPORTED,
    /** The IdP answered with a status other than Success (the user was not authenticated). */
    IDP_ERROR_STATUS,
    /** No signature where one is required (the assertion, by default). */
    UNSIGNED,
    /** A signature that does not verify with any configured IdP certificate (for example signed by another key). */
    BAD_SIGNATURE,
    /** The structure is not that of a plainly signed Response: more than one assertion, a signature that does not
     * reference its parent element, duplicate IDs, a signature in an unexpected place. */
    SIGNATURE_WRAPPING,
    /** The Response or assertion Issuer is not the configured IdP entity id. */
    WRONG_ISSUER,
    /** The assertion is not restricted to this SP's entity id. */
    WRONG_AUDIENCE,
    /** The Destination or the subject confirmation's Recipient is not this SP's assertion consumer service URL. */
    WRONG_RECIPIENT,
    /** The assertion (or its subject confirmation, or the session) is past its NotOnOrAfter, clock skew included. */
    EXPIRED,
    /** The assertion's NotBefore is still in the future, clock skew included. */
    NOT_YET_VALID,
    /** No InResponseTo (an unsolicited Response), or one that names no outstanding request of this SP: unknown,
     * expired, or already answered. */
    UNKNOWN_REQUEST,
    /** The assertion was already accepted once. */
    REPLAYED
  }

  private final Reason reason;

  /**
   * A refusal.
   *
   * @param reason why
   * @param message what failed, without any content of the message (no XML, NameID or attribute value)
   */
  public SamlException(Reason reason, String message) {
    super(Objects.requireNonNull(reason, "reason") + ": " + message);
    this.reason = reason;
  }

  /** Why the Response was refused. */
  public Reason reason() {
    return reason;
  }
}
