package dev.saaskit.auth.saml.internal;

import static dev.saaskit.auth.saml.internal.SamlXml.ASSERTION;
import static dev.saaskit.auth.saml.internal.SamlXml.DSIG;
import static dev.saaskit.auth.saml.internal.SamlXml.PROTOCOL;

import com.onelogin.saml2.authn.SamlResponse;
import com.onelogin.saml2.exception.ValidationError;
import com.onelogin.saml2.settings.Saml2Settings;
import com.onelogin.saml2.settings.SettingsBuilder;
import com.onelogin.saml2.util.SchemaFactory;
import com.onelogin.saml2.util.Util;
import dev.saaskit.auth.saml.SamlException;
import dev.saaskit.auth.saml.SamlException.Reason;
import dev.saaskit.auth.saml.SamlLogin;
import dev.saaskit.auth.saml.SamlSettings;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.w3c.dom.Document;
import org.w3c.dom.Element;

/**
 * Checks a SAML Response in two independent layers: java-saml's own checks (status, number of assertions, which
 * elements are signed and that each signature references its parent, schema validity, the XML signatures with the
 * configured certificates only, issuers), and ours on a separately hardened parse (one assertion in the whole
 * document, signatures only where they belong and referencing their parent by a unique ID, issuer, destination,
 * audience, recipient, times on the injected clock, identity read from the signed assertion only). Neither layer
 * looks at a certificate carried in the message. The replay and InResponseTo bookkeeping is done by the caller.
 */
public final class ResponseValidator {
  /** The largest Base64 Response accepted: 512 KiB. */
  public static final int MAX_BASE64_LENGTH = 512 * 1024;
  /** Longest NameID accepted, in characters: the longest subject {@code Memberships} stores. */
  public static final int MAX_NAME_ID = 255;
  private static final String BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
  private static final String SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success";

  /** The checked content of a Response, before the database checks. */
  public record Checked(SamlLogin login, Instant keepUntil) {}

  private final SamlSettings settings;
  private final Saml2Settings javaSaml;
  private final String acsUrl;

  /** A validator for {@code settings}. */
  public ResponseValidator(SamlSettings settings) {
    this.settings = settings;
    this.acsUrl = settings.acsUrl().toString();
    this.javaSaml = javaSamlSettings(settings);
  }

  private static Saml2Settings javaSamlSettings(SamlSettings s) {
    Map<String, Object> values = new HashMap<>();
    values.put(SettingsBuilder.STRICT_PROPERTY_KEY, true);
    values.put(SettingsBuilder.SP_ENTITYID_PROPERTY_KEY, s.spEntityId());
    values.put(SettingsBuilder.SP_ASSERTION_CONSUMER_SERVICE_URL_PROPERTY_KEY, s.acsUrl().toString());
    values.put(SettingsBuilder.IDP_ENTITYID_PROPERTY_KEY, s.idpEntityId());
    values.put(SettingsBuilder.IDP_SINGLE_SIGN_ON_SERVICE_URL_PROPERTY_KEY, s.idpSsoUrl().toString());
    values.put(SettingsBuilder.IDP_X509CERT_PROPERTY_KEY, pem(s.idpCertificates().get(0)));
    for (int i = 0; i < s.idpCertificates().size(); i++) {
      values.put(SettingsBuilder.IDP_X509CERTMULTI_PROPERTY_KEY + "." + i, pem(s.idpCertificates().get(i)));
    }
    values.put(SettingsBuilder.SECURITY_WANT_ASSERTIONS_SIGNED, s.requireSignedAssertions());
    values.put(SettingsBuilder.SECURITY_WANT_XML_VALIDATION, true);
    values.put(SettingsBuilder.SECURITY_REJECT_DEPRECATED_ALGORITHM, true);
    return new SettingsBuilder().fromValues(values).build();
  }

  private static String pem(X509Certificate c) {
    try {
      return "-----BEGIN CERTIFICATE-----\n" + Base64.getMimeEncoder().encodeToString(c.getEncoded())
          + "\n-----END CERTIFICATE-----\n";
    } catch (CertificateEncodingException e) {
      throw new IllegalArgumentException("an IdP certificate cannot be encoded", e);
    }
  }

  /**
   * Checks {@code samlResponseBase64} (the {@code SAMLResponse} form field) at {@code now}.
   *
   * @throws SamlException with the first failed check's reason
   */
  public Checked check(String samlResponseBase64, Instant now) {
    Objects.requireNonNull(samlResponseBase64, "samlResponseBase64");
    if (samlResponseBase64.length() > MAX_BASE64_LENGTH) {
      throw new SamlException(Reason.MALFORMED, "the Response is larger than " + MAX_BASE64_LENGTH + " characters");
    }
    byte[] xml;
    try {
      xml = Base64.getMimeDecoder().decode(samlResponseBase64.strip());
    } catch (IllegalArgumentException e) {
      throw new SamlException(Reason.MALFORMED, "the Response is not Base64");
    }
    Document doc = SamlXml.parse(xml);

    // --- structure (ours) ---
    Element response = doc.getDocumentElement();
    if (!SamlXml.matches(response, PROTOCOL, "Response") || !"2.0".equals(SamlXml.attribute(response, "Version"))
        || SamlXml.attribute(response, "ID") == null) {
      throw new SamlException(Reason.MALFORMED, "not a SAML 2.0 Response with an ID");
    }
    Element status = SamlXml.child(response, PROTOCOL, "Status");
    Element statusCode = SamlXml.child(status, PROTOCOL, "StatusCode");
    if (!SUCCESS.equals(SamlXml.attribute(statusCode, "Value"))) {
      throw new SamlException(Reason.IDP_ERROR_STATUS, "the IdP did not report Success");
    }
    if (!SamlXml.descendants(doc, ASSERTION, "EncryptedAssertion").isEmpty()
        || !SamlXml.descendants(doc, ASSERTION, "EncryptedID").isEmpty()
        || !SamlXml.descendants(doc, ASSERTION, "EncryptedAttribute").isEmpty()) {
      throw new SamlException(Reason.UNSUPPORTED, "encrypted assertions, NameIDs and attributes are not supported");
    }
    List<Element> assertions = SamlXml.descendants(doc, ASSERTION, "Assertion");
    if (assertions.isEmpty()) {
      throw new SamlException(Reason.MALFORMED, "the Response has no Assertion");
    }
    if (assertions.size() > 1) {
      throw new SamlException(Reason.SIGNATURE_WRAPPING, "the Response holds " + assertions.size()
          + " assertions (anywhere in the document); exactly one is accepted");
    }
    Element assertion = assertions.get(0);
    if (assertion.getParentNode() != response) {
      throw new SamlException(Reason.SIGNATURE_WRAPPING, "the Assertion is not a child of the Response");
    }
    String assertionId = SamlXml.attribute(assertion, "ID");
    if (assertionId == null || assertionId.isEmpty() || !"2.0".equals(SamlXml.attribute(assertion, "Version"))) {
      throw new SamlException(Reason.MALFORMED, "the Assertion has no ID or is not version 2.0");
    }
    SamlXml.uniqueIds(doc);
    boolean responseSigned = false;
    boolean assertionSigned = false;
    for (Element signature : SamlXml.descendants(doc, DSIG, "Signature")) {
      Element parent = signature.getParentNode() instanceof Element ? (Element) signature.getParentNode() : null;
      if (parent == response) {
        responseSigned = true;
      } else if (parent == assertion) {
        assertionSigned = true;
      } else {
        throw new SamlException(Reason.SIGNATURE_WRAPPING, "a Signature outside the Response and the Assertion");
      }
      Element signedInfo = SamlXml.child(signature, DSIG, "SignedInfo");
      List<Element> references = SamlXml.children(signedInfo, DSIG, "Reference");
      String parentId = SamlXml.attribute(parent, "ID");
      if (references.size() != 1 || parentId == null
          || !("#" + parentId).equals(SamlXml.attribute(references.get(0), "URI"))) {
        throw new SamlException(Reason.SIGNATURE_WRAPPING,
            "a Signature does not reference exactly the element that contains it");
      }
    }
    if (settings.requireSignedAssertions() ? !assertionSigned : !(assertionSigned || responseSigned)) {
      throw new SamlException(Reason.UNSIGNED, settings.requireSignedAssertions()
          ? "the Assertion is not signed" : "neither the Response nor the Assertion is signed");
    }

    // --- java-saml's checks and the signatures (configured certificates only) ---
    javaSamlChecks(samlResponseBase64.strip(), doc, responseSigned, assertionSigned);

    // --- issuers, destination, audience, times, subject confirmation (ours, on the injected clock) ---
    String idp = settings.idpEntityId();
    Element responseIssuer = SamlXml.optionalChild(response, ASSERTION, "Issuer");
    if (responseIssuer != null && !idp.equals(SamlXml.plainText(responseIssuer, "Issuer").strip())) {
      throw new SamlException(Reason.WRONG_ISSUER, "the Response Issuer is not the configured IdP");
    }
    if (!idp.equals(SamlXml.plainText(SamlXml.child(assertion, ASSERTION, "Issuer"), "Issuer").strip())) {
      throw new SamlException(Reason.WRONG_ISSUER, "the Assertion Issuer is not the configured IdP");
    }
    String destination = SamlXml.attribute(response, "Destination");
    if (destination != null ? !acsUrl.equals(destination) : responseSigned) {
      throw new SamlException(Reason.WRONG_RECIPIENT, "the Response Destination is not this SP's ACS URL");
    }
    Duration skew = settings.clockSkew();
    Element conditions = SamlXml.child(assertion, ASSERTION, "Conditions");
    List<Element> restrictions = SamlXml.children(conditions, ASSERTION, "AudienceRestriction");
    if (restrictions.isEmpty()) {
      throw new SamlException(Reason.WRONG_AUDIENCE, "the Assertion has no AudienceRestriction");
    }
    for (Element restriction : restrictions) {
      boolean ours = false;
      for (Element audience : SamlXml.children(restriction, ASSERTION, "Audience")) {
        ours |= settings.spEntityId().equals(SamlXml.plainText(audience, "Audience").strip());
      }
      if (!ours) {
        throw new SamlException(Reason.WRONG_AUDIENCE, "an AudienceRestriction does not name this SP");
      }
    }
    Instant keepUntil = now.plus(skew);
    String notBefore = SamlXml.attribute(conditions, "NotBefore");
    if (notBefore != null && now.plus(skew).isBefore(SamlXml.instant(notBefore, "NotBefore"))) {
      throw new SamlException(Reason.NOT_YET_VALID, "the Assertion's NotBefore is in the future");
    }
    String conditionsEnd = SamlXml.attribute(conditions, "NotOnOrAfter");
    if (conditionsEnd != null) {
      Instant end = SamlXml.instant(conditionsEnd, "NotOnOrAfter");
      if (!now.minus(skew).isBefore(end)) {
        throw new SamlException(Reason.EXPIRED, "the Assertion's Conditions NotOnOrAfter has passed");
      }
      keepUntil = max(keepUntil, end.plus(skew));
    }
    Element subject = SamlXml.child(assertion, ASSERTION, "Subject");
    @org.jspecify.annotations.Nullable SamlException firstFailure = null;
    @org.jspecify.annotations.Nullable String inResponseTo = null;
    @org.jspecify.annotations.Nullable Instant confirmationEnd = null;
    for (Element confirmation : SamlXml.children(subject, ASSERTION, "SubjectConfirmation")) {
      if (!BEARER.equals(SamlXml.attribute(confirmation, "Method"))) {
        continue;
      }
      try {
        Element data = SamlXml.child(confirmation, ASSERTION, "SubjectConfirmationData");
        if (!acsUrl.equals(SamlXml.attribute(data, "Recipient"))) {
          throw new SamlException(Reason.WRONG_RECIPIENT,
              "the bearer confirmation's Recipient is not this SP's ACS URL");
        }
        String end = SamlXml.attribute(data, "NotOnOrAfter");
        if (end == null) {
          throw new SamlException(Reason.MALFORMED, "the bearer confirmation has no NotOnOrAfter");
        }
        Instant endInstant = SamlXml.instant(end, "NotOnOrAfter");
        if (!now.minus(skew).isBefore(endInstant)) {
          throw new SamlException(Reason.EXPIRED, "the bearer confirmation's NotOnOrAfter has passed");
        }
        String dataNotBefore = SamlXml.attribute(data, "NotBefore");
        if (dataNotBefore != null && now.plus(skew).isBefore(SamlXml.instant(dataNotBefore, "NotBefore"))) {
          throw new SamlException(Reason.NOT_YET_VALID, "the bearer confirmation's NotBefore is in the future");
        }
        String irt = SamlXml.attribute(data, "InResponseTo");
        if (irt == null || irt.isEmpty()) {
          throw new SamlException(Reason.UNKNOWN_REQUEST,
              "the Response answers no request (IdP-initiated login is not accepted)");
        }
        inResponseTo = irt;
        confirmationEnd = endInstant;
        break;
      } catch (SamlException e) {
        if (firstFailure == null) {
          firstFailure = e;
        }
      }
    }
    if (inResponseTo == null || confirmationEnd == null) {
      throw firstFailure != null ? firstFailure
          : new SamlException(Reason.MALFORMED, "the Subject has no bearer SubjectConfirmation");
    }
    String responseInResponseTo = SamlXml.attribute(response, "InResponseTo");
    if (responseInResponseTo != null && !responseInResponseTo.equals(inResponseTo)) {
      throw new SamlException(Reason.UNKNOWN_REQUEST,
          "the Response and its Assertion answer different requests");
    }
    keepUntil = max(keepUntil, confirmationEnd.plus(skew));
    Element authn = SamlXml.optionalChild(assertion, ASSERTION, "AuthnStatement");
    @org.jspecify.annotations.Nullable String sessionIndex = null;
    if (authn != null) {
      String sessionEnd = SamlXml.attribute(authn, "SessionNotOnOrAfter");
      if (sessionEnd != null && !now.minus(skew).isBefore(SamlXml.instant(sessionEnd, "SessionNotOnOrAfter"))) {
        throw new SamlException(Reason.EXPIRED, "the IdP session (SessionNotOnOrAfter) has ended");
      }
      sessionIndex = SamlXml.attribute(authn, "SessionIndex");
    }

    // --- identity: from the one signed assertion only ---
    Element nameIdElement = SamlXml.child(subject, ASSERTION, "NameID");
    String nameId = SamlXml.plainText(nameIdElement, "NameID");
    // a control character inside (XML lets a tab or a line break through) is part of no NameID format; refused
    // here rather than failing later in the user store, or forging a line wherever the user key is written
    // the length cap is the user store's (Memberships: a subject of at most 255 characters, as OIDC's sub), so a
    // NameID that could never be provisioned is refused here, before the assertion is spent
    if (nameId.isBlank() || !nameId.strip().equals(nameId) || nameId.length() > MAX_NAME_ID
        || nameId.chars().anyMatch(Character::isISOControl)) {
      throw new SamlException(Reason.MALFORMED, "the NameID is blank, padded, longer than " + MAX_NAME_ID
          + " characters or holds a control character");
    }
    Map<String, List<String>> attributes = new LinkedHashMap<>();
    for (Element statement : SamlXml.children(assertion, ASSERTION, "AttributeStatement")) {
      for (Element attribute : SamlXml.children(statement, ASSERTION, "Attribute")) {
        String name = SamlXml.attribute(attribute, "Name");
        if (name == null || name.isEmpty()) {
          throw new SamlException(Reason.MALFORMED, "an Attribute has no Name");
        }
        List<String> values = attributes.computeIfAbsent(name, k -> new ArrayList<>());
        for (Element value : SamlXml.children(attribute, ASSERTION, "AttributeValue")) {
          values.add(SamlXml.plainText(value, "AttributeValue"));
        }
      }
    }
    @org.jspecify.annotations.Nullable String email = null;
    for (String name : settings.emailAttributes()) {
      List<String> values = attributes.get(name);
      if (values != null && !values.isEmpty()) {
        email = values.get(0);
        break;
      }
    }
    SamlLogin login = new SamlLogin(idp, nameId, SamlXml.attribute(nameIdElement, "Format"), sessionIndex,
        attributes, email, inResponseTo, assertionId, confirmationEnd);
    return new Checked(login, keepUntil);
  }

  private void javaSamlChecks(String base64, Document doc, boolean responseSigned, boolean assertionSigned) {
    SamlResponse response;
    try {
      response = new SamlResponse(javaSaml, acsUrl, base64);
    } catch (ValidationError e) {
      throw new SamlException(Reason.MALFORMED, "java-saml refused to load the Response (code " + e.getErrorCode()
          + ")");
    } catch (Exception e) {
      throw new SamlException(Reason.MALFORMED, "java-saml could not load the Response ("
          + e.getClass().getSimpleName() + ")");
    }
    try {
      response.checkStatus();
    } catch (ValidationError e) {
      throw new SamlException(Reason.IDP_ERROR_STATUS, "java-saml: the status is not Success");
    }
    if (!Boolean.TRUE.equals(response.validateNumAssertions())) {
      throw new SamlException(Reason.SIGNATURE_WRAPPING, "java-saml: not exactly one assertion");
    }
    List<String> signedElements;
    try {
      signedElements = response.processSignedElements();
      if (!response.validateSignedElements(new ArrayList<>(signedElements))) {
        throw new SamlException(Reason.SIGNATURE_WRAPPING, "java-saml: the signed elements are not where expected");
      }
    } catch (ValidationError e) {
      throw new SamlException(Reason.SIGNATURE_WRAPPING, "java-saml refused the signed elements (code "
          + e.getErrorCode() + ")");
    } catch (javax.xml.xpath.XPathExpressionException e) {
      throw new SamlException(Reason.MALFORMED, "java-saml could not inspect the signatures");
    }
    boolean javaSamlResponseSigned = signedElements.contains("{" + PROTOCOL + "}Response");
    boolean javaSamlAssertionSigned = signedElements.contains("{" + ASSERTION + "}Assertion");
    if (javaSamlResponseSigned != responseSigned || javaSamlAssertionSigned != assertionSigned) {
      throw new SamlException(Reason.SIGNATURE_WRAPPING, "java-saml and our parse disagree on what is signed");
    }
    if (!Util.validateXML(doc, SchemaFactory.SAML_SCHEMA_PROTOCOL_2_0)) {
      throw new SamlException(Reason.MALFORMED, "the Response does not match the SAML 2.0 protocol schema");
    }
    List<X509Certificate> certificates = settings.idpCertificates();
    if (responseSigned
        && !Util.validateSign(doc, certificates, null, null, Util.RESPONSE_SIGNATURE_XPATH, Boolean.TRUE)) {
      throw new SamlException(Reason.BAD_SIGNATURE,
          "the Response signature does not verify with a configured IdP certificate");
    }
    if (assertionSigned
        && !Util.validateSign(doc, certificates, null, null, Util.ASSERTION_SIGNATURE_XPATH, Boolean.TRUE)) {
      throw new SamlException(Reason.BAD_SIGNATURE,
          "the Assertion signature does not verify with a configured IdP certificate");
    }
    try {
      String responseIssuer = response.getResponseIssuer();
      if ((responseIssuer != null && !settings.idpEntityId().equals(responseIssuer))
          || !settings.idpEntityId().equals(response.getAssertionIssuer())) {
        throw new SamlException(Reason.WRONG_ISSUER, "java-saml: an Issuer is not the configured IdP");
      }
    } catch (ValidationError | javax.xml.xpath.XPathExpressionException e) {
      throw new SamlException(Reason.WRONG_ISSUER, "java-saml: the issuers cannot be read");
    }
  }

  private static Instant max(Instant a, Instant b) {
    return a.isAfter(b) ? a : b;
  }
}
