package dev.saaskit.auth.saml;

import dev.saaskit.auth.Principal;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * A SAML login that passed every check of {@link SamlServiceProvider#complete}. Everything here was read from the
 * signed assertion. The user is identified by ({@link #idpEntityId()}, {@link #nameId()}) - see {@link #userKey()} -
 * never by {@link #email()}, which an IdP user may be able to change. Immutable.
 */
public final class SamlLogin {
  private final String idpEntityId;
  private final String nameId;
  private final @Nullable String nameIdFormat;
  private final @Nullable String sessionIndex;
  private final Map<String, List<String>> attributes;
  private final @Nullable String email;
  private final String inResponseTo;
  private final String assertionId;
  private final Instant notOnOrAfter;

  /**
   * A login; built by the service provider.
   *
   * @param idpEntityId the Issuer of the assertion (the configured IdP)
   * @param nameId the subject's NameID
   * @param nameIdFormat the NameID's Format, if given
   * @param sessionIndex the AuthnStatement's SessionIndex, if given
   * @param attributes attribute name to values, in document order
   * @param email the first value of the first configured email attribute present
   * @param inResponseTo the ID of the AuthnRequest this answers
   * @param assertionId the assertion's ID
   * @param notOnOrAfter when the assertion's bearer confirmation expires
   */
  public SamlLogin(String idpEntityId, String nameId, @Nullable String nameIdFormat, @Nullable String sessionIndex,
      Map<String, List<String>> attributes, @Nullable String email, String inResponseTo, String assertionId,
      Instant notOnOrAfter) {
    this.idpEntityId = Objects.requireNonNull(idpEntityId, "idpEntityId");
    this.nameId = Objects.requireNonNull(nameId, "nameId");
    this.nameIdFormat = nameIdFormat;
    this.sessionIndex = sessionIndex;
    Map<String, List<String>> copy = new LinkedHashMap<>();
    attributes.forEach((k, v) -> copy.put(k, List.copyOf(v)));
    this.attributes = java.util.Collections.unmodifiableMap(copy);
    this.email = email;
    this.inResponseTo = Objects.requireNonNull(inResponseTo, "inResponseTo");
    this.assertionId = Objects.requireNonNull(assertionId, "assertionId");
    this.notOnOrAfter = Objects.requireNonNull(notOnOrAfter, "notOnOrAfter");
  }

  /** The IdP that issued the assertion (its entity id). */
  public String idpEntityId() {
    return idpEntityId;
  }

  /** The subject's NameID, exactly as signed. */
  public String nameId() {
    return nameId;
  }

  /** The NameID's Format attribute (persistent, emailAddress, unspecified, transient...), if present. */
  public Optional<String> nameIdFormat() {
    return Optional.ofNullable(nameIdFormat);
  }

  /** The IdP session index (for single logout), if present. */
  public Optional<String> sessionIndex() {
    return Optional.ofNullable(sessionIndex);
  }

  /** The assertion's attributes: name to values (text values only), in document order; unmodifiable. */
  public Map<String, List<String>> attributes() {
    return attributes;
  }

  /** The email from the first configured email attribute present; informational, never an identity. */
  public Optional<String> email() {
    return Optional.ofNullable(email);
  }

  /** The ID of the AuthnRequest (from {@link SamlServiceProvider#begin}) this login answers. */
  public String inResponseTo() {
    return inResponseTo;
  }

  /** The assertion's ID (recorded against replay). */
  public String assertionId() {
    return assertionId;
  }

  /** When the assertion's bearer subject confirmation expires. */
  public Instant notOnOrAfter() {
    return notOnOrAfter;
  }

  /** The stable user key: {@link Principal#userKey(String, String)} of (IdP entity id, NameID). */
  public String userKey() {
    return Principal.userKey(idpEntityId, nameId);
  }

  @Override
  public String toString() {
    // no NameID, email or attribute values: logs must not collect personal data by accident
    return "SamlLogin[idp=" + idpEntityId + ", nameIdFormat=" + nameIdFormat + ", attributes=" + attributes.keySet()
        + ", inResponseTo=" + inResponseTo + "]";
  }
}
